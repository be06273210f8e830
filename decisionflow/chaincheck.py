"""Verify the audit chain up to one event, remembering how far it was verified.

A trace needs the chain to hold up to its decision's newest event, not the whole chain on every
view: the first check walks from the first event; later ones walk on only from the newest link
already verified (and check that link is still as it was). A decision's own events are hashed
again on every check, so that an edit of them shows even inside the remembered stretch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from decisionflow.audit import (
    CHAINED_COLUMNS,
    GENESIS_HASH,
    Verification,
    _Walk,
    chain_time,
    event_hash,
)
from decisionflow.models import AuditEvent

_COLUMNS = [getattr(AuditEvent, c) for c in CHAINED_COLUMNS] + [AuditEvent.hash]


@dataclass(frozen=True)
class ChainCheck:
    """What was verified: the chain from its first event up to `through`, and the decision's events."""

    ok: bool
    #: the chain holds from event 1 up to this event
    through: int
    #: events hashed again in this check (the new stretch and the decision's own)
    rehashed: int
    broken_at: int | None = None
    zh: str = ""
    en: str = ""
    #: events 1..earlier were verified by an earlier check of this process, not walked now
    earlier: int = 0
    #: when that earlier check walked them (UTC)
    earlier_at: datetime | None = None


def _broken(seq: int, rehashed: int, zh: str, en: str) -> ChainCheck:
    return ChainCheck(False, max(0, seq - 1), rehashed, seq, zh, en)


def _verified(found: Verification) -> ChainCheck:
    """A broken link found by the audit chain's walk, as a check of this stretch."""
    return _broken(found.broken_at or 0, found.events_checked, found.zh, found.en)


def _row_values(row: Any) -> dict[str, Any]:
    return {c: row[i] for i, c in enumerate((*CHAINED_COLUMNS, "hash"))}


class ChainCheckpoint:
    """The newest link verified so far (shared by every request of one process)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._seq, self._hash = 0, GENESIS_HASH
        self._at: datetime | None = None

    def check(self, through: int, own: Iterable[int] = (), *, full: bool = False) -> ChainCheck:
        """Verify the chain from event 1 up to `through`, and re-hash the events `own`;
        `full` walks it all now instead of trusting the stretch this process verified before."""
        with self._lock, self.engine.connect() as connection, connection.begin():
            seq, link, at = self._seq, self._hash, self._at
            if full:
                seq, link, at = 0, GENESIS_HASH, None
            if seq and not self._still(connection, seq, link):
                seq, link, at = 0, GENESIS_HASH, None  # the remembered link changed: walk it all
            # a stretch verified before (as part of a longer one) is not walked again
            walked = ChainCheck(True, seq, 0)
            if through > seq:
                walked = self._walk(connection, seq, link, through)
                if not walked.ok:
                    self._seq, self._hash = 0, GENESIS_HASH
                    return walked
                last = connection.execute(
                    select(AuditEvent.hash).where(AuditEvent.seq == through)
                ).scalar_one()
                self._seq, self._hash, self._at = through, last, datetime.now(UTC)
            mine = self._own(connection, sorted(set(own)))
            if mine is not None:
                return mine
            # what was taken on trust from an earlier walk is said, never passed off as now
            earlier = min(seq, through)
            return ChainCheck(
                True,
                through,
                walked.rehashed + len(set(own)),
                earlier=earlier,
                earlier_at=at if earlier else None,
            )

    @staticmethod
    def _still(connection: Connection, seq: int, link: str) -> bool:
        stored = connection.execute(select(AuditEvent.hash).where(AuditEvent.seq == seq)).first()
        return stored is not None and stored[0] == link

    @staticmethod
    def _walk(connection: Connection, seq: int, link: str, through: int) -> ChainCheck:
        """Walk events seq+1..through in order with `audit verify`'s own checks (consecutive,
        linked, each matching its hash; an inserted event named as such)."""
        walk = _Walk(through)
        walk.expected, walk.prev = seq + 1, link  # go on from the stretch verified before
        rows = connection.execution_options(yield_per=1000).execute(
            select(*_COLUMNS)
            .where(AuditEvent.seq > seq, AuditEvent.seq <= through)
            .order_by(AuditEvent.seq)
        )
        for batch in rows.partitions():
            # the batch check hashes the time in the chain's canonical text
            broken = walk.batch([(r[0], chain_time(r[1]), *r[2:]) for r in batch])
            if broken is not None:
                return _verified(broken)
        if walk.expected != through + 1:
            return _broken(
                walk.expected,
                walk.checked,
                f"第 {walk.expected} 条事件缺失（被删除）",
                f"event {walk.expected} is missing (deleted)",
            )
        return ChainCheck(True, through, walk.checked)

    @staticmethod
    def _own(connection: Connection, seqs: list[int]) -> ChainCheck | None:
        """Re-hash these events and check each links to the event before it; None if all hold."""
        if not seqs:
            return None
        wanted = sorted({*seqs, *(s - 1 for s in seqs if s > 1)})
        rows = connection.execute(select(*_COLUMNS).where(AuditEvent.seq.in_(wanted)))
        found = {r[0]: _row_values(r) for r in rows}
        for seq in seqs:
            values = found.get(seq)
            before = found.get(seq - 1)
            link = before["hash"] if before else GENESIS_HASH if seq == 1 else None
            if values is None or link is None:
                return _broken(
                    seq, 0, f"第 {seq} 条事件缺失（被删除）", f"event {seq} is missing (deleted)"
                )
            if values["prev_hash"] != link or event_hash(values) != values["hash"]:
                return _broken(
                    seq,
                    0,
                    f"第 {seq} 条事件内容与其哈希或链接不符（被篡改）",
                    f"event {seq} no longer matches its hash or link (altered)",
                )
        return None
