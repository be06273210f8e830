"""The accountability trace: per step, who acted and what each signed, said or decided, from the
audit chain, with the chain checked up to the decision's newest event — on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from decisionflow.errors import NotPermitted
from decisionflow.models import AuditEvent, DraftVersion
from decisionflow.roles import Role
from tests.integration.test_audit import EVENTS, edit, forge, renumber_from, stored, tampering
from tests.yearbook import seed_year


@pytest.fixture
def year(parts, people, clock):
    """The seeded year (D2: approved by the chief against the members' majority)."""
    return seed_year(parts, people, clock)


def test_each_step_names_its_people_and_what_they_signed_said_and_decided(parts, people, year):
    """The meeting shows the dissents and the chief's reasons; the review its signed opinion."""
    trace = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    assert trace.check.ok
    assert (trace.decision.id, trace.decision.state) == (year.d2, "party_report")
    with parts.readers() as session:
        newest = session.scalar(
            select(AuditEvent.seq)
            .where(AuditEvent.decision_id == year.d2, AuditEvent.outcome == "done")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        draft = session.scalars(
            select(DraftVersion)
            .where(DraftVersion.decision_id == year.d2)
            .order_by(DraftVersion.number.desc())
        ).first()
    assert trace.check.through == newest
    by_state = {s.state: s for s in trace.steps}
    assert list(by_state)[:3] == ["proposed", "drafting", "argumentation"]

    meeting = by_state["collective_discussion"]
    assert {(p.username, p.role) for p in meeting.people} == {
        ("government_office_a", "government_office"),
        ("chief_executive_a", "chief_executive"),
    }
    assert [e.dissent for e in meeting.events if e.dissent] == ["不同意", "不同意"]
    [approval] = [e for e in meeting.events if e.action == "approve_decision"]
    assert approval.departure == "改造资金已落实，群众诉求迫切"
    assert approval.name == "chief_executive" and approval.state_after == "party_report"

    review = by_state["legality_review"]
    [opinion] = [e for e in review.events if e.kind == "legality_opinion"]
    assert opinion.signed is not None and opinion.signed.signer == "legal_officer"
    assert opinion.signed.draft_sha256 == draft.sha256
    assert opinion.data["outcome"] == "lawful"
    # every event carries its place in the chain and its hash
    seqs = [e.seq for s in trace.steps for e in s.events]
    assert seqs == sorted(seqs) and all(len(e.hash) == 64 for s in trace.steps for e in s.events)

    comments = [e.comment for s in trace.steps for e in s.events if e.comment]
    assert [c[1:] for c in comments] == [("adopted", "采纳")]


def test_a_step_alone_and_the_chain_walked_once(parts, people, year):
    """?step= keeps only that stage's stays; a second look re-hashes only the decision's events."""
    first = parts.traces.trace(people[Role.SUPERVISOR], year.d3, step="legality_review")
    assert [s.state for s in first.steps] == ["legality_review"]
    assert {e.action for e in first.steps[0].events} == {"record:legality_opinion", "find_unlawful"}
    # found unlawful, D3 went back to drafting
    whole = parts.traces.trace(people[Role.SUPERVISOR], year.d3)
    assert whole.steps[-1].events[-1].state_after == "drafting"
    assert whole.states == ("proposed", "drafting", "argumentation", "legality_review")
    own = sum(len(s.events) for s in whole.steps)
    assert whole.check.ok and whole.check.rehashed == own  # nothing walked twice


def test_an_edited_event_of_the_decision_shows_as_broken(parts, people, year):
    """Rewriting what the chief said breaks the trace's check at that event."""
    trace = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    [approval] = [e for s in trace.steps for e in s.events if e.action == "approve_decision"]
    with tampering(parts) as connection:
        edit(connection, approval.seq, actor_username="someone_else")
    broken = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    assert not broken.check.ok and broken.check.broken_at == approval.seq


def test_only_those_who_may_see_the_decision_read_its_trace(parts, people, year):
    """Another department's clerk is refused, as reading the decision would be."""
    with pytest.raises(NotPermitted):
        parts.traces.trace(people.staff_b, year.d2)


def test_the_first_trace_walks_the_chain_from_its_first_event(parts, people, year):
    """An edited event of another decision, before this one's, breaks the check."""
    with tampering(parts) as connection:
        edit(connection, 2, origin="forged")  # an early event of the year-before decision
    broken = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    assert not broken.check.ok and broken.check.broken_at == 2


def test_a_stretch_of_chain_verified_once_is_not_walked_again(parts, people, year):
    """Once the chain held up to a newer decision's events, an older decision's trace re-hashes
    only its own events."""
    newer = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    assert newer.check.ok and newer.check.rehashed > sum(len(s.events) for s in newer.steps)
    older = parts.traces.trace(people[Role.SUPERVISOR], year.d0)
    assert older.check.ok and older.check.rehashed == sum(len(s.events) for s in older.steps)


def test_a_trace_says_what_it_took_from_an_earlier_walk_and_a_full_check_finds_a_later_edit(
    parts, people, year
):
    """An edit after the first walk, in another decision's events, is not passed off as checked
    now: the trace says which events an earlier walk verified, and a full check finds the edit."""
    first = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    assert first.check.ok and first.check.earlier == 0 and first.check.earlier_at is None
    with tampering(parts) as connection:
        edit(connection, 2, origin="forged")  # an early event of the year-before decision
    trusted = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    assert trusted.check.ok
    assert trusted.check.earlier == first.check.through and trusted.check.earlier_at is not None
    full = parts.traces.trace(people[Role.SUPERVISOR], year.d2, full_check=True)
    assert not full.check.ok and full.check.broken_at == 2


def test_a_deleted_event_before_the_decision_s_is_found_where_it_was(parts, people, year):
    """The trace's walk finds a gap in the chain as `audit verify` does, at the missing event."""
    with tampering(parts) as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.seq == 3))
    broken = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    assert not broken.check.ok and broken.check.broken_at == 3
    assert "missing (deleted)" in broken.check.en and "缺失" in broken.check.zh
    assert broken.check.rehashed == 2  # events 1 and 2 held


def test_an_event_slipped_in_before_the_decision_s_is_named_as_inserted(parts, people, year):
    """A forged event put in between (the later ones renumbered) is named, as `audit verify`
    names it, rather than blaming the genuine event after it."""
    with tampering(parts) as connection:
        renumber_from(connection, 3, by=1)
        forge(connection, 3, stored(connection, 2)["hash"], action="withdraw")
    broken = parts.traces.trace(people[Role.SUPERVISOR], year.d2)
    assert not broken.check.ok and broken.check.broken_at == 3
    assert "inserted" in broken.check.en and "被插入" in broken.check.zh


def test_a_full_walk_is_for_those_who_may_verify_the_chain(parts, people, year):
    """The clerk may read the own decision's trace, not order a walk of the whole chain."""
    assert parts.traces.trace(people[Role.STAFF], year.d2).check.ok
    with pytest.raises(NotPermitted):
        parts.traces.trace(people[Role.STAFF], year.d2, full_check=True)
    assert parts.traces.trace(people[Role.SUPERVISOR], year.d2, full_check=True).check.ok
