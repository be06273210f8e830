"""Keyset pages: following `next` shows every row once, in order; `previous` leads back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from decisionflow import queries
from decisionflow.bootstrap import Parts
from decisionflow.roles import Role
from tests.conftest import Clock, People, make_people

Fetch = Callable[[str], queries.Page]


def _walk(fetch: Fetch, key: Callable[[Any], Any]) -> list[list[Any]]:
    """Every page from the first by `next`, then back by `previous`, checking both agree."""
    pages = [fetch("")]
    assert pages[0].previous is None
    while pages[-1].next is not None:
        pages.append(fetch(pages[-1].next))
        assert pages[-1].items, "a next cursor led to an empty page"
    back = [pages[-1]]
    while back[-1].previous is not None:
        back.append(fetch(back[-1].previous))
    assert [[key(i) for i in p.items] for p in reversed(back)] == [
        [key(i) for i in p.items] for p in pages
    ]
    return [[key(i) for i in p.items] for p in pages]


def _decisions(parts: Parts, people: People, clock: Clock) -> list[int]:
    """Twelve decisions: five proposed at the very same moment (ties broken by id), then more."""
    made = []
    for n in range(12):
        if n >= 5:
            clock.advance(minutes=1)
        view = parts.decisions.create_decision(
            people[Role.STAFF],
            title=f"决策 {n}",
            category="public_policy",
            undertaking_unit="housing",
        )
        made.append(view.id)
    return made


def test_the_decision_list_pages_by_activity_and_id(parts: Parts, clock: Clock, password_hash: str):
    """Newest activity first; decisions of the same moment by id; each exactly once."""
    people = make_people(parts, password_hash)
    made = _decisions(parts, people, clock)
    staff = people[Role.STAFF]
    with parts.readers() as db:
        pages = _walk(
            lambda c: queries.list_decisions(db, staff, cursor=c, per_page=5), lambda r: r[0].id
        )
        assert [len(p) for p in pages] == [5, 5, 2]
        assert [row for page in pages for row in page] == made[::-1]
        assert queries.list_decisions(db, staff, per_page=5).total == 12
        # a cursor typed by hand, or from another list, is the first page again
        for odd in ("x", "eyJ4IjoxfQ", "WyJhIiwxXQ", "WyJhIiwieCIsMV0"):
            assert [r[0].id for r in queries.list_decisions(db, staff, cursor=odd).items][:1] == [
                made[-1]
            ]


def test_the_audit_log_pages_by_sequence(parts: Parts, clock: Clock, password_hash: str):
    """Newest event first, each exactly once, without counting the log."""
    people = make_people(parts, password_hash)
    _decisions(parts, people, clock)
    with parts.readers() as db:
        pages = _walk(lambda c: queries.audit_page(db, cursor=c, per_page=5), lambda e: e.seq)
        seqs = [row for page in pages for row in page]
        assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs) >= 12
        assert queries.audit_page(db).total is None


def test_my_work_pages_oldest_activity_first(parts: Parts, clock: Clock, password_hash: str):
    """The candidates for my work come oldest activity first, each exactly once."""
    people = make_people(parts, password_hash)
    made = _decisions(parts, people, clock)
    states = {"major_decision": {"proposed"}}
    with parts.readers() as db:
        pages = _walk(
            lambda c: queries.work_candidates(db, people[Role.STAFF], states, cursor=c, per_page=4),
            lambda d: d.id,
        )
        assert [row for page in pages for row in page] == made
        # another department's clerk has none of them
        assert queries.work_candidates(db, people.staff_b, states).items == []


def test_the_decision_list_counts_up_to_a_cap(
    parts: Parts, clock: Clock, password_hash: str, monkeypatch
):
    """Beyond the cap the list says "more than" instead of counting every row."""
    people = make_people(parts, password_hash)
    _decisions(parts, people, clock)
    staff = people[Role.STAFF]
    with parts.readers() as db:
        monkeypatch.setattr(queries, "COUNT_CAP", 12)
        assert queries.list_decisions(db, staff).total == 12
        monkeypatch.setattr(queries, "COUNT_CAP", 11)
        assert queries.list_decisions(db, staff).total is None
        assert queries.list_decisions(db, staff, text="决策 1").total == 3  # 1, 10 and 11


def test_a_decisions_timeline_pages_back_from_its_newest_events(
    parts: Parts, clock: Clock, password_hash: str
):
    """The decision page's timeline: the newest events first, each page read oldest first,
    `next` leading to earlier events; every event of that decision exactly once."""
    people = make_people(parts, password_hash)
    made = _decisions(parts, people, clock)
    decision_id = made[0]
    for n in range(11):
        parts.decisions.add_record(
            people[Role.STAFF],
            decision_id,
            "proposal",
            {"source": "department", "problem": f"问题 {n}", "reasons": "依据", "solution": "办法"},
        )
    with parts.readers() as db:
        every = [e.seq for e in queries.timeline(db, decision_id)]
        pages = _walk(
            lambda c: queries.timeline_page(db, decision_id, cursor=c, per_page=5),
            lambda e: e.seq,
        )
    assert len(every) == 12  # proposed, then eleven records
    assert [len(p) for p in pages] == [5, 5, 2]
    assert all(page == sorted(page) for page in pages)  # a page reads as a timeline does
    assert [seq for page in reversed(pages) for seq in page] == every


def test_a_filter_no_database_can_hold_finds_nothing_instead_of_failing(
    parts: Parts, clock: Clock, password_hash: str
):
    """A NUL or a lone surrogate in a filter (typed, or fuzzed through the API) matches no
    decision; PostgreSQL would otherwise refuse the whole query (found by the long API fuzz)."""
    people = make_people(parts, password_hash)
    _decisions(parts, people, clock)
    staff = people[Role.STAFF]
    with parts.readers() as db:
        assert queries.list_decisions(db, staff).total == 12
        for odd in ({"state": "draft\x00ing"}, {"text": "决策\x00"}, {"unit": "\ud800"}):
            page = queries.list_decisions(db, staff, **odd)
            assert (page.items, page.total, page.next) == ([], 0, None), odd
