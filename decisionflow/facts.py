"""A decision's facts read from the database, as the rules ask for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from decisionflow.guards import DecisionFacts, RecordFact
from decisionflow.models import Decision, StepRecord


class SqlRecordFacts:
    """Answers count/latest about one decision's records, each question asked once."""

    def __init__(self, session: Session, decision_id: int) -> None:
        self._session = session
        self._decision_id = decision_id
        self._latest: dict[str, RecordFact | None] = {}
        self._counts: dict[tuple[str, datetime | None], int] = {}

    def count(self, kind: str, *, since: datetime | None = None) -> int:
        """How many records of a kind (made at or after `since`)."""
        key = (kind, since)
        if key not in self._counts:
            query = select(func.count()).where(
                StepRecord.decision_id == self._decision_id, StepRecord.kind == kind
            )
            if since is not None:
                query = query.where(StepRecord.created_at >= since)
            self._counts[key] = self._session.execute(query).scalar_one()
        return self._counts[key]

    def latest(self, kind: str) -> RecordFact | None:
        """The newest record of a kind, if any."""
        if kind not in self._latest:
            row = self._session.execute(
                select(StepRecord.data, StepRecord.created_at, StepRecord.created_by)
                .where(StepRecord.decision_id == self._decision_id, StepRecord.kind == kind)
                .order_by(StepRecord.id.desc())
                .limit(1)
            ).one_or_none()
            self._latest[kind] = (
                RecordFact(kind, row.data, row.created_at, row.created_by) if row else None
            )
        return self._latest[kind]

    def forget(self) -> None:
        """Drop cached answers after a record is added."""
        self._latest.clear()
        self._counts.clear()


def branch_positions(decision: Decision) -> tuple[dict[str, str], dict[str, datetime]]:
    """The decision's branch states and their entry times."""
    states: dict[str, str] = {}
    entered: dict[str, datetime] = {}
    for name, value in (decision.branch_states or {}).items():
        states[name] = value["state"]
        entered[name] = datetime.fromisoformat(value["entered_at"])
    return states, entered


def facts_of(session: Session, decision: Decision) -> DecisionFacts:
    """The facts the rules see about a decision."""
    states, entered = branch_positions(decision)
    return DecisionFacts(
        state=decision.state,
        flags=dict(decision.flags or {}),
        branch_states=states,
        entered_at=decision.state_entered_at,
        branch_entered_at=entered,
        records=SqlRecordFacts(session, decision.id),
    )


def branch_entry(state: str, now: datetime) -> dict[str, Any]:
    """How a branch position is stored on the decision."""
    return {"state": state, "entered_at": now.isoformat()}
