"""Security events in the audit chain: sign-ins, lock-outs, denials, API token use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from decisionflow import audit
from decisionflow.accounts import Actor
from decisionflow.models import AuditEvent, utcnow

#: the actions a security event is recorded under (the audit log's `action` column)
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_IN_LOCKED_OUT = "sign_in_locked_out"  # a lock began with this failure
SIGN_IN_WHILE_LOCKED = "sign_in_while_locked"  # an attempt refused unheard: the lock holds
SIGN_OUT = "sign_out"
PASSWORD_CHANGED = "change_password"
ACCESS_DENIED = "access_denied"
API_TOKEN_USED = "api_token_used"
API_TOKEN_REFUSED = "api_token_refused"
SECURITY_ACTIONS = frozenset(
    {
        SIGN_IN,
        SIGN_IN_FAILED,
        SIGN_IN_LOCKED_OUT,
        SIGN_IN_WHILE_LOCKED,
        SIGN_OUT,
        PASSWORD_CHANGED,
        ACCESS_DENIED,
        API_TOKEN_USED,
        API_TOKEN_REFUSED,
    }
)


def audit_actor(actor: Actor | None, *, username: str = "") -> audit.AuditActor:
    """Who the event is about: an account, or only the name someone typed."""
    if actor is None:
        return audit.AuditActor(None, username[:64], "public", "")
    return audit.AuditActor(actor.id, actor.username, str(actor.role), actor.department_code)


def append(
    session: Session,
    *,
    who: audit.AuditActor,
    action: str,
    outcome: str,
    now: datetime,
    origin: str,
    detail: Mapping[str, Any] | None = None,
    decision_id: int | None = None,
) -> None:
    """Append one security event inside the caller's transaction."""
    audit.append(
        session,
        actor=who,
        action=action,
        outcome=outcome,
        decision_id=decision_id,
        state_before="",
        state_after="",
        payload=None,
        detail=dict(detail or {}),
        origin=origin[:200],
        now=now,
    )


class SecurityEvents:
    """Record security events, each in a transaction of its own."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        readers: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.readers = readers
        self.clock = clock

    def record(
        self,
        who: audit.AuditActor,
        action: str,
        *,
        outcome: str = "done",
        origin: str,
        detail: Mapping[str, Any] | None = None,
        decision_id: int | None = None,
    ) -> None:
        """Append one event now."""
        with self.sessions() as session, session.begin():
            append(
                session,
                who=who,
                action=action,
                outcome=outcome,
                now=self.clock(),
                origin=origin,
                detail=detail,
                decision_id=decision_id,
            )

    def last_refusal_after(self, actor_id: int, seq: int) -> bool:
        """Whether the actor was refused something (and it was audited) after event `seq`."""
        with self.readers() as session:
            found = session.scalar(
                select(AuditEvent.seq)
                .where(
                    AuditEvent.actor_id == actor_id,
                    AuditEvent.seq > seq,
                    AuditEvent.outcome == "not_permitted",
                )
                .limit(1)
            )
            return found is not None
