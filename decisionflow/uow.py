"""The single door's mechanics: one transaction per change, with its audit event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from decisionflow import audit
from decisionflow.accounts import Actor
from decisionflow.errors import Conflict, DecisionFlowError

T = TypeVar("T")

#: PostgreSQL's answers when two transactions cannot both go on: serialization failure, deadlock
RACE_SQLSTATES = frozenset({"40001", "40P01"})

STALE = Conflict(
    zh="该决策刚被他人修改，请刷新后重试",
    en="Someone else changed this decision a moment ago; reload it and try again",
)


@dataclass
class Attempt:
    """What is being tried, by whom; the work fills in positions and details as it learns."""

    actor: Actor
    action: str
    decision_id: int | None = None
    payload: Any = None
    origin: str = ""
    state_before: str = ""
    state_after: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _lost_race(err: Exception) -> bool:
    if isinstance(err, (StaleDataError, IntegrityError)):
        return True
    return getattr(getattr(err, "orig", None), "sqlstate", None) in RACE_SQLSTATES


def _audit_actor(actor: Actor) -> audit.AuditActor:
    return audit.AuditActor(actor.id, actor.username, str(actor.role), actor.department_code)


class Door:
    """Runs each change in one transaction with its audit event; a refusal audits only itself."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A session inside one transaction of the Door's own, committed if no error escapes.

        The Door holds the connection and its transaction; the session joins it. Ending the
        connection's transaction directly costs a fraction of the session's own commit, and the
        work sees the same session as ever (savepoints included).
        """
        bind = self.sessions.kw.get("bind")
        if not isinstance(bind, Engine):  # a session factory of another kind: its own way
            with self.sessions() as session, session.begin():
                yield session
            return
        with bind.connect() as connection, connection.begin():
            session = self.sessions(bind=connection)
            try:
                yield session
            finally:
                session.close()

    def run(self, attempt: Attempt, work: Callable[[Session, Attempt, datetime], T]) -> T:
        """Do the work and append its audit event, all committed together or not at all."""
        now = self.clock()
        try:
            with self._transaction() as session:
                result = work(session, attempt, now)
                session.flush()
                self._append(session, attempt, "done", now)
            return result
        except DecisionFlowError as err:
            self._refused(attempt, err, now)
            raise
        except (StaleDataError, DBAPIError) as err:
            # A concurrent writer got there first (a stale version, a unique key taken between
            # our check and our insert, or the database chose us as a deadlock's victim): the
            # same answer in each case. Any other database failure is no refusal: it propagates.
            if not _lost_race(err):
                raise
            self._refused(attempt, STALE, now)
            raise Conflict(zh=STALE.zh, en=STALE.en) from err

    def _append(self, session: Session, attempt: Attempt, outcome: str, now: datetime) -> None:
        audit.append(
            session,
            actor=_audit_actor(attempt.actor),
            action=attempt.action,
            outcome=outcome,
            decision_id=attempt.decision_id,
            state_before=attempt.state_before,
            state_after=attempt.state_after or attempt.state_before,
            payload=attempt.payload,
            detail=attempt.detail,
            origin=attempt.origin,
            now=now,
        )

    def _refused(self, attempt: Attempt, err: DecisionFlowError, now: datetime) -> None:
        """Record a refused attempt alone, in a transaction of its own."""
        attempt.detail = {
            "refusal": {"zh": err.zh, "en": err.en},
            "unmet": [u.as_dict() for u in err.unmet],
        }
        attempt.state_after = attempt.state_before
        with self._transaction() as session:
            self._append(session, attempt, err.code, now)
