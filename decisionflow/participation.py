"""Public participation: drafts open for comment, comments with receipts, moderation (Art 14-15)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker

from decisionflow import driver, positions
from decisionflow.accounts import Actor
from decisionflow.errors import (
    InvalidInput,
    NotFound,
    NotPermitted,
    RateLimited,
    RuleNotMet,
    Unmet,
)
from decisionflow.facts import branch_positions
from decisionflow.models import Decision, DraftVersion, PublicComment, StepRecord, utcnow
from decisionflow.queries import MAX_ID
from decisionflow.registry import DefinitionRegistry
from decisionflow.roles import ROLE_SCOPES, Role, Scope
from decisionflow.uow import Attempt, Door

PUBLIC = Actor(id=None, username="public", role=Role.PUBLIC)
#: what may be done with a comment (Art 15)
DISPOSITIONS = ("adopted", "partly_adopted", "not_adopted")
MAX_COMMENT = 5000
#: more comments than this from one address in an hour are refused (a person rarely needs more)
COMMENTS_PER_HOUR = 5
#: what a comment may contain before a person must look at it first
MAX_LINKS = 2


@dataclass(frozen=True)
class OpenConsultation:
    """A draft open for public comment."""

    decision_id: int
    title: str
    explanation: str
    draft: str
    draft_sha256: str
    deadline: date
    article: str


@dataclass(frozen=True)
class AnsweredComment:
    """A public comment as the published account shows it: what was said and what was done."""

    text: str
    disposition: str | None
    reason: str


@dataclass(frozen=True)
class PublishedDecision:
    """A published decision and the account of how public opinions were adopted (Art 32)."""

    decision_id: int
    title: str
    published: dict[str, Any]
    adoption_summary: dict[str, Any]
    comments: list[AnsweredComment]


@dataclass(frozen=True)
class Receipt:
    """What a commenter is given: the number to quote, and whether a person will look first."""

    receipt: str
    held: bool


class PublicParticipation:
    """The public's side of a consultation, and its moderation — audited like every change."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        registry: DefinitionRegistry,
        *,
        secret: str,
        timezone: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.secret = secret.encode("utf-8")
        self.timezone = ZoneInfo(timezone)
        self.clock = clock
        self.door = Door(sessions, clock)

    def origin_digest(self, address: str) -> str:
        """A keyed digest of an address: enough to count, not enough to recover it."""
        return hmac.new(self.secret, address.encode("utf-8"), hashlib.sha256).hexdigest()

    # -- reads -----------------------------------------------------------------------------
    def _consultation(self, session: Session, decision: Decision) -> OpenConsultation | None:
        definition = self.registry.get(
            decision.procedure, decision.definition_version, session, overlay=decision.overlay
        )
        spec = definition.public_comments
        if spec is None:
            return None
        branches, _ = branch_positions(decision)
        if branches.get(spec.branch) != spec.state:
            return None
        opened = self._latest(session, decision.id, spec.deadline.record)
        if opened is None:
            return None
        explanation = self._latest(session, decision.id, spec.explanation.record) or {}
        draft = session.scalars(
            select(DraftVersion)
            .where(DraftVersion.decision_id == decision.id)
            .order_by(DraftVersion.number.desc())
            .limit(1)
        ).first()
        return OpenConsultation(
            decision_id=decision.id,
            title=decision.title,
            explanation=str(explanation.get(spec.explanation.field, "")),
            draft=draft.content if draft else "",
            draft_sha256=draft.sha256 if draft else "",
            deadline=date.fromisoformat(str(opened[spec.deadline.field])),
            article=spec.article,
        )

    @staticmethod
    def _latest(session: Session, decision_id: int, kind: str) -> dict[str, object] | None:
        return session.scalars(
            select(StepRecord.data)
            .where(StepRecord.decision_id == decision_id, StepRecord.kind == kind)
            .order_by(StepRecord.id.desc())
            .limit(1)
        ).first()

    def _consulting_states(self) -> list[str]:
        """The main-line states that hold a public-comment branch, in any procedure on file."""
        states = set()
        for procedure in self.registry.procedures:
            definition = self.registry.current(procedure)
            if definition.public_comments:
                states |= {
                    s.name
                    for s in definition.states
                    if any(b.name == definition.public_comments.branch for b in s.branches)
                }
        return sorted(states)

    def open_consultations(self) -> list[OpenConsultation]:
        """Every draft open for comment today, soonest deadline first."""
        today = self.clock().astimezone(self.timezone).date()
        with self.sessions() as session:
            decisions = session.scalars(
                select(Decision).where(Decision.state.in_(self._consulting_states()))
            )
            found = [
                c
                for d in decisions
                if (c := self._consultation(session, d)) and c.deadline >= today
            ]
        return sorted(found, key=lambda c: (c.deadline, c.decision_id))

    def consultation(self, decision_id: int) -> OpenConsultation:
        """One draft open for comment; NotFound if it is not (or no longer) open."""
        today = self.clock().astimezone(self.timezone).date()
        with self.sessions() as session:
            decision = session.get(Decision, decision_id)
            found = self._consultation(session, decision) if decision else None
        if found is None or found.deadline < today:
            raise NotFound(zh="该草案目前未公开征求意见", en="This draft is not open for comment")
        return found

    # -- changes ---------------------------------------------------------------------------
    def submit_comment(
        self,
        decision_id: int,
        *,
        text: str,
        name: str = "",
        contact: str = "",
        address: str,
        suspicious: bool = False,
    ) -> Receipt:
        """Take a comment and give its receipt; a comment that trips a rule is held for moderation."""
        origin = self.origin_digest(address)
        # Contact details are private: the audit log keeps only that one was given.
        attempt = Attempt(
            PUBLIC,
            "submit_comment",
            decision_id,
            {"text": text, "name": name, "contact_given": bool(contact.strip())},
            origin=f"public {origin[:16]}",
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> Receipt:
            decision = session.get(Decision, decision_id)
            consultation = self._consultation(session, decision) if decision else None
            today = now.astimezone(self.timezone).date()
            if decision is None or consultation is None:
                raise NotFound(
                    zh="该草案目前未公开征求意见", en="This draft is not open for comment"
                )
            attempt.state_before = decision.state
            if consultation.deadline < today:
                raise RuleNotMet(
                    zh="征求意见已截止",
                    en="The comment period has ended",
                    unmet=[
                        Unmet(
                            "comment_period",
                            consultation.article,
                            f"意见截止日期为 {consultation.deadline}",
                            f"comments were taken until {consultation.deadline}",
                        )
                    ],
                )
            errors: dict[str, tuple[str, str]] = {}
            if not text.strip():
                errors["text"] = ("请填写意见", "is required")
            elif len(text) > MAX_COMMENT:
                errors["text"] = (
                    f"不能超过 {MAX_COMMENT} 字",
                    f"must be at most {MAX_COMMENT} characters",
                )
            if len(name) > 100:
                errors["name"] = ("不能超过 100 字", "must be at most 100 characters")
            if len(contact) > 200:
                errors["contact"] = ("不能超过 200 字", "must be at most 200 characters")
            for field, value in (("text", text), ("name", name), ("contact", contact)):
                # PostgreSQL refuses NUL in text; no person types a control character anyway.
                if field not in errors and _has_control(value):
                    errors[field] = (
                        "含有不可见的控制字符",
                        "contains invisible control characters",
                    )
            if errors:
                raise InvalidInput(
                    zh="意见未能提交", en="The comment was not submitted", fields=errors
                )
            recent = session.scalar(
                select(func.count()).where(
                    PublicComment.origin_digest == origin,
                    PublicComment.received_at >= now - timedelta(hours=1),
                )
            )
            if (recent or 0) >= COMMENTS_PER_HOUR:
                raise RateLimited(
                    zh="同一地址一小时内提交的意见过多，请稍后再试",
                    en="Too many comments from this address in the last hour; please try again later",
                )
            reasons = []
            if suspicious:
                reasons.append("form")
            if text.count("http://") + text.count("https://") > MAX_LINKS:
                reasons.append("links")
            comment = PublicComment(
                decision_id=decision_id,
                receipt=secrets.token_hex(5).upper(),
                author_name=name.strip(),
                contact=contact.strip(),
                text=text.strip(),
                received_at=now,
                origin_digest=origin,
                status="held" if reasons else "received",
                held_reason=",".join(reasons),
            )
            session.add(comment)
            session.flush()
            attempt.detail = {"comment_id": comment.id, "held": bool(reasons)}
            return Receipt(comment.receipt, held=bool(reasons))

        return self.door.run(attempt, work)

    def moderate(self, actor: Actor, comment_id: int, *, release: bool, reason: str) -> None:
        """Release a held comment into the record, or reject it, with the reason; audited."""
        attempt = Attempt(
            actor,
            "moderate_comment",
            payload={"comment_id": comment_id, "release": release, "reason": reason},
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            comment, decision = _handled_comment(session, actor, comment_id, attempt)
            rule = ANSWER_OWED
            if comment.status != "held":
                raise RuleNotMet(
                    zh="这条意见不在待审核状态",
                    en="This comment is not awaiting moderation",
                    unmet=[rule],
                )
            if release and not self._disposable(session, decision):
                # released now, it could never get the disposition the law owes it
                raise RuleNotMet(
                    zh="公众参与已完成，不能再纳入意见",
                    en="Public participation is complete; a comment can no longer be released",
                    unmet=[rule],
                )
            if not reason.strip():
                raise InvalidInput(
                    zh="请说明理由",
                    en="Give the reason",
                    fields={"reason": ("必须填写", "is required")},
                )
            comment.status = "received" if release else "rejected"
            comment.held_reason = f"{comment.held_reason}; {reason.strip()}"[:200]
            # what the decision still owes the public changed: a page loaded before is stale
            positions.save(session, decision, now)

        self.door.run(attempt, work)

    def dispose(self, actor: Actor, comment_id: int, *, disposition: str, reason: str) -> None:
        """Record what was done with a comment and why (Art 15); audited, and never changed after."""
        attempt = Attempt(
            actor,
            "dispose_comment",
            payload={"comment_id": comment_id, "disposition": disposition, "reason": reason},
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            comment, decision = _handled_comment(session, actor, comment_id, attempt)
            rule = ANSWER_OWED
            if comment.status != "received":
                raise RuleNotMet(
                    zh="这条意见未纳入记录（待审核或已被审核排除）",
                    en="This comment is not in the record (held or moderated out)",
                    unmet=[rule],
                )
            if comment.disposition is not None:
                raise RuleNotMet(
                    zh="这条意见已作出处理，处理结果不得更改",
                    en="This comment has its disposition already; it cannot be changed",
                    unmet=[rule],
                )
            if not self._disposable(session, decision):
                raise RuleNotMet(
                    zh="公众参与已完成，不能再处理意见",
                    en="Public participation is complete; comments can no longer be handled",
                    unmet=[rule],
                )
            errors: dict[str, tuple[str, str]] = {}
            if disposition not in DISPOSITIONS:
                errors["disposition"] = (
                    "应为采纳、部分采纳或不采纳",
                    "must be adopted, partly adopted or not adopted",
                )
            if not reason.strip() or _has_control(reason) or len(reason) > MAX_COMMENT:
                errors["reason"] = (
                    "须说明采纳或不采纳的理由",
                    "give the reason for adopting or not",
                )
            if errors:
                raise InvalidInput(zh="处理意见填写有误", en="Invalid disposition", fields=errors)
            comment.disposition = disposition
            comment.disposition_reason = reason.strip()
            comment.disposed_by = actor.id
            comment.disposed_at = now
            positions.save(session, decision, now)
            attempt.detail = {"comment_id": comment.id, "receipt": comment.receipt}

        self.door.run(attempt, work)

    def _disposable(self, session: Session, decision: Decision) -> bool:
        """Whether the decision's public-participation branch is still under way."""
        definition = self.registry.get(
            decision.procedure, decision.definition_version, session, overlay=decision.overlay
        )
        spec = definition.public_comments
        if spec is None:
            return False
        branches, _ = branch_positions(decision)
        state = branches.get(spec.branch)
        branch = definition.branch(spec.branch)
        return state is not None and not any(s.final and s.name == state for s in branch.states)

    def published(self) -> list[PublishedDecision]:
        """Every published decision, newest first, with its account of public opinions."""
        with self.sessions() as session:
            rows = session.execute(
                select(Decision, StepRecord)
                .join(StepRecord, StepRecord.decision_id == Decision.id)
                .where(StepRecord.kind.in_(self._publishing_triggers()))
                .order_by(StepRecord.created_at.desc())
            ).all()
            return [self._published(session, decision, record) for decision, record in rows]

    def published_decision(self, decision_id: int) -> PublishedDecision:
        """One published decision; NotFound for one not (yet) published."""
        found = next((p for p in self.published() if p.decision_id == decision_id), None)
        if found is None:
            raise NotFound(zh="没有这项已公布的决策", en="No such published decision")
        return found

    def _publishing_triggers(self) -> list[str]:
        triggers = {self.registry.current(p).published_by for p in self.registry.procedures}
        return sorted(t for t in triggers if t)

    def _published(
        self, session: Session, decision: Decision, record: StepRecord
    ) -> PublishedDecision:
        summary = self._latest(session, decision.id, "comment_adoption_summary") or {}
        # What the public said and what was done with it; never who said it or how to reach them.
        answered = [
            AnsweredComment(c.text, c.disposition, c.disposition_reason)
            for c in self.comments(session, decision.id)
            if c.status == "received"
        ]
        return PublishedDecision(
            decision.id, decision.title, dict(record.data), dict(summary), answered
        )

    def comments(self, session: Session, decision_id: int) -> list[PublicComment]:
        """Every comment on a decision, first to last (for staff; contact details included),
        as read-only objects in no session."""
        return _COMMENTS.objects(session.connection(), {"decision_id": decision_id}, PublicComment)


#: a decision's page reads them (prepared once: see decisionflow.driver)
_COMMENTS = driver.Prepared(
    select(*PublicComment.__table__.c)
    .where(PublicComment.decision_id == bindparam("decision_id"))
    .order_by(PublicComment.id)
)


def _has_control(value: str) -> bool:
    """Whether text holds a control character other than tab and line breaks."""
    return any((ord(c) < 32 and c not in "\t\n\r") or c == "\x7f" for c in value)


#: the rule a comment's moderation and disposition serve
ANSWER_OWED = Unmet(
    "comment_disposition",
    "Art 15",
    "对公众意见应当研究处理并说明采纳情况",
    "Each public comment is studied and its adoption accounted for",
)


def _handled_comment(
    session: Session, actor: Actor, comment_id: int, attempt: Attempt
) -> tuple[PublicComment, Decision]:
    """A comment and its (untracked) decision, once the actor is known to handle its comments."""
    comment = session.get(PublicComment, comment_id) if 1 <= comment_id <= MAX_ID else None
    if comment is None:
        raise NotFound(zh="没有这条意见", en="No such comment")
    attempt.decision_id = comment.decision_id
    decision = positions.load(session, comment.decision_id)
    assert decision is not None
    attempt.state_before = attempt.state_after = decision.state
    _check_handler(actor, decision)
    return comment, decision


def handles_comments(actor: Actor, undertaking_unit_id: int) -> bool:
    """Whether the actor handles a decision's public comments (and so may see contact details)."""
    if actor.role is Role.GOVERNMENT_OFFICE:
        return True
    return (
        ROLE_SCOPES[actor.role] is Scope.UNDERTAKING_UNIT
        and actor.department_id == undertaking_unit_id
    )


def _check_handler(actor: Actor, decision: Decision) -> None:
    """Only the undertaking unit's staff and the government office handle a decision's comments."""
    if not handles_comments(actor, decision.undertaking_unit_id):
        raise NotPermitted(
            zh="您不能处理该决策的公众意见", en="You cannot handle this decision's public comments"
        )
