"""Deadlines as they ran, stays and the chief's departures, counted on plain facts (no database)."""

from __future__ import annotations

from datetime import date

from decisionflow.casebook import Case, Entry, Stay, departures, majority, timed_items, working_days
from tests.unit.test_deadlines import BEIJING, CALENDAR, MAJOR, NORMATIVE, REVIEW_ANSWER, at, d


def _case(definition, state, stays=(), entries=()):
    return Case(
        id=1,
        title="t",
        procedure=definition.procedure,
        unit="housing",
        state=state,
        flags={},
        created_on=date(2026, 3, 2),
        definition=definition,
        entries=[
            Entry(kind, {}, when, when.astimezone(BEIJING).date(), 1) for kind, when in entries
        ],
        stays=list(stays),
    )


def _items(case, today):
    return list(timed_items(case, calendar=CALENDAR, today=d(today), timezone=BEIJING))


def test_a_filing_counts_on_time_by_the_day_it_was_made():
    """Published 2 March: filed on 17 March is on time, on 18 March late; none yet: overdue."""
    published = ("publish_document", at("2026-03-02"))
    on_time = _case(
        NORMATIVE, "filed", entries=[published, ("file_with_authority", at("2026-03-17", 17))]
    )
    late = _case(
        NORMATIVE, "filed", entries=[published, ("file_with_authority", at("2026-03-18", 9))]
    )
    waiting = _case(NORMATIVE, "filing", entries=[published])
    assert [i.status for i in _items(on_time, "2026-04-01")] == ["on_time"]
    assert [(i.status, i.done_on) for i in _items(late, "2026-04-01")] == [
        ("late", d("2026-03-18"))
    ]
    assert [i.status for i in _items(waiting, "2026-03-17")] == ["open"]
    [overdue] = _items(waiting, "2026-03-18")
    assert (overdue.status, overdue.since, overdue.due) == (
        "overdue",
        d("2026-03-02"),
        d("2026-03-17"),
    )


def test_a_deadline_from_a_stage_s_entry_counts_each_stay():
    """A local 7-working-day review: met in time, met late, and a stay left another way (no item)."""
    review = "legality_review"
    stays = [
        Stay(review, at("2026-03-02"), at("2026-03-10"), "find_lawful"),  # due 11 March
        Stay("collective_deliberation", at("2026-03-10"), at("2026-03-12"), "return_for_revision"),
        Stay(review, at("2026-03-16"), at("2026-03-30"), "find_unlawful"),  # due 25 March: late
        Stay(review, at("2026-04-01"), at("2026-04-02"), "terminate_document"),
    ]
    items = _items(_case(REVIEW_ANSWER, "terminated", stays), "2026-05-01")
    assert [(i.trigger, i.status) for i in items] == [
        ("find_lawful", "on_time"),
        ("find_unlawful", "late"),
    ]


def test_the_majority_counts_each_member_once_and_ties_are_none():
    """The last word of each member counts; abstentions aside; a tie has no majority."""
    assert majority([("甲", "agree"), ("乙", "disagree"), ("甲", "disagree")]) == "disagree"
    assert majority([("甲", "agree"), ("乙", "disagree")]) is None
    assert majority([("甲", "abstain")]) is None


def test_a_departure_is_a_chief_s_decision_against_the_meeting_s_majority():
    """Opinions of an earlier meeting do not count toward a later one."""
    case = _case(MAJOR, "party_report")
    case.entries = [
        Entry("schedule_meeting", {}, at("2026-03-02"), d("2026-03-02"), 1),
        Entry(
            "member_opinion",
            {"member": "甲", "position": "agree"},
            at("2026-03-05"),
            d("2026-03-05"),
            1,
        ),
        Entry("defer_decision", {}, at("2026-03-05", 11), d("2026-03-05"), 2),
        Entry("schedule_meeting", {}, at("2026-03-09"), d("2026-03-09"), 1),
        Entry(
            "member_opinion",
            {"member": "甲", "position": "disagree"},
            at("2026-03-12"),
            d("2026-03-12"),
            1,
        ),
        Entry(
            "member_opinion",
            {"member": "乙", "position": "disagree"},
            at("2026-03-12"),
            d("2026-03-12"),
            1,
        ),
        Entry("approve_decision", {}, at("2026-03-12", 11), d("2026-03-12"), 2),
    ]
    assert [e.kind for e in departures(case)] == ["approve_decision"]
    case.entries[-2] = Entry(
        "member_opinion",
        {"member": "乙", "position": "agree"},
        at("2026-03-12"),
        d("2026-03-12"),
        1,
    )
    assert list(departures(case)) == []  # a tie: no majority to depart from


def test_working_days_of_a_stay_count_from_the_day_after_entry():
    """Entered Monday 2 March, left Friday 6 March: 4 working days; left the same day: 0;
    still there: no count yet."""
    week = Stay("drafting", at("2026-03-02"), at("2026-03-06"), "submit_for_argumentation")
    same_day = Stay(
        "drafting", at("2026-03-02", 9), at("2026-03-02", 17), "submit_for_argumentation"
    )
    open_stay = Stay("drafting", at("2026-03-02"), None, None)
    assert working_days(CALENDAR, week, timezone=BEIJING) == 4
    assert working_days(CALENDAR, same_day, timezone=BEIJING) == 0
    assert working_days(CALENDAR, open_stay, timezone=BEIJING) is None
