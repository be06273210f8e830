"""The JSON API for the government's other systems: token auth, the same service layer."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from decisionflow import queries
from decisionflow.accounts import Actor
from decisionflow.definitions import FieldSpec, Signature, Text
from decisionflow.errors import DecisionFlowError, InvalidInput, NotFound
from decisionflow.payload import unstorable
from decisionflow.queries import MAX_PAGE_SIZE
from decisionflow.views import ActionView, DecisionView
from web.errors import status_of
from web.numbers import whole_number
from web.openapi import openapi_document
from web.parts import engine

log = logging.getLogger(__name__)
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
    response = problem(error.code or 500, error.name, error.description or "")
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> Response:
    """A fault of ours: logged with its trace, answered as a problem document without it."""
    log.exception("unexpected error on %s %s", request.method, request.path)
    return problem(
        500,
        "Internal Server Error",
        "Something went wrong on our side. Nothing was changed; please try again.",
        detail_zh="服务器出错，未作任何更改，请重试。",
    )


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate by `Authorization: Bearer <token>`; 401 otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        found = engine().tokens.actor_for(token) if token else None
        if found is None:
            response = problem(
                401,
                "Unauthorized",
                "A valid API token is required (Authorization: Bearer …)",
                detail_zh="需要有效的 API 令牌（Authorization: Bearer …）",
            )
            challenge = 'Bearer realm="decisionflow"'
            if token:  # RFC 6750 §3.1: a token was presented, and it is no good
                challenge += ', error="invalid_token"'
            response.headers["WWW-Authenticate"] = challenge
            return response
        g.api_actor = found
        decision_id = kwargs.get("decision_id")
        if isinstance(decision_id, int) and decision_id > queries.MAX_ID:
            raise NotFound(
                zh=f"没有编号为 {decision_id} 的决策", en=f"No decision number {decision_id}"
            )
        return view(*args, **kwargs)

    return wrapper


def me() -> Actor:
    """The actor the request's token acts as."""
    actor: Actor = g.api_actor
    return actor


def _origin() -> str:
    """Where a request came from, for the audit log."""
    return f"api {request.remote_addr or '-'}"[:200]


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
            "max_length": value.max_length,
            "minimum": value.minimum,
        }
    if isinstance(value, Signature):
        return {"article": value.article}
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
    """The request's JSON object, with no text the database cannot keep."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested thousands deep: no body anybody means
        data = None
    if not isinstance(data, dict):
        raise InvalidInput(
            zh="请求体应为 JSON 对象",
            en="The request body must be a JSON object",
            fields={"body": ("应为 JSON 对象", "must be a JSON object")},
        )
    _storable_text(data)
    return data


def _storable_text(body: dict[str, Any]) -> None:
    """Refuse JSON text escapes that decode to what no database keeps (\\u0000, \\ud800).

    Each fault is named by its member, or by its payload field for a move's payload.
    """
    members = list(body.items())
    if isinstance(body.get("payload"), dict):
        members = [(k, v) for k, v in members if k != "payload"] + list(body["payload"].items())
    faulty: list[str] = []
    for name, value in members:
        stack = [name, value]
        while stack:  # iterative: a deeply nested value must not exhaust the stack
            item = stack.pop()
            if isinstance(item, str) and unstorable(item):
                faulty.append(name)
                break
            if isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    if faulty:
        message = (
            "含有不能保存的字符（NUL 或孤立代理项）",
            "contains a character that cannot be kept",
        )
        raise InvalidInput(
            zh="请求含有不能保存的字符",
            en="The request contains characters that cannot be kept (NUL or a lone surrogate)",
            # the name itself may hold the fault: shown with escapes, never as raw surrogates
            fields={ascii(n)[1:-1] if unstorable(n) else n: message for n in faulty},
        )


def _wrong_types(body: dict[str, Any], expected: dict[str, tuple[type, ...]]) -> None:
    """Refuse members of the body that are present but of the wrong JSON type."""
    names: dict[type, tuple[str, str]] = {
        dict: ("对象", "an object"),
        list: ("数组", "an array"),
        str: ("文字", "text"),
        int: ("整数", "a whole number"),
        type(None): ("null", "null"),
    }
    errors: dict[str, tuple[str, str]] = {}
    for key, kinds in expected.items():
        value = body.get(key)
        # bool is an int to Python, never to a JSON client meaning a number
        if key in body and (not isinstance(value, kinds) or isinstance(value, bool)):
            wanted = [names[k] for k in kinds]
            errors[key] = (
                "应为" + "或".join(zh for zh, _ in wanted),
                "must be " + " or ".join(en for _, en in wanted),
            )
    if errors:
        raise InvalidInput(
            zh="请求内容有误：" + "；".join(f"{k} {zh}" for k, (zh, _) in errors.items()),
            en="Invalid request: " + "; ".join(f"{k} {en}" for k, (_, en) in errors.items()),
            fields=errors,
        )


def _move() -> tuple[dict[str, Any], int | None, str | None]:
    """The payload, expected version and signing password of a move or record, type-checked."""
    body = _body()
    _wrong_types(
        body,
        {
            "payload": (dict, type(None)),
            "expected_version": (int, type(None)),
            "password": (str, type(None)),
        },
    )
    # The password signs a signed action or record (Art 20, 28); it is never kept or audited.
    return body.get("payload") or {}, body.get("expected_version"), body.get("password")


def _per_page() -> int:
    """The page size asked for (1 to 100); what is no number is ignored."""
    return max(1, whole_number(request.args.get("per_page", ""), 20, most=MAX_PAGE_SIZE))


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())


@bp.get("/decisions")
@token_required
def list_decisions() -> Response:
    """List the decisions the caller may see, a page from the cursor on."""
    per_page = _per_page()
    with engine().readers() as db:
        page = queries.list_decisions(
            db,
            me(),
            text=request.args.get("text", ""),
            state=request.args.get("state", ""),
            cursor=request.args.get("cursor", ""),
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
        {
            "items": items,
            "per_page": page.per_page,
            "total": page.total,
            "next": page.next,
            "previous": page.previous,
        }
    )


@bp.post("/decisions")
@token_required
def create_decision() -> tuple[Response, int]:
    """Propose a decision."""
    body = _body()
    text = (str,)
    _wrong_types(
        body,
        {
            "title": text,
            "category": text,
            "undertaking_unit": text,
            "flags": (dict,),
            "co_units": (list,),
            "executing_unit": (str, type(None)),
        },
    )
    co_units = body.get("co_units") or []
    if not all(isinstance(code, str) for code in co_units):
        raise InvalidInput(
            zh="协办单位应为单位代码列表",
            en="co_units must be a list of department codes",
            fields={"co_units": ("应为单位代码列表", "must be a list of department codes")},
        )
    view = engine().decisions.create_decision(
        me(),
        title=body.get("title", ""),
        category=body.get("category", ""),
        undertaking_unit=body.get("undertaking_unit", ""),
        flags=body.get("flags") or {},
        co_units=co_units,
        executing_unit=body.get("executing_unit") or None,
        origin=_origin(),
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
    payload, version, password = _move()
    view = engine().decisions.fire(
        me(),
        decision_id,
        trigger,
        payload,
        expected_version=version,
        origin=_origin(),
        password=password,
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
                "created_by": r.author,
                "created_at": r.created_at.isoformat(),
            }
            for r in queries.records(db, decision_id)
        ]
    return jsonify({"items": items})


@bp.post("/decisions/<int:decision_id>/records/<kind>")
@token_required
def add_record(decision_id: int, kind: str) -> tuple[Response, int]:
    """Add a record."""
    payload, version, password = _move()
    view = engine().decisions.add_record(
        me(),
        decision_id,
        kind,
        payload,
        expected_version=version,
        origin=_origin(),
        password=password,
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
        origin=_origin(),
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
    result = engine().oversight.verify(me())
    return jsonify(_plain(result))
