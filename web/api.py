"""The JSON API for the government's other systems: token auth, the same service layer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from decisionflow import queries
from decisionflow.accounts import Actor
from decisionflow.definitions import FieldSpec, Text
from decisionflow.errors import DecisionFlowError, InvalidInput, NotPermitted
from decisionflow.roles import Permission, has_permission
from decisionflow.views import ActionView, DecisionView
from web.errors import status_of
from web.openapi import openapi_document
from web.parts import engine

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str = "", **extra: Any) -> Response:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM
    return response


@bp.errorhandler(DecisionFlowError)
def refused(error: DecisionFlowError) -> Response:
    """A refusal as a problem document naming each rule and its article."""
    extra: dict[str, Any] = {
        "code": error.code,
        "detail_zh": error.zh,
        "unmet": [u.as_dict() for u in error.unmet],
    }
    if isinstance(error, InvalidInput):
        extra["fields"] = {name: {"zh": zh, "en": en} for name, (zh, en) in error.fields.items()}
    return problem(status_of(error), error.en, error.en, **extra)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Every HTTP error of the API as a problem document."""
    return problem(error.code or 500, error.name, error.description or "")


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate by `Authorization: Bearer <token>`; 401 otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        found = engine().tokens.actor_for(token) if token else None
        if found is None:
            response = problem(
                401, "Unauthorized", "A valid API token is required (Authorization: Bearer …)"
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="decisionflow"'
            return response
        g.api_actor = found
        return view(*args, **kwargs)

    return wrapper


def me() -> Actor:
    """The actor the request's token acts as."""
    return g.api_actor


def _plain(value: Any) -> Any:
    if isinstance(value, Text):
        return {"zh": value.zh, "en": value.en}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, FieldSpec):
        return {
            "type": value.type,
            "label": _plain(value.label),
            "required": value.required,
            "choices": list(value.choices),
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _decision(view: DecisionView) -> dict[str, Any]:
    return _plain(view)


def _action(view: ActionView) -> dict[str, Any]:
    data = _plain(view)
    data["ready"] = view.ready
    return data


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(zh="请求体应为 JSON 对象", en="The request body must be a JSON object")
    return data


def _page_args() -> tuple[int, int]:
    page, per_page = request.args.get("page", "1"), request.args.get("per_page", "20")
    return (int(page) if page.isdigit() else 1, int(per_page) if per_page.isdigit() else 20)


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())


@bp.get("/decisions")
@token_required
def list_decisions() -> Response:
    """List the decisions the caller may see, paginated."""
    page_number, per_page = _page_args()
    with engine().readers() as db:
        page = queries.list_decisions(
            db,
            me(),
            text=request.args.get("text", ""),
            state=request.args.get("state", ""),
            page=page_number,
            per_page=per_page,
        )
        items = [
            {
                "id": d.id,
                "title": d.title,
                "state": d.state,
                "category": d.category,
                "undertaking_unit": code,
                "version": d.version,
                "updated_at": d.updated_at.isoformat(),
            }
            for d, code, _zh, _en in page.items
        ]
    return jsonify(
        {"items": items, "page": page.page, "per_page": page.per_page, "total": page.total}
    )


@bp.post("/decisions")
@token_required
def create_decision() -> tuple[Response, int]:
    """Propose a decision."""
    body = _body()
    view = engine().decisions.create_decision(
        me(),
        title=str(body.get("title", "")),
        category=str(body.get("category", "")),
        undertaking_unit=str(body.get("undertaking_unit", "")),
        flags=body.get("flags") or {},
        co_units=body.get("co_units") or [],
        origin=f"api {request.remote_addr}",
    )
    return jsonify(_decision(view)), 201


@bp.get("/decisions/<int:decision_id>")
@token_required
def get_decision(decision_id: int) -> Response:
    """One decision."""
    return jsonify(_decision(engine().decisions.get(me(), decision_id)))


@bp.get("/decisions/<int:decision_id>/actions")
@token_required
def actions(decision_id: int) -> Response:
    """The actions the caller may take now, the fields each needs, and what still stands in the way."""
    return jsonify([_action(a) for a in engine().decisions.actions(me(), decision_id)])


@bp.post("/decisions/<int:decision_id>/actions/<trigger>")
@token_required
def fire(decision_id: int, trigger: str) -> Response:
    """Take an action; `expected_version` guards against acting on a stale view."""
    body = _body()
    version = body.get("expected_version")
    view = engine().decisions.fire(
        me(),
        decision_id,
        trigger,
        body.get("payload") or {},
        expected_version=version if isinstance(version, int) else None,
        origin=f"api {request.remote_addr}",
    )
    return jsonify(_decision(view))


@bp.get("/decisions/<int:decision_id>/records")
@token_required
def records(decision_id: int) -> Response:
    """The decision's records, first to last."""
    engine().decisions.get(me(), decision_id)
    with engine().readers() as db:
        items = [
            {
                "id": r.id,
                "kind": r.kind,
                "data": r.data,
                "state": r.state,
                "branch": r.branch,
                "created_by": name,
                "created_at": r.created_at.isoformat(),
            }
            for r, name in queries.records(db, decision_id)
        ]
    return jsonify({"items": items})


@bp.post("/decisions/<int:decision_id>/records/<kind>")
@token_required
def add_record(decision_id: int, kind: str) -> tuple[Response, int]:
    """Add a record."""
    body = _body()
    version = body.get("expected_version")
    view = engine().decisions.add_record(
        me(),
        decision_id,
        kind,
        body.get("payload") or {},
        expected_version=version if isinstance(version, int) else None,
        origin=f"api {request.remote_addr}",
    )
    return jsonify(_plain(view)), 201


@bp.get("/decisions/<int:decision_id>/attachments")
@token_required
def attachments(decision_id: int) -> Response:
    """The decision's files with their SHA-256."""
    engine().decisions.get(me(), decision_id)
    with engine().readers() as db:
        items = [
            {
                "id": a.id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "created_at": a.created_at.isoformat(),
            }
            for a in queries.attachments(db, decision_id)
        ]
    return jsonify({"items": items})


@bp.post("/decisions/<int:decision_id>/attachments")
@token_required
def attach(decision_id: int) -> tuple[Response, int]:
    """Attach a file (multipart field `file`)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(
            zh="请上传文件",
            en="Upload a file in the field 'file'",
            fields={"file": ("必须上传", "is required")},
        )
    view = engine().decisions.attach_file(
        me(),
        decision_id,
        filename=upload.filename,
        content_type=upload.mimetype or "",
        data=upload.read(),
        origin=f"api {request.remote_addr}",
    )
    return jsonify(_plain(view)), 201


@bp.get("/decisions/<int:decision_id>/audit-events")
@token_required
def audit_events(decision_id: int) -> Response:
    """The decision's audit events, oldest first, with their hashes."""
    engine().decisions.get(me(), decision_id)
    with engine().readers() as db:
        events = queries.timeline(db, decision_id)
    return jsonify({"items": [_plain(e) for e in events]})


@bp.post("/audit/verify")
@token_required
def verify() -> Response:
    """Verify the whole audit chain now."""
    if not has_permission(me().role, Permission.AUDIT_VERIFY):
        raise NotPermitted(
            zh="您的角色不能核验审计链", en="Your role may not verify the audit chain"
        )
    result = engine().verify_audit()
    return jsonify(_plain(result))
