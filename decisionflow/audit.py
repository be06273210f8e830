"""The hash-chained audit log: append, canonical serialisation, streaming verification."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from decisionflow.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64
HEAD_ID = 1
#: the columns hashed, in this order; changing it breaks every chain ever written
CHAINED_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_username",
    "actor_role",
    "actor_department",
    "action",
    "outcome",
    "decision_id",
    "state_before",
    "state_after",
    "payload_digest",
    "detail",
    "origin",
    "prev_hash",
)


@dataclass(frozen=True)
class AuditActor:
    """Who acted, as the audit log records it."""

    id: int | None
    username: str
    role: str
    department: str


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"cannot serialise {type(value).__name__} into the audit log")


def canonical_json(value: Any) -> str:
    """One text for one value: sorted keys, no spaces, UTF-8 as is, dates in ISO form."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default
    )


def digest(value: Any) -> str:
    """SHA-256 of a value's canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def format_time(moment: datetime) -> str:
    """A UTC timestamp in the one form the chain hashes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(row: Mapping[str, Any] | Iterable[Any]) -> str:
    """SHA-256 over an event's chained columns (which end with the previous event's hash)."""
    values = [row[c] for c in CHAINED_COLUMNS] if isinstance(row, Mapping) else list(row)
    values[1] = format_time(values[1])
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(
    session: Session,
    *,
    actor: AuditActor,
    action: str,
    outcome: str,
    decision_id: int | None,
    state_before: str,
    state_after: str,
    payload: Any,
    detail: Mapping[str, Any],
    origin: str,
    now: datetime,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction."""
    # FOR UPDATE serialises appends on PostgreSQL; on SQLite the writer's BEGIN IMMEDIATE
    # already holds the database's one write lock.
    head = session.execute(
        select(AuditChainHead.seq, AuditChainHead.hash)
        .where(AuditChainHead.id == HEAD_ID)
        .with_for_update()
    ).one()
    values: dict[str, Any] = {
        "seq": head.seq + 1,
        "occurred_at": now.astimezone(UTC),
        "actor_id": actor.id,
        "actor_username": actor.username,
        "actor_role": actor.role,
        "actor_department": actor.department,
        "action": action,
        "outcome": outcome,
        "decision_id": decision_id,
        "state_before": state_before,
        "state_after": state_after,
        "payload_digest": digest(payload),
        "detail": canonical_json(detail),
        "origin": origin,
        "prev_hash": head.hash,
    }
    values["hash"] = event_hash(values)
    event = AuditEvent(**values)
    session.add(event)
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(seq=values["seq"], hash=values["hash"])
    )
    return event


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying the chain: intact, or the first broken link and why."""

    ok: bool
    events_checked: int
    head_seq: int
    broken_at: int | None = None
    zh: str = ""
    en: str = ""

    def __str__(self) -> str:
        if self.ok:
            return (
                f"审计链完整：已核验 {self.events_checked} 条事件 / "
                f"audit chain intact: {self.events_checked} events verified"
            )
        return f"审计链在第 {self.broken_at} 条处断裂：{self.zh} / chain broken at event {self.broken_at}: {self.en}"


def _broken(checked: int, head: int, at: int, zh: str, en: str) -> Verification:
    return Verification(False, checked, head, at, zh, en)


def verify(connection: Connection, *, batch_size: int = 20_000) -> Verification:
    """Walk the chain in order, in constant memory, and report the first broken link."""
    head_row = connection.execute(
        select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == HEAD_ID)
    ).one_or_none()
    if head_row is None:
        return _broken(0, 0, 0, "链头记录缺失", "the chain head record is missing")
    head_seq, head_hash = head_row
    columns = [AuditEvent.__table__.c[name] for name in (*CHAINED_COLUMNS, "hash")]
    result = connection.execution_options(yield_per=batch_size).execute(
        select(*columns).order_by(AuditEvent.seq)
    )
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for row in result:
        seq, stored_hash = row[0], row[-1]
        if seq != expected_seq:
            result.close()
            return _broken(
                checked,
                head_seq,
                expected_seq,
                f"第 {expected_seq} 至 {seq - 1} 条事件缺失（被删除）",
                f"events {expected_seq} to {seq - 1} are missing (deleted)",
            )
        if event_hash(row[:-1]) != stored_hash:
            result.close()
            return _broken(
                checked,
                head_seq,
                seq,
                "该事件内容与其哈希不符（被篡改）",
                "its contents no longer match its hash (altered)",
            )
        if row[-2] != prev_hash:
            result.close()
            return _broken(
                checked,
                head_seq,
                seq,
                f"该事件未链接到第 {seq - 1} 条事件（被插入、重排，或前一条被改写）",
                f"it does not link to event {seq - 1} (inserted, reordered, "
                "or the previous event was rewritten)",
            )
        prev_hash, expected_seq, checked = stored_hash, seq + 1, checked + 1
        if seq > head_seq:
            result.close()
            return _broken(
                checked,
                head_seq,
                seq,
                f"该事件位于链头（第 {head_seq} 条）之后，是事后插入的",
                f"it lies beyond the chain head (event {head_seq}): appended outside DecisionFlow",
            )
    if checked < head_seq:
        return _broken(
            checked,
            head_seq,
            checked + 1,
            f"链头为第 {head_seq} 条，但最后一条事件是第 {checked} 条：最新的事件被删除",
            f"the chain head is event {head_seq} but the last event is {checked}: "
            "the newest events were deleted",
        )
    if prev_hash != head_hash:
        return _broken(
            checked,
            head_seq,
            head_seq,
            "链头哈希与最后一条事件不符",
            "the chain head's hash does not match the last event",
        )
    return Verification(True, checked, head_seq)
