"""Many clients make the same moves on the same decisions at once, over HTTP, on PostgreSQL.

Exactly one of each contested move may win. Every other client is told so — 409 when it named
the version it saw, 409 or a 422 naming the stage rule when it did not — and never 500. Afterwards
the audit log holds each acknowledged move once and no other, every refusal once, each decision
stands where its audited history leaves it, and the hash chain verifies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from decisionflow import audit
from decisionflow.db import make_engine
from tests.conftest import PASSWORD, settings_for
from tests.system.clients import OPENED_VERSION, Run, plans_for
from tests.system.contention import (
    decision_rows,
    disagreements,
    duplicates,
    seed_site,
    serving,
    tally,
)

pytestmark = pytest.mark.postgres

#: the short form for CI; bench/bench_concurrency.py runs the long one
CLIENTS, BLIND_CLIENTS, DECISIONS, MOVES_EACH = 6, 2, 3, 16


def test_contested_moves_are_won_once_and_refused_cleanly(
    system_postgres: str, tmp_path: Path, server_log: Path
) -> None:
    instance = tmp_path / "instance"
    site = seed_site(
        settings_for(system_postgres, instance),
        decisions=DECISIONS,
        clients=CLIENTS,
        password=PASSWORD,
    )
    target = OPENED_VERSION + MOVES_EACH
    with serving(system_postgres, instance, log=server_log) as server:
        plans = plans_for(site, server.url, blind=BLIND_CLIENTS, until_version=target, seconds=150)
        with Run(plans) as run:
            outcomes = run.finish()

    engine = make_engine(system_postgres)
    try:
        # Every answer is a win or a clean refusal: nothing failed, nothing went unanswered.
        for o in outcomes:
            allowed = {200, 201, 409} | ({422} if o.blind else set())
            assert o.status in allowed, f"{o} (see {server_log})"
            if o.status == 409:
                assert o.code == "conflict"
            if o.status == 422:  # a blind move the stage has moved past: which rule, which article
                unmet = json.loads(o.detail)["unmet"]
                assert o.code == "rule_not_met" and unmet and all(u["article"] for u in unmet)
        # the clients ran until every decision had made its moves, not out of time
        rows = decision_rows(engine, site.decision_ids)
        assert all(version >= target for _, version in rows.values()), rows

        counts = tally(engine, outcomes, site.decision_ids)
        print(
            f"moves sent {counts.attempted}, acknowledged {counts.acknowledged}, answers {counts.by_status}"
        )
        assert counts.conflicts > 0, "no two clients ever raced: the test proved nothing"
        assert duplicates(outcomes) == [], "a version was acknowledged twice: a doubled move"
        assert counts.lost == [], "acknowledged moves missing from the audit log"
        assert counts.unacknowledged == [], "audited moves that no client saw succeed"
        # each refusal wrote its own audit entry, once, and nothing else
        assert counts.audited_refusals.get("conflict", 0) == counts.conflicts
        assert counts.audited_refusals.get("rule_not_met", 0) == counts.refused_by_stage
        assert set(counts.audited_refusals) <= {"conflict", "rule_not_met"}

        assert disagreements(engine, site.decision_ids) == []
        with engine.connect() as connection:
            verification = audit.verify(connection)
        assert verification.ok, str(verification)
    finally:
        engine.dispose()
