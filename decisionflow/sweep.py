"""The deadline sweep: reminders before a deadline, escalation after it, each sent exactly once.

Safe to run from cron on several hosts against one database: a decision is claimed with
SELECT … FOR UPDATE SKIP LOCKED (SQLite's BEGIN IMMEDIATE serialises writers anyway), and every
reminder first claims its row in `reminders_sent`, whose unique key refuses a second copy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from decisionflow.accounts import Actor
from decisionflow.deadlines import DueCalendar, DueItem, due_items
from decisionflow.definitions import Definition
from decisionflow.errors import Conflict
from decisionflow.facts import facts_of
from decisionflow.followups import UNIT_ROLES
from decisionflow.guards import DecisionFacts
from decisionflow.models import Decision, FollowUp, ReminderSent, User, utcnow
from decisionflow.notifications import Mailer, Message, Notifier, people_in_roles
from decisionflow.registry import DefinitionRegistry
from decisionflow.roles import Role
from decisionflow.uow import Attempt, Door

#: the sweep acts as the system; its audit events say so
SWEEP = Actor(id=None, username="deadline-sweep", role=Role.ADMIN)


class DueWorkingDays(DueCalendar, Protocol):
    """The calendar as the sweep uses it: due dates, and working days up to one."""

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days d with start < d <= end."""
        ...


@dataclass(frozen=True)
class Notice:
    """One reminder to one person: the key that makes it unique, and what it says."""

    branch: str
    trigger: str
    due: date
    kind: str  # reminder | overdue
    recipient: User
    message: Message
    follow_up_id: int | None = None

    @property
    def key(self) -> tuple[str, str, date, str, int]:
        """What `reminders_sent` keeps unique (with the decision)."""
        return (self.branch, self.trigger, self.due, self.kind, self.recipient.id)


@dataclass
class SweepReport:
    """What a sweep did, for the command line and the tests."""

    decisions_checked: int = 0
    reminders: int = 0
    overdue: int = 0
    follow_ups: int = 0
    mails_sent: int = 0
    mails_failed: int = 0
    skipped_busy: int = 0
    audited: list[int] = field(default_factory=list)


def notice_kind(due: date, today: date, *, calendar: DueWorkingDays, window: int) -> str | None:
    """overdue after the due date; reminder once no more than `window` working days remain."""
    if today > due:
        return "overdue"
    # Working days, not calendar days: three working days' notice before a deadline that
    # falls after a holiday week reaches people before they leave for it.
    if calendar.working_days_between(today, due) <= window:
        return "reminder"
    return None


class _NothingNew(Exception):
    """Another sweep sent everything first: roll back, audit nothing."""


class _Busy(Exception):
    """Another sweep holds the decision now: it will send what is due."""


class Sweeper:
    """Computes what is due on every open decision and follow-up, and sends it once."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        readers: sessionmaker[Session],
        registry: DefinitionRegistry,
        calendar: DueWorkingDays,
        notifier: Notifier,
        mailer: Mailer,
        timezone: str,
        window: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.readers = readers
        self.registry = registry
        self.calendar = calendar
        self.notifier = notifier
        self.mailer = mailer
        self.timezone = ZoneInfo(timezone)
        self.window = window
        self.clock = clock
        self.door = Door(sessions, clock)

    def today(self) -> date:
        """The legal date now."""
        return self.clock().astimezone(self.timezone).date()

    # -- reading ---------------------------------------------------------------------------
    def due_now(self, *, today: date | None = None) -> list[tuple[Decision, DueItem]]:
        """Every running deadline of every open decision, soonest first (for `deadlines list`)."""
        today = today or self.today()
        found: list[tuple[Decision, DueItem]] = []
        with self.readers() as session:
            for decision in session.scalars(select(Decision).order_by(Decision.id)).all():
                definition = self._definition(session, decision)
                found += [
                    (decision, item) for item in self._items(session, decision, definition, today)
                ]
        return sorted(found, key=lambda pair: (pair[1].due, pair[0].id))

    def running(
        self, definition: Definition, facts: DecisionFacts, *, today: date | None = None
    ) -> list[DueItem]:
        """The deadlines running on a decision whose facts the caller read (its page)."""
        if definition.state(facts.state).final:
            return []
        return due_items(
            definition,
            facts,
            calendar=self.calendar,
            today=today or self.today(),
            timezone=self.timezone,
        )

    def _definition(self, session: Session, decision: Decision) -> Definition:
        return self.registry.get(
            decision.procedure, decision.definition_version, session, overlay=decision.overlay
        )

    def _items(
        self, session: Session, decision: Decision, definition: Definition, today: date
    ) -> list[DueItem]:
        return self.running(definition, facts_of(session, decision), today=today)

    def _kind(self, due: date, today: date) -> str | None:
        return notice_kind(due, today, calendar=self.calendar, window=self.window)

    def _plan(
        self,
        session: Session,
        decision: Decision,
        today: date,
        *,
        open_follow_ups: Sequence[FollowUp] | None = None,
    ) -> list[Notice]:
        """Every notice due on the decision today, sent or not.

        `open_follow_ups`: the decision's open follow-ups when the caller read them already
        (the candidate scan reads all of them in one query); otherwise they are read here.
        """
        notices: list[Notice] = []
        definition = self._definition(session, decision)
        supervisors: list[User] | None = None
        for item in self._items(session, decision, definition, today):
            kind = self._kind(item.due, today)
            if kind is None:
                continue
            roles = self._roles(definition, item)
            people = people_in_roles(session, decision, roles)
            message = _deadline_message(decision, item, kind)
            notices += [
                Notice(item.branch or "", item.trigger, item.due, kind, user, message)
                for user in people
            ]
            if kind == "overdue":
                # late: the supervisors hear of it too (escalation, Art 38-41)
                if supervisors is None:
                    supervisors = people_in_roles(session, decision, [Role.SUPERVISOR])
                escalation = _deadline_message(decision, item, "escalation")
                notices += [
                    Notice(item.branch or "", item.trigger, item.due, kind, user, escalation)
                    for user in supervisors
                    if user.id not in {p.id for p in people}
                ]
        if open_follow_ups is None:
            open_follow_ups = session.scalars(
                select(FollowUp).where(
                    FollowUp.decision_id == decision.id, FollowUp.status == "open"
                )
            ).all()
        unit: list[User] | None = None
        for follow_up in open_follow_ups:
            kind = self._kind(follow_up.due, today)
            if kind is None:
                continue
            if unit is None:
                unit = people_in_roles(session, decision, UNIT_ROLES)
            people = list(unit)
            if kind == "overdue":
                opener = session.get(User, follow_up.supervisor_id)
                if opener is not None and opener.active:
                    people.append(opener)
            message = _follow_up_message(decision, follow_up, kind)
            notices += [
                Notice(
                    "",
                    f"follow_up:{follow_up.id}",
                    follow_up.due,
                    kind,
                    user,
                    message,
                    follow_up.id,
                )
                for user in people
            ]
        return notices

    @staticmethod
    def _roles(definition: Definition, item: DueItem) -> list[Role]:
        """The roles that may make the move which meets the deadline."""
        transitions = (
            definition.branch(item.branch).transitions if item.branch else definition.transitions
        )
        return [Role(r) for t in transitions if t.trigger == item.trigger for r in t.roles]

    @staticmethod
    def _sent(session: Session, decision_id: int) -> set[tuple[str, str, date, str, int]]:
        rows = session.execute(
            select(
                ReminderSent.branch,
                ReminderSent.trigger,
                ReminderSent.due,
                ReminderSent.kind,
                ReminderSent.recipient_id,
            ).where(ReminderSent.decision_id == decision_id)
        )
        return {tuple(row) for row in rows}  # type: ignore[misc]

    def _candidates(self, today: date) -> list[int]:
        """Decisions with a notice not yet sent: read without locks, checked again under one."""
        found: list[int] = []
        with self.readers() as session:
            followed: dict[int, list[FollowUp]] = defaultdict(list)
            for follow_up in session.scalars(select(FollowUp).where(FollowUp.status == "open")):
                followed[follow_up.decision_id].append(follow_up)
            for decision in session.scalars(select(Decision).order_by(Decision.id)).all():
                definition = self._definition(session, decision)
                if definition.state(decision.state).final and decision.id not in followed:
                    continue
                plan = self._plan(
                    session, decision, today, open_follow_ups=followed.get(decision.id, [])
                )
                if not plan:
                    continue  # most decisions have nothing due: no need to ask what was sent
                sent = self._sent(session, decision.id)
                if any(n.key not in sent for n in plan):
                    found.append(decision.id)
        return found

    # -- sending ---------------------------------------------------------------------------
    def sweep(self, *, today: date | None = None, send_mail: bool = True) -> SweepReport:
        """Send every reminder and escalation due today that was not sent before; then the mail."""
        today = today or self.today()
        report = SweepReport()
        busy: list[int] = []
        for decision_id in self._candidates(today):
            report.decisions_checked += 1
            if not self._try(decision_id, today, report):
                busy.append(decision_id)
        # A decision held by a person's move (or another sweep) is tried once more at the end,
        # when the move has most likely committed: otherwise its reminder would wait a whole
        # cron period. If the other sweep sent it meanwhile, the claimed keys make this a no-op.
        for decision_id in busy:
            if not self._try(decision_id, today, report):
                report.skipped_busy += 1  # still held: whoever runs next sends it
        if send_mail:
            mail = self.mailer.send_pending()
            report.mails_sent, report.mails_failed = mail.sent, mail.failed
        return report

    def _try(self, decision_id: int, today: date, report: SweepReport) -> bool:
        """Deliver what is due on one decision; False if someone else holds it now."""
        try:
            self._deliver(decision_id, today, report)
        except (_Busy, Conflict):
            return False
        except _NothingNew:
            pass
        return True

    def _deliver(self, decision_id: int, today: date, report: SweepReport) -> None:
        """Claim the decision, claim each notice's key, and notify for the keys won; audited."""
        attempt = Attempt(SWEEP, "send_reminders", decision_id=decision_id, origin="sweep")
        counts: dict[str, int] = {}

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            decision = session.scalars(
                select(Decision).where(Decision.id == decision_id).with_for_update(skip_locked=True)
            ).first()
            if decision is None:
                raise _Busy
            attempt.state_before = decision.state
            sent: list[dict[str, Any]] = []
            for notice in self._plan(session, decision, today):
                if not self._claim(session, decision.id, notice, now):
                    continue
                self.notifier.notify(
                    session,
                    [notice.recipient],
                    notice.message,
                    now=now,
                    decision_id=decision.id,
                    follow_up_id=notice.follow_up_id,
                )
                bucket = "follow_ups" if notice.follow_up_id else notice.kind
                counts[bucket] = counts.get(bucket, 0) + 1
                sent.append(
                    {
                        "trigger": notice.trigger,
                        "branch": notice.branch,
                        "due": notice.due.isoformat(),
                        "kind": notice.kind,
                        "to": notice.recipient.username,
                    }
                )
            if not sent:
                raise _NothingNew
            attempt.detail = {"today": today.isoformat(), "sent": sent}

        self.door.run(attempt, work)
        report.reminders += counts.get("reminder", 0)
        report.overdue += counts.get("overdue", 0)
        report.follow_ups += counts.get("follow_ups", 0)
        report.audited.append(decision_id)

    @staticmethod
    def _claim(session: Session, decision_id: int, notice: Notice, now: datetime) -> bool:
        """Insert the notice's key; False if it is there already (sent by this or another sweep)."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(ReminderSent)
            .values(
                decision_id=decision_id,
                branch=notice.branch,
                trigger=notice.trigger,
                due=notice.due,
                kind=notice.kind,
                recipient_id=notice.recipient.id,
                sent_at=now,
            )
            .on_conflict_do_nothing()
            # RETURNING, not rowcount: the driver may report -1 for an INSERT it skipped
            .returning(ReminderSent.id)
        )
        return session.execute(statement).first() is not None


def _deadline_message(decision: Decision, item: DueItem, kind: str) -> Message:
    provisional_zh = "（期限按未公布的节假日安排推算，可能调整）" if item.provisional else ""
    provisional_en = (
        " (counted before the year's holiday notice was published; it may move)"
        if item.provisional
        else ""
    )
    what_zh = f"决策 #{decision.id}“{decision.title}”：{item.label.zh}（{item.article}）"
    what_en = f"Decision #{decision.id} '{decision.title}': {item.label.en} ({item.article})"
    if kind == "reminder":
        return Message(
            kind="reminder",
            subject_zh=f"【到期提醒】{decision.title}：{item.label.zh}应于 {item.due} 前完成",
            subject_en=f"Due soon: {item.label.en} on '{decision.title}' by {item.due}",
            body_zh=f"{what_zh}\n期限：{item.due}{provisional_zh}\n起算日：{item.since}",
            body_en=f"{what_en}\nDue: {item.due}{provisional_en}\nCounted from: {item.since}",
        )
    subject_zh = f"【已逾期】{decision.title}：{item.label.zh}已于 {item.due} 到期"
    subject_en = f"Overdue: {item.label.en} on '{decision.title}' was due {item.due}"
    if kind == "escalation":
        subject_zh, subject_en = f"【逾期督促】{subject_zh}", f"Escalated — {subject_en}"
    return Message(
        kind=kind,
        subject_zh=subject_zh,
        subject_en=subject_en,
        body_zh=f"{what_zh}\n期限：{item.due}{provisional_zh}，已逾期。\n起算日：{item.since}",
        body_en=f"{what_en}\nDue: {item.due}{provisional_en}; now overdue.\n"
        f"Counted from: {item.since}",
    )


def _follow_up_message(decision: Decision, follow_up: FollowUp, kind: str) -> Message:
    if kind == "reminder":
        return Message(
            kind="followup_reminder",
            subject_zh=f"【督办提醒】{decision.title}：请于 {follow_up.due} 前答复",
            subject_en=f"Follow-up due soon: '{decision.title}': answer by {follow_up.due}",
            body_zh=f"督办要求：{follow_up.instructions}\n答复期限：{follow_up.due}",
            body_en=f"Instructions: {follow_up.instructions}\nAnswer by: {follow_up.due}",
        )
    return Message(
        kind="followup_overdue",
        subject_zh=f"【督办逾期】{decision.title}：答复期限 {follow_up.due} 已过",
        subject_en=f"Follow-up overdue: '{decision.title}' was to be answered by {follow_up.due}",
        body_zh=f"督办要求：{follow_up.instructions}\n答复期限：{follow_up.due}，尚未答复。",
        body_en=f"Instructions: {follow_up.instructions}\nAnswer by: {follow_up.due}; "
        "not answered yet.",
    )
