"""Legal calendar tests against the real `holidays` data and the 2026 State Council notice."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from decisionflow.calendar import (
    DEFAULT_OVERRIDES_PATH,
    CalendarOverrideError,
    ChinaLegalCalendar,
    LegalCalendar,
    OutsideKnownCalendarWarning,
    load_calendar,
)

# Shared across tests (Hypothesis dislikes function-scoped fixtures); reads are thread-safe.
CAL = load_calendar()


def d(text: str) -> date:
    """Shorthand for an ISO date."""
    return date.fromisoformat(text)


def days(first: str, last: str) -> list[date]:
    """Every date from first to last inclusive."""
    start, end = d(first), d(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def write(tmp_path: Path, text: str, name: str = "calendar_overrides.yaml") -> Path:
    """Write an override file and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def library_only(tmp_path: Path) -> ChinaLegalCalendar:
    """A calendar on the library's data alone (an empty override file)."""
    return ChinaLegalCalendar(write(tmp_path, "years: {}\n"))


# 国务院办公厅关于2026年部分节假日安排的通知: every day off, weekends included.
REST_2026 = [
    *days("2026-01-01", "2026-01-03"),  # 元旦
    *days("2026-02-15", "2026-02-23"),  # 春节, 9 days
    *days("2026-04-04", "2026-04-06"),  # 清明节
    *days("2026-05-01", "2026-05-05"),  # 劳动节
    *days("2026-06-19", "2026-06-21"),  # 端午节
    *days("2026-09-25", "2026-09-27"),  # 中秋节
    *days("2026-10-01", "2026-10-07"),  # 国庆节
]
# 调休上班: weekends that are working days in 2026.
MAKE_UP_2026 = [d(x) for x in ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09",
                               "2026-09-20", "2026-10-10")]  # fmt: skip


@pytest.mark.parametrize("day", REST_2026, ids=str)
def test_2026_official_days_off_are_not_working_days(day: date) -> None:
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize("day", MAKE_UP_2026, ids=str)
def test_2026_make_up_weekend_days_are_working_days(day: date) -> None:
    assert day.weekday() >= 5
    assert CAL.is_working_day(day)


def test_2026_ordinary_days_around_the_holidays() -> None:
    assert CAL.is_working_day(d("2026-02-13"))  # Friday before the Spring Festival
    assert CAL.is_working_day(d("2026-02-24"))  # first weekday after it
    assert CAL.is_working_day(d("2026-10-08"))  # first day after National Day
    assert not CAL.is_working_day(d("2026-10-11"))  # ordinary Sunday
    assert not CAL.is_working_day(d("2026-03-07"))  # ordinary Saturday


def test_2026_has_248_working_days() -> None:
    # 261 weekdays - 13 statutory holiday days; the 6 swapped weekdays (Jan 2, Feb 20, Feb 23,
    # May 5, Oct 6, Oct 7) are balanced by the 6 make-up weekend days.
    assert CAL.working_days_between(d("2025-12-31"), d("2026-12-31")) == 248


def test_seven_working_days_across_national_day_2026() -> None:
    # Oct 1-7 rest; Oct 8 (1), 9 (2), Sat 10 make-up (3), Sun 11 rest, 12 (4), 13 (5), 14 (6),
    # 15 (7).
    assert CAL.add_working_days(d("2026-09-30"), 7) == d("2026-10-15")
    assert CAL.add_working_days(d("2026-09-30"), 3) == d("2026-10-10")
    assert CAL.working_days_between(d("2026-09-30"), d("2026-10-15")) == 7


def test_seven_working_days_across_spring_festival_2026() -> None:
    # From Thu Feb 12: Fri 13 (1), Sat 14 make-up (2), Feb 15-23 rest, Tue 24 (3), 25 (4),
    # 26 (5), Fri 27 (6), Sat 28 make-up (7).
    assert CAL.add_working_days(d("2026-02-12"), 7) == d("2026-02-28")
    assert CAL.add_working_days(d("2026-02-12"), 2) == d("2026-02-14")
    assert CAL.add_working_days(d("2026-02-12"), 3) == d("2026-02-24")
    assert CAL.working_days_between(d("2026-02-12"), d("2026-02-28")) == 7


def test_new_year_2026_make_up_sunday() -> None:
    # Dec 31 2025 (Wed): Jan 1-3 rest, Sun Jan 4 is the first working day of 2026.
    assert CAL.add_working_days(d("2025-12-31"), 1) == d("2026-01-04")


def test_counting_starts_after_a_holiday_start_date() -> None:
    assert CAL.add_working_days(d("2026-10-03"), 1) == d("2026-10-08")
    assert CAL.add_working_days(d("2026-10-03"), 0) == d("2026-10-03")


def test_negative_n_is_rejected() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_days(d("2026-03-02"), -1)


def test_working_days_between_is_zero_for_empty_or_reversed_span() -> None:
    assert CAL.working_days_between(d("2026-03-02"), d("2026-03-02")) == 0
    assert CAL.working_days_between(d("2026-03-10"), d("2026-03-02")) == 0
    assert CAL.working_days_between(d("2026-03-02"), d("2026-03-03")) == 1


def test_working_days_between_counts_days_one_by_one() -> None:
    start = d("2026-01-01")
    expected = 0
    for day in days("2026-01-02", "2026-12-31"):
        expected += CAL.is_working_day(day)
        assert CAL.working_days_between(start, day) == expected


@pytest.mark.filterwarnings("ignore::decisionflow.calendar.OutsideKnownCalendarWarning")
@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    n=st.integers(min_value=0, max_value=60),
)
def test_add_and_between_are_inverse(start: date, n: int) -> None:
    result = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, result) == n
    if n > 0:
        assert CAL.is_working_day(result)
        # Nothing skipped: the day before the result is still short of n.
        assert CAL.working_days_between(start, result - timedelta(days=1)) == n - 1
    else:
        assert result == start


def test_known_years_come_from_published_arrangements(library_only: ChinaLegalCalendar) -> None:
    assert all(library_only.known(date(year, 6, 1)) for year in range(2001, 2027))
    assert not library_only.known(date(2000, 6, 1))
    assert not library_only.known(date(2031, 6, 1))
    assert library_only.unknown_years_in(d("2026-12-01"), d("2028-01-10"))[-1] == 2028
    assert library_only.unknown_years_in(d("2026-01-01"), d("2026-12-31")) == []


def test_known_year_computations_emit_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert CAL.known(d("2031-01-01")) is False  # asking is not using
        CAL.add_working_days(d("2026-01-01"), 200)
        CAL.working_days_between(d("2026-01-01"), d("2026-12-31"))


def test_2027_is_not_known_without_an_override(library_only: ChinaLegalCalendar) -> None:
    # holidays 0.109 carries notices up to 2026; 2027 is computed by rule only.
    if library_only.known(d("2027-01-01")):
        pytest.skip("the installed holidays release carries the 2027 notice")
    assert library_only.unknown_years_in(d("2026-12-01"), d("2027-01-31")) == [2027]
    # Thu Dec 31 (1); Fri Jan 1 2027 New Year's Day (rule) rest; Mon Jan 4 (2), Tue Jan 5 (3).
    with pytest.warns(OutsideKnownCalendarWarning, match="2027"):
        assert library_only.add_working_days(d("2026-12-30"), 3) == d("2027-01-05")


def test_outside_known_data_warns_once_and_falls_back_to_monday_to_friday(
    library_only: ChinaLegalCalendar,
) -> None:
    with pytest.warns(OutsideKnownCalendarWarning) as record:
        assert library_only.add_working_days(d("2031-03-07"), 1) == d("2031-03-10")  # Fri -> Mon
    assert len(record) == 1
    message = str(record[0].message)
    assert "2031 年的法定节假日安排尚未录入" in message
    assert "The official holiday arrangement for 2031 is not on file" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per year per calendar: no second warning
        assert not library_only.is_working_day(d("2031-03-08"))  # Saturday
        assert library_only.is_working_day(d("2031-03-12"))  # Wednesday
        assert not library_only.is_working_day(d("2031-10-01"))  # National Day, by rule
        assert library_only.working_days_between(d("2031-03-07"), d("2031-03-14")) == 5


def test_override_makes_a_year_known(tmp_path: Path) -> None:
    # Hypothetical test data, not the official 2027 arrangement.
    overrides = """
years:
  2027:
    holidays: [2027-02-05, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11, 2027-02-12]
    workdays: [2027-02-20]
"""
    path = write(tmp_path, overrides)
    cal = ChinaLegalCalendar(path)
    assert cal.known(d("2027-06-01"))
    assert cal.unknown_years_in(d("2026-12-01"), d("2027-12-31")) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert d("2027-02-20").weekday() == 5
        assert cal.is_working_day(d("2027-02-20"))  # make-up Saturday
        assert not cal.is_working_day(d("2027-02-10"))  # declared holiday, a Wednesday
        assert cal.is_working_day(d("2027-02-15"))  # ordinary Monday
        # Thu Feb 4 -> Feb 5-14 rest -> Mon 15 (1) .. Fri 19 (5), Sat 20 make-up (6)
        assert cal.add_working_days(d("2027-02-04"), 6) == d("2027-02-20")


def test_override_replaces_library_data_for_its_year(tmp_path: Path) -> None:
    path = write(tmp_path, "years:\n  2026:\n    holidays: ['2026-10-01']\n    workdays: []\n")
    cal = ChinaLegalCalendar(path)
    assert not cal.is_working_day(d("2026-10-01"))
    assert cal.is_working_day(d("2026-10-06"))  # library's substituted day off is gone
    assert not cal.is_working_day(d("2026-10-10"))  # library's make-up Saturday is gone


def test_shipped_override_file_is_valid_and_declares_no_invented_year() -> None:
    assert DEFAULT_OVERRIDES_PATH.is_file()
    assert yaml.safe_load(DEFAULT_OVERRIDES_PATH.read_text(encoding="utf-8")) == {"years": {}}
    assert ChinaLegalCalendar(DEFAULT_OVERRIDES_PATH).known(d("2026-01-01"))


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("years:\n  2027:\n    holidays: [2027-01-01, 2027-02-30]\n    workdays: []\n",
         "years.2027.holidays[1]", "not a valid date"),
        ("years:\n  2027:\n    holidays: [soon]\n    workdays: []\n",
         "years.2027.holidays[0]", "'soon' is not a valid date"),
        ("years:\n  2027:\n    holidays: []\n    workdays: [2027-02-20, 2027-02-27, 2027-03-06,"
         " 2026-10-10]\n", "years.2027.workdays[3]", "outside the year 2027"),
        ("years:\n  2027:\n    holidays: [2027-02-06]\n    workdays: [2027-02-20, 2027-02-06]\n",
         "years.2027.workdays[1]", "both a workday and a holiday (years.2027.holidays[0])"),
        ("yeers: {}\n", "yeers", "unknown key"),
        ("years:\n  2027:\n    holidays: []\n    workdays: []\n    weekdays: []\n",
         "years.2027.weekdays", "unknown key"),
        ("years:\n  2027:\n    holidays: [2027-01-01]\n", "years.2027.workdays", "missing"),
        ("years:\n  2027:\n    holidays: []\n    workdays: [2027-02-22]\n",
         "years.2027.workdays[0]", "fall on a weekend"),
        ("years:\n  next:\n    holidays: []\n    workdays: []\n", "years.next", "not a year"),
        ("years: [2027]\n", "years", "expected a mapping"),
        ("years:\n  2027: {holidays: [2027-01-01\n", "", "not valid YAML"),
    ],
)  # fmt: skip
def test_invalid_override_file_names_file_and_place(
    tmp_path: Path, text: str, where: str, what: str
) -> None:
    path = write(tmp_path, text, name="bad_overrides.yaml")
    with pytest.raises(CalendarOverrideError) as info:
        ChinaLegalCalendar(path)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "bad_overrides.yaml" in message
    if where:
        assert f": {where}: " in message
    assert what in message


def test_missing_explicit_override_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CalendarOverrideError, match=r"no_such_file\.yaml"):
        ChinaLegalCalendar(tmp_path / "no_such_file.yaml")


def test_concurrent_first_use_gives_consistent_results(tmp_path: Path) -> None:
    cal = ChinaLegalCalendar(write(tmp_path, "years: {}\n"))
    starts = [d("2024-01-01") + timedelta(days=7 * i) for i in range(100)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda s: cal.add_working_days(s, 120), starts))
    assert results == [CAL.add_working_days(s, 120) for s in starts]


def test_calendar_satisfies_the_protocol() -> None:
    assert isinstance(CAL, LegalCalendar)
