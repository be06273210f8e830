"""Due dates and reminder days across the 2026 Spring Festival and National Day, make-up days included."""

from __future__ import annotations

from datetime import date

import pytest

from decisionflow.calendar import load_calendar
from decisionflow.sweep import notice_kind
from tests.unit.test_deadlines import NORMATIVE, REVIEW_ANSWER, at, d, due, facts

CALENDAR = load_calendar()


def test_a_review_received_before_spring_festival_counts_the_make_up_saturday() -> None:
    """Received Fri 13 Feb 2026: Sat 14 Feb is worked (调休), 15-23 Feb are off, so 7 working
    days end on Mon 2 Mar — counting Sat 28 Feb, the second make-up day."""
    decision = facts("legality_review", at("2026-02-13"))
    [item, *_] = due(REVIEW_ANSWER, decision, "2026-02-20")
    # 14 Feb (Sat, worked), 24, 25, 26, 27, 28 (Sat, worked), 2 Mar
    assert item.due == d("2026-03-02")
    assert not item.overdue and not item.provisional


def test_working_days_skip_the_mid_autumn_friday_and_national_day() -> None:
    """Received Thu 24 Sep 2026: 25 Sep (Mid-Autumn) and 1-7 Oct off, Sat 10 Oct worked: due 12 Oct."""
    decision = facts("legality_review", at("2026-09-24"))
    [item, *_] = due(REVIEW_ANSWER, decision, "2026-09-24")
    # 28, 29, 30 Sep, 8, 9, 10 (Sat, worked) Oct: six; the seventh is Mon 12 Oct
    assert item.due == d("2026-10-12")


def test_calendar_days_run_through_spring_festival() -> None:
    """A 15-calendar-day filing period does not stop for the holiday: published 12 Feb, due 27 Feb."""
    decision = facts("filing", at("2026-02-12"), ("publish_document", at("2026-02-12")))
    [item] = due(NORMATIVE, decision, "2026-02-20")
    assert item.due == d("2026-02-27")


@pytest.mark.parametrize(
    ("today", "kind"),
    [
        # due Fri 9 Oct 2026; three working days' notice counts 30 Sep, 8 Oct, 9 Oct
        ("2026-09-28", None),  # four working days remain (29, 30 Sep, 8, 9 Oct)
        ("2026-09-29", "reminder"),  # three remain: the reminder goes before the holiday
        ("2026-10-03", "reminder"),  # in the holiday, two remain
        ("2026-10-09", "reminder"),  # the last day is still on time
        ("2026-10-10", "overdue"),
    ],
)
def test_the_reminder_counts_working_days_before_national_day(today: str, kind: str | None) -> None:
    """A reminder three working days ahead of a deadline after the holiday goes out before it."""
    assert notice_kind(d("2026-10-09"), d(today), calendar=CALENDAR, window=3) == kind


@pytest.mark.parametrize(
    ("today", "kind"),
    [
        ("2026-02-12", None),  # Thu: 13, 14 (make-up Sat), 24, 25 Feb remain
        ("2026-02-13", "reminder"),  # Fri: 14 (make-up Sat), 24, 25 Feb
        ("2026-02-26", "overdue"),
    ],
)
def test_the_reminder_counts_the_spring_festival_make_up_saturday(
    today: str, kind: str | None
) -> None:
    """Due Wed 25 Feb 2026: the make-up Saturday 14 Feb is one of the three working days."""
    assert notice_kind(date(2026, 2, 25), d(today), calendar=CALENDAR, window=3) == kind


def test_a_window_of_zero_reminds_on_the_day_itself() -> None:
    """DECISIONFLOW_REMINDER_WORKING_DAYS=0: only on the due date itself."""
    assert notice_kind(d("2026-03-17"), d("2026-03-16"), calendar=CALENDAR, window=0) is None
    assert notice_kind(d("2026-03-17"), d("2026-03-17"), calendar=CALENDAR, window=0) == "reminder"
