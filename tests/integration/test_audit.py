"""The audit log on both databases: a clean chain verifies, and every kind of tampering shows.

Each test drives a real decision through the service (records, moves and refusals), then
tampers with the stored chain as a determined administrator could (the append-only triggers
dropped, or skipped on PostgreSQL), and checks that `verify` names the exact event and why.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, delete, event, insert, select, update
from sqlalchemy.exc import DBAPIError

from decisionflow import audit
from decisionflow.bootstrap import Parts
from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, StepContext, take_step
from decisionflow.errors import NotPermitted
from decisionflow.models import AuditChainHead, AuditEvent
from decisionflow.roles import Role
from tests.conftest import PASSWORD
from tests.unit.test_audit_canonical import KNOWN_EVENT, KNOWN_HASH, KNOWN_PAYLOAD

EVENTS = AuditEvent.__table__
HEAD = AuditChainHead.__table__
#: the events the `chain` fixture writes, by number, and their actions and outcomes
CHAIN = (
    ("create_decision", "done"),
    ("record:proposal", "done"),
    ("approve_decision", "not_permitted"),
    ("start_procedure", "done"),
    ("record:draft_version", "done"),
    ("record:legal_basis", "done"),
    ("record:department_consultation", "done"),
    ("record:proposal", "not_permitted"),
    ("submit_for_argumentation", "done"),
)
(
    CREATED,
    PROPOSAL,
    REFUSED_APPROVAL,
    STARTED,
    DRAFT,
    LEGAL_BASIS,
    CONSULTED,
    REFUSED_EXPERT,
    SUBMITTED,
) = range(1, len(CHAIN) + 1)
LAST = SUBMITTED


@pytest.fixture
def chain(parts: Parts, people: Any, clock: Any) -> int:
    """A decision's first steps, with two refusals among them: nine events."""
    service = parts.decisions
    decision = service.create_decision(
        people[Role.STAFF],
        title="征地补偿标准调整",
        category="public_policy",
        undertaking_unit="housing",
        flags=FLAGS_FOR_PATH,
    )
    experts = (people[Role.EXPERT].id,)
    steps = {step.name: step for step in MAJOR_DECISION_PATH}

    def take(name: str) -> None:
        step = steps[name]
        clock.advance(days=step.wait_days, minutes=5)
        take_step(
            service,
            step,
            people[step.role],
            decision.id,
            StepContext(clock.today, experts, PASSWORD),
        )

    take("proposal")
    with pytest.raises(NotPermitted):  # a clerk may not approve: refused, and audited
        service.fire(people[Role.STAFF], decision.id, "approve_decision", {"decision_text": "通过"})
    take("start_procedure")
    take("draft_version")
    take("legal_basis")
    take("department_consultation")
    with pytest.raises(NotPermitted):  # an unassigned expert may not touch the file
        service.add_record(people[Role.EXPERT], decision.id, "proposal", {"source": "x"})
    take("submit_for_argumentation")
    with parts.engine.connect() as connection:
        written = connection.execute(
            select(EVENTS.c.action, EVENTS.c.outcome).order_by(EVENTS.c.seq)
        ).all()
    assert [tuple(row) for row in written] == list(CHAIN)  # the numbering the tests rely on
    return LAST


# -- how a determined administrator tampers --------------------------------------------------
@contextmanager
def tampering(parts: Parts) -> Iterator[Connection]:
    """A transaction in which the append-only triggers no longer stop anything."""
    with parts.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # replica mode skips ordinary triggers, for this transaction only
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for trigger in (
                "audit_events_no_update",
                "audit_events_no_delete",
                "audit_chain_head_no_delete",
            ):
                connection.exec_driver_sql(f"DROP TRIGGER {trigger}")
        yield connection


def stored(connection: Connection, seq: int) -> dict[str, Any]:
    """One stored event, as a dict of its columns."""
    return dict(connection.execute(select(EVENTS).where(EVENTS.c.seq == seq)).one()._mapping)


def edit(connection: Connection, seq: int, /, **values: Any) -> None:
    """Change columns of one stored event."""
    connection.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(**values))


def rehash(connection: Connection, seq: int) -> str:
    """Give an event the hash its (edited) contents now have, as a careful forger would."""
    new_hash = audit.event_hash(stored(connection, seq))
    edit(connection, seq, hash=new_hash)
    return new_hash


def forge(connection: Connection, seq: int, prev_hash: str, **values: Any) -> str:
    """Insert a well-formed event at seq, linked to prev_hash, with a correct hash of its own."""
    row = {**stored(connection, PROPOSAL), **values, "seq": seq, "prev_hash": prev_hash}
    row["hash"] = audit.event_hash(row)
    connection.execute(insert(EVENTS).values(row))
    return row["hash"]


def renumber_from(connection: Connection, first: int, by: int) -> None:
    """Move events first.. along by `by` places, one at a time so the key never collides."""
    seqs = connection.scalars(select(EVENTS.c.seq).where(EVENTS.c.seq >= first)).all()
    for seq in sorted(seqs, reverse=by > 0):
        edit(connection, seq, seq=seq + by)


def verify(parts: Parts) -> audit.Verification:
    return parts.verify_audit()


def assert_broken(result: audit.Verification, at: int, en: str, zh: str) -> None:
    """The chain is reported broken at that event, for that reason, in both languages."""
    assert not result.ok
    assert result.broken_at == at, str(result)
    assert en in result.en, result.en
    assert zh in result.zh, result.zh
    assert f"event {at}" in str(result)


# -- the clean chain ---------------------------------------------------------------------
def test_clean_chain_verifies_every_event(parts, chain):
    """Records, moves and refusals all land in one intact chain, counted one by one."""
    result = verify(parts)
    assert result.ok, str(result)
    assert (result.events_checked, result.head_seq, result.broken_at) == (chain, chain, None)
    assert f"{chain} events verified" in str(result)
    with parts.engine.connect() as connection:
        refused = stored(connection, REFUSED_APPROVAL)
    # the refusal is kept with its rule and article: the log is evidence of what was refused
    assert refused["outcome"] == "not_permitted"
    assert '"article":"Art 30"' in refused["detail"]


def test_an_empty_chain_verifies(parts):
    """A new installation's empty log is intact, with nothing to check."""
    result = verify(parts)
    assert result.ok
    assert (result.events_checked, result.head_seq) == (0, 0)


def test_known_event_hashes_to_the_known_vector_on_this_database(parts):
    """The database returns the canonical text hashed at append: the same on SQLite and PostgreSQL."""
    with parts.sessions() as session, session.begin():
        appended = audit.append(
            session,
            actor=audit.AuditActor(3, "staff_a", "staff", "housing"),
            action=KNOWN_EVENT["action"],
            outcome=KNOWN_EVENT["outcome"],
            decision_id=None,
            state_before=KNOWN_EVENT["state_before"],
            state_after=KNOWN_EVENT["state_after"],
            payload=KNOWN_PAYLOAD,
            detail={"version": 2, "record_id": 5},
            origin=KNOWN_EVENT["origin"],
            now=KNOWN_EVENT["occurred_at"],
        )
    assert (appended.seq, appended.hash) == (1, KNOWN_HASH)
    with parts.engine.connect() as connection:
        assert stored(connection, 1)["hash"] == KNOWN_HASH
    # verify recomputes the hash from what the database gives back, time included
    assert verify(parts).ok


# -- the database's own guard ----------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        update(EVENTS).where(EVENTS.c.seq == PROPOSAL).values(actor_username="someone_else"),
        delete(EVENTS).where(EVENTS.c.seq == PROPOSAL),
        delete(HEAD),
    ],
    ids=["update-event", "delete-event", "delete-head"],
)
def test_database_refuses_to_change_or_delete_audit_rows(parts, chain, statement):
    """A plain UPDATE or DELETE of the log is refused by the database itself."""
    with pytest.raises(DBAPIError, match="append-only"), parts.engine.begin() as connection:
        connection.execute(statement)
    assert verify(parts).ok


# -- tampering, each kind found at its event ------------------------------------------------
@pytest.mark.parametrize(
    ("seq", "column", "value"),
    [
        (PROPOSAL, "actor_username", "chief_executive_a"),  # who did it
        (STARTED, "action", "approve_decision"),  # what was done
        (REFUSED_APPROVAL, "detail", '{"refusal":{},"unmet":[]}'),  # why it was refused
        (DRAFT, "occurred_at", None),  # when (back-dated a day below)
        (SUBMITTED, "state_after", "decided"),  # where it left the decision
        (REFUSED_EXPERT, "outcome", "done"),  # a refusal passed off as done
    ],
)
def test_edited_field_is_found_at_that_event(parts, chain, seq, column, value):
    """Editing any one column of an event is reported at that very event as altered."""
    with tampering(parts) as connection:
        if column == "occurred_at":
            value = stored(connection, seq)["occurred_at"] - timedelta(days=1)
        edit(connection, seq, **{column: value})
    result = verify(parts)
    assert_broken(result, seq, "no longer match its hash (altered)", "被篡改")
    assert result.events_checked == seq - 1


def test_event_rewritten_with_its_hash_recomputed_is_found_at_the_next_link(parts, chain):
    """A rewrite that recomputes the event's own hash still breaks the next event's link."""
    with tampering(parts) as connection:
        edit(connection, REFUSED_APPROVAL, outcome="done", detail="{}")
        rehash(connection, REFUSED_APPROVAL)
    assert_broken(
        verify(parts),
        REFUSED_APPROVAL + 1,
        f"does not link to event {REFUSED_APPROVAL}",
        "前一条被改写",
    )


def test_newest_event_rewritten_with_its_hash_recomputed_is_found_by_the_head(parts, chain):
    """With no next event to break, the separate head anchor catches a rewritten newest event."""
    with tampering(parts) as connection:
        edit(connection, LAST, state_after="decided")
        rehash(connection, LAST)
    assert_broken(verify(parts), LAST, "head's hash does not match the last event", "链头哈希")


def test_deleted_event_is_found_where_it_was(parts, chain):
    """A deleted event leaves a gap in the numbering, reported at the missing event."""
    with tampering(parts) as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.seq == REFUSED_APPROVAL))
    result = verify(parts)
    assert_broken(
        result,
        REFUSED_APPROVAL,
        f"events {REFUSED_APPROVAL} to {REFUSED_APPROVAL} are missing (deleted)",
        "缺失",
    )
    assert result.events_checked == REFUSED_APPROVAL - 1


def test_deleted_event_with_the_rest_renumbered_is_found_where_it_was(parts, chain):
    """Closing the gap after a deletion breaks the link where the deleted event stood."""
    with tampering(parts) as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.seq == REFUSED_APPROVAL))
        renumber_from(connection, REFUSED_APPROVAL + 1, by=-1)
        connection.execute(update(HEAD).values(seq=LAST - 1))
    assert_broken(
        verify(parts), REFUSED_APPROVAL, f"does not link to event {REFUSED_APPROVAL - 1}", "未链接"
    )


def test_newest_events_deleted_are_found_by_the_head(parts, chain):
    """Cutting off the newest events shows: the head still names the last one written."""
    with tampering(parts) as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.seq >= LAST - 1))
    result = verify(parts)
    assert_broken(result, LAST - 1, "the newest events were deleted", "最新的事件被删除")
    assert (result.events_checked, result.head_seq) == (LAST - 2, LAST)


def test_event_inserted_in_the_middle_is_named(parts, chain):
    """A forged event slipped in (the later ones renumbered) is named as the inserted one."""
    with tampering(parts) as connection:
        renumber_from(connection, STARTED, by=1)
        forge(connection, STARTED, stored(connection, STARTED - 1)["hash"], action="withdraw")
        connection.execute(update(HEAD).values(seq=LAST + 1))
    result = verify(parts)
    assert_broken(result, STARTED, "it was inserted", "被插入")
    assert result.events_checked == STARTED - 1


def test_event_appended_beyond_the_head_is_found(parts, chain):
    """A well-formed event added after the head (by SQL, not DecisionFlow) is found."""
    with tampering(parts) as connection:
        forge(connection, LAST + 1, stored(connection, LAST)["hash"], action="withdraw")
    assert_broken(verify(parts), LAST + 1, "beyond the chain head", "链头")


def test_two_events_swapped_are_found_at_the_first(parts, chain):
    """Swapping two events' contents (reordering history) breaks the chain at the first."""
    with tampering(parts) as connection:
        first, second = stored(connection, STARTED), stored(connection, DRAFT)
        edit(connection, STARTED, **{k: v for k, v in second.items() if k != "seq"})
        edit(connection, DRAFT, **{k: v for k, v in first.items() if k != "seq"})
    result = verify(parts)
    assert_broken(result, STARTED, f"does not link to event {STARTED - 1}", "重排")
    assert result.events_checked == STARTED - 1


@pytest.mark.parametrize(
    ("values", "at", "en"),
    [
        ({"hash": "f" * 64}, LAST, "head's hash does not match the last event"),
        ({"seq": LAST - 1}, LAST, "beyond the chain head"),
        ({"seq": LAST + 1}, LAST + 1, "the newest events were deleted"),
    ],
    ids=["hash", "seq-back", "seq-ahead"],
)
def test_head_edited_is_found(parts, chain, values, at, en):
    """The head row may be updated (appends do), so only verify protects it: edits show."""
    with parts.engine.begin() as connection:  # no trigger stands in the way of this one
        connection.execute(update(HEAD).values(**values))
    assert_broken(verify(parts), at, en, "链头")


def test_head_deleted_is_found(parts, chain):
    """Without its head the chain cannot be trusted, and verify says so."""
    with tampering(parts) as connection:
        connection.execute(delete(HEAD))
    result = verify(parts)
    assert not result.ok
    assert "head record is missing" in result.en
    assert "链头记录缺失" in result.zh


def test_verify_during_an_append_sees_one_moment_not_a_false_alarm(parts, chain, clock):
    """An append landing while verify runs is neither half-seen nor reported as tampering."""
    appended = []

    def append_meanwhile(conn, cursor, statement, *args):  # right after verify reads the head
        if "audit_chain_head" in statement and not appended:
            with parts.sessions() as session, session.begin():
                appended.append(
                    audit.append(
                        session,
                        actor=audit.AuditActor(None, "system", "admin", ""),
                        action="create_user",
                        outcome="done",
                        decision_id=None,
                        state_before="",
                        state_after="",
                        payload={"username": "new_clerk"},
                        detail={},
                        origin="cli",
                        now=clock(),
                    )
                )

    with parts.engine.connect() as connection:
        event.listen(connection, "after_cursor_execute", append_meanwhile)
        result = audit.verify(connection)
    assert appended, "the append did not happen during verification"
    # verify saw the chain as it stood when it read the head: intact, without the newcomer
    assert result.ok, str(result)
    assert result.events_checked == chain
    after = verify(parts)
    assert after.ok
    assert after.events_checked == chain + 1


# -- a long chain ------------------------------------------------------------------------------
BIG = 20_000


@pytest.fixture
def big_chain(parts: Parts, clock: Any) -> int:
    """20,000 events appended by audit.append in a few big transactions."""
    actor = audit.AuditActor(1, "staff_a", "staff", "housing")
    for start in range(0, BIG, 5_000):
        with parts.sessions() as session, session.begin():
            for n in range(start, start + 5_000):
                clock.advance(seconds=1)
                audit.append(
                    session,
                    actor=actor,
                    action="record:expert_opinion",
                    outcome="done",
                    decision_id=n % 50 + 1,
                    state_before="argumentation",
                    state_after="argumentation",
                    payload={"opinion": "标准测算方法科学", "n": n},
                    detail={"record_id": n, "version": n + 2},
                    origin="bench",
                    now=clock(),
                )
    return BIG


def test_long_chain_verifies_in_constant_memory_and_names_a_deep_edit(parts, big_chain):
    """20,000 events verify holding one batch at a time; an edit deep inside is named exactly."""
    tracemalloc.start()
    try:
        with parts.engine.connect() as connection:
            result = audit.verify(connection, batch_size=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok, str(result)
    assert result.events_checked == big_chain
    # the whole chain held at once would take well over 10 MB of Python objects
    assert peak < 4_000_000, peak

    target = 15_001  # in a later batch than the first
    with tampering(parts) as connection:
        edit(connection, target, detail='{"record_id":0,"version":2}')
    result = verify(parts)
    assert_broken(result, target, "altered", "被篡改")
    assert result.events_checked == target - 1
