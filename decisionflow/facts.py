"""A decision's facts read from the database, as the rules ask for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from decisionflow.guards import DecisionFacts, RecordFact, RecordFacts
from decisionflow.models import Decision, PublicComment, StepRecord

# Built once and reused: a reused statement keeps its compiled form (see positions.save).
_KINDS = select(StepRecord.kind, StepRecord.created_at).where(
    StepRecord.decision_id == bindparam("decision_id")
)


_OF_KIND = select(StepRecord.data, StepRecord.created_at, StepRecord.created_by).where(
    StepRecord.decision_id == bindparam("decision_id"), StepRecord.kind == bindparam("kind")
)
_LATEST = _OF_KIND.order_by(StepRecord.id.desc()).limit(1)
_EVERY = _OF_KIND.order_by(StepRecord.id)


class SqlRecordFacts:
    """Answers count/latest about one decision's records, each question asked once."""

    def __init__(self, session: Session, decision_id: int) -> None:
        self._session = session
        self._decision_id = decision_id
        self._latest: dict[str, RecordFact | None] = {}
        self._times: dict[str, list[datetime]] | None = None

    def count(self, kind: str, *, since: datetime | None = None) -> int:
        """How many records of a kind (made at or after `since`)."""
        if self._times is None:
            # One query answers every count a move asks (a stage may require several kinds).
            self._times = {}
            rows = self._session.connection().execute(_KINDS, {"decision_id": self._decision_id})
            for row_kind, created_at in rows:
                self._times.setdefault(row_kind, []).append(created_at)
        times = self._times.get(kind, [])
        return len(times) if since is None else sum(1 for t in times if t >= since)

    def latest(self, kind: str) -> RecordFact | None:
        """The newest record of a kind, if any."""
        if kind not in self._latest:
            row = (
                self._session.connection()
                .execute(_LATEST, {"decision_id": self._decision_id, "kind": kind})
                .one_or_none()
            )
            self._latest[kind] = (
                RecordFact(kind, row.data, row.created_at, row.created_by) if row else None
            )
        return self._latest[kind]

    def every(self, kind: str, *, since: datetime | None = None) -> list[RecordFact]:
        """Every record of a kind (made at or after `since`), oldest first."""
        rows = self._session.connection().execute(
            _EVERY, {"decision_id": self._decision_id, "kind": kind}
        )
        return [
            RecordFact(kind, r.data, r.created_at, r.created_by)
            for r in rows
            if since is None or r.created_at >= since
        ]

    def undisposed_comments(self) -> int:
        """How many public comments in the record (not held, not rejected) await a disposition."""
        return self._session.execute(
            select(func.count()).where(
                PublicComment.decision_id == self._decision_id,
                # a held comment is still owed an answer once released; only a rejected one is not
                PublicComment.status != "rejected",
                PublicComment.disposition.is_(None),
            )
        ).scalar_one()

    def forget(self) -> None:
        """Drop cached answers after a record is added."""
        self._latest.clear()
        self._times = None


class ReadRecordFacts(SqlRecordFacts):
    """Record facts answered from records the caller read already (every one of the decision,
    first to last): a page that lists them asks nothing more of the database."""

    def __init__(self, session: Session, decision_id: int, records: Sequence[RecordFact]) -> None:
        super().__init__(session, decision_id)
        self._records: list[RecordFact] | None = list(records)
        self._times = {}
        for record in self._records:
            self._times.setdefault(record.kind, []).append(record.created_at)
            self._latest[record.kind] = record  # the last one of its kind wins: the newest

    def latest(self, kind: str) -> RecordFact | None:
        """The newest record of a kind, if any."""
        if self._records is None:
            return super().latest(kind)
        return self._latest.get(kind)

    def every(self, kind: str, *, since: datetime | None = None) -> list[RecordFact]:
        """Every record of a kind (made at or after `since`), oldest first."""
        if self._records is None:
            return super().every(kind, since=since)
        return [
            r for r in self._records if r.kind == kind and (since is None or r.created_at >= since)
        ]

    def forget(self) -> None:
        """Drop the records given: from now on the database answers, as for SqlRecordFacts."""
        super().forget()
        self._records = None


def branch_positions(decision: Decision) -> tuple[dict[str, str], dict[str, datetime]]:
    """The decision's branch states and their entry times."""
    states: dict[str, str] = {}
    entered: dict[str, datetime] = {}
    for name, value in (decision.branch_states or {}).items():
        states[name] = value["state"]
        entered[name] = datetime.fromisoformat(value["entered_at"])
    return states, entered


def facts_of(
    session: Session, decision: Decision, records: RecordFacts | None = None
) -> DecisionFacts:
    """The facts the rules see about a decision (its records read as asked, unless given)."""
    states, entered = branch_positions(decision)
    return DecisionFacts(
        state=decision.state,
        flags=dict(decision.flags or {}),
        branch_states=states,
        entered_at=decision.state_entered_at,
        branch_entered_at=entered,
        records=SqlRecordFacts(session, decision.id) if records is None else records,
    )


def branch_entry(state: str, now: datetime) -> dict[str, Any]:
    """How a branch position is stored on the decision."""
    return {"state": state, "entered_at": now.isoformat()}
