"""SQLAlchemy 2.0 models of DecisionFlow's records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so that Alembic migrations can name what they alter.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp kept in UTC and always returned time-zone aware (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """The one declarative base of every DecisionFlow table."""

    metadata = MetaData(naming_convention=NAMING)


class Category(StrEnum):
    """The five kinds of major administrative decision (Decree 713 Art 3)."""

    PUBLIC_POLICY = (
        "public_policy"  # 公共服务、市场监管、社会管理、环境保护等方面的重大公共政策和措施
    )
    DEVELOPMENT_PLAN = "development_plan"  # 经济和社会发展等方面的重要规划
    RESOURCES = "resources"  # 开发利用、保护重要自然资源和文化资源的重大公共政策和措施
    CONSTRUCTION_PROJECT = "construction_project"  # 在本行政区域实施的重大公共建设项目
    MAJOR_IMPACT = "major_impact"  # 对经济社会发展有重大影响、涉及重大公共利益或者社会公众切身利益的其他重大事项


CATEGORY_LABELS: dict[Category, tuple[str, str]] = {
    Category.PUBLIC_POLICY: ("重大公共政策和措施", "Major public policy or measure"),
    Category.DEVELOPMENT_PLAN: ("经济和社会发展重要规划", "Important development plan"),
    Category.RESOURCES: ("重要自然和文化资源政策", "Natural and cultural resources policy"),
    Category.CONSTRUCTION_PROJECT: ("重大公共建设项目", "Major public construction project"),
    Category.MAJOR_IMPACT: ("其他重大事项", "Other matter of major impact"),
}


class Department(Base):
    """A government department (an undertaking, executing or reviewing unit)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A person who signs in, in one role, of one department."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_role", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: where reminders are mailed, if SMTP is configured; none: the in-app inbox alone
    email: Mapped[str | None] = mapped_column(String(254))
    #: raised when the account signs out: every session signed in before then ends with it
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    department: Mapped[Department | None] = relationship(lazy="joined")


class ProcedureDefinition(Base):
    """A snapshot of a definition version, so a decision keeps the rules it started under."""

    __tablename__ = "procedure_definitions"
    __table_args__ = (UniqueConstraint("procedure", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogueEntry(Base):
    """An entry of the yearly decision catalogue (决策事项目录): matter, unit, planned timing."""

    __tablename__ = "catalogue_entries"
    __table_args__ = (Index("ix_catalogue_entries_year", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    matter: Mapped[str] = mapped_column(String(300))
    undertaking_unit_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    planned_timing: Mapped[str] = mapped_column(String(100))
    published: Mapped[bool] = mapped_column(Boolean, default=False)


class ExpertProfile(Base):
    """An expert in the expert pool (专家库): fields of expertise, status, declared interests."""

    __tablename__ = "expert_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    fields: Mapped[str] = mapped_column(String(300))
    #: active | suspended | removed (integrity records may remove an expert, Art 21)
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: department codes in whose matters the expert has a declared direct interest (Art 20)
    declared_interests: Mapped[list[str]] = mapped_column(JSONDocument, default=list)


class DocumentCounter(Base):
    """The last unified document number issued per procedure and year (统一编号)."""

    __tablename__ = "document_counters"

    procedure: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Decision(Base):
    """A major administrative decision, and where it stands in its procedure."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_unit_state", "undertaking_unit_id", "state"),
        # the lists page by (updated_at, id): newest activity first, "my work" oldest first
        Index("ix_decisions_updated_at", "updated_at", "id"),
        Index("ix_decisions_state_updated_at", "state", "updated_at", "id"),
        Index("ix_decisions_executing_unit", "executing_unit_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(32))
    procedure: Mapped[str] = mapped_column(String(64))
    definition_version: Mapped[int] = mapped_column(Integer)
    undertaking_unit_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    executing_unit_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    flags: Mapped[dict[str, bool]] = mapped_column(JSONDocument, default=dict)
    state: Mapped[str] = mapped_column(String(64))
    state_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: branch name -> {"state": ..., "entered_at": ISO time}, for the current state's branches
    branch_states: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    #: optimistic concurrency: every change raises it; a stale writer gets a conflict
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the local rules (province or city overlay) the decision runs under, if any
    overlay: Mapped[str | None] = mapped_column(String(64))
    #: the decision this one adjusts: a major adjustment re-enters the full procedure (Art 37)
    predecessor_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    #: the yearly decision-catalogue entry it carries out, if any (Art 10)
    catalogue_entry_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_entries.id"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it as is)


class DecisionCoUnit(Base):
    """A further undertaking unit sharing the work; the decision's own unit leads (Art 11)."""

    __tablename__ = "decision_co_units"

    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)


class DecisionAssignment(Base):
    """A person named on a decision (an expert asked for an opinion), who may then act on it."""

    __tablename__ = "decision_assignments"

    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class StepRecord(Base):
    """A record made in the procedure: a trigger's payload, an opinion, a report."""

    __tablename__ = "step_records"
    __table_args__ = (
        Index("ix_step_records_decision_kind", "decision_id", "kind", "id"),
        # the public portal lists publishing records, newest first
        Index("ix_step_records_kind_created_at", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    state: Mapped[str] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DraftVersion(Base):
    """One version of the decision's draft text, with its SHA-256."""

    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("decision_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    change_note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attachment(Base):
    """A file attached to a decision, kept by its SHA-256 on disk or in the database."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_decision", "decision_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    #: "disk" (a file named by its SHA-256 under the attachment folder) or "database"
    storage: Mapped[str] = mapped_column(String(16))
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PublicComment(Base):
    """A comment from the public on a draft open for consultation (Art 15)."""

    __tablename__ = "public_comments"
    __table_args__ = (
        Index("ix_public_comments_decision", "decision_id", "id"),
        Index("ix_public_comments_origin", "origin_digest", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    #: what the commenter keeps to ask about the comment later
    receipt: Mapped[str] = mapped_column(String(32), unique=True)
    author_name: Mapped[str] = mapped_column(String(100))
    #: kept private: shown to staff handling the comment, never published
    contact: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: keyed digest of the sender's address, for rate limits without keeping the address
    origin_digest: Mapped[str] = mapped_column(String(64))
    #: received | held (awaiting moderation) | rejected (moderated out)
    status: Mapped[str] = mapped_column(String(16))
    held_reason: Mapped[str] = mapped_column(String(200), default="")
    #: adopted | partly_adopted | not_adopted, with the reason (Art 15)
    disposition: Mapped[str | None] = mapped_column(String(32))
    disposition_reason: Mapped[str] = mapped_column(Text, default="")
    disposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A token another government system uses for the JSON API; only its hash is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEvent(Base):
    """One entry of the append-only, hash-chained audit log."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_decision", "decision_id", "seq"),
        # the stages a decision has moved out of (its page's diagram), from the index alone
        Index("ix_audit_events_decision_done", "decision_id", "outcome", "state_before"),
        Index("ix_audit_events_actor", "actor_id", "seq"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
        # the audit log page filters by username and by action, newest first
        Index("ix_audit_events_actor_username", "actor_username", "seq"),
        Index("ix_audit_events_action", "action", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_department: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    #: "done" or the refusal's code (not_permitted, rule_not_met, conflict…)
    outcome: Mapped[str] = mapped_column(String(32))
    decision_id: Mapped[int | None] = mapped_column(Integer)
    state_before: Mapped[str] = mapped_column(String(200))
    state_after: Mapped[str] = mapped_column(String(200))
    payload_digest: Mapped[str] = mapped_column(String(64))
    #: canonical JSON of what else must be kept: refusal rules, record ids, draft hashes
    detail: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(200))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The chain's newest link, kept apart so that deleting the newest events shows."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class SignInThrottle(Base):
    """Failed sign-ins counted per username or per client address, and the lock they led to.

    Kept in the database, not in a process, so that every application server behind the load
    balancer counts the same failures and honours the same lock.
    """

    __tablename__ = "sign_in_throttles"

    #: "account:<username>" or "address:<client address>"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """A message in one user's in-app inbox: a reminder, an escalation, a follow-up's news."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_recipient", "recipient_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: reminder | overdue | escalation | followup_opened | followup_answered | followup_closed…
    kind: Mapped[str] = mapped_column(String(32))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"))
    subject_zh: Mapped[str] = mapped_column(String(300))
    subject_en: Mapped[str] = mapped_column(String(300))
    body_zh: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReminderSent(Base):
    """A reminder already sent: the unique key is what makes a sweep send it once, however many run."""

    __tablename__ = "reminders_sent"
    __table_args__ = (
        UniqueConstraint(
            "decision_id",
            "branch",
            "trigger",
            "due",
            "kind",
            "recipient_id",
            name="uq_reminders_sent_key",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    #: the parallel branch, "" on the main line (a NULL would never collide in a unique key)
    branch: Mapped[str] = mapped_column(String(64))
    #: the move whose deadline runs, or "follow_up:<id>" for a follow-up's own due date
    trigger: Mapped[str] = mapped_column(String(80))
    due: Mapped[date] = mapped_column(Date)
    #: reminder (due soon) | overdue (late: the supervisors hear of it too)
    kind: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FollowUp(Base):
    """A decision put under follow-up (督办) by a supervisor: instructions, a due date, an answer."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        Index("ix_follow_ups_decision", "decision_id", "id"),
        Index("ix_follow_ups_status_due", "status", "due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    instructions: Mapped[str] = mapped_column(Text)
    due: Mapped[date] = mapped_column(Date)
    #: open | answered | closed
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closing_note: Mapped[str] = mapped_column(Text, default="")
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailOutbox(Base):
    """An email waiting to go out: written with its notification, sent after commit, retried."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
