"""Legal calendar: working days by the State Council's official holiday arrangement."""

from __future__ import annotations

import re
import threading
import warnings
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn, Protocol, runtime_checkable

import holidays
import yaml

# The shipped override file lives in the repository, not in the installed package; when it is
# absent (e.g. an installed wheel) the calendar runs on the library's data alone.
DEFAULT_OVERRIDES_PATH = Path(__file__).resolve().parents[1] / "workflows/calendar/overrides.yaml"

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class CalendarOverrideError(ValueError):
    """The calendar override file is unreadable or invalid."""


class OutsideKnownCalendarWarning(UserWarning):
    """A date falls in a year whose official arrangement is not on file."""


@runtime_checkable
class LegalCalendar(Protocol):
    """Working-day arithmetic for statutory time limits."""

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is a working day."""
        ...

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (start not counted); n == 0 returns start."""
        ...

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days d with start < d <= end (0 if end <= start)."""
        ...

    def known(self, day: date) -> bool:
        """Whether the official arrangement for `day`'s year is on file."""
        ...


@dataclass(frozen=True)
class _Year:
    """One year's working days, precomputed."""

    year: int
    known: bool
    # sorted ordinals of the working days, for bisect-based arithmetic
    working: tuple[int, ...]
    working_set: frozenset[int]


def _library_published_years() -> frozenset[int]:
    """Years for which the holidays library holds the State Council's published arrangement."""
    # holidays.China computes the statutory festivals (and weekend "observed" shifts) for ANY
    # year by rule, so "has holidays" proves nothing. What only exists once the annual notice
    # (国务院办公厅关于X年部分节假日安排的通知) is published is the day-swap table
    # ChinaStaticHolidays.special_public_holidays: per year, records
    # (to_month, to_day, from_month, from_day[, from_year]) = "rest on `to`, work on `from`".
    # Every notice since 2001 contains such swaps (5-13 per year), so a year counts as
    # published iff its entry holds at least one swap record; a lone special holiday (3-tuple)
    # added ahead of a notice does not. If a future library renames this table, no year is
    # known: everything falls back with a warning instead of silently trusting rule-based data.
    table: Any = getattr(holidays.China(), "special_public_holidays", None)
    if not isinstance(table, dict):
        return frozenset()
    published = set()
    for year, entries in table.items():
        records = (entries,) if entries and isinstance(entries[0], int) else entries
        if any(len(record) >= 4 for record in records):
            published.add(int(year))
    return frozenset(published)


class _NoTimestampLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings, so a bad date is reported with its path."""


# PyYAML would turn 2027-02-30 into a ValueError with no location; we parse dates ourselves.
_NoTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_day(item: object) -> date | None:
    """A date from a YAML scalar written as YYYY-MM-DD, or None."""
    if isinstance(item, date) and not hasattr(item, "hour"):
        return item
    if isinstance(item, str) and _ISO_DAY.fullmatch(item.strip()):
        try:
            return date.fromisoformat(item.strip())
        except ValueError:
            return None
    return None


def _load_overrides(path: Path) -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    """Parse and validate an override file into year -> (days off, make-up working days)."""

    def fail(where: str, what: str) -> NoReturn:
        raise CalendarOverrideError(f"{path}: {where}: {what}")

    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_NoTimestampLoader)
    except OSError as exc:
        raise CalendarOverrideError(f"{path}: cannot read calendar override file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CalendarOverrideError(f"{path}: not valid YAML: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        fail("(top level)", "expected a mapping with the key 'years'")
    for key in doc:
        if key != "years":
            fail(str(key), "unknown key (allowed: years)")
    years = doc.get("years") or {}
    if not isinstance(years, dict):
        fail("years", "expected a mapping of year -> {holidays: [...], workdays: [...]}")
    result: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
    for year, entry in years.items():
        where = f"years.{year}"
        if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
            fail(where, f"{year!r} is not a year (write it as e.g. 2027)")
        if not isinstance(entry, dict):
            fail(where, "expected a mapping with the keys 'holidays' and 'workdays'")
        for key in entry:
            if key not in ("holidays", "workdays"):
                fail(f"{where}.{key}", "unknown key (allowed: holidays, workdays)")
        found: dict[str, dict[date, str]] = {}
        for kind in ("holidays", "workdays"):
            if kind not in entry:
                fail(f"{where}.{kind}", "missing (write [] if there are none)")
            items = entry[kind] if entry[kind] is not None else []
            if not isinstance(items, list):
                fail(f"{where}.{kind}", "expected a list of dates (YYYY-MM-DD)")
            found[kind] = {}
            for index, item in enumerate(items):
                at = f"{where}.{kind}[{index}]"
                day = _parse_day(item)
                if day is None:
                    fail(at, f"{item!r} is not a valid date in YYYY-MM-DD form")
                if day.year != year:
                    fail(at, f"{day} is outside the year {year}")
                # 调休上班 always moves work onto a weekend; a weekday here is a typo that would
                # otherwise silently change nothing.
                if kind == "workdays" and day.weekday() < 5:
                    fail(at, f"{day} is a {day:%A}; make-up working days fall on a weekend")
                found[kind].setdefault(day, at)
        for day, at in sorted(found["workdays"].items()):
            if day in found["holidays"]:
                fail(at, f"{day} is both a workday and a holiday ({found['holidays'][day]})")
        result[year] = (frozenset(found["holidays"]), frozenset(found["workdays"]))
    return result


class ChinaLegalCalendar:
    """China's legal calendar: official holidays and make-up working days, with overrides.

    Data per year, in order of precedence:
    1. a year declared in the override file: exactly its holidays and workdays;
    2. a year whose published arrangement the `holidays` library holds: its China holidays
       (incl. substituted days off) and its make-up working days (`weekend_workdays`);
    3. otherwise (not "known"), the fallback: Monday-Friday are working days, Saturday and
       Sunday rest, and the days the `holidays` library computes by rule as China's public
       holidays for that year (festivals and weekend "observed" shifts) also rest; no make-up
       working days. The first use of such a year emits OutsideKnownCalendarWarning once per
       calendar instance; `unknown_years_in` tells callers a result is provisional.
    """

    def __init__(self, overrides_path: str | Path | None = None) -> None:
        """Load the override file (default: the shipped one, if present) and library metadata."""
        if overrides_path is None:
            path = DEFAULT_OVERRIDES_PATH
            self._overrides = _load_overrides(path) if path.is_file() else {}
        else:
            path = Path(overrides_path)
            self._overrides = _load_overrides(path)
        self.overrides_path: Path | None = path if path.is_file() else None
        self._published = _library_published_years()
        self._tables: dict[int, _Year] = {}
        self._warned: set[int] = set()
        # Years are built lazily; the lock keeps concurrent first use from building twice.
        self._lock = threading.Lock()

    def known(self, day: date) -> bool:
        """Whether the official arrangement for `day`'s year is on file."""
        return self._year_known(day.year)

    def unknown_years_in(self, start: date, end: date) -> list[int]:
        """Years from start's to end's (inclusive) whose arrangement is not on file."""
        low, high = sorted((start.year, end.year))
        return [year for year in range(low, high + 1) if not self._year_known(year)]

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is a working day."""
        return day.toordinal() in self._table(day.year).working_set

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (start not counted); n == 0 returns start."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return start
        ordinal = start.toordinal()
        # Start with the year of the day after `start`, so 31 Dec does not consult its own year.
        year = (start + timedelta(days=1)).year
        remaining = n
        while True:
            table = self._table(year)
            first = bisect_right(table.working, ordinal)
            available = len(table.working) - first
            if remaining <= available:
                return date.fromordinal(table.working[first + remaining - 1])
            remaining -= available
            year += 1

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days d with start < d <= end (0 if end <= start)."""
        if end <= start:
            return 0
        low, high = start.toordinal(), end.toordinal()
        total = 0
        for year in range((start + timedelta(days=1)).year, end.year + 1):
            working = self._table(year).working
            total += bisect_right(working, high) - bisect_right(working, low)
        return total

    def _year_known(self, year: int) -> bool:
        """Whether the override file or the library's published data covers `year`."""
        return year in self._overrides or year in self._published

    def _table(self, year: int) -> _Year:
        """The cached table for `year`, built on first use; warns if the year is unknown."""
        table = self._tables.get(year)
        if table is None:
            with self._lock:
                table = self._tables.get(year)
                if table is None:
                    table = self._tables[year] = self._build(year)
        if not table.known and year not in self._warned:
            with self._lock:
                first_time = year not in self._warned
                self._warned.add(year)
            if first_time:
                # stacklevel 3: point at the code that called the public calendar method.
                warnings.warn(
                    f"{year} 年的法定节假日安排尚未录入，按周一至周五工作日推算"
                    "（扣除按规则推算的节日）"
                    f" / The official holiday arrangement for {year} is not on file; counting "
                    "Monday–Friday as working days (less rule-computed holidays)",
                    OutsideKnownCalendarWarning,
                    stacklevel=3,
                )
        return table

    def _build(self, year: int) -> _Year:
        """Compute one year's working days from the overrides, library data or fallback."""
        known = self._year_known(year)
        if year in self._overrides:
            days_off, workdays = self._overrides[year]
        else:
            library = holidays.China(years=year)
            days_off = frozenset(day for day in library if day.year == year)
            # Make-up working days are part of the published arrangement only; the fallback
            # for unknown years has none.
            workdays = frozenset(
                day for day in library.weekend_workdays if known and day.year == year
            )
        first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
        working = tuple(
            ordinal
            for ordinal in range(first, last + 1)
            if (day := date.fromordinal(ordinal)) in workdays
            or (day.weekday() < 5 and day not in days_off)
        )
        return _Year(year=year, known=known, working=working, working_set=frozenset(working))


def load_calendar(overrides_path: str | Path | None = None) -> ChinaLegalCalendar:
    """Build the legal calendar with the given override file (default: the shipped one)."""
    return ChinaLegalCalendar(overrides_path)
