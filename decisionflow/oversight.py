"""What supervisors read of the audit log and verify of its chain; the permission is checked here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from decisionflow import audit, queries
from decisionflow.accounts import Actor
from decisionflow.errors import NotPermitted
from decisionflow.roles import Permission, has_permission


def require(actor: Actor, permission: Permission, zh: str, en: str) -> None:
    """Refuse an actor whose role does not hold the permission."""
    if not has_permission(actor.role, permission):
        raise NotPermitted(zh=zh, en=en)


def require_verify(actor: Actor) -> None:
    """Refuse an actor whose role may not verify the audit chain (a walk of all of it)."""
    require(
        actor,
        Permission.AUDIT_VERIFY,
        "您的角色不能核验审计链",
        "Your role may not verify the audit chain",
    )


class Oversight:
    """The audit log for those whose role may read it, and chain verification for those who may verify."""

    def __init__(self, readers: sessionmaker[Session], engine: Engine) -> None:
        self.readers = readers
        self.engine = engine

    def may_read(self, actor: Actor) -> bool:
        """Whether the actor's role may read audit events."""
        return has_permission(actor.role, Permission.AUDIT_READ)

    def events(
        self,
        actor: Actor,
        *,
        decision_id: int | None = None,
        username: str = "",
        action: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str = "",
    ) -> queries.Page:
        """A page of audit events, newest first; NotPermitted for a role that may not read them."""
        require(
            actor,
            Permission.AUDIT_READ,
            "您的角色不能查阅审计日志",
            "Your role may not read the audit log",
        )
        with self.readers() as session:
            return queries.audit_page(
                session,
                decision_id=decision_id,
                actor=username,
                action=action,
                since=since,
                until=until,
                cursor=cursor,
            )

    def verify(self, actor: Actor) -> audit.Verification:
        """Verify the whole chain now; NotPermitted for a role that may not."""
        require_verify(actor)
        with self.engine.connect() as connection:
            return audit.verify(connection)
