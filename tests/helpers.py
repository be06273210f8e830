"""Test helpers: drive a decision along the lawful path, and check that refusals leave no trace."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from decisionflow.bootstrap import Parts
from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, Step, StepContext, take_step
from decisionflow.errors import DecisionFlowError
from decisionflow.models import (
    Attachment,
    AuditEvent,
    Decision,
    DecisionAssignment,
    DecisionCoUnit,
    DocumentCounter,
    DraftVersion,
    PublicComment,
    StepRecord,
)
from decisionflow.roles import Role
from decisionflow.views import DecisionView
from tests.conftest import PASSWORD

#: the names of the lawful path's steps, in order
STEP_NAMES: tuple[str, ...] = tuple(step.name for step in MAJOR_DECISION_PATH)


def _fixed(**values: Any) -> Callable[[StepContext], dict[str, Any]]:
    return lambda ctx: dict(values)


#: steps a flag adds to the lawful path, each taken right after the named path step: the
#: records and moves the definition requires only of a decision with that flag
FLAG_STEPS: tuple[tuple[str, str, Step], ...] = (
    (
        "department_consultation",
        "not_disclosed",
        Step(
            Role.STAFF,
            "record",
            "nondisclosure_basis",
            _fixed(basis="《保守国家秘密法》第九条"),
        ),
    ),
    (
        "department_consultation",
        "opinions_differ",
        Step(
            Role.STAFF,
            "record",
            "alternative",
            _fixed(summary="方案一：一次性上调", assessment="见效快，财政压力大"),
        ),
    ),
    (
        "department_consultation",
        "opinions_differ",
        Step(
            Role.STAFF,
            "record",
            "alternative",
            _fixed(summary="方案二：分两年上调", assessment="平稳，群众获得感稍弱"),
        ),
    ),
    (
        "find_lawful",
        "market_activity",
        Step(
            Role.STAFF,
            "record",
            "fair_competition_review",
            _fixed(conclusion="不含排除、限制竞争的内容"),
        ),
    ),
    (
        "report_to_party_committee",
        "congress_matter",
        Step(
            Role.GOVERNMENT_OFFICE,
            "fire",
            "record_congress_decision",
            _fixed(session="区人大常委会第十二次会议", resolution="同意"),
            wait_days=10,
        ),
    ),
    (
        "report_to_party_committee",
        "wide_concern",
        Step(
            Role.GOVERNMENT_OFFICE,
            "record",
            "adoption_explanation",
            _fixed(explanation="公众意见采纳 12 条，专家意见全部采纳"),
        ),
    ),
)

#: the lawful path with every flag's added steps: (step, the flag it needs or None)
FULL_PATH: tuple[tuple[Step, str | None], ...] = tuple(
    entry
    for step in MAJOR_DECISION_PATH
    for entry in [
        (step, None),
        *((extra, flag) for anchor, flag, extra in FLAG_STEPS if anchor == step.name),
    ]
)
_FULL_NAMES: tuple[str, ...] = tuple(step.name for step, _ in FULL_PATH)


def step_named(name: str) -> Step:
    """The lawful path's step of that name (the first, if it repeats), or a flag's step."""
    return FULL_PATH[_FULL_NAMES.index(name)][0]


def new_decision(
    parts: Parts,
    people: Any,
    *,
    flags: Mapping[str, bool] = FLAGS_FOR_PATH,
    title: str = "征地补偿标准调整",
    **options: Any,
) -> DecisionView:
    """A decision of department A's clerk, at its first stage."""
    return parts.decisions.create_decision(
        people[Role.STAFF],
        title=title,
        category="public_policy",
        undertaking_unit="housing",
        flags=dict(flags),
        **options,
    )


def _applies(parts: Parts, step: Step, flag: str | None, flags: Mapping[str, bool]) -> bool:
    """Whether a step belongs to the decision: its own flag (if any) is on, and it is in no
    branch, or in a branch the decision's flags switch on (the hearing only on vital
    interests, no public participation when not disclosed, ...)."""
    if flag is not None and not flags.get(flag, False):
        return False
    definition = parts.registry.current("major_decision")
    branch = definition.branch_of_trigger(step.name)
    if branch is None and step.kind == "record":
        places = definition.records[step.name].allowed_in
        names = {p.split(".", 1)[0] for p in places if "." in p}
        branch = definition.branch(names.pop()) if names else None
    return branch is None or branch.when is None or branch.when.holds(dict(flags))


def context(people: Any, clock: Any) -> StepContext:
    """What a step's payload is made from today: the date, the expert, the signing password."""
    return StepContext(today=clock.today, expert_ids=(people[Role.EXPERT].id,), password=PASSWORD)


def take(parts: Parts, people: Any, clock: Any, decision_id: int, name: str) -> None:
    """Take one step of the lawful path (or a flag's step), after its wait; signed steps are
    signed with the actor's password."""
    _take(parts, people, clock, decision_id, step_named(name))


def _take(parts: Parts, people: Any, clock: Any, decision_id: int, step: Step) -> None:
    clock.advance(days=step.wait_days, minutes=5)
    take_step(parts.decisions, step, people[step.role], decision_id, context(people, clock))


def drive(
    parts: Parts,
    people: Any,
    clock: Any,
    *,
    before: str | None = None,
    through: str | None = None,
    decision_id: int | None = None,
    start: str | None = None,
    flags: Mapping[str, bool] = FLAGS_FOR_PATH,
    **options: Any,
) -> DecisionView:
    """Replay the lawful path up to the step `before` (not taken) or `through` (taken).

    A new decision is created with `flags` unless `decision_id` is given; `start` names the
    first step to replay (default: the path's first). Steps of branches the flags switch off
    are skipped, and the steps a flag adds (FLAG_STEPS) are taken after their anchor step
    (`through` the anchor stops before them); the clock advances by each step's wait.
    Returns the decision as it stands.
    """
    assert (before is None) != (through is None), "give exactly one of before= or through="
    stop = _FULL_NAMES.index(before) if before else _FULL_NAMES.index(through or "") + 1
    first = _FULL_NAMES.index(start) if start else 0
    if decision_id is None:
        decision_id = new_decision(parts, people, flags=flags, **options).id
    else:
        flags = parts.decisions.get(people[Role.SUPERVISOR], decision_id).flags
    for step, flag in FULL_PATH[first:stop]:
        if _applies(parts, step, flag, flags):
            # the step itself, not the first of its name: the second member speaks for himself
            _take(parts, people, clock, decision_id, step)
    return parts.decisions.get(people[Role.SUPERVISOR], decision_id)


@dataclass(frozen=True)
class Snapshot:
    """What a refused attempt must leave as it was, and where the audit chain stood."""

    decision: tuple[Any, ...] | None
    counts: tuple[int, ...]
    audit_seq: int


def snapshot(parts: Parts, decision_id: int | None) -> Snapshot:
    """The decision's row, its record counts, and the newest audit event's number."""
    with parts.sessions() as session:
        row = session.get(Decision, decision_id) if decision_id is not None else None
        decision = (
            (row.state, row.state_entered_at, row.branch_states, row.version, row.updated_at)
            if row
            else None
        )
        counts = tuple(
            session.scalar(select(func.count()).select_from(model).where(column == decision_id))
            or 0
            for model, column in (
                (StepRecord, StepRecord.decision_id),
                (DraftVersion, DraftVersion.decision_id),
                (Attachment, Attachment.decision_id),
                (DecisionAssignment, DecisionAssignment.decision_id),
                (DecisionCoUnit, DecisionCoUnit.decision_id),
                (PublicComment, PublicComment.decision_id),
                # a successor decision opened by a refused adjustment would show here
                (Decision, Decision.predecessor_id),
            )
        )
        # a refused registration must not use up a unified document number
        counts += (session.scalar(select(func.coalesce(func.sum(DocumentCounter.last), 0))) or 0,)
        seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    return Snapshot(decision, counts, seq)


def audit_events_after(parts: Parts, seq: int) -> list[AuditEvent]:
    """The audit events appended after event `seq`, in order."""
    with parts.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)))


@contextmanager
def refused(
    parts: Parts,
    decision_id: int | None,
    error: type[DecisionFlowError],
    *,
    rule: str | None = None,
    article: str | None = None,
) -> Iterator[pytest.ExceptionInfo[DecisionFlowError]]:
    """Expect the body to be refused with `error` (naming `rule` and `article`, if given),
    leaving the decision exactly as it was and writing one audit event: its own refusal."""
    before = snapshot(parts, decision_id)
    with pytest.raises(error) as info:
        yield info
    after = snapshot(parts, decision_id)
    assert after.decision == before.decision, "a refusal changed the decision"
    assert after.counts == before.counts, "a refusal left records, drafts or attachments"
    events = audit_events_after(parts, before.audit_seq)
    assert [e.outcome for e in events] == [info.value.code], "a refusal audits itself, once"
    assert events[0].decision_id == decision_id
    if rule is not None:
        found = {(u.rule, u.article) for u in info.value.unmet}
        assert (rule, article) in found, f"expected [{rule}, {article}] among {found}"
        assert article is None or article in events[0].detail, "the audit keeps the article"


def unmet_rules(err: DecisionFlowError) -> set[tuple[str, str]]:
    """The (rule, article) pairs a refusal names."""
    return {(u.rule, u.article) for u in err.unmet}
