"""Due dates on plain facts: when a filing or an answer falls due, and when it is overdue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from decisionflow.calendar import ChinaLegalCalendar, OutsideKnownCalendarWarning, load_calendar
from decisionflow.deadlines import DueItem, due_items
from decisionflow.definitions import Definition, load_definition
from decisionflow.guards import DecisionFacts, RecordFact
from decisionflow.overlays import apply_overlay, parse_overlay

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
NORMATIVE = load_definition(WORKFLOWS / "normative_document.yaml")
MAJOR = load_definition(WORKFLOWS / "major_decision.yaml")
CALENDAR = load_calendar()
BEIJING = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10) -> datetime:
    """A moment in Beijing time on an ISO day."""
    return datetime.combine(date.fromisoformat(day), time(hour), tzinfo=BEIJING)


def d(text: str) -> date:
    """Shorthand for an ISO date."""
    return date.fromisoformat(text)


@dataclass
class Records:
    """In-memory records of one decision, oldest first."""

    facts: list[RecordFact] = field(default_factory=list)

    def count(self, kind: str, *, since: datetime | None = None) -> int:
        """How many records of a kind (made at or after `since`)."""
        return sum(
            1 for f in self.facts if f.kind == kind and (since is None or f.created_at >= since)
        )

    def latest(self, kind: str) -> RecordFact | None:
        """The newest record of a kind."""
        return next((f for f in reversed(self.facts) if f.kind == kind), None)


def facts(
    state: str,
    entered: datetime,
    *records: tuple[str, datetime],
    branches: Mapping[str, tuple[str, datetime]] | None = None,
    flags: Mapping[str, bool] | None = None,
) -> DecisionFacts:
    """A decision standing in `state` since `entered`, with records (kind, when)."""
    return DecisionFacts(
        state=state,
        flags=dict(flags or {}),
        branch_states={name: s for name, (s, _) in (branches or {}).items()},
        entered_at=entered,
        branch_entered_at={name: when for name, (_, when) in (branches or {}).items()},
        records=Records([RecordFact(kind, {}, when) for kind, when in records]),
    )


def with_overlay(base: Definition, doc: dict[str, Any]) -> Definition:
    """The base with a local overlay merged in."""
    header = {"overlay": "local", "version": 1, "title": {"zh": "地方", "en": "Local"}}
    text = yaml.safe_dump(header | {"basis": "地方规定", "base": base.procedure} | doc)
    return apply_overlay(base, parse_overlay(text, file="local.yaml"), file="local.yaml")


def due(
    definition: Definition, decision: DecisionFacts, today: str, calendar: Any = CALENDAR
) -> list[DueItem]:
    """The decision's deadlines on a day."""
    return due_items(definition, decision, calendar=calendar, today=d(today), timezone=BEIJING)


# A local rule: the legality reviewer answers within 7 working days of receiving the draft.
REVIEW_ANSWER = with_overlay(
    NORMATIVE,
    {
        "add_time_rules": {
            rule: [
                {
                    "kind": "max_elapsed",
                    "since": "state_entry",
                    "days": 7,
                    "unit": "working_days",
                    "article": "Local Rule Art 9",
                }
            ]
            for rule in ("find_lawful", "find_unlawful")
        }
    },
)


def test_filing_falls_due_fifteen_calendar_days_after_publication() -> None:
    """Published on 2 March: the filing is due on 17 March, citing the filing article."""
    decision = facts("filing", at("2026-03-02"), ("publish_document", at("2026-03-02")))
    [item] = due(NORMATIVE, decision, "2026-03-10")
    assert (item.trigger, item.article) == ("file_with_authority", "GOV-2018-37 §3(8)")
    assert item.label.en == "File with the filing authority"
    assert (item.since, item.due) == (d("2026-03-02"), d("2026-03-17"))
    assert not item.overdue and not item.provisional and item.branch is None


def test_filing_is_overdue_the_day_after_it_falls_due() -> None:
    """On the due day the filing is still on time; the next day it is overdue."""
    decision = facts("filing", at("2026-03-02"), ("publish_document", at("2026-03-02")))
    assert not due(NORMATIVE, decision, "2026-03-17")[0].overdue
    assert due(NORMATIVE, decision, "2026-03-18")[0].overdue


def test_calendar_days_count_through_national_day() -> None:
    """Calendar days do not stop for the holiday: published 28 Sep 2026, due 13 Oct."""
    decision = facts("filing", at("2026-09-28"), ("publish_document", at("2026-09-28")))
    [item] = due(NORMATIVE, decision, "2026-10-08")
    assert item.due == d("2026-10-13") and not item.overdue


def test_the_period_counts_from_the_legal_date_in_beijing() -> None:
    """Published at 07:30 Beijing on 3 March (23:30 UTC on 2 March): counted from 3 March."""
    late_evening_utc = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    decision = facts("filing", late_evening_utc, ("publish_document", late_evening_utc))
    [item] = due(NORMATIVE, decision, "2026-03-10")
    assert (item.since, item.due) == (d("2026-03-03"), d("2026-03-18"))


def test_the_newest_publication_record_counts() -> None:
    """A re-publication restarts the filing period."""
    decision = facts(
        "filing",
        at("2026-03-20"),
        ("publish_document", at("2026-03-02")),
        ("publish_document", at("2026-03-20")),
    )
    assert due(NORMATIVE, decision, "2026-03-25")[0].due == d("2026-04-04")


def test_working_days_skip_national_day_and_count_the_make_up_saturday() -> None:
    """Review received 30 Sep 2026: 7 working days end on 15 Oct (Oct 1-7 off, Sat 10 worked)."""
    decision = facts("legality_review", at("2026-09-30"))
    items = due(REVIEW_ANSWER, decision, "2026-10-15")
    assert [(i.trigger, i.due, i.overdue) for i in items] == [
        ("find_lawful", d("2026-10-15"), False),
        ("find_unlawful", d("2026-10-15"), False),
    ]
    assert items[0].article == "Local Rule Art 9"
    assert all(i.overdue for i in due(REVIEW_ANSWER, decision, "2026-10-16"))


def test_a_working_day_count_into_an_unknown_year_is_provisional() -> None:
    """Counting into 2027, whose holiday notice is not on file, gives a provisional date."""
    calendar = ChinaLegalCalendar()  # fresh: it warns once about the unknown year
    decision = facts("legality_review", at("2026-12-28"))
    with pytest.warns(OutsideKnownCalendarWarning):
        items = due(REVIEW_ANSWER, decision, "2026-12-29", calendar)
    assert items[0].due.year == 2027
    assert all(i.provisional for i in items)
    # the same count inside 2026 is certain
    assert not any(
        i.provisional
        for i in due(REVIEW_ANSWER, facts("legality_review", at("2026-12-01")), "2026-12-02")
    )


def test_a_calendar_day_deadline_in_an_unknown_year_is_not_provisional() -> None:
    """Calendar days do not depend on the holiday notice, so a 2027 filing date is certain."""
    decision = facts("filing", at("2026-12-28"), ("publish_document", at("2026-12-28")))
    [item] = due(NORMATIVE, decision, "2026-12-29")
    assert item.due == d("2027-01-12") and not item.provisional


def test_no_deadline_runs_where_no_move_has_one() -> None:
    """In drafting, nothing falls due; in a final state neither."""
    assert due(NORMATIVE, facts("drafting", at("2026-03-02")), "2026-06-01") == []
    filed = facts("filed", at("2026-03-20"), ("publish_document", at("2026-03-02")))
    assert due(NORMATIVE, filed, "2026-06-01") == []


def test_a_period_whose_record_is_missing_has_not_started() -> None:
    """Without a publication record there is no filing date to report."""
    assert due(NORMATIVE, facts("filing", at("2026-03-02")), "2026-03-03") == []


def test_a_local_filing_period_moves_the_due_date() -> None:
    """An overlay filing within 10 days makes the same publication due on 12 March."""
    ten_days = with_overlay(
        NORMATIVE, {"parameters": {"filing_days": {"value": 10, "article": "Local Rule Art 3"}}}
    )
    decision = facts("filing", at("2026-03-02"), ("publish_document", at("2026-03-02")))
    [item] = due(ten_days, decision, "2026-03-13")
    assert item.due == d("2026-03-12") and item.overdue
    assert item.article == "GOV-2018-37 §3(8); Local Rule Art 3"


def test_deadlines_inside_a_parallel_branch_are_listed_with_their_branch() -> None:
    """A branch's deadline counts from the branch's own entry and names the branch."""
    local = with_overlay(
        MAJOR,
        {
            "add_time_rules": {
                "complete_risk_assessment": [
                    {
                        "kind": "max_elapsed",
                        "since": "state_entry",
                        "days": 20,
                        "unit": "calendar_days",
                        "article": "Local Rule Art 22",
                    }
                ]
            }
        },
    )
    decision = facts(
        "argumentation",
        at("2026-03-02"),
        branches={"risk_assessment": ("assessing", at("2026-03-05"))},
        flags={"social_risk": True},
    )
    [item] = due(local, decision, "2026-03-26")
    assert (item.branch, item.trigger) == ("risk_assessment", "complete_risk_assessment")
    assert (item.since, item.due, item.overdue) == (d("2026-03-05"), d("2026-03-25"), True)
    # a branch not yet at that step has nothing due
    pending = facts(
        "argumentation",
        at("2026-03-02"),
        branches={"risk_assessment": ("pending", at("2026-03-02"))},
    )
    assert due(local, pending, "2026-03-26") == []
