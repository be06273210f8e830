"""Sessions racing on the same decisions: one wins, the others are refused cleanly, the chain holds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from decisionflow.errors import Conflict, DecisionFlowError, RuleNotMet
from decisionflow.models import DraftVersion, StepRecord
from decisionflow.roles import Role
from tests.helpers import audit_events_after, drive, new_decision, snapshot


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; each result or its refusal."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except DecisionFlowError as err:
            results[index] = err

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _consultation(clock) -> dict[str, str]:
    deadline = (clock.today + timedelta(days=31)).isoformat()
    return {"explanation": "起草说明", "how_to_comment": "网站留言", "deadline": deadline}


@pytest.mark.parametrize("same_trigger", [True, False], ids=["same", "different"])
def test_two_writers_with_the_same_version_one_wins_the_other_conflicts(
    parts, people, clock, same_trigger
):
    """Two clerks move one decision from the page they both loaded: one move, one Conflict."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="submit_for_argumentation")
    before = snapshot(parts, decision.id)

    def open_consultation() -> Any:
        return service.fire(
            staff,
            decision.id,
            "open_consultation",
            _consultation(clock),
            expected_version=decision.version,
        )

    def start_risk() -> Any:
        return service.fire(
            staff, decision.id, "start_risk_assessment", expected_version=decision.version
        )

    results = race(open_consultation, open_consultation if same_trigger else start_risk)
    winners = [r for r in results if not isinstance(r, DecisionFlowError)]
    losers = [r for r in results if isinstance(r, DecisionFlowError)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], Conflict)
    now = service.get(staff, decision.id)
    assert now.version == decision.version + 1  # moved exactly once
    moved = {b.name: b.state for b in now.branches}
    # one branch moved (the consultation opened or the assessment started), the rest wait
    assert sorted(moved.values()) in (
        ["consultation_open", "pending", "pending", "pending"],
        ["assessing", "pending", "pending", "pending"],
    )
    assert parts.verify_audit().ok
    events = audit_events_after(parts, before.audit_seq)
    assert sorted(e.outcome for e in events) == ["conflict", "done"]


def test_two_writers_without_a_version_never_move_twice(parts, people, clock):
    """The same move fired twice at once, with no version given: one succeeds, the other is
    refused (the stage has moved on, or the write lost the race); never a double move."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="department_consultation")
    before = snapshot(parts, decision.id)
    submit = lambda: service.fire(staff, decision.id, "submit_for_argumentation")  # noqa: E731
    results = race(submit, submit)
    refusals = [r for r in results if isinstance(r, DecisionFlowError)]
    assert len(refusals) == 1, results
    refusal = refusals[0]
    if isinstance(refusal, RuleNotMet):
        assert [(u.rule, u.article) for u in refusal.unmet] == [("stage", "Art 12")]
    else:
        assert isinstance(refusal, Conflict)
    now = service.get(staff, decision.id)
    assert (now.state, now.version) == ("argumentation", decision.version + 1)
    with parts.sessions() as session:
        moves = session.scalar(
            select(func.count()).where(
                StepRecord.decision_id == decision.id,
                StepRecord.kind == "submit_for_argumentation",
            )
        )
    assert moves == 1
    events = audit_events_after(parts, before.audit_seq)
    assert sorted(e.outcome for e in events) == sorted(["done", refusal.code])
    assert parts.verify_audit().ok


def test_many_writers_appending_at_once_keep_every_draft_and_the_chain(parts, people, clock):
    """8 clerks × 20 drafts, two clerks per decision: every attempt succeeds or conflicts
    cleanly, drafts are numbered without gaps, and the chain holds one event per attempt."""
    service, staff = parts.decisions, people[Role.STAFF]
    decisions = [
        drive(parts, people, clock, through="start_procedure", title=f"决策 {n}").id
        for n in range(4)
    ]
    start = snapshot(parts, None).audit_seq
    per_thread = 20

    def writer(decision_id: int, thread: int) -> Callable[[], list[str]]:
        def write() -> list[str]:
            outcomes = []
            for n in range(per_thread):
                try:
                    service.add_record(
                        staff,
                        decision_id,
                        "draft_version",
                        {
                            "content": f"第 {thread} 人第 {n} 稿",
                            "cause": "other",
                            "change_note": "修改",
                        },
                    )
                    outcomes.append("done")
                except Conflict:
                    outcomes.append("conflict")
            return outcomes

        return write

    results = race(*(writer(decisions[i % 4], i) for i in range(8)))
    outcomes = [o for r in results for o in r]
    assert len(outcomes) == 8 * per_thread
    assert set(outcomes) <= {"done", "conflict"}
    events = audit_events_after(parts, start)
    assert len(events) == 8 * per_thread
    assert sorted(e.outcome for e in events) == sorted(outcomes)
    drafts = 0
    with parts.sessions() as session:
        for decision_id in decisions:
            numbers = list(
                session.scalars(
                    select(DraftVersion.number)
                    .where(DraftVersion.decision_id == decision_id)
                    .order_by(DraftVersion.number)
                )
            )
            assert numbers == list(range(1, len(numbers) + 1))
            drafts += len(numbers)
    assert drafts == outcomes.count("done")  # a conflicted attempt left no draft behind
    result = parts.verify_audit()
    assert result.ok, str(result)
    assert result.events_checked == start + 8 * per_thread


def test_first_decisions_opened_at_once_both_open(parts, people):
    """Two clerks opening the very first decisions at the same moment both succeed (the
    procedure's definition is kept once, whoever stores it)."""
    results = race(
        lambda: new_decision(parts, people, title="甲"),
        lambda: new_decision(parts, people, title="乙"),
    )
    assert all(not isinstance(r, DecisionFlowError) for r in results), results
    assert {r.state for r in results} == {"proposed"}
    assert parts.verify_audit().ok
