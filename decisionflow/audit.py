"""The hash-chained audit log: append, canonical serialisation, streaming verification.

Each event's hash is the SHA-256 of one text: the JSON array of its chained columns (see
CHAINED_COLUMNS), which end with the previous event's hash. The chain's newest link is also
kept apart, in `audit_chain_head`, so that deleting the newest events shows too.

The canonical text of an event is the same whichever database holds it: JSON with no spaces,
UTF-8 as is, integers in decimal, null for a missing id, and the time in UTC as
"YYYY-MM-DD HH:MM:SS.ffffff" (the text SQLite stores; PostgreSQL formats it with to_char).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter, methodcaller
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from decisionflow import driver

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
_SEQ, _TIME, _PREV, _HASH = 0, 1, len(CHAINED_COLUMNS) - 1, len(CHAINED_COLUMNS)


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


# Made once: json.dumps with any option builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default
)


def canonical_json(value: Any) -> str:
    """One text for one value: sorted keys, no spaces, UTF-8 as is, dates in ISO form."""
    return _CANONICAL.encode(value)


def digest(value: Any) -> str:
    """SHA-256 of a value's canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def format_time(moment: datetime) -> str:
    """A UTC timestamp in ISO form, as documents and exports show it: "…T01:00:00.000000Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_time(moment: datetime) -> str:
    """A timestamp in the one form the chain hashes: UTC, "YYYY-MM-DD HH:MM:SS.ffffff"."""
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime's %Y pads no year with zeros; isoformat would
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    # the same text as strftime, several times faster: it is written on every action
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


# -- the canonical text of an event ----------------------------------------------------------
# An event's chained values are flat: integers, None and strings. json's own C encoder,
# called directly, writes them about twice as fast as JSONEncoder.encode (which rebuilds
# it on every call); it is used only if it writes exactly the same text.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_PROBE = (7, "2026-03-02 01:00:00.000000", None, '"\\\n\t\x00\x1f\x7f', "征收 ☃ \u2028 😀")


def _fast_encoder() -> Callable[[Sequence[Any]], str] | None:
    make = getattr(json.encoder, "c_make_encoder", None)
    quote = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or quote is None:
        return None
    try:
        chunks = make(None, None, quote, None, ":", ",", False, False, False)
        join = "".join

        def encode(values: Sequence[Any]) -> str:
            return join(chunks(values, 0))

        if encode(_PROBE) != _ENCODER.encode(_PROBE):
            return None
    except Exception:  # another Python's private encoder: fall back to the public one
        return None
    return encode


_encode: Callable[[Sequence[Any]], str] = _fast_encoder() or _ENCODER.encode


def canonical_event(values: Sequence[Any]) -> str:
    """The canonical text of an event's chained values, in CHAINED_COLUMNS order."""
    values = tuple(values)
    if not isinstance(values[_TIME], str):
        values = (*values[:_TIME], chain_time(values[_TIME]), *values[_TIME + 1 :])
    return _encode(values)


def event_hash(row: Mapping[str, Any] | Sequence[Any]) -> str:
    """SHA-256 over an event's chained columns (which end with the previous event's hash)."""
    values = [row[c] for c in CHAINED_COLUMNS] if isinstance(row, Mapping) else row
    return hashlib.sha256(canonical_event(values).encode("utf-8")).hexdigest()


# -- appending -------------------------------------------------------------------------------
# Three statements in the caller's transaction: read and lock the head, insert the event,
# move the head. They are plain SQL, written once per database, because an append runs on
# every action and SQLAlchemy's statement building would double its cost; they run on the
# driver itself (decisionflow.driver). FOR UPDATE serialises appends on PostgreSQL; on SQLite
# the writer's BEGIN IMMEDIATE already holds the database's one write lock.
_INSERTED = (*CHAINED_COLUMNS, "hash")


@dataclass(frozen=True)
class _AppendSQL:
    lock_head: str
    insert_event: str
    move_head: str
    #: how the database takes a timestamp: SQLite keeps the canonical text itself
    time: Callable[[datetime], Any]


def _append_sql(dialect: str) -> _AppendSQL:
    postgres = dialect == "postgresql"
    mark = "%({})s" if postgres else ":{}"
    return _AppendSQL(
        f"SELECT seq, hash FROM audit_chain_head WHERE id = {HEAD_ID}"
        + (" FOR UPDATE" if postgres else ""),
        f"INSERT INTO audit_events ({', '.join(_INSERTED)}) "
        f"VALUES ({', '.join(mark.format(c) for c in _INSERTED)})",
        f"UPDATE audit_chain_head SET seq = {mark.format('new_seq')}, "
        f"hash = {mark.format('new_hash')} "
        f"WHERE id = {HEAD_ID} AND seq = {mark.format('old_seq')}",
        (lambda moment: moment.replace(tzinfo=None)) if postgres else chain_time,
    )


_APPEND_SQL = {dialect: _append_sql(dialect) for dialect in ("sqlite", "postgresql")}


#: where a head read earlier in the same transaction is kept for the append (see head_seen)
_HEAD_SEEN = "decisionflow.audit.head_seen"


def head_seen(session: Session, connection: Connection, seq: int, hash: str) -> None:
    """Keep the head read with another statement for this transaction's append, on SQLite.

    SQLite's writer holds the database's one write lock from its BEGIN IMMEDIATE and sees one
    snapshot: the head read at any moment of the transaction is the head its append extends,
    so one statement less per action. (PostgreSQL must lock the head, and always reads it.)
    """
    if connection.dialect.name == "sqlite":
        session.info[_HEAD_SEEN] = (connection.get_transaction(), seq, hash)


@dataclass(frozen=True)
class Appended:
    """The event just appended: its place in the chain and its hash."""

    seq: int
    hash: str


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
) -> Appended:
    """Append one event to the chain inside the caller's transaction (written at once)."""
    connection = session.connection()
    sql = _APPEND_SQL[connection.dialect.name]
    seen = session.info.pop(_HEAD_SEEN, None)
    if seen is not None and seen[0] is connection.get_transaction():
        head_seq, head_hash = seen[1:]
    else:
        head = driver.execute(connection, sql.lock_head).fetchone()
        if head is None:
            raise RuntimeError("the audit chain head is missing: run `decisionflow audit verify`")
        head_seq, head_hash = head
    moment = now.astimezone(UTC)
    values: dict[str, Any] = {
        "seq": head_seq + 1,
        "occurred_at": chain_time(moment),
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
        "prev_hash": head_hash,
    }
    values["hash"] = new_hash = event_hash(values)
    if sql.time is not chain_time:  # SQLite keeps the very text just hashed
        values["occurred_at"] = sql.time(moment)
    driver.execute(connection, sql.insert_event, values)
    moved = driver.execute(
        connection,
        sql.move_head,
        {"old_seq": head_seq, "new_seq": values["seq"], "new_hash": new_hash},
    )
    if moved.rowcount != 1:  # only a writer that bypassed the head's lock gets here
        raise RuntimeError("the audit chain head moved during an append")
    return Appended(values["seq"], new_hash)


# -- verifying -------------------------------------------------------------------------------
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


def _events_sql(dialect: str) -> str:
    """The chained columns and the stored hash, with the time as canonical text where possible."""
    time = {
        "sqlite": "occurred_at",  # stored as that very text
        "postgresql": "to_char(occurred_at, 'YYYY-MM-DD HH24:MI:SS.US')",
    }.get(dialect, "occurred_at")
    columns = ", ".join(time if c == "occurred_at" else c for c in (*CHAINED_COLUMNS, "hash"))
    return f"SELECT {columns} FROM audit_events ORDER BY seq"


@contextmanager
def _snapshot(connection: Connection) -> Iterator[None]:
    """Read the head and every event from one snapshot, so concurrent appends do not show.

    In a transaction of the caller's, its snapshot is used as it is. Otherwise a read-only
    transaction is opened: SQLite's deferred BEGIN keeps one snapshot until it ends, and
    PostgreSQL is asked for REPEATABLE READ (its default would read the head and the events
    at different moments and could see appends between them as tampering).
    """
    if connection.in_transaction():
        yield
        return
    transaction = connection.begin()
    try:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
    finally:
        transaction.rollback()


def _batches(connection: Connection, sql: str, size: int) -> Iterator[list[Any]]:
    """The rows of a query, a batch at a time, in constant memory (a server-side cursor on
    PostgreSQL; SQLite steps through its rows as they are fetched)."""
    dbapi = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = dbapi.cursor(name="decisionflow_audit_verify")  # type: ignore[union-attr]
    else:
        cursor = dbapi.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(size):
            if not isinstance(rows[0][_TIME], str):  # a database without the text form
                rows = [(r[0], chain_time(r[1]), *r[2:]) for r in rows]
            yield rows
    finally:
        cursor.close()


_seq_of, _prev_of, _hash_of = itemgetter(_SEQ), itemgetter(_PREV), itemgetter(_HASH)
_chained = itemgetter(slice(0, _HASH))
_hexdigest = methodcaller("hexdigest")
_sha256 = hashlib.sha256


def _batch_hashes(rows: list[Any]) -> list[str]:
    """Each row's hash, recomputed; map() keeps the per-row work in C."""
    return list(map(_hexdigest, map(_sha256, map(str.encode, map(_encode, map(_chained, rows))))))


class _Walk:
    """Where the walk along the chain stands."""

    def __init__(self, head_seq: int) -> None:
        self.head_seq = head_seq
        self.expected = 1
        self.prev = GENESIS_HASH
        self.prev_prev: str | None = None
        self.checked = 0

    def broken(self, at: int, zh: str, en: str, *, checked: int | None = None) -> Verification:
        return Verification(
            False, self.checked if checked is None else checked, self.head_seq, at, zh, en
        )

    def batch(self, rows: list[Any]) -> Verification | None:
        """Check a batch at once; on any doubt, check it row by row to name the broken event."""
        n = len(rows)
        stored = list(map(_hash_of, rows))
        # ordered by a unique seq: first and last consecutive means all consecutive
        if (
            rows[0][_SEQ] == self.expected
            and rows[-1][_SEQ] == self.expected + n - 1 <= self.head_seq
            and rows[0][_PREV] == self.prev
            and list(map(_prev_of, rows[1:])) == stored[:-1]
            and _batch_hashes(rows) == stored
        ):
            self.prev_prev = stored[-2] if n > 1 else self.prev
            self.prev = stored[-1]
            self.expected += n
            self.checked += n
            return None
        for row in rows:
            broken = self.row(row)
            if broken is not None:
                return broken
        return None  # pragma: no cover - the batch check and the row checks agree

    def row(self, row: Sequence[Any]) -> Verification | None:
        seq = row[_SEQ]
        if seq != self.expected:
            return self.broken(
                self.expected,
                f"第 {self.expected} 至 {seq - 1} 条事件缺失（被删除）",
                f"events {self.expected} to {seq - 1} are missing (deleted)",
            )
        if seq > self.head_seq:
            return self.broken(
                seq,
                f"该事件位于链头（第 {self.head_seq} 条）之后：在 DecisionFlow 之外追加，或链头被改回",
                f"it lies beyond the chain head (event {self.head_seq}): appended outside "
                "DecisionFlow, or the head was moved back",
            )
        if row[_PREV] != self.prev:
            if self.prev_prev is not None and row[_PREV] == self.prev_prev:
                # this event links past the one before it: that one was put in between
                return self.broken(
                    seq - 1,
                    "该事件是被插入的：其后一条事件越过它链接到更早的事件（其后各条被重新编号）",
                    "it was inserted: the event after it links past it to the one before "
                    "(the later events were renumbered)",
                    checked=self.checked - 1,
                )
            return self.broken(
                seq,
                f"该事件未链接到第 {seq - 1} 条事件（被插入、重排，或前一条被改写）",
                f"it does not link to event {seq - 1} (inserted, reordered, "
                "or the previous event was rewritten)",
            )
        if event_hash(row[:_HASH]) != row[_HASH]:
            return self.broken(
                seq,
                "该事件内容与其哈希不符（被篡改）",
                "its contents no longer match its hash (altered)",
            )
        self.prev_prev, self.prev = self.prev, row[_HASH]
        self.expected += 1
        self.checked += 1
        return None

    def end(self, head_hash: str) -> Verification:
        if self.checked < self.head_seq:
            return self.broken(
                self.checked + 1,
                f"链头为第 {self.head_seq} 条，但最后一条事件是第 {self.checked} 条："
                "最新的事件被删除（或链头被改写）",
                f"the chain head is event {self.head_seq} but the last event is "
                f"{self.checked}: the newest events were deleted (or the head was rewritten)",
            )
        if self.prev != head_hash:
            return self.broken(
                self.head_seq,
                "链头哈希与最后一条事件不符（最后一条事件或链头被改写）",
                "the chain head's hash does not match the last event "
                "(the last event or the head was rewritten)",
            )
        return Verification(True, self.checked, self.head_seq)


def verify(connection: Connection, *, batch_size: int = 1_000) -> Verification:
    """Walk the chain in order, in constant memory, and report the first broken link.

    Rows are read `batch_size` at a time. Give a connection outside any transaction: verify
    reads from one read-only snapshot of its own. (Inside a caller's transaction on
    PostgreSQL, only REPEATABLE READ or stricter hides appends made while verify runs.)
    """
    with _snapshot(connection):
        head = connection.exec_driver_sql(
            f"SELECT seq, hash FROM audit_chain_head WHERE id = {HEAD_ID}"
        ).first()
        if head is None:
            return Verification(
                False,
                0,
                0,
                0,
                "链头记录缺失（被删除）",
                "the chain head record is missing (deleted)",
            )
        walk = _Walk(head[0])
        for rows in _batches(connection, _events_sql(connection.dialect.name), batch_size):
            broken = walk.batch(rows)
            if broken is not None:
                return broken
        return walk.end(head[1])
