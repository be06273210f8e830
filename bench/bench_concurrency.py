"""The long forms of the concurrency, crash and fuzz system tests, with their figures.

contention  many client processes race the same moves on the same decisions, over HTTP, against
            gunicorn on a fresh database (PostgreSQL by default). Beside it, the floor: the same
            number of moves sent by one client alone, nobody racing it.
crash       the same load while the server is SIGKILLed again and again; after each kill the
            database is checked while nothing runs; then every acknowledged move must be in the
            audit log.
fuzz        the Schemathesis run of tests/system/test_fuzz_api.py with many more examples.

Checks, not timings, decide the exit status: anything lost, doubled, unacknowledged without
excuse, any state that is not its audited history, a broken chain, or an answer that is no win
or clean refusal makes it exit 1. Figures depend on the machine and its load.

Run from the repository root:  .venv/bin/python bench/bench_concurrency.py --help
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from decisionflow import audit  # noqa: E402
from decisionflow.db import make_engine  # noqa: E402
from tests.conftest import (  # noqa: E402
    PASSWORD,
    _postgres_reachable,
    create_postgres_database,
    drop_postgres_database,
    settings_for,
)
from tests.system.clients import OPENED_VERSION, Outcome, Run, Site, plans_for  # noqa: E402
from tests.system.conftest import create_sqlite_database  # noqa: E402
from tests.system.contention import (  # noqa: E402
    Tally,
    disagreements,
    duplicates,
    newest_seq,
    per_decision_no_answer,
    restart,
    seed_site,
    serving,
    tally,
)
from tests.system.live_server import LiveServer  # noqa: E402


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, migrated database of the bench's own."""
    if kind == "sqlite":
        yield create_sqlite_database(folder / "instance")
        return
    problem = _postgres_reachable()
    if problem is not None:
        sys.exit(f"PostgreSQL is not reachable ({problem}); try --database sqlite")
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@dataclass
class Verdict:
    """Checks that failed, by name."""

    failures: list[str]

    def check(self, ok: bool, what: str) -> None:
        print(f"  {'ok  ' if ok else 'FAIL'}  {what}")
        if not ok:
            self.failures.append(what)


def _whole(url: str, site: Site, verdict: Verdict, when: str) -> None:
    engine = make_engine(url)
    try:
        found = disagreements(engine, site.decision_ids)
        verdict.check(not found, f"{when}: every decision is its audited history {found[:3]}")
        with engine.connect() as connection:
            verification = audit.verify(connection)
        verdict.check(verification.ok, f"{when}: the audit chain verifies ({verification})")
    finally:
        engine.dispose()


def _answers_clean(outcomes: list[Outcome], verdict: Verdict, *, crash: bool) -> None:
    wrong = []
    for o in outcomes:
        allowed = {200, 201, 409} | ({422} if o.blind else set()) | ({None} if crash else set())
        if o.status not in allowed:
            wrong.append(o)
    verdict.check(not wrong, f"every answer a win or a clean refusal {wrong[:2]}")


def _report(url: str, site: Site, outcomes: list[Outcome], seconds: float) -> tuple[Tally, float]:
    """Print what the clients saw beside the audit log; the tally and acknowledged moves/s."""
    engine = make_engine(url)
    try:
        counts = tally(engine, outcomes, site.decision_ids)
    finally:
        engine.dispose()
    rate = counts.acknowledged / seconds if seconds else 0.0
    print(f"  moves attempted          {counts.attempted:>8}")
    print(f"  acknowledged (2xx)       {counts.acknowledged:>8}")
    print(f"  conflicts (409)          {counts.conflicts:>8}")
    print(f"  refused by stage (422)   {counts.refused_by_stage:>8}")
    print(f"  no answer (cut off)      {counts.no_answer:>8}")
    print(f"  lost                     {len(counts.lost):>8}")
    print(f"  doubled                  {len(duplicates(outcomes)):>8}")
    print(f"  audited, unacknowledged  {len(counts.unacknowledged):>8}")
    print(f"  audited refusals         {counts.audited_refusals}")
    print(f"  wall s                   {seconds:>8.2f}")
    print(f"  acknowledged moves/s     {rate:>8.1f}")
    return counts, rate


@contextmanager
def _served_site(args: argparse.Namespace, folder: Path) -> Iterator[tuple[str, Site, LiveServer]]:
    """A fresh database seeded with the clients' decisions and accounts, served by gunicorn."""
    with database(args.database, folder) as url:
        instance = folder / "instance"
        site = seed_site(
            settings_for(url, instance),
            decisions=args.decisions,
            clients=args.clients,
            password=PASSWORD,
        )
        with serving(
            url, instance, log=folder / "gunicorn.log", workers=args.workers, threads=args.threads
        ) as server:
            yield url, site, server


def contention(args: argparse.Namespace, folder: Path, verdict: Verdict) -> None:
    """Race, then the floor: one client alone making as many moves."""
    target = OPENED_VERSION + args.moves
    with _served_site(args, folder) as (url, site, server):
        plans = plans_for(
            site, server.url, blind=args.blind, until_version=target, seconds=args.limit
        )
        with Run(plans) as race:
            outcomes = race.finish(timeout=args.limit + 60)
            seconds = time.perf_counter() - race.started
        print(
            f"\ncontention: {args.clients} clients ({args.blind} blind), {args.decisions}"
            f" decisions, {args.moves} moves each, {args.database}"
        )
        counts, rate = _report(url, site, outcomes, seconds)
        _answers_clean(outcomes, verdict, crash=False)
        verdict.check(not counts.lost, "no acknowledged move is missing")
        verdict.check(not duplicates(outcomes), "no move acknowledged twice")
        verdict.check(not counts.unacknowledged, "no audited move without its acknowledgement")
        verdict.check(
            counts.audited_refusals.get("conflict", 0) == counts.conflicts,
            "each 409 audited once",
        )
        verdict.check(
            counts.audited_refusals.get("rule_not_met", 0) == counts.refused_by_stage,
            "each 422 audited once",
        )
        _whole(url, site, verdict, "after the race")

        # The floor: one client alone makes as many moves again on the same decisions,
        # nobody racing it: the same requests, the simplest way.
        alone = Site(site.decision_ids, site.tokens[:1])
        floor_target = target + args.moves
        lone_plans = plans_for(alone, server.url, until_version=floor_target, seconds=args.limit)
        with Run(lone_plans) as lone:
            floor = lone.finish(timeout=args.limit + 60)
            floor_seconds = time.perf_counter() - lone.started
        floor_acks = sum(1 for o in floor if o.status in (200, 201))
        floor_rate = floor_acks / floor_seconds if floor_seconds else 0.0
        print(
            f"\nfloor: 1 client alone, {floor_acks} moves in {floor_seconds:.2f} s:"
            f" {floor_rate:.1f} moves/s"
        )
        print(
            f"contended / alone, acknowledged moves/s: {rate / floor_rate:.2f}"
            f"  ({counts.acknowledged} moves by {args.clients} racing clients)"
        )


def crash(args: argparse.Namespace, folder: Path, verdict: Verdict) -> None:
    """Kill the server args.kills times under load, checking the database after each kill."""
    restarts: list[float] = []
    with _served_site(args, folder) as (url, site, server):
        engine = make_engine(url)
        plans = plans_for(site, server.url, blind=args.blind, seconds=args.limit, patient=True)
        with Run(plans) as run:
            for kill in range(1, args.kills + 1):
                seq = newest_seq(engine)
                deadline = time.monotonic() + 60
                while newest_seq(engine) < seq + args.progress and time.monotonic() < deadline:
                    time.sleep(0.02)
                server.kill()
                engine.dispose()
                _whole(url, site, verdict, f"after kill {kill}")
                began = time.perf_counter()
                restart(server, folder / "gunicorn.log")
                restarts.append(time.perf_counter() - began)
            time.sleep(1.0)
            outcomes = run.finish(stop=True)
            seconds = time.perf_counter() - run.started
        engine.dispose()
        print(
            f"\ncrash: {args.kills} SIGKILLs, {args.clients} clients ({args.blind} blind),"
            f" {args.decisions} decisions, {args.database}"
        )
        counts, _rate = _report(url, site, outcomes, seconds)
        if restarts:
            print(
                f"  restart s (mean, max)    {sum(restarts) / len(restarts):>8.2f} "
                f"{max(restarts):.2f}"
            )
        _answers_clean(outcomes, verdict, crash=True)
        verdict.check(not counts.lost, "no acknowledged move is missing after the crashes")
        verdict.check(not duplicates(outcomes), "no move acknowledged twice")
        cut_off = per_decision_no_answer(outcomes)
        excused = all(
            len([u for u in counts.unacknowledged if u[0] == d]) <= cut_off.get(d, 0)
            for d in site.decision_ids
        )
        verdict.check(excused, "each audited, unacknowledged move had its answer cut off")
        _whole(url, site, verdict, "after the run")


def fuzz(args: argparse.Namespace, _folder: Path, verdict: Verdict) -> None:
    """The Schemathesis test with args.examples examples per operation and database."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        "tests/system/test_fuzz_api.py",
    ]
    print(f"\nfuzz: FUZZ_EXAMPLES={args.examples} {shlex.join(command)}", flush=True)
    env = {**os.environ, "FUZZ_EXAMPLES": str(args.examples)}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, check=False)
    print(f"  wall s {time.perf_counter() - started:.1f}")
    verdict.check(
        result.returncode == 0, "no generated request got a 5xx or a non-conforming answer"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "modes", nargs="*", default=["contention", "crash"], choices=["contention", "crash", "fuzz"]
    )
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--blind", type=int, default=3, help="clients sending no version")
    parser.add_argument("--decisions", type=int, default=4)
    parser.add_argument("--moves", type=int, default=150, help="moves per decision (contention)")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs (crash)")
    parser.add_argument(
        "--progress",
        type=int,
        default=30,
        help="audit events the clients add between two kills (crash)",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--examples",
        type=int,
        default=300,
        help="Schemathesis examples per operation and database (fuzz)",
    )
    parser.add_argument("--limit", type=float, default=900.0, help="seconds any one run may take")
    args = parser.parse_args()

    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"machine: {platform.node()}: {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )
    verdict = Verdict([])
    for mode in args.modes:
        with tempfile.TemporaryDirectory(prefix=f"bench-{mode}-") as folder:
            {"contention": contention, "crash": crash, "fuzz": fuzz}[mode](
                args, Path(folder), verdict
            )
    print()
    if verdict.failures:
        print(f"FAILED: {len(verdict.failures)} check(s): " + "; ".join(verdict.failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
