"""Security events from the HTTP face: permission denials and API token use, in the audit chain."""

from __future__ import annotations

import threading
import time
from typing import cast

from flask import Flask, Response, current_app, g, request
from flask_login import current_user
from sqlalchemy import select

from decisionflow import security_events as events
from decisionflow.accounts import Actor
from decisionflow.models import AuditChainHead
from decisionflow.queries import MAX_ID
from web.parts import engine

#: record an API token's use at most once an hour per account and process: enough to trace
#: which system acted when, without an audit write on every API call
TOKEN_USE_INTERVAL = 3600.0
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class _TokenUse:
    """When each account's token use was last recorded by this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last: dict[int, float] = {}

    def due(self, actor_id: int) -> bool:
        now = time.monotonic()
        with self.lock:
            if now - self.last.get(actor_id, -TOKEN_USE_INTERVAL) < TOKEN_USE_INTERVAL:
                return False
            self.last[actor_id] = now
            return True


def _in_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _origin() -> str:
    return f"{'api' if _in_api() else 'web'} {request.remote_addr or '-'}"


def _requester() -> Actor | None:
    """Who made the request: the token's account, the signed-in user, or nobody known."""
    found = g.get("api_actor")
    if isinstance(found, Actor):
        return found
    if current_user and current_user.is_authenticated:
        return cast(Actor, current_user.actor)
    return None


def _head_seq() -> int:
    with engine().readers() as session:
        return session.scalar(select(AuditChainHead.seq)) or 0


def init_app(app: Flask) -> None:
    """Record denials and token use after each request."""
    app.extensions["decisionflow_token_use"] = _TokenUse()

    @app.before_request
    def mark() -> None:
        # A refused change is audited by the service's door; a denial is recorded here only
        # if nothing was, so the mark says where the chain stood when the request came in.
        if request.method not in _READS:
            g.audit_mark = _head_seq()

    @app.after_request
    def record(response: Response) -> Response:
        try:
            if response.status_code == 403:
                _denied(response)
            elif _in_api():
                _token(response)
        except Exception:  # the answer stands even if its security event cannot be written
            current_app.logger.exception("could not record a security event")
        return response


def _denied(response: Response) -> None:
    who = _requester()
    mark = g.get("audit_mark")
    parts = engine()
    if (
        mark is not None
        and who is not None
        and who.id is not None
        and parts.security_events.last_refusal_after(who.id, mark)
    ):
        return  # the door already audited this refusal
    decision_id = (request.view_args or {}).get("decision_id")
    parts.security_events.record(
        events.audit_actor(who),
        events.ACCESS_DENIED,
        outcome="not_permitted",
        origin=_origin(),
        detail={"method": request.method, "path": request.path[:200]},
        decision_id=decision_id if isinstance(decision_id, int) and decision_id <= MAX_ID else None,
    )


def _token(response: Response) -> None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return
    parts = engine()
    who = g.get("api_actor")
    if response.status_code == 401 and who is None:
        # A token was presented and refused: unknown, revoked, or its account deactivated.
        parts.security_events.record(
            events.audit_actor(None, username="api-token"),
            events.API_TOKEN_REFUSED,
            outcome="not_permitted",
            origin=_origin(),
            detail={"method": request.method, "path": request.path[:200]},
        )
        return
    uses: _TokenUse = current_app.extensions["decisionflow_token_use"]
    if isinstance(who, Actor) and who.id is not None and uses.due(who.id):
        parts.security_events.record(
            events.audit_actor(who),
            events.API_TOKEN_USED,
            origin=_origin(),
            detail={"method": request.method, "path": request.path[:200]},
        )
