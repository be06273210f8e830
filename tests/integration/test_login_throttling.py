"""Sign-in throttling on a real database: locks per username and per address, shared by servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from decisionflow import security_events as events
from decisionflow.bootstrap import Parts, build
from decisionflow.errors import InvalidInput
from decisionflow.login_guard import SignInOutcome
from decisionflow.models import AuditEvent, SignInThrottle
from decisionflow.roles import Role
from tests.conftest import PASSWORD, Clock, People

HOME = "10.1.1.1"
WRONG = "not the password at all"
NEW = "quiet river under old bridges"


def attempt(parts: Parts, username: str, password: str, address: str = HOME) -> SignInOutcome:
    return parts.sign_in.sign_in(username, password, address=address, origin=f"web {address}")


def security_log(parts: Parts) -> list[AuditEvent]:
    """The security events in the audit log, oldest first."""
    with parts.readers() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(events.SECURITY_ACTIONS))
                .order_by(AuditEvent.seq)
            )
        )


def test_five_failures_lock_the_account_even_against_the_right_password(
    parts: Parts, people: People, clock: Clock
) -> None:
    """After five wrong passwords the account is locked for 15 minutes; then it opens again."""
    for _ in range(4):
        assert attempt(parts, "staff_a", WRONG) == SignInOutcome()
    fifth = attempt(parts, "staff_a", WRONG)
    assert fifth.actor is None
    assert fifth.locked_until == clock.now + timedelta(minutes=15)
    # The right password does not get in while the lock holds (a guesser cannot tell it was right).
    clock.advance(minutes=14)
    refused = attempt(parts, "staff_a", PASSWORD)
    assert refused.actor is None and refused.locked_until == fifth.locked_until
    # Another account is not affected.
    assert attempt(parts, "legal_officer_a", PASSWORD).actor == people[Role.LEGAL_OFFICER]
    clock.advance(minutes=1, seconds=1)
    assert attempt(parts, "staff_a", PASSWORD).actor == people[Role.STAFF]


def test_a_success_clears_the_count(parts: Parts, people: People, clock: Clock) -> None:
    """Four failures, a success, four more failures: never five in a row, so never locked."""
    for _ in range(4):
        attempt(parts, "staff_a", WRONG)
    assert attempt(parts, "staff_a", PASSWORD).actor is not None
    for _ in range(4):
        assert attempt(parts, "staff_a", WRONG).locked_until is None
    assert attempt(parts, "staff_a", PASSWORD).actor is not None


def test_old_failures_are_forgotten(parts: Parts, people: People, clock: Clock) -> None:
    """Failures spread over a day (a user mistyping now and then) never lock the account."""
    for _ in range(12):
        assert attempt(parts, "staff_a", WRONG).locked_until is None
        clock.advance(minutes=16)
    assert attempt(parts, "staff_a", PASSWORD).actor is not None


def test_an_unknown_username_locks_just_the_same(
    parts: Parts, people: People, clock: Clock
) -> None:
    """Guessing at a name that has no account gets the very answers a real account gets."""
    real = [attempt(parts, "staff_a", WRONG) for _ in range(6)]
    ghost = [attempt(parts, "nobody_here", WRONG) for _ in range(6)]
    assert real == ghost  # same clock, same answers: whether an account exists does not show


def test_one_address_guessing_many_names_is_locked_out(
    parts: Parts, people: People, clock: Clock
) -> None:
    """Twenty failures from one address (over many usernames) lock that address, not others."""
    outcomes = [attempt(parts, f"guess{i}", WRONG) for i in range(20)]
    assert [o.locked_until is not None for o in outcomes] == [False] * 19 + [True]
    assert attempt(parts, "staff_a", PASSWORD).locked_until is not None
    assert attempt(parts, "staff_a", PASSWORD, address="10.2.2.2").actor == people[Role.STAFF]


@pytest.fixture
def second_server(parts: Parts, clock: Clock, tmp_path: Path) -> Iterator[Parts]:
    """Another application server's engine on the same database."""
    other = build(parts.settings.with_overrides(instance_path=tmp_path / "other"), clock=clock)
    yield other
    other.dispose()


def test_servers_behind_the_load_balancer_share_the_count(
    parts: Parts, second_server: Parts, people: People, clock: Clock
) -> None:
    """Failures on two servers add up, and a lock set on one is honoured by the other."""
    for _ in range(3):
        attempt(parts, "staff_a", WRONG)
    attempt(second_server, "staff_a", WRONG)
    locked = attempt(second_server, "staff_a", WRONG)
    assert locked.locked_until is not None
    assert attempt(parts, "staff_a", PASSWORD).locked_until == locked.locked_until


def test_sign_ins_failures_and_locks_are_in_the_audit_chain(
    parts: Parts, people: People, clock: Clock
) -> None:
    """Each sign-in, failure, lock and refused attempt is an audit event; no password is kept."""
    attempt(parts, "staff_a", PASSWORD)
    for _ in range(5):
        attempt(parts, "staff_a", WRONG)
    attempt(parts, "staff_a", PASSWORD)
    attempt(parts, "nobody_here", WRONG)
    logged = [(e.actor_username, e.action, e.outcome) for e in security_log(parts)]
    assert logged == [
        ("staff_a", events.SIGN_IN, "done"),
        *[("staff_a", events.SIGN_IN_FAILED, "not_permitted")] * 5,
        ("staff_a", events.SIGN_IN_LOCKED_OUT, "rate_limited"),
        ("staff_a", events.SIGN_IN_WHILE_LOCKED, "rate_limited"),
        ("nobody_here", events.SIGN_IN_FAILED, "not_permitted"),
    ]
    entries = security_log(parts)
    assert entries[0].actor_id == people[Role.STAFF].id
    assert entries[0].origin == f"web {HOME}"
    assert entries[-1].actor_id is None and entries[-1].actor_role == "public"
    assert json.loads(entries[5].detail)["failures"] == 5
    for entry in entries:
        assert PASSWORD not in entry.detail and WRONG not in entry.detail
    assert parts.verify_audit().ok


def test_the_counts_stay_few(parts: Parts, people: People, clock: Clock) -> None:
    """Counts whose time has passed are dropped, so a long-running site keeps few rows."""
    for i in range(10):
        attempt(parts, f"guess{i}", WRONG, address=f"10.9.0.{i}")
    clock.advance(minutes=20)
    attempt(parts, "staff_a", WRONG)
    with parts.readers() as session:
        keys = set(session.scalars(select(SignInThrottle.key)))
    assert keys == {"account:staff_a", f"address:{HOME}"}


# -- changing one's password ------------------------------------------------------------------


def test_a_user_changes_their_password_knowing_the_current_one(
    parts: Parts, people: People, clock: Clock
) -> None:
    """The current password is required and the policy applies; each try is audited."""
    staff = people[Role.STAFF]
    new = "quiet river under old bridges"
    with pytest.raises(InvalidInput) as wrong:
        parts.sign_in.change_password(staff, current=WRONG, new=new, origin="web test")
    assert "current_password" in wrong.value.fields
    with pytest.raises(InvalidInput) as weak:
        parts.sign_in.change_password(staff, current=PASSWORD, new="password2026", origin="web t")
    assert "is too common" in weak.value.fields["new_password"][1]
    assert attempt(parts, "staff_a", PASSWORD).actor is not None  # nothing changed so far
    parts.sign_in.change_password(staff, current=PASSWORD, new=new, origin="web test")
    assert attempt(parts, "staff_a", PASSWORD).actor is None
    assert attempt(parts, "staff_a", new).actor == staff
    changes = [(e.action, e.outcome) for e in security_log(parts) if e.action == "change_password"]
    assert changes == [
        ("change_password", "invalid_input"),
        ("change_password", "invalid_input"),
        ("change_password", "done"),
    ]
    # each refusal says which rule refused; no password, right or refused, is ever kept
    refusals = [
        json.loads(e.detail)["refusal"]["en"]
        for e in security_log(parts)
        if e.action == "change_password" and e.outcome != "done"
    ]
    assert refusals == ["The current password is wrong", "The password does not meet the policy"]
    assert all(
        secret not in e.detail
        for e in security_log(parts)
        for secret in (new, "password2026", PASSWORD, WRONG)
    )
    assert parts.verify_audit().ok


def test_guessing_the_current_password_locks_the_account_too(
    parts: Parts, people: People, clock: Clock
) -> None:
    """Someone at an unattended session cannot guess the password on the change form."""
    staff = people[Role.STAFF]
    for _ in range(5):
        with pytest.raises(InvalidInput, match="current password is wrong"):
            parts.sign_in.change_password(staff, current=WRONG, new=NEW, origin="web test")
    with pytest.raises(InvalidInput, match="cannot be changed for a while"):
        parts.sign_in.change_password(staff, current=PASSWORD, new=NEW, origin="web test")
    assert attempt(parts, "staff_a", PASSWORD).locked_until is not None
    clock.advance(minutes=16)
    parts.sign_in.change_password(staff, current=PASSWORD, new=NEW, origin="web test")
    assert attempt(parts, "staff_a", NEW).actor == staff


def test_a_right_guess_sent_beside_the_locking_failures_is_refused(
    parts: Parts, people: People, clock: Clock
) -> None:
    """Guesses sent at once all pass the first lock check; the right one still does not get in.

    The steps of one sign-in are run by hand, with five failures of other attempts recorded
    after its lock check and password check but before its success would be recorded.
    """
    guard = parts.sign_in
    assert guard.refused_while_locked("staff_a", address=HOME, origin="web test") is None
    right = guard.verify("staff_a", PASSWORD, address=HOME, origin="web test")
    assert right.actor == people[Role.STAFF]  # the password was right
    failures = [
        guard.settle(guard.verify("staff_a", WRONG, address="10.3.3.3", origin="web test"))
        for _ in range(5)
    ]
    locked = failures[-1].locked_until
    assert locked == clock.now + timedelta(minutes=15)
    outcome = guard.settle(right)
    assert outcome == SignInOutcome(locked_until=locked)  # the lock's answer, nothing more
    logged = [(e.action, e.outcome) for e in security_log(parts)]
    assert logged[-1] == (events.SIGN_IN_WHILE_LOCKED, "rate_limited")
    assert events.SIGN_IN not in [action for action, _ in logged]
    with parts.readers() as session:  # the failures still count: the refusal cleared nothing
        row = session.get(SignInThrottle, "account:staff_a")
        assert row is not None and row.failures == 5
    assert parts.verify_audit().ok


def test_a_right_guess_is_refused_when_its_address_was_locked_meanwhile(
    parts: Parts, people: People, clock: Clock
) -> None:
    """An address locked (twenty failures over many names) after the check stops a right guess."""
    guard = parts.sign_in
    right = guard.verify("staff_a", PASSWORD, address=HOME, origin="web test")
    for i in range(20):
        guard.settle(guard.verify(f"guess{i}", WRONG, address=HOME, origin="web test"))
    assert guard.settle(right).locked_until == clock.now + timedelta(minutes=15)
    # From another address, and once the lock is over, the same password gets in.
    assert attempt(parts, "staff_a", PASSWORD, address="10.2.2.2").actor == people[Role.STAFF]
    clock.advance(minutes=15, seconds=1)
    later = guard.verify("staff_a", PASSWORD, address=HOME, origin="web test")
    assert guard.settle(later).actor == people[Role.STAFF]


def test_sign_ins_without_an_address_do_not_lock_anyone_out_of_changing_a_password(
    parts: Parts, people: People, clock: Clock
) -> None:
    """Twenty failures with no remote address ("-", shared by all such sign-ins) lock that
    address, but each user may still change their own password: only the account's lock counts."""
    outcomes = [attempt(parts, f"guess{i}", WRONG, address="-") for i in range(20)]
    assert outcomes[-1].locked_until is not None  # the shared "-" row is locked now
    staff = people[Role.STAFF]
    parts.sign_in.change_password(staff, current=PASSWORD, new=NEW, origin="web test")
    assert attempt(parts, "staff_a", NEW, address="10.2.2.2").actor == staff
    changes = [e.outcome for e in security_log(parts) if e.action == events.PASSWORD_CHANGED]
    assert changes == ["done"]


def test_a_right_current_password_sent_beside_the_locking_guesses_changes_nothing(
    parts: Parts, people: People, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the change form too, guesses sent at once all pass the first lock check: the right
    one is still refused if the lock was set before its new password would be stored.

    Five wrong guesses of other requests are recorded at the moment this request, its current
    password found right, hashes the new one (just before it would store it).
    """
    import decisionflow.login_guard as login_guard

    staff = people[Role.STAFF]
    real_hash = login_guard.hash_password

    def guesses_land_meanwhile(password: str) -> str:
        monkeypatch.setattr(login_guard, "hash_password", real_hash)  # only this once
        for _ in range(5):
            attempt(parts, "staff_a", WRONG, address="10.3.3.3")
        return real_hash(password)

    monkeypatch.setattr(login_guard, "hash_password", guesses_land_meanwhile)
    with pytest.raises(InvalidInput, match="cannot be changed for a while"):
        parts.sign_in.change_password(staff, current=PASSWORD, new=NEW, origin="web test")
    clock.advance(minutes=16)
    assert attempt(parts, "staff_a", PASSWORD).actor == staff  # the old password still holds
    changes = [(e.action, e.outcome) for e in security_log(parts) if e.action == "change_password"]
    assert changes == [("change_password", "invalid_input")]
    assert parts.verify_audit().ok
