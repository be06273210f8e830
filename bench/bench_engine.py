"""Benchmark DecisionFlow's engine against the floor of writing the same rows by hand.

(a) Actions: N decisions walk the whole major-decision procedure (decisionflow.demo's
    MAJOR_DECISION_PATH) through the service layer, one transaction per action, on a fresh
    SQLite file (and on PostgreSQL when reachable, in a database of the bench's own). Beside
    it, the floor: the same number of actions written with the raw driver (sqlite3 / psycopg),
    one commit each: UPDATE the decision, INSERT the record, INSERT an audit event with its
    SHA-256, UPDATE the chain head.
(b) Audit verification: events/s of audit.verify over the service's chain and over a big
    chain (built quickly with COPY / executemany), beside the floor of hashing the same
    canonical texts alone (SHA-256 over bytes already in memory).

Run from the repository root:  .venv/bin/python bench/bench_engine.py --help
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import platform
import pstats
import shlex
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import REPO_ROOT, Settings
from decisionflow import audit
from decisionflow.accounts import Actor, hash_password
from decisionflow.bootstrap import Parts, build
from decisionflow.db import make_engine
from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, StepContext, take_step
from decisionflow.migrate import upgrade
from decisionflow.models import Department, ExpertProfile, User
from decisionflow.roles import ACCOUNT_ROLES, Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: signed steps (expert and legality opinions) check the signer's password, as in production
BENCH_PASSWORD = "bench-password-2026"
SIGNERS = (Role.EXPERT, Role.LEGAL_OFFICER)
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACTIONS_PER_DECISION = 1 + len(MAJOR_DECISION_PATH)  # its creation, then each step


class Clock:
    """A clock the bench moves by hand, so that the procedure's time rules are met."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)

    @property
    def today(self) -> Any:
        return self.now.astimezone(SHANGHAI).date()


@dataclass
class Row:
    """One line of the results table."""

    what: str
    database: str
    count: int
    seconds: float
    unit: str
    cpu: float = 0.0  #: this process's CPU seconds (the database server's not included)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else float("inf")


class Stopwatch:
    """Wall-clock and CPU seconds of this process, between start and stop (or summed over spans)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    @contextmanager
    def adding(self) -> Iterator[None]:
        """Add the time of one span to the totals."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu

    def __enter__(self) -> Stopwatch:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


# -- databases ---------------------------------------------------------------------------------
@contextmanager
def postgres_database(admin_url: str, purpose: str) -> Iterator[str]:
    """A PostgreSQL database of the bench's own, dropped afterwards."""
    name = f"decisionflow_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_problem(admin_url: str) -> str | None:
    """None if PostgreSQL answers at that URL, else why not."""
    engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as err:  # any failure means: no PostgreSQL figures
        return f"{type(err).__name__}: {str(err).splitlines()[0]}"
    finally:
        engine.dispose()


def migrated(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


# -- (a) the service path ----------------------------------------------------------------------
def seed_people(parts: Parts) -> dict[Role, Actor]:
    """Departments and one user of each role, written directly (not a benchmarked action)."""
    with parts.sessions() as session, session.begin():
        housing = Department(code="housing", name_zh="住房和城乡建设局", name_en="Housing Bureau")
        office = Department(code="office", name_zh="政府办公室", name_en="Government Office")
        session.add_all([housing, office])
        session.flush()
        users = [
            User(
                username=f"{role.value}_a",
                display_name=role.value,
                role=role.value,
                password_hash=hash_password(BENCH_PASSWORD) if role in SIGNERS else "not-used",
                department_id=housing.id if role in (Role.STAFF, Role.EXECUTOR) else office.id,
            )
            for role in ACCOUNT_ROLES
        ]
        session.add_all(users)
        session.flush()
        session.add_all(
            ExpertProfile(user_id=u.id, fields="bench", declared_interests=[])
            for u in users
            if u.role == Role.EXPERT
        )
        return {Role(u.role): Actor.of(u) for u in users}


def walk(
    service: Any, people: dict[Role, Actor], clock: Clock, decisions: int, signing: Stopwatch
) -> list[int]:
    """Open the decisions, then take each step of the path for each of them in turn.

    The signed steps (the expert's and the legality opinion) are timed apart on `signing`:
    each verifies the signer's password with Argon2id, slow by design, which no row-writing
    floor does.
    """
    ids = []
    for n in range(decisions):
        clock.advance(seconds=1)
        view = service.create_decision(
            people[Role.STAFF],
            title=f"征地补偿标准调整（第 {n + 1} 号）",
            category="public_policy",
            undertaking_unit="housing",
            flags=FLAGS_FOR_PATH,
        )
        ids.append(view.id)
    experts = (people[Role.EXPERT].id,)
    for step in MAJOR_DECISION_PATH:
        clock.advance(days=step.wait_days, minutes=5)
        ctx = StepContext(today=clock.today, expert_ids=experts, password=BENCH_PASSWORD)
        for decision_id in ids:
            if step.signed:
                with signing.adding():
                    take_step(service, step, people[step.role], decision_id, ctx)
            else:
                take_step(service, step, people[step.role], decision_id, ctx)
    return ids


SIGNED_PER_DECISION = sum(1 for step in MAJOR_DECISION_PATH if step.signed)


def run_service(url: str, decisions: int, workdir: Path, profile: Path | None) -> tuple[Row, Row]:
    """N decisions through the whole procedure, in lockstep, one transaction per action."""
    clock = Clock()
    settings = Settings(
        profile="development",
        database_url=url,
        instance_path=workdir / "instance",
        workflows_path=REPO_ROOT / "workflows",
        calendar_overrides=REPO_ROOT / "workflows" / "calendar" / "overrides.yaml",
    )
    parts = build(settings, clock=clock)
    try:
        parts.upgrade_database()
        people = seed_people(parts)
        service = parts.decisions
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        signing = Stopwatch()
        with Stopwatch() as watch:
            ids = walk(service, people, clock, decisions, signing)
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        final = {service.get(people[Role.SUPERVISOR], i).state for i in ids}
        if final != {"archived"}:
            raise SystemExit(f"the service path did not reach the archive: {final}")
        result = parts.verify_audit()
        if not result.ok or result.events_checked != decisions * ACTIONS_PER_DECISION:
            raise SystemExit(f"unexpected audit chain after the service path: {result}")
        every = Row(
            "service actions (all)",
            dialect_of(url),
            decisions * ACTIONS_PER_DECISION,
            watch.wall,
            "actions/s",
            watch.cpu,
        )
        unsigned = Row(
            "service actions (unsigned)",
            dialect_of(url),
            decisions * (ACTIONS_PER_DECISION - SIGNED_PER_DECISION),
            watch.wall - signing.wall,
            "actions/s",
            watch.cpu - signing.cpu,
        )
        return every, unsigned
    finally:
        parts.dispose()


# -- (a) the floor: the same rows by hand ------------------------------------------------------
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha256(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def floor_actions(decisions: int) -> Iterator[tuple[str, int, int, dict[str, Any], datetime]]:
    """The same actions as the service path: (kind, decision number, step, payload, when)."""
    clock = Clock()
    for n in range(1, decisions + 1):
        clock.advance(seconds=1)
        yield "create", n, -1, {"title": f"征地补偿标准调整（第 {n} 号）"}, clock()
    for index, step in enumerate(MAJOR_DECISION_PATH):
        clock.advance(days=step.wait_days, minutes=5)
        ctx = StepContext(today=clock.today, expert_ids=(5,))
        for n in range(1, decisions + 1):
            yield step.name, n, index, step.payload(ctx), clock()


class FloorWriter:
    """Writes one action's rows with a raw driver, one commit per action."""

    def __init__(self, execute: Callable[[str, tuple[Any, ...]], None], mark: str) -> None:
        self.execute = execute
        self.mark = mark  # the driver's placeholder
        self.head_seq = 0
        self.head_hash = audit.GENESIS_HASH
        self.versions: dict[int, int] = {}
        self.record_id = 0

    def sql(self, statement: str) -> str:
        return statement.replace("?", self.mark)

    def action(self, kind: str, n: int, payload: dict[str, Any], now: datetime) -> None:
        when = now.astimezone(UTC).replace(tzinfo=None)
        stamp = when.strftime(SQLITE_TIME)
        data = canonical(payload)
        if kind == "create":
            self.execute(
                self.sql(
                    "INSERT INTO decisions (id, title, category, procedure, definition_version,"
                    " undertaking_unit_id, flags, state, state_entered_at, branch_states, version,"
                    " created_by, created_at, updated_at)"
                    " VALUES (?, ?, 'public_policy', 'major_decision', 1, 1, ?, 'proposed', ?, '{}',"
                    " 1, 1, ?, ?)"
                ),
                (n, payload["title"], canonical(dict(FLAGS_FOR_PATH)), when, when, when),
            )
            self.versions[n] = 1
            detail = "{}"
        else:
            version = self.versions[n]
            self.execute(
                self.sql(
                    "UPDATE decisions SET state = ?, state_entered_at = ?, branch_states = ?,"
                    " version = ?, updated_at = ? WHERE id = ? AND version = ?"
                ),
                (kind[:64], when, "{}", version + 1, when, n, version),
            )
            self.versions[n] = version + 1
            self.record_id += 1
            self.execute(
                self.sql(
                    "INSERT INTO step_records (id, decision_id, kind, data, state, branch,"
                    " created_by, created_at) VALUES (?, ?, ?, ?, ?, NULL, 1, ?)"
                ),
                (self.record_id, n, kind, data, kind[:64], when),
            )
            detail = canonical({"record_id": self.record_id, "version": version + 1})
        seq = self.head_seq + 1
        values = (
            seq, stamp, 1, "staff_a", "staff", "housing", kind, "done", n, "proposed", kind[:64],
            sha256(data), detail, "bench", self.head_hash,
        )  # fmt: skip
        event_hash = sha256(json.dumps(values, ensure_ascii=False, separators=(",", ":")))
        self.execute(
            self.sql(
                "INSERT INTO audit_events (seq, occurred_at, actor_id, actor_username, actor_role,"
                " actor_department, action, outcome, decision_id, state_before, state_after,"
                " payload_digest, detail, origin, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (*values[:1], when, *values[2:], event_hash),
        )
        self.execute(
            self.sql("UPDATE audit_chain_head SET seq = ?, hash = ? WHERE id = 1"),
            (seq, event_hash),
        )
        self.head_seq, self.head_hash = seq, event_hash


FLOOR_SETUP = [
    "INSERT INTO departments (id, code, name_zh, name_en) VALUES (1, 'housing', '住房', 'Housing')",
    "INSERT INTO users (id, username, display_name, password_hash, role, department_id, active,"
    " created_at) VALUES (1, 'staff_a', 'staff', 'x', 'staff', 1, TRUE, '2026-03-01 00:00:00')",
]


def run_floor_sqlite(path: Path, decisions: int) -> Row:
    """The floor on SQLite: the same pragmas as the engine's, BEGIN IMMEDIATE ... COMMIT."""
    migrated(f"sqlite:///{path}")
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    for statement in FLOOR_SETUP:
        db.execute(statement)
    # the engine stores times as this text on SQLite
    sqlite3.register_adapter(datetime, lambda d: d.strftime(SQLITE_TIME))

    def execute(sql: str, params: tuple[Any, ...]) -> None:
        db.execute(sql, params)

    writer = FloorWriter(execute, "?")
    actions = list(floor_actions(decisions))
    with Stopwatch() as watch:
        for kind, n, _, payload, now in actions:
            db.execute("BEGIN IMMEDIATE")
            writer.action(kind, n, payload, now)
            db.execute("COMMIT")
    db.close()
    return Row("floor: raw sqlite3", "sqlite", len(actions), watch.wall, "actions/s", watch.cpu)


def run_floor_postgres(url: str, decisions: int) -> Row:
    """The floor on PostgreSQL: raw psycopg, one transaction per action."""
    import psycopg

    migrated(url)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as db:
        with db.transaction():
            for statement in FLOOR_SETUP:
                db.execute(statement)
        cursor = db.cursor()

        def execute(sql: str, params: tuple[Any, ...]) -> None:
            cursor.execute(sql, params)

        writer = FloorWriter(execute, "%s")
        actions = list(floor_actions(decisions))
        with Stopwatch() as watch:
            for kind, n, _, payload, now in actions:
                with db.transaction():
                    writer.action(kind, n, payload, now)
    return Row("floor: raw psycopg", "postgresql", len(actions), watch.wall, "actions/s", watch.cpu)


# -- (b) verification -----------------------------------------------------------------------------
def read_texts(url: str) -> list[bytes]:
    """Every event's canonical text, as the verifier hashes it, held in memory."""
    engine = make_engine(url)
    with engine.connect() as connection:
        sql = audit._events_sql(connection.dialect.name)
        rows = connection.exec_driver_sql(sql).all()
    engine.dispose()
    return [audit.canonical_event(tuple(r)[: len(audit.CHAINED_COLUMNS)]).encode() for r in rows]


def time_verify(url: str, repeat: int) -> tuple[Stopwatch, int]:
    """The fastest of `repeat` full verifications, and the events it checked."""
    engine = make_engine(url)
    best: Stopwatch | None = None
    try:
        for _ in range(repeat):
            with engine.connect() as connection, Stopwatch() as watch:
                result = audit.verify(connection)
            if not result.ok:
                raise SystemExit(f"the chain does not verify: {result}")
            best = watch if best is None or watch.wall < best.wall else best
    finally:
        engine.dispose()
    assert best is not None
    return best, result.events_checked


def time_hashing(texts: list[bytes], repeat: int) -> Stopwatch:
    """The fastest of `repeat` runs of SHA-256 over the texts alone (any verifier's floor)."""
    best: Stopwatch | None = None
    sha256 = hashlib.sha256
    for _ in range(repeat):
        with Stopwatch() as watch:
            for data in texts:
                sha256(data).hexdigest()
        best = watch if best is None or watch.wall < best.wall else best
    assert best is not None
    return best


def grow_chain(url: str, total: int) -> None:
    """Extend the chain to `total` events by repeating its own events, each rehashed."""
    engine = make_engine(url)
    with engine.connect() as connection:
        sql = audit._events_sql(connection.dialect.name)
        template = [tuple(r) for r in connection.exec_driver_sql(sql).all()]
        head_seq, head_hash = connection.exec_driver_sql(
            "SELECT seq, hash FROM audit_chain_head WHERE id = 1"
        ).one()
    engine.dispose()
    moment = datetime.strptime(template[-1][1], SQLITE_TIME)

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal head_hash, moment
        for seq in range(head_seq + 1, total + 1):
            moment += timedelta(seconds=1)
            base = template[seq % len(template)]
            values = (seq, moment.strftime(SQLITE_TIME), *base[2:-2], head_hash)
            head_hash = hashlib.sha256(audit.canonical_event(values).encode()).hexdigest()
            yield (*values, head_hash)

    columns = ", ".join((*audit.CHAINED_COLUMNS, "hash"))
    if dialect_of(url) == "sqlite":
        db = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            f"INSERT INTO audit_events ({columns}) VALUES ({', '.join('?' * 16)})", rows()
        )
        db.execute("UPDATE audit_chain_head SET seq = ?, hash = ? WHERE id = 1", (total, head_hash))
        db.execute("COMMIT")
        db.close()
        return
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as db, db.transaction():
        with db.cursor().copy(f"COPY audit_events ({columns}) FROM STDIN") as copy:
            for row in rows():
                copy.write_row(row)
        db.execute(
            "UPDATE audit_chain_head SET seq = %s, hash = %s WHERE id = 1", (total, head_hash)
        )


def verify_rows(url: str, label: str, repeat: int) -> list[Row]:
    verified, events = time_verify(url, repeat)
    hashed = time_hashing(read_texts(url), repeat)
    database = dialect_of(url)
    return [
        Row(f"audit verify ({label})", database, events, verified.wall, "events/s", verified.cpu),
        Row(
            f"floor: sha256 alone ({label})", database, events, hashed.wall, "events/s", hashed.cpu
        ),
    ]


def use_pooled_sqlite() -> None:
    """Diagnostic only: build the engine with a pooled SQLite engine (db.py uses NullPool)."""
    from sqlalchemy.pool import QueuePool

    import decisionflow.bootstrap

    def pooled(url: str, **kwargs: Any) -> Any:
        if url.startswith("sqlite"):
            kwargs.setdefault("poolclass", QueuePool)
        return make_engine(url, **kwargs)

    decisionflow.bootstrap.make_engine = pooled  # type: ignore[assignment]


# -- the report -------------------------------------------------------------------------------
def dialect_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def machine() -> str:
    version = sqlite3.sqlite_version
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"SQLite {version}"
    )


def print_table(rows: list[Row], checks: list[tuple[str, float, str]], out: Any) -> None:
    print(
        f"{'what':38} {'db':10} {'count':>7} {'wall s':>7} {'cpu s':>7} {'rate (wall)':>12}  unit",
        file=out,
    )
    for row in rows:
        print(
            f"{row.what:38} {row.database:10} {row.count:>7} {row.seconds:>7.2f} "
            f"{row.cpu:>7.2f} {row.rate:>12,.0f}  {row.unit}",
            file=out,
        )
    print(file=out)
    for label, value, target in checks:
        print(f"{label:52} {value:>12,.2f}  {target}", file=out)


def target(value: float, at_least: float) -> str:
    return f"(target >= {at_least:,.2f}: {'met' if value >= at_least else 'NOT MET'})"


def run_sqlite(args: argparse.Namespace, workdir: Path) -> tuple[list[Row], list[Any]]:
    stamp = uuid.uuid4().hex[:8]
    url = f"sqlite:///{workdir / f'service-{stamp}.db'}"
    service, unsigned = run_service(url, args.decisions, workdir / "sqlite", args.profile)
    floor = run_floor_sqlite(workdir / f"floor-{stamp}.db", args.decisions)
    rows = [service, unsigned, floor, *verify_rows(url, f"{service.count} events", args.repeat)]
    ratio = unsigned.rate / floor.rate
    checks = [
        ("sqlite: service (unsigned) / floor, actions/s", ratio, target(ratio, 0.2)),
        ("sqlite: service (all, with Argon2id signatures) / floor", service.rate / floor.rate, ""),
    ]
    if args.big_chain > service.count:
        grow_chain(url, args.big_chain)
        verified, hashed = verify_rows(url, f"{args.big_chain} events", args.repeat)
        rows += [verified, hashed]
        checks.append(
            ("sqlite: audit verify, events/s", verified.rate, target(verified.rate, 200_000))
        )
        checks.append(("sqlite: verify / sha256 alone", verified.rate / hashed.rate, ""))
    return rows, checks


def run_postgres(args: argparse.Namespace, workdir: Path) -> tuple[list[Row], list[Any]]:
    with postgres_database(args.postgres_url, "service") as url:
        service, unsigned = run_service(url, args.decisions, workdir / "pg", None)
        with postgres_database(args.postgres_url, "floor") as floor_url:
            floor = run_floor_postgres(floor_url, args.decisions)
        rows = [service, unsigned, floor]
        checks = [
            ("postgresql: service (unsigned) / floor, actions/s", unsigned.rate / floor.rate, ""),
            ("postgresql: service (all) / floor, actions/s", service.rate / floor.rate, ""),
        ]
        if args.big_chain > service.count:
            grow_chain(url, args.big_chain)
            verified, hashed = verify_rows(url, f"{args.big_chain} events", args.repeat)
            rows += [verified, hashed]
            checks.append(("postgresql: audit verify, events/s", verified.rate, ""))
            checks.append(("postgresql: verify / sha256 alone", verified.rate / hashed.rate, ""))
    return rows, checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Figures vary with the machine and its load; run it on a quiet machine.",
    )
    parser.add_argument(
        "-n",
        "--decisions",
        type=int,
        default=40,
        help="decisions to walk through the procedure (default 40, i.e. 960 actions)",
    )
    parser.add_argument(
        "--big-chain",
        type=int,
        default=200_000,
        help="events in the big chain for verification (default 200000; 0 to skip)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="verification runs; the best is kept (default 3)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("DECISIONFLOW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="admin URL of a PostgreSQL server; the bench creates and drops databases of its own",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE.prof",
        help="cProfile the SQLite service path into this file and print where its time goes",
    )
    parser.add_argument(
        "--pooled-sqlite",
        action="store_true",
        help="diagnostic: run the SQLite service path with a connection pool (QueuePool) "
        "instead of decisionflow.db's NullPool, to show what a connection per action costs",
    )
    parser.add_argument(
        "--workdir", type=Path, help="where the SQLite files go (default: a temporary folder)"
    )
    args = parser.parse_args(argv)

    out = sys.stdout
    print("command: " + shlex.join([Path(sys.executable).name, *sys.argv]), file=out)
    print("machine: " + machine(), file=out)
    if args.pooled_sqlite:
        use_pooled_sqlite()
        print("note:    --pooled-sqlite: SQLite service path on a QueuePool (diagnostic)", file=out)
    with tempfile.TemporaryDirectory(prefix="decisionflow-bench-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        rows, checks = run_sqlite(args, workdir)
        problem = "--no-postgres" if args.no_postgres else postgres_problem(args.postgres_url)
        if problem:
            print(f"postgres: skipped ({problem})", file=out)
        else:
            pg_rows, pg_checks = run_postgres(args, workdir)
            rows += pg_rows
            checks += pg_checks
    print(file=out)
    print_table(rows, checks, out)
    if args.profile:
        print(f"\nwhere the SQLite service path spends its time ({args.profile}):", file=out)
        stats = pstats.Stats(str(args.profile), stream=out)
        stats.sort_stats("cumulative").print_stats(r"decisionflow", 25)
        stats.sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
