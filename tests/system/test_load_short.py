"""The load benchmark in short: under concurrent load every request is served, none fails.

This is bench/bench_load.py at CI's size (a small seeded database, a few seconds of load at two
concurrency levels); it asserts only correctness, never timing. The long form, with the figures,
runs from bench/ (see the README).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bench.bench_load import run_size
from decisionflow import audit
from decisionflow.db import make_engine
from decisionflow.models import Decision

DECISIONS, EVENTS = 60, 3_000


def test_every_endpoint_serves_every_request_under_concurrent_load(tmp_path: Path) -> None:
    """My work, the decision list, decision pages, proposing decisions and the API, each driven
    by 1 and 4 signed-in clients at once: every answer is the expected one, and afterwards the
    audit chain is intact and holds every decision proposed."""
    lines: list[str] = []
    rows = run_size(
        decisions=DECISIONS,
        events=EVENTS,
        levels=(1, 4),
        seconds=1.5,
        workers=2,
        threads=2,
        folder=tmp_path,
        log=lines.append,
    )
    assert {(r.endpoint, r.concurrency) for r in rows} == {
        (name, level)
        for name in ("my work", "decision list", "decision page", "action POST", "API GET")
        for level in (1, 4)
    }
    for row in rows:
        what = f"{row.endpoint} at concurrency {row.concurrency}"
        assert row.sample.errors == [], (what, row.sample.errors[:3])
        assert row.sample.latencies, f"{what}: no request was answered"
        # a page served, or a proposal stored and redirected to: a 302 from a page would be the
        # sign-in redirect of a lost session
        served = {302} if row.endpoint == "action POST" else {200}
        assert set(row.sample.statuses) == served, (what, row.sample.statuses)
        assert row.floor.errors == [] and row.floor.latencies
    proposed = sum(len(r.sample.latencies) for r in rows if r.endpoint == "action POST")
    engine = make_engine(f"sqlite:///{tmp_path / f'instance-{DECISIONS}' / 'decisionflow.db'}")
    try:
        with engine.connect() as connection:
            # warm-ups propose some more decisions than the measured requests
            made = connection.execute(select(func.count()).select_from(Decision)).scalar_one()
            assert made >= DECISIONS + proposed
            verification = audit.verify(connection)
        assert verification.ok, verification
        assert verification.events_checked >= EVENTS + proposed
    finally:
        engine.dispose()
