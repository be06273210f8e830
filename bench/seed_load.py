"""Seed a database for the load benchmark: the demo through the service, then clones in bulk.

The demo's 27 decisions (every stage of both procedures, with their records, drafts and audit
events) are made through the service, as a user would. The rest are copies of them written with
Core `executemany`: each copy keeps its model's state, records, drafts and co-units, and gets its
model's audit events again (round-robin, so that a decision's events are spread over the log as
real ones are), until the log holds the asked-for number of events. The audit events are chained
with `decisionflow.audit`'s own canonical text and hash, so `decisionflow audit verify` passes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, update

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from config import Settings  # noqa: E402
from decisionflow import audit  # noqa: E402
from decisionflow.accounts import SYSTEM  # noqa: E402
from decisionflow.bootstrap import build  # noqa: E402
from decisionflow.db import make_engine  # noqa: E402
from decisionflow.migrate import upgrade  # noqa: E402
from decisionflow.models import (  # noqa: E402
    AuditChainHead,
    AuditEvent,
    Decision,
    DecisionAssignment,
    DecisionCoUnit,
    DraftVersion,
    StepRecord,
)
from decisionflow.seed import DEMO_PASSWORD, seed_demo  # noqa: E402

#: events inserted per executemany (and per transaction)
BATCH = 20_000
#: copied along with each cloned decision, by decision_id
CHILDREN: tuple[Any, ...] = (StepRecord, DraftVersion, DecisionCoUnit, DecisionAssignment)


@dataclass(frozen=True)
class Seeded:
    """What the seeder made, and what the benchmark needs to drive it."""

    url: str
    decisions: int
    events: int
    #: an API token of the housing clerk ("clerk"), for the API GETs
    token: str
    password: str = DEMO_PASSWORD


def settings_for(instance: Path, url: str = "") -> Settings:
    """The settings the seeder and the served app share."""
    return Settings(profile="development", instance_path=instance, database_url=url)


def seed(instance: Path, *, decisions: int, events: int, log: Any = print) -> Seeded:
    """A fresh SQLite database in `instance` with `decisions` decisions and `events` audit events."""
    instance.mkdir(parents=True, exist_ok=True)
    settings = settings_for(instance)
    url = settings.resolved_database_url
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    started = time.perf_counter()
    parts = build(settings)
    try:
        seed_demo(parts)
        token = parts.tokens.issue(SYSTEM, username="clerk", name="load benchmark")
    finally:
        parts.dispose()
    log(f"  demo through the service: {time.perf_counter() - started:.1f} s")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            made = _clone_decisions(connection, decisions)
        log(f"  {made} decisions cloned: {time.perf_counter() - started:.1f} s")
        total = _chain_events(engine, events, log=log)
        log(f"  audit events: {total}: {time.perf_counter() - started:.1f} s")
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return Seeded(url=url, decisions=decisions, events=total, token=token)


def _rows(connection: Connection, table: Table, **where: Any) -> list[dict[str, Any]]:
    query = select(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    return [dict(r._mapping) for r in connection.execute(query.order_by(*table.primary_key))]


def _clone_decisions(connection: Connection, target: int) -> int:
    """Copy the demo's decisions (and what hangs on them) until there are `target` decisions."""
    decisions: Table = Decision.__table__  # type: ignore[assignment]
    models = _rows(connection, decisions)
    have = len(models)
    if target <= have:
        return 0
    children = {
        m["id"]: {c: _rows(connection, c.__table__, decision_id=m["id"]) for c in CHILDREN}
        for m in models
    }
    next_id = max(m["id"] for m in models) + 1
    rng = random.Random(713)
    newest = max(m["updated_at"] for m in models)
    new_decisions: list[dict[str, Any]] = []
    new_children: dict[Any, list[dict[str, Any]]] = {c: [] for c in CHILDREN}
    for n in range(target - have):
        model = models[n % have]
        clone = {**model, "id": next_id + n, "title": f"{model['title']}（{n + 1}）"}
        # activity spread over two years, so that the lists' order means something
        clone["updated_at"] = newest - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        new_decisions.append(clone)
        for child, rows in children[model["id"]].items():
            for row in rows:
                copied = {**row, "decision_id": clone["id"]}
                if "id" in copied and child in (StepRecord, DraftVersion):
                    del copied["id"]  # a new row id
                new_children[child].append(copied)
    connection.execute(insert(decisions), new_decisions)
    for child, rows in new_children.items():
        if rows:
            connection.execute(insert(child.__table__), rows)
    return len(new_decisions)


def _chain_events(engine: Any, target: int, *, log: Any) -> int:
    """Append copies of each decision's model's events until the log holds `target` events."""
    events: Table = AuditEvent.__table__  # type: ignore[assignment]
    with engine.connect() as connection:
        have = connection.execute(select(func.count()).select_from(events)).scalar_one()
        head = connection.execute(select(AuditChainHead.seq, AuditChainHead.hash)).one()
        last_time = connection.execute(select(func.max(AuditEvent.occurred_at))).scalar_one()
        clones = connection.execute(select(Decision.id, Decision.title).order_by(Decision.id)).all()
        by_decision: dict[int, list[dict[str, Any]]] = {}
        for row in connection.execute(
            select(events).where(events.c.decision_id.is_not(None)).order_by(events.c.seq)
        ):
            by_decision.setdefault(row.decision_id, []).append(dict(row._mapping))
    if target <= have:
        return int(have)
    models = sorted(by_decision)
    # each clone was made from models[n % len(models)], in id order after the models
    plan: list[tuple[int, list[dict[str, Any]]]] = []
    clone_ids = [d.id for d in clones if d.id not in by_decision]
    for n, decision_id in enumerate(clone_ids):
        plan.append((decision_id, by_decision[models[n % len(models)]]))
    if not plan:  # no clones: more events for the demo's own decisions
        plan = [(d, by_decision[d]) for d in models]
    seq, prev_hash = int(head.seq), str(head.hash)
    moment = last_time
    step = timedelta(microseconds=50)
    columns = (*audit.CHAINED_COLUMNS, "hash")
    sql = (
        f"INSERT INTO audit_events ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    wanted = target - int(have)

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal seq, prev_hash, moment
        made, turn = 0, 0
        while True:
            for decision_id, model_events in plan:
                if made == wanted:
                    return
                e = model_events[turn % len(model_events)]
                seq += 1
                moment += step
                values = (
                    seq,
                    audit.chain_time(moment),
                    e["actor_id"],
                    e["actor_username"],
                    e["actor_role"],
                    e["actor_department"],
                    e["action"],
                    e["outcome"],
                    decision_id,
                    e["state_before"],
                    e["state_after"],
                    e["payload_digest"],
                    e["detail"],
                    e["origin"],
                    prev_hash,
                )
                prev_hash = audit.event_hash(values)
                made += 1
                yield (*values, prev_hash)
            turn += 1

    written = 0
    for batch in _batched(rows(), BATCH):
        with engine.begin() as connection:
            connection.exec_driver_sql(sql, batch)
            connection.execute(
                update(AuditChainHead)
                .where(AuditChainHead.id == audit.HEAD_ID)
                .values(seq=batch[-1][0], hash=batch[-1][-1])
            )
        written += len(batch)
        if written % 200_000 < BATCH:
            log(f"    {written} events written")
    return int(have) + written


def _batched(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: Sequence[str] | None = None) -> None:
    """Seed a database in a folder (for trying the app at scale by hand)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instance", type=Path, help="a new folder for the database")
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    seeded = seed(args.instance, decisions=args.decisions, events=args.events)
    print(f"{seeded.url}: {seeded.decisions} decisions, {seeded.events} audit events")
    print(f"demo password: {seeded.password}; API token of clerk: {seeded.token}")


if __name__ == "__main__":
    main()
