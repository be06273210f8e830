"""A normative document walks drafting → comment → review → deliberation → numbering →
publication → filing through the service layer; late filing is flagged, never blocked."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from config import REPO_ROOT
from decisionflow.bootstrap import Parts
from decisionflow.deadlines import DueItem, due_items
from decisionflow.demo import NORMATIVE_DOCUMENT_PATH, Step, StepContext
from decisionflow.errors import DecisionFlowError, NotPermitted, RuleNotMet
from decisionflow.facts import facts_of
from decisionflow.models import Decision, StepRecord
from decisionflow.registry import DefinitionRegistry
from decisionflow.roles import Role
from decisionflow.views import DecisionView
from tests.conftest import SHANGHAI
from tests.helpers import refused

GOV_ARTICLE = re.compile(r"^GOV-2018-37 §\d\(\d+\)$")


# The lawful path is the demo's: the same steps seed-demo takes.
PATH = NORMATIVE_DOCUMENT_PATH
NAMES = tuple(step.name for step in PATH)


def new_document(parts: Parts, people: Any, **options: Any) -> DecisionView:
    """A normative document of department A's clerk, in drafting."""
    return parts.decisions.create_decision(
        people[Role.STAFF],
        title="住房租赁补贴管理办法",
        category="public_policy",
        undertaking_unit="housing",
        procedure="normative_document",
        **options,
    )


def take(
    parts: Parts, people: Any, clock: Any, decision_id: int, step: Step
) -> DecisionView | None:
    """Take one step after its wait."""
    clock.advance(days=step.wait_days, minutes=5)
    payload = step.payload(StepContext(today=clock.today, expert_ids=()))
    if step.kind == "fire":
        return parts.decisions.fire(people[step.role], decision_id, step.name, payload)
    parts.decisions.add_record(people[step.role], decision_id, step.name, payload)
    return None


def drive(parts: Parts, people: Any, clock: Any, decision_id: int, *, before: str) -> None:
    """Take the path's steps up to (not including) `before`."""
    for step in PATH[: NAMES.index(before)]:
        take(parts, people, clock, decision_id, step)


def deadlines(parts: Parts, clock: Any, decision_id: int) -> list[DueItem]:
    """The decision's running deadlines on the clock's legal date."""
    with parts.sessions() as session:
        decision = session.get(Decision, decision_id)
        assert decision is not None
        definition = parts.registry.get(
            decision.procedure, decision.definition_version, session, overlay=decision.overlay
        )
        return due_items(
            definition,
            facts_of(session, decision),
            calendar=parts.calendar,
            today=clock.today,
            timezone=SHANGHAI,
        )


def test_a_normative_document_goes_from_drafting_to_filed(parts, people, clock):
    """Every stage in order, the number registered, the filing receipt kept, the chain intact."""
    document = new_document(parts, people)
    assert (document.procedure, document.state) == ("normative_document", "drafting")
    states = []
    for step in PATH:
        view = take(parts, people, clock, document.id, step)
        if view is not None:
            states.append(view.state)
    assert states == [
        "public_comment",
        "legality_review",
        "collective_deliberation",
        "registration",
        "publication",
        "filing",
        "filed",
    ]
    final = parts.decisions.get(people[Role.SUPERVISOR], document.id)
    assert final.final and final.state_label.zh == "已备案"
    with parts.sessions() as session:
        kept = {
            r.kind: r.data
            for r in session.scalars(
                select(StepRecord).where(StepRecord.decision_id == document.id)
            )
        }
    # the service issued the unified number: nobody typed it
    assert kept["register_document"]["document_number"] == f"区政规〔{clock.today.year}〕1号"
    assert kept["file_with_authority"]["receipt_number"] == "备2026-031"
    assert deadlines(parts, clock, document.id) == []  # filed in time: nothing is due
    result = parts.verify_audit()
    assert result.ok, str(result)
    assert result.events_checked == 1 + len(PATH)


def test_a_review_period_shorter_than_five_working_days_is_refused(parts, people, clock):
    """Four working days for the legality reviewer are refused, citing §2(5); five are enough."""
    document = new_document(parts, people)
    drive(parts, people, clock, document.id, before="submit_legality_review")
    clock.advance(minutes=5)
    four = parts.calendar.add_working_days(clock.today, 4)
    with refused(
        parts,
        document.id,
        RuleNotMet,
        rule="field_min_ahead:requested_completion_date",
        article="GOV-2018-37 §2(5)",
    ) as info:
        parts.decisions.fire(
            people[Role.STAFF],
            document.id,
            "submit_legality_review",
            {"requested_completion_date": four.isoformat()},
        )
    assert "at least 5 working days" in str(info.value)
    five = parts.calendar.add_working_days(clock.today, 5)
    moved = parts.decisions.fire(
        people[Role.STAFF],
        document.id,
        "submit_legality_review",
        {"requested_completion_date": five.isoformat()},
    )
    assert moved.state == "legality_review"


def test_the_comment_period_lasts_thirty_days_unless_a_reason_is_recorded(parts, people, clock):
    """A 20-day window is refused without a reason; with one, the review may follow at once."""
    document = new_document(parts, people)
    drive(parts, people, clock, document.id, before="open_comment")
    short = {"how_to_comment": "信函", "deadline": (clock.today + timedelta(days=20)).isoformat()}
    with refused(
        parts, document.id, RuleNotMet, rule="field_min_ahead:deadline", article="GOV-2018-37 §2(4)"
    ):
        parts.decisions.fire(people[Role.STAFF], document.id, "open_comment", short)
    reason = {**short, "shortening_reason": "上位法五月一日起施行，须同步出台"}
    parts.decisions.fire(people[Role.STAFF], document.id, "open_comment", reason)
    clock.advance(days=21)
    take(parts, people, clock, document.id, PATH[NAMES.index("comment_adoption_summary")])
    moved = take(parts, people, clock, document.id, PATH[NAMES.index("submit_legality_review")])
    assert moved is not None and moved.state == "legality_review"


def test_the_review_waits_for_the_comment_period_to_run(parts, people, clock):
    """Submitting for review ten days into a thirty-day window is refused, citing §2(4)."""
    document = new_document(parts, people)
    drive(parts, people, clock, document.id, before="comment_adoption_summary")
    clock.advance(days=10)
    parts.decisions.add_record(
        people[Role.STAFF],
        document.id,
        "comment_adoption_summary",
        {"received": 0, "summary": "无"},
    )
    with refused(
        parts, document.id, RuleNotMet, rule="min_elapsed:open_comment", article="GOV-2018-37 §2(4)"
    ):
        take(parts, people, clock, document.id, PATH[NAMES.index("submit_legality_review")])


def test_late_filing_is_flagged_overdue_but_not_blocked(parts, people, clock):
    """Fifteen days after publication the filing is due; on day 16 it is overdue, and may still be made."""
    document = new_document(parts, people)
    drive(parts, people, clock, document.id, before="file_with_authority")
    published = clock.today
    [item] = deadlines(parts, clock, document.id)
    assert (item.trigger, item.article) == ("file_with_authority", "GOV-2018-37 §3(8)")
    assert (item.since, item.due) == (published, published + timedelta(days=15))
    assert not item.overdue
    clock.advance(days=15)
    assert not deadlines(parts, clock, document.id)[0].overdue  # the last day is still on time
    clock.advance(days=1)
    [late] = deadlines(parts, clock, document.id)
    assert late.overdue and late.due == published + timedelta(days=15)
    filed = parts.decisions.fire(
        people[Role.GOVERNMENT_OFFICE],
        document.id,
        "file_with_authority",
        {
            "filing_body": "市人民政府",
            "filed_on": clock.today.isoformat(),
            "receipt_number": "备2026-099",
        },
    )
    assert filed.state == "filed"


def test_every_refusal_cites_its_article(parts, people, clock):
    """Wrong role, wrong stage, missing records and short periods each name a §-article."""
    document = new_document(parts, people)
    staff, office, chief = (
        people[r] for r in (Role.STAFF, Role.GOVERNMENT_OFFICE, Role.CHIEF_EXECUTIVE)
    )
    deadline = {
        "how_to_comment": "信函",
        "deadline": (clock.today + timedelta(days=31)).isoformat(),
    }
    attempts: list[tuple[str, Callable[[], Any]]] = [
        (
            "requires:draft_version",
            lambda: parts.decisions.fire(staff, document.id, "open_comment", deadline),
        ),
        (
            "role",
            lambda: parts.decisions.fire(office, document.id, "withdraw_draft", {"reasons": "x"}),
        ),
        (
            "stage",
            lambda: parts.decisions.fire(
                office, document.id, "register_document", {"document_number": "1"}
            ),
        ),
        (
            "stage",
            lambda: parts.decisions.add_record(
                office,
                document.id,
                "meeting_minutes",
                {
                    "meeting_kind": "executive",
                    "meeting_date": clock.today.isoformat(),
                    "opinions": "x",
                },
            ),
        ),
    ]
    refusals: list[DecisionFlowError] = []
    for expected, attempt in attempts:
        with pytest.raises((RuleNotMet, NotPermitted)) as info:
            attempt()
        assert expected in {u.rule for u in info.value.unmet}
        refusals.append(info.value)
    drive(parts, people, clock, document.id, before="meeting_minutes")
    with pytest.raises(RuleNotMet) as info:  # no minutes of the deliberation yet
        parts.decisions.fire(chief, document.id, "adopt_document", {"signed_by": "区长"})
    assert ("requires:meeting_minutes", "GOV-2018-37 §2(6)") in {
        (u.rule, u.article) for u in info.value.unmet
    }
    refusals.append(info.value)
    parts.decisions.fire(chief, document.id, "return_for_revision", {"reasons": "补充过渡条款"})
    with pytest.raises(RuleNotMet) as info:  # back in drafting: a new draft is needed
        parts.decisions.fire(staff, document.id, "open_comment", deadline)
    assert ("requires:draft_version", "GOV-2018-37 §2(3)") in {
        (u.rule, u.article) for u in info.value.unmet
    }
    refusals.append(info.value)
    for err in refusals:
        assert err.unmet, str(err)
        for unmet in err.unmet:
            assert GOV_ARTICLE.fullmatch(unmet.article), unmet


def test_a_confidential_document_goes_to_review_without_public_comment(parts, people, clock):
    """A document kept confidential by law skips the comment window, not the review period."""
    document = new_document(parts, people, flags={"not_disclosed": True})
    drive(parts, people, clock, document.id, before="open_comment")
    four = parts.calendar.add_working_days(clock.today, 4)
    with refused(
        parts,
        document.id,
        RuleNotMet,
        rule="field_min_ahead:requested_completion_date",
        article="GOV-2018-37 §2(5)",
    ):
        parts.decisions.fire(
            people[Role.STAFF],
            document.id,
            "submit_legality_review",
            {"requested_completion_date": four.isoformat()},
        )
    five = parts.calendar.add_working_days(clock.today, 5)
    moved = parts.decisions.fire(
        people[Role.STAFF],
        document.id,
        "submit_legality_review",
        {"requested_completion_date": five.isoformat()},
    )
    assert moved.state == "legality_review"


def test_a_move_the_flags_do_not_route_is_refused_citing_its_article(parts, people, clock):
    """Opening a comment window on a confidential document is refused, naming why and the article."""
    document = new_document(parts, people, flags={"not_disclosed": True})
    drive(parts, people, clock, document.id, before="open_comment")
    deadline = {
        "how_to_comment": "信函",
        "deadline": (clock.today + timedelta(days=31)).isoformat(),
    }
    with pytest.raises(RuleNotMet) as info:
        parts.decisions.fire(people[Role.STAFF], document.id, "open_comment", deadline)
    assert [u.article for u in info.value.unmet] == ["GOV-2018-37 §2(4)"]
    assert "not for" in info.value.unmet[0].en and "依法需要保密" in info.value.unmet[0].zh


def test_a_draft_may_be_withdrawn_during_the_comment_period(parts, people, clock):
    """The clerk withdraws a draft under comment; nothing more can be added to its file."""
    document = new_document(parts, people)
    drive(parts, people, clock, document.id, before="comment_adoption_summary")
    withdrawn = parts.decisions.fire(
        people[Role.STAFF], document.id, "withdraw_draft", {"reasons": "上位法已废止"}
    )
    assert withdrawn.state == "withdrawn" and withdrawn.final
    with pytest.raises(RuleNotMet):
        take(parts, people, clock, document.id, PATH[NAMES.index("comment_adoption_summary")])


def test_every_rule_of_the_procedure_and_its_overlays_cites_an_article():
    """Each move, guard, time rule, record, requirement, flag and parameter names its article;
    what an overlay adds names the local one."""
    local = re.compile(r"^(Liaoning Decree 346|Dalian Decree 171) Art \d+$")
    national = {"normative_document": GOV_ARTICLE, "major_decision": re.compile(r"^Art \d+$")}
    registry = DefinitionRegistry.from_folder(REPO_ROOT / "workflows")
    checked = 0
    for overlay in [None, *registry.overlays]:
        procedure = overlay.base if overlay else "normative_document"
        definition = registry.current(procedure, overlay.overlay if overlay else None)
        every = list(definition.transitions)
        every += [t for s in definition.states for b in s.branches for t in b.transitions]
        states = list(definition.states)
        states += [s for st in definition.states for b in st.branches for s in b.states]
        cited = [t.article for t in every]
        cited += [g.article for t in every for g in t.guards]
        cited += [r.article for t in every for r in t.time_rules]
        cited += [r.article for r in definition.records.values()]
        cited += [r.article for s in states for r in s.requires]
        cited += [f.article for f in definition.flags.values()]
        cited += [p.article for p in definition.parameters.values()]
        for article in cited:
            # a changed number cites "national; local"
            parts_of = article.split("; ")
            assert national[procedure].match(parts_of[0]) or local.match(parts_of[0]), article
            assert all(local.match(p) for p in parts_of[1:]), article
            checked += 1
    assert checked > 100
