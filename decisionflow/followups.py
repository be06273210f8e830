"""Follow-up (督办): a supervisor puts a decision under follow-up, the unit answers, all audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from decisionflow import driver
from decisionflow.accounts import Actor
from decisionflow.errors import InvalidInput, NotFound, NotPermitted, RuleNotMet, Unmet
from decisionflow.models import Decision, DecisionCoUnit, FollowUp, User, utcnow
from decisionflow.notifications import Message, Notifier, people_in_roles
from decisionflow.queries import people_named, visible_to
from decisionflow.roles import ROLE_SCOPES, Permission, Role, Scope, has_permission
from decisionflow.uow import Attempt, Door

#: the decision organ follows up how its decisions are carried out, and holds delay to account
ARTICLE = "Art 34, Art 38"
MAX_TEXT = 5000
#: who must answer a follow-up: the undertaking unit(s) and the executing unit
UNIT_ROLES = (Role.STAFF, Role.EXECUTOR)


@dataclass(frozen=True)
class FollowUpView:
    """A follow-up as pages show it."""

    id: int
    decision_id: int
    decision_title: str
    supervisor: str
    instructions: str
    due: date
    status: str
    opened_at: datetime
    answer: str
    answered_by: str
    answered_at: datetime | None
    closing_note: str
    closed_at: datetime | None
    overdue: bool


def _check_text(name: str, value: str, errors: dict[str, tuple[str, str]]) -> None:
    if not value.strip():
        errors[name] = ("必须填写", "is required")
    elif len(value) > MAX_TEXT or "\x00" in value:
        errors[name] = (f"不超过 {MAX_TEXT} 字", f"at most {MAX_TEXT} characters")


def _answers_for_a_unit(actor: Actor) -> bool:
    """Whether the actor answers follow-ups for a unit (a unit role without a unit answers none)."""
    return (
        has_permission(actor.role, Permission.FOLLOWUP_ANSWER) and actor.department_id is not None
    )


def _sees_follow_ups(actor: Actor) -> bool:
    """Whether the actor sees any follow-ups: supervisors all, answering units their own."""
    return has_permission(actor.role, Permission.FOLLOWUP_MANAGE) or _answers_for_a_unit(actor)


def _may_answer(session: Session, actor: Actor, decision: Decision) -> bool:
    """Whether the actor is staff of the decision's undertaking unit(s) or its executing unit."""
    if not _answers_for_a_unit(actor):
        return False
    scope = ROLE_SCOPES[actor.role]
    if scope is Scope.EXECUTING_UNIT:
        return actor.department_id == decision.executing_unit_id
    if scope is Scope.UNDERTAKING_UNIT:
        units = {decision.undertaking_unit_id}
        units |= set(
            session.scalars(
                select(DecisionCoUnit.department_id).where(
                    DecisionCoUnit.decision_id == decision.id
                )
            )
        )
        return actor.department_id in units
    return False


def _names(session: Session, follow_ups: list[FollowUp]) -> dict[int, str]:
    """The display names of the follow-ups' supervisors and answerers, in one query."""
    ids = {f.supervisor_id for f in follow_ups} | {f.answered_by or 0 for f in follow_ups}
    return people_named(session, ids)


def _in_order(views: list[FollowUpView]) -> list[FollowUpView]:
    """Overdue first, closed last, then by due date."""
    return sorted(views, key=lambda v: (not v.overdue, v.status == "closed", v.due, v.id))


#: a decision's follow-ups, for its page (prepared once: see decisionflow.driver)
_ON_DECISION = driver.Prepared(
    select(*FollowUp.__table__.c).where(FollowUp.decision_id == bindparam("decision_id"))
)


def _require_manager(actor: Actor, what_zh: str, what_en: str) -> None:
    if not has_permission(actor.role, Permission.FOLLOWUP_MANAGE):
        raise NotPermitted(
            zh=f"只有监督人员可以{what_zh}",
            en=f"Only supervisors may {what_en}",
            unmet=[
                Unmet(
                    rule="role:supervisor",
                    article=ARTICLE,
                    zh="须由督查、监察、审计人员办理",
                    en="Must be done by a supervisor",
                )
            ],
        )


class FollowUps:
    """Open, answer and close follow-ups through the audited door; each step notifies the other side."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        readers: sessionmaker[Session],
        notifier: Notifier,
        *,
        timezone: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        # reads go through readers: on SQLite a writer's session takes the write lock at once
        self.readers = readers
        self.notifier = notifier
        self.timezone = ZoneInfo(timezone)
        self.clock = clock
        self.door = Door(sessions, clock)

    def today(self) -> date:
        """The legal date now."""
        return self.clock().astimezone(self.timezone).date()

    # -- changes ---------------------------------------------------------------------------
    def open(
        self, actor: Actor, decision_id: int, *, instructions: str, due: str, origin: str = ""
    ) -> int:
        """Put a decision under follow-up with instructions and a due date (ISO); supervisors only."""
        attempt = Attempt(
            actor,
            "open_follow_up",
            decision_id=decision_id,
            payload={"instructions": instructions, "due": due},
            origin=origin,
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> int:
            _require_manager(actor, "督办决策", "put a decision under follow-up")
            decision = self._decision(session, decision_id, attempt)
            errors: dict[str, tuple[str, str]] = {}
            _check_text("instructions", instructions, errors)
            try:
                due_on = date.fromisoformat(due.strip())
            except ValueError:
                errors["due"] = ("应为日期（年-月-日）", "must be a date (YYYY-MM-DD)")
            else:
                if due_on < now.astimezone(self.timezone).date():
                    errors["due"] = ("不能早于今天", "cannot be before today")
            if errors:
                raise InvalidInput(zh="填写内容有误", en="Invalid input", fields=errors)
            follow_up = FollowUp(
                decision_id=decision.id,
                supervisor_id=actor.id,
                instructions=instructions.strip(),
                due=due_on,
                status="open",
                opened_at=now,
                answer="",
                closing_note="",
            )
            session.add(follow_up)
            session.flush()
            unit = people_in_roles(session, decision, UNIT_ROLES)
            self.notifier.notify(
                session,
                unit,
                Message(
                    kind="followup_opened",
                    subject_zh=f"【督办】{decision.title}：请于 {due_on} 前答复",
                    subject_en=f"Follow-up: '{decision.title}': answer by {due_on}",
                    body_zh=f"决策 #{decision.id}“{decision.title}”已被列入督办。\n"
                    f"督办要求：{follow_up.instructions}\n答复期限：{due_on}",
                    body_en=f"Decision #{decision.id} '{decision.title}' is under follow-up.\n"
                    f"Instructions: {follow_up.instructions}\nAnswer by: {due_on}",
                ),
                now=now,
                decision_id=decision.id,
                follow_up_id=follow_up.id,
            )
            attempt.detail = {
                "follow_up_id": follow_up.id,
                "due": due_on.isoformat(),
                "notified": [u.username for u in unit],
            }
            return follow_up.id

        return self.door.run(attempt, work)

    def answer(self, actor: Actor, follow_up_id: int, *, answer: str, origin: str = "") -> None:
        """The undertaking or executing unit answers an open follow-up."""
        attempt = Attempt(
            actor,
            "answer_follow_up",
            payload={"follow_up_id": follow_up_id, "answer": answer},
            origin=origin,
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            follow_up = self._follow_up(session, follow_up_id, attempt)
            decision = self._decision(session, follow_up.decision_id, attempt)
            if not _may_answer(session, actor, decision):
                raise NotPermitted(
                    zh="只有该决策的承办单位或执行单位可以答复督办",
                    en="Only the decision's undertaking or executing unit may answer a follow-up",
                    unmet=[
                        Unmet(
                            rule="unit:undertaking_or_executing",
                            article=ARTICLE,
                            zh="须由承办单位或执行单位答复",
                            en="Must be answered by the undertaking or executing unit",
                        )
                    ],
                )
            if follow_up.status != "open":
                raise RuleNotMet(
                    zh="该督办已答复或已办结，不能再答复",
                    en="This follow-up is already answered or closed",
                    unmet=[
                        Unmet(
                            rule="follow_up:open",
                            article=ARTICLE,
                            zh="只能答复未办结的督办",
                            en="Only an open follow-up can be answered",
                        )
                    ],
                )
            errors: dict[str, tuple[str, str]] = {}
            _check_text("answer", answer, errors)
            if errors:
                raise InvalidInput(zh="填写内容有误", en="Invalid input", fields=errors)
            follow_up.status = "answered"
            follow_up.answer = answer.strip()
            follow_up.answered_by = actor.id
            follow_up.answered_at = now
            supervisor = session.get(User, follow_up.supervisor_id)
            self.notifier.notify(
                session,
                [supervisor] if supervisor is not None and supervisor.active else [],
                Message(
                    kind="followup_answered",
                    subject_zh=f"【督办答复】{decision.title}",
                    subject_en=f"Follow-up answered: '{decision.title}'",
                    body_zh=f"{actor.username} 答复了对决策 #{decision.id} 的督办：\n{follow_up.answer}",
                    body_en=f"{actor.username} answered the follow-up on decision "
                    f"#{decision.id}:\n{follow_up.answer}",
                ),
                now=now,
                decision_id=decision.id,
                follow_up_id=follow_up.id,
            )
            attempt.detail = {"follow_up_id": follow_up.id}

        self.door.run(attempt, work)

    def close(self, actor: Actor, follow_up_id: int, *, note: str = "", origin: str = "") -> None:
        """A supervisor closes a follow-up (办结), answered or not, with a note."""
        attempt = Attempt(
            actor,
            "close_follow_up",
            payload={"follow_up_id": follow_up_id, "note": note},
            origin=origin,
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            _require_manager(actor, "办结督办", "close a follow-up")
            follow_up = self._follow_up(session, follow_up_id, attempt)
            decision = self._decision(session, follow_up.decision_id, attempt)
            if follow_up.status == "closed":
                raise RuleNotMet(
                    zh="该督办已办结",
                    en="This follow-up is already closed",
                    unmet=[
                        Unmet(
                            rule="follow_up:not_closed",
                            article=ARTICLE,
                            zh="已办结的督办不能再办结",
                            en="A closed follow-up cannot be closed again",
                        )
                    ],
                )
            if len(note) > MAX_TEXT or "\x00" in note:
                raise InvalidInput(
                    zh="填写内容有误",
                    en="Invalid input",
                    fields={"note": (f"不超过 {MAX_TEXT} 字", f"at most {MAX_TEXT} characters")},
                )
            status_before = follow_up.status
            follow_up.status = "closed"
            follow_up.closing_note = note.strip()
            follow_up.closed_by = actor.id
            follow_up.closed_at = now
            self.notifier.notify(
                session,
                people_in_roles(session, decision, UNIT_ROLES),
                Message(
                    kind="followup_closed",
                    subject_zh=f"【督办办结】{decision.title}",
                    subject_en=f"Follow-up closed: '{decision.title}'",
                    body_zh=f"对决策 #{decision.id} 的督办已办结。{follow_up.closing_note}",
                    body_en=f"The follow-up on decision #{decision.id} is closed. "
                    f"{follow_up.closing_note}",
                ),
                now=now,
                decision_id=decision.id,
                follow_up_id=follow_up.id,
            )
            attempt.detail = {"follow_up_id": follow_up.id, "status_before": status_before}

        self.door.run(attempt, work)

    # -- reads -----------------------------------------------------------------------------
    def get(self, actor: Actor, follow_up_id: int) -> FollowUpView:
        """One follow-up, for a supervisor or the unit that must answer it."""
        with self.readers() as session:
            follow_up = session.get(FollowUp, follow_up_id)
            decision = session.get(Decision, follow_up.decision_id) if follow_up else None
            if follow_up is None or decision is None:
                raise NotFound(zh="没有这项督办", en="No such follow-up")
            if not (
                has_permission(actor.role, Permission.FOLLOWUP_MANAGE)
                or _may_answer(session, actor, decision)
            ):
                raise NotPermitted(
                    zh="您不能查看这项督办",
                    en="You may not see this follow-up",
                    unmet=[
                        Unmet(
                            rule="role:supervisor_or_unit",
                            article=ARTICLE,
                            zh="只有监督人员和须答复的承办单位、执行单位可以查看",
                            en="Only supervisors and the unit that must answer may see it",
                        )
                    ],
                )
            return self._view(session, follow_up, decision)

    def may_answer(self, actor: Actor, follow_up_id: int) -> bool:
        """Whether the actor's unit is the one to answer this follow-up."""
        with self.readers() as session:
            follow_up = session.get(FollowUp, follow_up_id)
            decision = session.get(Decision, follow_up.decision_id) if follow_up else None
            return decision is not None and _may_answer(session, actor, decision)

    def listing(
        self, actor: Actor, *, decision_id: int | None = None, status: str = ""
    ) -> list[FollowUpView]:
        """The follow-ups the actor may see (supervisors: all; units: their own), overdue first."""
        query = select(FollowUp, Decision).join(Decision, Decision.id == FollowUp.decision_id)
        if decision_id is not None:
            query = query.where(FollowUp.decision_id == decision_id)
        if status:
            query = query.where(FollowUp.status == status)
        if not _sees_follow_ups(actor):
            return []
        if not has_permission(actor.role, Permission.FOLLOWUP_MANAGE):
            # the answering roles are unit-scoped: the decisions they see are the ones they answer
            query = query.where(visible_to(actor))
        with self.readers() as session:
            rows = session.execute(query.order_by(FollowUp.due, FollowUp.id)).all()
            names = _names(session, [f for f, _ in rows])
            return _in_order([self._view(session, f, d, names=names) for f, d in rows])

    def on_decision(self, session: Session, actor: Actor, decision: Decision) -> list[FollowUpView]:
        """The follow-ups on a decision, for its page: the caller read the decision in
        `session` and checked that the actor may see it (as `listing` would, by unit)."""
        if not _sees_follow_ups(actor):
            return []
        rows = _ON_DECISION.objects(session.connection(), {"decision_id": decision.id}, FollowUp)
        names = _names(session, rows)
        return _in_order([self._view(session, f, decision, names=names) for f in rows])

    # -- helpers ---------------------------------------------------------------------------
    def _view(
        self,
        session: Session,
        follow_up: FollowUp,
        decision: Decision,
        *,
        names: dict[int, str] | None = None,
    ) -> FollowUpView:
        if names is None:
            names = _names(session, [follow_up])
        return FollowUpView(
            id=follow_up.id,
            decision_id=decision.id,
            decision_title=decision.title,
            supervisor=names.get(follow_up.supervisor_id, ""),
            instructions=follow_up.instructions,
            due=follow_up.due,
            status=follow_up.status,
            opened_at=follow_up.opened_at,
            answer=follow_up.answer,
            answered_by=names.get(follow_up.answered_by or 0, ""),
            answered_at=follow_up.answered_at,
            closing_note=follow_up.closing_note,
            closed_at=follow_up.closed_at,
            overdue=follow_up.status == "open" and self.today() > follow_up.due,
        )

    @staticmethod
    def _decision(session: Session, decision_id: int, attempt: Attempt) -> Decision:
        decision = session.get(Decision, decision_id)
        if decision is None:
            raise NotFound(zh="没有这项决策", en="No such decision")
        attempt.decision_id = decision.id
        attempt.state_before = decision.state
        return decision

    @staticmethod
    def _follow_up(session: Session, follow_up_id: int, attempt: Attempt) -> FollowUp:
        follow_up = session.get(FollowUp, follow_up_id, with_for_update=True)
        if follow_up is None:
            raise NotFound(zh="没有这项督办", en="No such follow-up")
        attempt.decision_id = follow_up.decision_id
        return follow_up
