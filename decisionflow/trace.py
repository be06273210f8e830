"""A decision's accountability trace: per step, who acted, what each signed, said or decided, when.

Read from the audit chain (every done event of the decision) and the records its events name, so
that years later it shows who is answerable for what (Art 38-41), with each event's place in the
chain and hash, and whether the chain holds up to the decision's newest event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from decisionflow.accounts import Actor
from decisionflow.chaincheck import ChainCheck, ChainCheckpoint
from decisionflow.definitions import Definition
from decisionflow.models import AuditEvent, PublicComment, StepRecord, User
from decisionflow.oversight import require_verify
from decisionflow.queries import people_in_records, people_named
from decisionflow.service import DecisionService
from decisionflow.views import DecisionView


@dataclass(frozen=True)
class Signed:
    """A signature: who signed which record, when, over which draft (its SHA-256)."""

    signer: str
    signed_at: str
    draft_number: int | None
    draft_sha256: str | None
    content_sha256: str
    article: str


@dataclass(frozen=True)
class TraceEvent:
    """One done event of the decision, with the record it made, as evidence."""

    seq: int
    occurred_at: datetime
    username: str
    name: str
    role: str
    department: str
    action: str
    state_before: str
    state_after: str
    hash: str
    prev_hash: str
    #: the record the event made (a move's payload, an opinion, a report), if any
    kind: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    signed: Signed | None = None
    #: a member's recorded dissent, or the chief's reasons for departing from the majority
    dissent: str = ""
    departure: str = ""
    #: a public comment's disposition: (receipt, disposition, reason)
    comment: tuple[str, str, str] | None = None

    @property
    def fields(self) -> dict[str, Any]:
        """The record's fields but its signature (shown apart, in full)."""
        return {k: v for k, v in self.data.items() if k != "signature"}


@dataclass(frozen=True)
class Person:
    """Someone answerable for a step: name, account, role, department, and how often they acted."""

    name: str
    username: str
    role: str
    department: str
    acts: int


@dataclass(frozen=True)
class StepTrace:
    """One stay of the decision at a stage, and what happened there."""

    state: str
    events: tuple[TraceEvent, ...]

    @property
    def people(self) -> list[Person]:
        """The people who acted in this step, in order of their first act."""
        seen: dict[str, list[TraceEvent]] = {}
        for event in self.events:
            seen.setdefault(event.username, []).append(event)
        return [
            Person(e[0].name, e[0].username, e[0].role, e[0].department, len(e))
            for e in seen.values()
        ]


@dataclass(frozen=True)
class Trace:
    """The whole trace of a decision (or of one step), with the chain's verification."""

    decision: DecisionView
    #: the definition the decision runs on (the names of its steps)
    definition: Definition
    steps: tuple[StepTrace, ...]
    #: every stage the decision stood at, for choosing one
    states: tuple[str, ...]
    check: ChainCheck
    #: the names of the people the records name (an expert assigned, the members present)
    people: dict[int, str]


def _signed(data: dict[str, Any]) -> Signed | None:
    value = data.get("signature")
    if not isinstance(value, dict):
        return None
    return Signed(
        str(value.get("signer", "")),
        str(value.get("signed_at", "")),
        value.get("draft_number"),
        value.get("draft_sha256"),
        str(value.get("content_sha256", "")),
        str(value.get("article", "")),
    )


def _event(
    event: AuditEvent,
    name: str | None,
    record: StepRecord | None,
    comment: tuple[str, str, str] | None,
) -> TraceEvent:
    data = dict(record.data) if record is not None else {}
    dissent = ""
    if data.get("position") == "disagree":
        dissent = str(data.get("statement") or "").strip() or "—"
    return TraceEvent(
        seq=event.seq,
        occurred_at=event.occurred_at,
        username=event.actor_username,
        name=name or event.actor_username,
        role=event.actor_role,
        department=event.actor_department,
        action=event.action,
        state_before=event.state_before,
        state_after=event.state_after,
        hash=event.hash,
        prev_hash=event.prev_hash,
        kind=record.kind if record is not None else None,
        data=data,
        signed=_signed(data),
        dissent=dissent,
        departure=str(data.get("departure_reason") or "").strip(),
        comment=comment,
    )


def _steps(events: list[TraceEvent]) -> list[StepTrace]:
    """Consecutive events at one main-line stage form one step (a stage entered twice: two)."""
    steps: list[StepTrace] = []
    for event in events:
        state = event.state_before.partition("/")[0] or event.state_after.partition("/")[0]
        if steps and steps[-1].state == state:
            steps[-1] = StepTrace(state, (*steps[-1].events, event))
        else:
            steps.append(StepTrace(state, (event,)))
    return steps


def read_trace(session: Session, decision_id: int) -> list[TraceEvent]:
    """Every done event of a decision, oldest first, with the records and comments they name."""
    rows = session.execute(
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.decision_id == decision_id, AuditEvent.outcome == "done")
        .order_by(AuditEvent.seq)
    ).all()
    records = {
        r.id: r
        for r in session.scalars(select(StepRecord).where(StepRecord.decision_id == decision_id))
    }
    comments = {
        c.id: c
        for c in session.scalars(
            select(PublicComment).where(PublicComment.decision_id == decision_id)
        )
    }
    out = []
    for event, name in rows:
        loaded = json.loads(event.detail or "{}")
        detail: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        record = records.get(int(detail.get("record_id") or 0))
        said = None
        if event.action == "dispose_comment":
            comment = comments.get(int(detail.get("comment_id") or 0))
            if comment is not None and comment.disposition:
                said = (comment.receipt, comment.disposition, comment.disposition_reason)
        out.append(_event(event, name, record, said))
    return out


class Traces:
    """Accountability traces for those who may see the decision; the chain checked to its newest event."""

    def __init__(
        self,
        readers: sessionmaker[Session],
        decisions: DecisionService,
        checkpoint: ChainCheckpoint,
    ) -> None:
        self.readers = readers
        self.decisions = decisions
        self.checkpoint = checkpoint

    def trace(
        self, actor: Actor, decision_id: int, *, step: str = "", full_check: bool = False
    ) -> Trace:
        """The decision's trace (only the stays at `step`, if named); NotPermitted/NotFound as
        reading the decision would be. `full_check` walks the whole chain up to the decision's
        newest event again, for those whose role may verify the chain."""
        if full_check:
            require_verify(actor)
        with self.readers() as session:
            # who may see the decision may see its trace
            found, definition = self.decisions.visible(session, actor, decision_id)
            events = read_trace(session, decision_id)
            named = people_in_records(definition, ((e.kind, e.data) for e in events if e.kind))
            people = people_named(session, named)
        decision = DecisionView.of(found, definition)
        steps = _steps(events)
        states = tuple(dict.fromkeys(s.state for s in steps))
        if step:
            steps = [s for s in steps if s.state == step]
        newest = max((e.seq for e in events), default=0)
        check = self.checkpoint.check(newest, own=[e.seq for e in events], full=full_check)
        return Trace(decision, definition, tuple(steps), states, check, people)
