"""The decision page's one read: it shows what the single reads would, from one moment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from decisionflow import queries
from decisionflow.errors import NotFound, NotPermitted
from decisionflow.facts import ReadRecordFacts, SqlRecordFacts
from decisionflow.models import AuditEvent, Decision
from decisionflow.roles import Role
from tests.helpers import drive
from tests.integration.test_sweep import filing_document


def running(parts, decision_id: int) -> list:
    """The deadlines `decisionflow deadlines list` shows for one decision."""
    return [item for decision, item in parts.sweeper.due_now() if decision.id == decision_id]


def test_the_page_read_agrees_with_each_part_read_alone(parts, people, clock):
    """Moves, deadlines, follow-ups, records and history: as the services answer them one by one."""
    view = drive(parts, people, clock, through="expert_opinion")
    receipt = parts.participation.submit_comment(
        view.id, text="建议公开测算依据", contact="13800000000", address="203.0.113.9"
    )
    due = (clock.today + timedelta(days=10)).isoformat()
    parts.follow_ups.open(people[Role.SUPERVISOR], view.id, instructions="请加快论证", due=due)
    clerk = people[Role.STAFF]

    page = parts.overviews.read(clerk, view.id)

    assert page.decision == parts.decisions.get(clerk, view.id)
    actions = parts.decisions.actions(clerk, view.id)
    assert page.actions == actions and page.actions  # the clerk has moves to make here
    assert page.deadlines == running(parts, view.id)
    assert page.follow_ups == parts.follow_ups.listing(clerk, decision_id=view.id)
    assert [f.instructions for f in page.follow_ups] == ["请加快论证"]
    with parts.readers() as session:
        assert page.records == queries.records(session, view.id)
        assert page.visited == queries.visited_states(session, view.id)
        assert page.timeline == queries.timeline_page(session, view.id)
        drafts = [(d.number, d.sha256, d.content) for d in queries.drafts(session, view.id)]
        files = [(a.id, a.sha256) for a in queries.attachments(session, view.id)]
    assert [(d.number, d.sha256, d.content) for d in page.drafts] == drafts and drafts
    assert [(a.id, a.sha256) for a in page.attachments] == files
    # the experts a record names are shown by name, read with the page
    expert = people[Role.EXPERT]
    assert page.people[expert.id] == Role.EXPERT.value  # its display name in this scene
    # the clerk of the undertaking unit handles the public comments, contact included
    assert page.handles_comments
    assert [(c.receipt, c.contact) for c in page.comments] == [(receipt.receipt, "13800000000")]
    # the legal office reads every decision's comments but handles none; the expert sees none
    legal = parts.overviews.read(people[Role.LEGAL_OFFICER], view.id)
    assert not legal.handles_comments and [c.receipt for c in legal.comments] == [receipt.receipt]
    assigned = parts.overviews.read(expert, view.id)
    assert not assigned.handles_comments and assigned.comments == []


def test_the_page_shows_the_deadline_running_on_the_decision(parts, people, clock):
    """A normative document awaiting filing: the filing's due date, as the sweep computes it."""
    document_id, due = filing_document(parts, people, clock)
    page = parts.overviews.read(people[Role.SUPERVISOR], document_id)
    assert [item.due for item in page.deadlines] == [due]
    assert page.deadlines == running(parts, document_id)


def test_the_page_read_refuses_whom_the_decision_is_not_for(parts, people):
    """Another department's clerk is refused, as the decision itself refuses them; no number, 404."""
    view = parts.decisions.create_decision(
        people[Role.STAFF],
        title="老旧小区改造计划",
        category="public_policy",
        undertaking_unit="housing",
    )
    with pytest.raises(NotPermitted):
        parts.overviews.read(people.staff_b, view.id)
    with pytest.raises(NotFound):
        parts.overviews.read(people[Role.STAFF], view.id + 1000)


def test_follow_ups_on_the_page_are_those_each_reader_may_see(parts, people, clock):
    """The supervisor and the answering units see the follow-up; the legal officer does not."""
    view = parts.decisions.create_decision(
        people[Role.STAFF],
        title="老旧小区改造计划",
        category="public_policy",
        undertaking_unit="housing",
        executing_unit="ecology",
    )
    due = (clock.today + timedelta(days=5)).isoformat()
    parts.follow_ups.open(people[Role.SUPERVISOR], view.id, instructions="说明进度", due=due)
    for reader in (people[Role.SUPERVISOR], people[Role.STAFF], people.executor_b):
        shown = parts.overviews.read(reader, view.id).follow_ups
        assert shown == parts.follow_ups.listing(reader, decision_id=view.id)
        assert len(shown) == 1
    legal = people[Role.LEGAL_OFFICER]
    assert parts.overviews.read(legal, view.id).follow_ups == []
    assert parts.follow_ups.listing(legal, decision_id=view.id) == []


def test_record_facts_read_with_the_page_answer_as_the_database_does(parts, people, clock):
    """count, latest and every, for every kind and from several moments on, agree with SQL."""
    view = drive(parts, people, clock, through="member_opinion")
    with parts.readers() as session:
        listed = queries.records(session, view.id)
        read = ReadRecordFacts(
            session,
            view.id,
            [r.fact for r in listed],
        )
        asked = SqlRecordFacts(session, view.id)
        kinds = {r.kind for r in listed} | {"no_such_kind"}
        moments = [None, *(r.created_at for r in listed[:: max(1, len(listed) // 4)])]
        assert len(kinds) > 5
        for kind in kinds:
            assert read.latest(kind) == asked.latest(kind), kind
            for since in moments:
                assert read.count(kind, since=since) == asked.count(kind, since=since)
                assert read.every(kind, since=since) == asked.every(kind, since=since)
        assert read.undisposed_comments() == asked.undisposed_comments()


def test_record_facts_forgotten_ask_the_database_again(parts, people, clock):
    """After forget(), facts read with the page answer as the database does, new records too."""
    view = drive(parts, people, clock, through="proposal")
    with parts.readers() as session:
        listed = queries.records(session, view.id)
    given = [r.fact for r in listed]
    parts.decisions.add_record(people[Role.STAFF], view.id, "proposal", dict(listed[0].data))
    with parts.readers() as session:
        read = ReadRecordFacts(session, view.id, given)
        assert read.count("proposal") == 1  # what it was given, read before the new record
        read.forget()
        asked = SqlRecordFacts(session, view.id)
        assert read.count("proposal") == asked.count("proposal") == 2
        assert read.latest("proposal") == asked.latest("proposal")
        assert read.every("proposal") == asked.every("proposal")


def test_people_are_named_whatever_the_number_of_ids_asked(parts, people, password_hash):
    """More ids than one statement asks for, mixed with ids no user has and values no id could
    be: every user asked for is named, and nobody else."""
    from decisionflow.models import User

    with parts.sessions() as session, session.begin():
        session.add_all(
            User(
                username=f"member_{n}",
                display_name=f"委员 {n}",
                role="staff",
                password_hash=password_hash,
            )
            for n in range(150)
        )
    with parts.readers() as session:
        everyone = {u.id: u.display_name for u in session.query(User)}
        asked = [*everyone, max(everyone) + 1, 0, -3, 2**40, "7", None, 3.0]
        assert queries.people_named(session, asked) == everyone
        some = sorted(everyone)[5:70]  # 65: one more than a statement takes
        assert queries.people_named(session, some) == {i: everyone[i] for i in some}
        assert queries.people_named(session, [some[0]]) == {some[0]: everyone[some[0]]}
        assert queries.people_named(session, []) == {}


def test_a_read_sees_one_moment_though_a_move_commits_in_its_midst(parts, people, clock):
    """A reader's parts (the decision's stage, then its history) come from one moment: a move
    committed between them shows in neither, on either database (a trace or a page reads so)."""
    view = drive(parts, people, clock, before="start_procedure")
    with parts.readers() as session:
        stage = session.scalar(select(Decision.state).where(Decision.id == view.id))
        drive(
            parts,
            people,
            clock,
            decision_id=view.id,
            start="start_procedure",
            through="start_procedure",
        )
        events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.decision_id == view.id)
        )
    assert parts.decisions.get(people[Role.STAFF], view.id).state != stage  # it did move
    with parts.readers() as session:
        now = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.decision_id == view.id)
        )
    assert events < now  # the history read in the midst did not see the move either
