"""The server is killed (SIGKILL) again and again while clients drive decisions forward.

After each crash, before the server comes back, the database must be whole: every decision
stands where its audited history leaves it and the hash chain verifies. After the run, every move
a client saw acknowledged is in the audit log; a move audited but never acknowledged is only one
whose answer the crash swallowed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from decisionflow import audit
from decisionflow.db import make_engine
from tests.conftest import PASSWORD, settings_for
from tests.system.clients import Run, plans_for
from tests.system.contention import (
    disagreements,
    duplicates,
    newest_seq,
    per_decision_no_answer,
    restart,
    seed_site,
    serving,
    tally,
)

#: the short form for CI; bench/bench_concurrency.py crash runs the long one
KILLS, CLIENTS, BLIND_CLIENTS, DECISIONS = 3, 4, 1, 3
#: audit events the clients must add between two kills: the server is killed under load
PROGRESS = 10
#: how long the clients may take to make that progress (a bound, not a measurement)
PATIENCE = 120.0
#: the clients stop when told to, at the run's end; this only bounds a run gone wrong
CLIENTS_LIMIT = 900.0


def wait_for_progress(engine: Engine, since: int) -> int:
    """Wait until the clients have added PROGRESS audit events after `since`."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        seq = newest_seq(engine)
        if seq >= since + PROGRESS:
            return seq
        time.sleep(0.05)
    raise AssertionError(f"the clients made no progress in {PATIENCE} s after event {since}")


def assert_whole(engine: Engine, decision_ids: tuple[int, ...], when: str) -> None:
    """Every decision is its audited history, and the chain verifies."""
    assert disagreements(engine, decision_ids) == [], when
    with engine.connect() as connection:
        verification = audit.verify(connection)
    assert verification.ok, f"{when}: {verification}"


@pytest.mark.parametrize(
    "database", [pytest.param("system_postgres", marks=pytest.mark.postgres), "system_sqlite"]
)
def test_acknowledged_moves_survive_repeated_sigkill(
    database: str, request: pytest.FixtureRequest, tmp_path: Path, server_log: Path
) -> None:
    url: str = request.getfixturevalue(database)
    instance = tmp_path / "instance"
    site = seed_site(
        settings_for(url, instance), decisions=DECISIONS, clients=CLIENTS, password=PASSWORD
    )
    engine = make_engine(url)
    try:
        with serving(url, instance, log=server_log, workers=2) as server:
            plans = plans_for(
                site, server.url, blind=BLIND_CLIENTS, seconds=CLIENTS_LIMIT, patient=True
            )
            with Run(plans) as run:
                seq = newest_seq(engine)
                for kill in range(1, KILLS + 1):
                    seq = wait_for_progress(engine, seq)
                    server.kill()
                    engine.dispose()  # no connection of ours outlives the crash's view
                    assert_whole(engine, site.decision_ids, f"after kill {kill}")
                    restart(server, server_log)
                wait_for_progress(engine, newest_seq(engine))  # the restarted server serves
                outcomes = run.finish(stop=True)

        for o in outcomes:
            allowed = {200, 201, 409, None} | ({422} if o.blind else set())
            assert o.status in allowed, f"{o} (see {server_log})"
        counts = tally(engine, outcomes, site.decision_ids)
        print(
            f"{KILLS} kills; moves sent {counts.attempted}, acknowledged {counts.acknowledged},"
            f" answers {counts.by_status}"
        )
        assert counts.lost == [], "moves a client saw acknowledged are missing after a crash"
        assert duplicates(outcomes) == [], "a version was acknowledged twice: a doubled move"
        # A move the crash cut off may have committed before its answer was lost; no other
        # move may appear in the log without its acknowledgement.
        cut_off = per_decision_no_answer(outcomes)
        for decision_id in site.decision_ids:
            extra = [u for u in counts.unacknowledged if u[0] == decision_id]
            assert len(extra) <= cut_off.get(decision_id, 0), (decision_id, extra)
        assert (
            counts.conflicts
            <= counts.audited_refusals.get("conflict", 0)
            <= counts.conflicts + counts.no_answer
        )
        assert_whole(engine, site.decision_ids, "after the run")
    finally:
        engine.dispose()
