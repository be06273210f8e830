"""Notifications: every user's in-app inbox, and the mail outbox sent through SMTP after commit."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from decisionflow import driver
from decisionflow.accounts import Actor
from decisionflow.errors import NotFound
from decisionflow.models import (
    Decision,
    DecisionAssignment,
    DecisionCoUnit,
    MailOutbox,
    Notification,
    User,
    utcnow,
)
from decisionflow.roles import ROLE_SCOPES, Role, Scope

#: a mail that failed this often is left for a person to look at (the inbox still has it)
MAX_MAIL_ATTEMPTS = 5
#: an unreachable relay must not hold a sweep for long
SMTP_TIMEOUT_SECONDS = 10
#: how `last_error` says a sender has claimed the mail and is handing it to the relay now
SENDING = "sending since "
#: a claim older than this was left by a sender that died mid-way: the mail is tried again
#: (far beyond one SMTP exchange, whose every step may take SMTP_TIMEOUT_SECONDS)
CLAIM_LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class Message:
    """What a notification says, in Chinese and English."""

    kind: str
    subject_zh: str
    subject_en: str
    body_zh: str
    body_en: str


@dataclass(frozen=True)
class InboxItem:
    """One notification as its recipient reads it."""

    id: int
    kind: str
    decision_id: int | None
    follow_up_id: int | None
    subject: tuple[str, str]
    body: tuple[str, str]
    created_at: datetime
    read: bool


@dataclass(frozen=True)
class MailSettings:
    """Where mail goes: the SMTP relay and the sender address."""

    host: str
    port: int
    sender: str


def people_in_roles(session: Session, decision: Decision, roles: Iterable[Role]) -> list[User]:
    """The active users of those roles whose scope reaches the decision (unit, executor, assigned)."""
    found: dict[int, User] = {}
    for role in dict.fromkeys(roles):
        query = select(User).where(User.active.is_(True), User.role == str(role))
        scope = ROLE_SCOPES[role]
        if scope is Scope.UNDERTAKING_UNIT:
            co_units = select(DecisionCoUnit.department_id).where(
                DecisionCoUnit.decision_id == decision.id
            )
            query = query.where(
                (User.department_id == decision.undertaking_unit_id)
                | User.department_id.in_(co_units)
            )
        elif scope is Scope.EXECUTING_UNIT:
            if decision.executing_unit_id is None:
                continue
            query = query.where(User.department_id == decision.executing_unit_id)
        elif scope is Scope.ASSIGNED:
            named = select(DecisionAssignment.user_id).where(
                DecisionAssignment.decision_id == decision.id,
                DecisionAssignment.role == str(role),
            )
            query = query.where(User.id.in_(named))
        for user in session.scalars(query.order_by(User.id)):
            found.setdefault(user.id, user)
    return list(found.values())


class Notifier:
    """Writes notifications, and their mails when mail is on, inside the caller's transaction."""

    def __init__(self, mail: MailSettings | None) -> None:
        self.mail = mail

    def notify(
        self,
        session: Session,
        recipients: Sequence[User],
        message: Message,
        *,
        now: datetime,
        decision_id: int | None = None,
        follow_up_id: int | None = None,
    ) -> int:
        """Put the message in each recipient's inbox (and mail outbox); how many were written."""
        for user in recipients:
            note = Notification(
                recipient_id=user.id,
                kind=message.kind,
                decision_id=decision_id,
                follow_up_id=follow_up_id,
                subject_zh=message.subject_zh[:300],
                subject_en=message.subject_en[:300],
                body_zh=message.body_zh,
                body_en=message.body_en,
                created_at=now,
            )
            session.add(note)
            if self.mail is not None and user.email:
                # Queued in the same transaction, sent after commit: a mail server that is
                # down delays the mail, never the inbox entry, and never sends a mail for a
                # notification that was rolled back.
                session.flush()
                session.add(
                    MailOutbox(
                        notification_id=note.id,
                        recipient=user.email,
                        subject=f"{message.subject_zh} / {message.subject_en}"[:300],
                        body=f"{message.body_zh}\n\n----\n\n{message.body_en}\n",
                        created_at=now,
                        attempts=0,
                        last_error="",
                    )
                )
        return len(recipients)


@dataclass(frozen=True)
class MailReport:
    """What one round of sending did."""

    sent: int
    failed: int


class Mailer:
    """Sends the outbox through SMTP, each mail once however many senders run at once."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        mail: MailSettings | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.mail = mail
        self.clock = clock

    def send_pending(self, *, limit: int = 500) -> MailReport:
        """Send waiting mails; a failure is counted and kept for the next round."""
        if self.mail is None:
            return MailReport(0, 0)
        sent = failed = 0
        tried: list[int] = []
        while sent + failed < limit:
            row = self._claim(tried)
            if row is None:
                break
            try:
                self._send(row)
            # (UnicodeError, ValueError: an address or header the relay cannot take)
            except (OSError, smtplib.SMTPException, UnicodeError, ValueError) as err:
                failed += 1
                self._settle(row.id, error=f"{type(err).__name__}: {err}")
                if relay_down(err):
                    break  # nothing will get through now: the next round tries again
                # else this one mail is at fault (an address refused): go on with the rest
            else:
                sent += 1
                self._settle(row.id, sent_at=self.clock())
        return MailReport(sent, failed)

    # Claim, send, settle: the SMTP exchange happens outside any transaction, because on
    # SQLite a transaction here is the database's one write lock (BEGIN IMMEDIATE), and every
    # user's action would wait behind the relay (up to its timeout when it is down). The claim
    # needs no new column: it counts the attempt and writes SENDING and the time into
    # `last_error`, in one short transaction that holds the row (FOR UPDATE SKIP LOCKED on
    # PostgreSQL, the write lock on SQLite), so a second sender sees the claim and passes the
    # mail by. The time is a lease: a sender that died between claim and settle leaves the
    # claim behind, and after CLAIM_LEASE the mail is tried again (counted, so not forever).
    def _claim(self, tried: list[int]) -> MailOutbox | None:
        """Take the next waiting mail nobody else is sending; None when there is none."""
        while True:
            now = self.clock()
            with self.sessions() as session, session.begin():
                row = session.scalars(
                    select(MailOutbox)
                    .where(
                        MailOutbox.sent_at.is_(None),
                        MailOutbox.attempts < MAX_MAIL_ATTEMPTS,
                        MailOutbox.id.not_in(tried),
                    )
                    .order_by(MailOutbox.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                tried.append(row.id)
                claimed = _claimed_at(row.last_error)
                if claimed is not None and now - claimed < CLAIM_LEASE:
                    continue  # another sender is handing it to the relay right now
                row.attempts += 1
                row.last_error = f"{SENDING}{now.isoformat()}"
                return row

    def _settle(self, mail_id: int, *, sent_at: datetime | None = None, error: str = "") -> None:
        """Record how the claimed mail's sending ended."""
        with self.sessions() as session, session.begin():
            if sent_at is not None:
                values: dict[str, object] = {"sent_at": sent_at, "last_error": ""}
                session.execute(update(MailOutbox).where(MailOutbox.id == mail_id).values(values))
            else:
                session.execute(
                    update(MailOutbox)
                    .where(MailOutbox.id == mail_id, MailOutbox.sent_at.is_(None))
                    .values(last_error=error[:500])
                )

    def _send(self, row: MailOutbox) -> None:
        assert self.mail is not None
        message = EmailMessage()
        message["From"] = self.mail.sender
        message["To"] = row.recipient
        message["Subject"] = row.subject
        message["Message-ID"] = f"<decisionflow-outbox-{row.id}@{self.mail.host}>"
        message.set_content(row.body)
        with smtplib.SMTP(self.mail.host, self.mail.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(message)


def relay_down(err: Exception) -> bool:
    """Whether a sending failure says the relay is unreachable (stop) rather than this mail is bad.

    smtplib's errors are OSErrors too, so "OSError" alone would call every refusal an outage.
    """
    if isinstance(err, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        # 421: the server is closing the connection (busy, shutting down), not refusing the address
        return any(code == 421 for code, _ in err.recipients.values())
    if isinstance(err, smtplib.SMTPResponseException):
        return err.smtp_code == 421
    return isinstance(err, OSError) and not isinstance(err, smtplib.SMTPException)


def _claimed_at(last_error: str) -> datetime | None:
    """When a sender claimed the mail, if it is claimed (see Mailer._claim)."""
    if not last_error.startswith(SENDING):
        return None
    try:
        return datetime.fromisoformat(last_error.removeprefix(SENDING))
    except ValueError:
        return None


#: every page's navigation shows it (prepared once: see decisionflow.driver)
_UNREAD = driver.Prepared(
    select(func.count()).where(
        Notification.recipient_id == bindparam("recipient_id"), Notification.read_at.is_(None)
    )
)


def unread(connection: Connection, user_id: int) -> int:
    """How many of a user's notifications are unread (on the caller's connection: every
    signed-in request reads it with the account)."""
    [count] = _UNREAD.scalars(connection, {"recipient_id": user_id})
    return int(count)


class Inbox:
    """Each user's notifications: read, count, mark read; a user sees only their own."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        readers: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.readers = readers
        self.clock = clock

    def unread_count(self, actor: Actor) -> int:
        """How many of the actor's notifications are unread."""
        if actor.id is None:
            return 0
        with self.readers() as session:
            return unread(session.connection(), actor.id)

    def items(
        self, actor: Actor, *, unread_only: bool = False, limit: int = 200
    ) -> list[InboxItem]:
        """The actor's newest notifications, unread first."""
        if actor.id is None:
            return []
        query = select(Notification).where(Notification.recipient_id == actor.id)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        query = query.order_by(Notification.read_at.is_not(None), Notification.id.desc())
        with self.readers() as session:
            return [
                InboxItem(
                    id=n.id,
                    kind=n.kind,
                    decision_id=n.decision_id,
                    follow_up_id=n.follow_up_id,
                    subject=(n.subject_zh, n.subject_en),
                    body=(n.body_zh, n.body_en),
                    created_at=n.created_at,
                    read=n.read_at is not None,
                )
                for n in session.scalars(query.limit(limit))
            ]

    # Marking read changes no decision and says nothing about one: it is the reader's own
    # bookkeeping, so it is not an audited change (an audit event per click would drown
    # the log).
    def mark_read(self, actor: Actor, notification_id: int) -> None:
        """Mark one of the actor's notifications read; NotFound for anyone else's."""
        with self.sessions() as session, session.begin():
            note = session.get(Notification, notification_id)
            if note is None or note.recipient_id != actor.id:
                raise NotFound(zh="没有这条通知", en="No such notification")
            if note.read_at is None:
                note.read_at = self.clock()

    def mark_all_read(self, actor: Actor) -> int:
        """Mark every unread notification of the actor read; how many there were."""
        with self.sessions() as session, session.begin():
            result = session.execute(
                update(Notification)
                .where(Notification.recipient_id == actor.id, Notification.read_at.is_(None))
                .values(read_at=self.clock())
            )
            return int(getattr(result, "rowcount", 0) or 0)
