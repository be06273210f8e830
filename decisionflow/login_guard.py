"""Sign-in with throttling: failures counted per username and per address, locks that expire.

The counts live in the database (table sign_in_throttles), so that every application server
behind the load balancer sees the same failures. A lock answers the same whether or not the
username exists, and a locked attempt is refused before its password is even checked, and
again, should a lock have come meanwhile, in the transaction that would record its success.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from decisionflow import security_events as events
from decisionflow.accounts import Actor, authenticate, check_password, find_user, hash_password
from decisionflow.errors import InvalidInput
from decisionflow.models import SignInThrottle, User, utcnow
from decisionflow.passwords import require_good_password


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures lock a username or an address, and for how long."""

    max_failures: int = 5
    max_failures_per_address: int = 20
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SignInOutcome:
    """What a sign-in attempt came to: the actor, or a lock and until when, or neither."""

    actor: Actor | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class CheckedSignIn:
    """A sign-in whose password has been checked but not yet recorded (see SignInGuard.settle)."""

    username: str
    address: str
    origin: str
    actor: Actor | None


def _lock_in(
    session: Session, *keys: str, now: datetime, for_update: bool = False
) -> datetime | None:
    """Until when the latest lock on these throttle rows holds, if one holds now; with
    for_update, the rows stay locked for the rest of the caller's transaction."""
    query = select(SignInThrottle.locked_until).where(SignInThrottle.key.in_(keys))
    if for_update:
        # Every row, locked or not yet: a lock another server is setting now is waited for
        # and then seen (PostgreSQL locks only the rows its WHERE matched when it started).
        query = query.with_for_update()
    else:
        query = query.where(SignInThrottle.locked_until > now)
    found = session.scalars(query).all()
    return max((t for t in found if t is not None and t > now), default=None)


def account_key(username: str) -> str:
    """The throttle row of a username (whether or not such an account exists)."""
    return f"account:{username}"


def address_key(address: str) -> str:
    """The throttle row of a client address."""
    return f"address:{address}"


class SignInGuard:
    """Check passwords under throttling; record sign-ins, failures, locks and password changes."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        readers: sessionmaker[Session],
        *,
        policy: ThrottlePolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.readers = readers
        self.policy = policy
        self.clock = clock

    def locked_until(self, username: str, address: str) -> datetime | None:
        """Until when the username or the address is locked, if it is locked now."""
        return self._locked(account_key(username), address_key(address))

    def account_locked_until(self, username: str) -> datetime | None:
        """Until when the username alone is locked (not its addresses), if it is locked now."""
        return self._locked(account_key(username))

    def _locked(self, *keys: str) -> datetime | None:
        with self.readers() as session:
            return _lock_in(session, *keys, now=self.clock())

    def sign_in(self, username: str, password: str, *, address: str, origin: str) -> SignInOutcome:
        """Check the password unless a lock holds; count a failure, clear the count on success."""
        refused = self.refused_while_locked(username, address=address, origin=origin)
        if refused is not None:
            return refused
        return self.settle(self.verify(username, password, address=address, origin=origin))

    def refused_while_locked(
        self, username: str, *, address: str, origin: str
    ) -> SignInOutcome | None:
        """Step 1: the refusal (audited) if the username or address is locked, before Argon2."""
        locked = self.locked_until(username, address)
        if locked is None:
            return None
        self._record_alone(
            username, events.SIGN_IN_WHILE_LOCKED, "rate_limited", origin, {"locked_until": locked}
        )
        return SignInOutcome(locked_until=locked)

    def verify(self, username: str, password: str, *, address: str, origin: str) -> CheckedSignIn:
        """Step 2: check the password (Argon2, slow: outside any transaction); nothing recorded."""
        with self.readers() as session:
            actor = authenticate(session, username, password)
        return CheckedSignIn(username=username, address=address, origin=origin, actor=actor)

    def settle(self, attempt: CheckedSignIn) -> SignInOutcome:
        """Step 3: record a checked attempt: a failure counted, or a success unless now locked.

        Attempts sent in parallel all pass step 1 before any of their failures is counted;
        so a right password is let in only if no lock holds in the very transaction that
        records it (else the fifth failure's lock would not stop a guess sent beside it).
        """
        now = self.clock()
        username, address, origin = attempt.username, attempt.address, attempt.origin
        with self.sessions() as session, session.begin():
            if attempt.actor is None:
                return self._failed(session, username, address, origin=origin, now=now)
            # On PostgreSQL a failure counted at this moment on another server waits for this
            # transaction or is seen by it; SQLite's writer (BEGIN IMMEDIATE) is alone anyway.
            keys = (account_key(username), address_key(address))
            locked = _lock_in(session, *keys, now=now, for_update=True)
            if locked is not None:
                # The same answer and the same audit entry as a lock found before the password.
                events.append(
                    session, who=events.audit_actor(attempt.actor),
                    action=events.SIGN_IN_WHILE_LOCKED, outcome="rate_limited", now=now,
                    origin=origin, detail={"locked_until": locked},
                )  # fmt: skip
                return SignInOutcome(locked_until=locked)
            session.execute(
                delete(SignInThrottle).where(SignInThrottle.key == account_key(username))
            )
            events.append(
                session,
                who=events.audit_actor(attempt.actor),
                action=events.SIGN_IN,
                outcome="done",
                now=now,
                origin=origin,
            )
            return SignInOutcome(actor=attempt.actor)

    def _failed(
        self, session: Session, username: str, address: str, *, origin: str, now: datetime
    ) -> SignInOutcome:
        """Count the failure against the username and the address; lock either at its limit."""
        self._forget_stale(session, now)
        user = find_user(session, username)
        who = events.audit_actor(Actor.of(user) if user else None, username=username)
        limits = (
            (account_key(username), self.policy.max_failures),
            (address_key(address), self.policy.max_failures_per_address),
        )
        locked: datetime | None = None
        counts: dict[str, int] = {}
        for key, limit in limits:
            row = self._counted(session, key, now)
            counts[key.split(":", 1)[0]] = row.failures
            if row.failures >= limit and row.locked_until is None:
                row.locked_until = now + self.policy.lockout
                locked = max(locked or row.locked_until, row.locked_until)
        # An unknown username's failures are counted and locked alike: the answers never tell.
        detail = {"failures": counts["account"], "address_failures": counts["address"]}
        events.append(
            session, who=who, action=events.SIGN_IN_FAILED, outcome="not_permitted",
            now=now, origin=origin, detail=detail,
        )  # fmt: skip
        if locked is not None:
            events.append(
                session, who=who, action=events.SIGN_IN_LOCKED_OUT, outcome="rate_limited",
                now=now, origin=origin, detail={**detail, "locked_until": locked},
            )  # fmt: skip
        return SignInOutcome(locked_until=locked)

    def _counted(self, session: Session, key: str, now: datetime) -> SignInThrottle:
        """The key's row, locked for update and with this failure counted."""
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        # Two servers may count the first failure of a key at once: one inserts, both update.
        session.execute(
            insert(SignInThrottle)
            .values(key=key, failures=0, first_failure_at=now, locked_until=None)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = session.execute(
            select(SignInThrottle).where(SignInThrottle.key == key).with_for_update()
        ).scalar_one()
        if now - row.first_failure_at >= self.policy.lockout and (
            row.locked_until is None or row.locked_until <= now
        ):
            # The last failures are old, or their lock is over: count afresh.
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        return row

    def _forget_stale(self, session: Session, now: datetime) -> None:
        """Drop counts whose window and lock have both passed (keeps the table small)."""
        cutoff = now - self.policy.lockout
        session.execute(
            delete(SignInThrottle).where(
                SignInThrottle.first_failure_at < cutoff,
                or_(
                    SignInThrottle.locked_until.is_(None),
                    and_(
                        SignInThrottle.locked_until.is_not(None), SignInThrottle.locked_until < now
                    ),
                ),
            )
        )

    def _record_alone(
        self, username: str, action: str, outcome: str, origin: str, detail: dict[str, object]
    ) -> None:
        now = self.clock()
        with self.sessions() as session, session.begin():
            user = find_user(session, username)
            who = events.audit_actor(Actor.of(user) if user else None, username=username)
            events.append(
                session, who=who, action=action, outcome=outcome, now=now, origin=origin,
                detail=detail,
            )  # fmt: skip

    def signed_out(self, actor: Actor, *, origin: str) -> None:
        """End every session of the actor's account (on every server), and record it."""
        with self.sessions() as session, session.begin():
            session.execute(
                update(User).where(User.id == actor.id).values(session_epoch=User.session_epoch + 1)
            )
            events.append(
                session, who=events.audit_actor(actor), action=events.SIGN_OUT, outcome="done",
                now=self.clock(), origin=origin,
            )  # fmt: skip

    def change_password(self, actor: Actor, *, current: str, new: str, origin: str) -> str:
        """Replace the actor's own password after checking the current one; the new hash's mark.

        Refused (and the refusal audited) if the current password is wrong, the new one breaks
        the policy, or it is the same as the current one. Returns a fingerprint of the new hash
        by which the web layer ends every other session of the account.
        """
        now = self.clock()
        refusal: InvalidInput | None = None
        guessed = False
        with self.readers() as session:
            user = session.get(User, actor.id) if actor.id is not None else None
            stored = user.password_hash if user is not None else ""
        # A session left open is no licence to guess the password: the sign-in lock holds here.
        # Only the account's own lock: the shared "-" address row (sign-ins without an address)
        # is anybody's, and its lock must not bar every user from changing their password.
        if self.account_locked_until(actor.username) is not None:
            refusal = _password_change_locked()
        elif user is None or not check_password(stored, current):
            guessed = True
            refusal = InvalidInput(
                zh="当前密码不正确",
                en="The current password is wrong",
                fields={"current_password": ("不正确", "is wrong")},
            )
        elif current == new:
            refusal = InvalidInput(
                zh="新密码不能与当前密码相同",
                en="The new password must differ from the current one",
                fields={"new_password": ("与当前密码相同", "is the current password")},
            )
        else:
            try:
                require_good_password(new, username=actor.username, field="new_password")
            except InvalidInput as err:
                refusal = err
        if refusal is not None:
            with self.sessions() as session, session.begin():
                if guessed:  # counted as a failed sign-in of the account
                    count = self._counted(session, account_key(actor.username), now)
                    if count.failures >= self.policy.max_failures and count.locked_until is None:
                        count.locked_until = now + self.policy.lockout
                _change_refused(session, actor, refusal, now=now, origin=origin)
            raise refusal
        new_hash = hash_password(new)
        with self.sessions() as session, session.begin():
            # As at sign-in: guesses sent in parallel all passed the check above before any
            # was counted, so the lock is read again in the transaction that would store it.
            locked = _lock_in(session, account_key(actor.username), now=now, for_update=True)
            if locked is not None:
                refusal = _password_change_locked()
                _change_refused(session, actor, refusal, now=now, origin=origin)
            else:
                row = session.get(User, actor.id)
                assert row is not None  # checked above; accounts are deactivated, never deleted
                row.password_hash = new_hash
                events.append(
                    session, who=events.audit_actor(actor), action=events.PASSWORD_CHANGED,
                    outcome="done", now=now, origin=origin,
                )  # fmt: skip
        if refusal is not None:
            raise refusal
        return password_mark(new_hash)


def _change_refused(
    session: Session, actor: Actor, refusal: InvalidInput, *, now: datetime, origin: str
) -> None:
    """Audit a refused password change: which rule refused is kept, the passwords never are."""
    events.append(
        session, who=events.audit_actor(actor), action=events.PASSWORD_CHANGED,
        outcome=refusal.code, now=now, origin=origin,
        detail={"refusal": {"zh": refusal.zh, "en": refusal.en}},
    )  # fmt: skip


def _password_change_locked() -> InvalidInput:
    return InvalidInput(
        zh="登录失败次数过多，暂时不能修改密码，请稍后再试",
        en="Too many failed attempts; the password cannot be changed for a while",
        fields={"current_password": ("暂时锁定", "locked for a while")},
    )


def password_mark(password_hash: str) -> str:
    """A short fingerprint of a password hash: a session carries it, so a new password ends it."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]
