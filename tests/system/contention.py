"""Seeding decisions for contention, and what the database must show after many clients acted."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, text

from config import Settings
from decisionflow.accounts import hash_password
from decisionflow.bootstrap import build
from decisionflow.demo import MAJOR_DECISION_PATH, StepContext, take_step
from decisionflow.roles import Role
from tests.system.clients import DRAFT, OPENED_VERSION, OPENING_STEPS, RETURN, SUBMIT, Outcome, Site
from tests.system.live_server import LiveServer, gunicorn_server


def seed_site(settings: Settings, *, decisions: int, clients: int, password: str) -> Site:
    """Departments, a user of every role, `decisions` decisions opened and drafted, and tokens
    for department A's clerk, one per client."""
    from tests.conftest import make_people  # the test suite's people, in one place

    parts = build(settings)
    try:
        people = make_people(parts, hash_password(password))
        context = StepContext(
            today=date.today(), expert_ids=(people[Role.EXPERT].id,), password=password
        )
        ids = []
        for number in range(decisions):
            view = parts.decisions.create_decision(
                people[Role.STAFF],
                title=f"并发测试决策 {number + 1}",
                category="public_policy",
                undertaking_unit="housing",
                flags={},
            )
            for step in MAJOR_DECISION_PATH[:OPENING_STEPS]:
                take_step(parts.decisions, step, people[step.role], view.id, context)
            ids.append(view.id)
        clerk = people[Role.STAFF].username
        tokens = tuple(
            parts.tokens.issue(people[Role.ADMIN], username=clerk, name=f"client {n}")
            for n in range(clients)
        )
        return Site(tuple(ids), tokens)
    finally:
        parts.dispose()


# -- what the database must show afterwards -------------------------------------------------


@dataclass(frozen=True)
class Event:
    """An audit event about one of the decisions."""

    seq: int
    decision_id: int
    action: str
    outcome: str
    state_before: str
    state_after: str
    version: int | None
    #: the record a move or an added record made
    record_id: int | None = None


def audit_events(engine: Engine, decision_ids: Iterable[int]) -> dict[int, list[Event]]:
    """Each decision's audit events, in the chain's order."""
    ids = sorted(decision_ids)
    by_decision: dict[int, list[Event]] = {d: [] for d in ids}
    query = text(
        "SELECT seq, decision_id, action, outcome, state_before, state_after, detail"
        " FROM audit_events WHERE decision_id IS NOT NULL ORDER BY seq"
    )
    with engine.connect() as connection:
        for row in connection.execute(query):
            if row.decision_id in by_decision:
                detail = json.loads(row.detail or "{}")
                by_decision[row.decision_id].append(
                    Event(
                        row.seq,
                        row.decision_id,
                        row.action,
                        row.outcome,
                        row.state_before,
                        row.state_after,
                        detail.get("version"),
                        detail.get("record_id"),
                    )
                )
    return by_decision


def newest_seq(engine: Engine) -> int:
    """The audit chain's newest event number."""
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT seq FROM audit_chain_head")).scalar_one())


def record_ids(engine: Engine, decision_ids: Iterable[int]) -> dict[int, set[int]]:
    """The ids of each decision's stored records."""
    found: dict[int, set[int]] = {d: set() for d in decision_ids}
    with engine.connect() as connection:
        for row in connection.execute(text("SELECT id, decision_id FROM step_records")):
            if row.decision_id in found:
                found[row.decision_id].add(row.id)
    return found


def decision_rows(engine: Engine, decision_ids: Iterable[int]) -> dict[int, tuple[str, int]]:
    """Each decision's stored state and version."""
    wanted = set(decision_ids)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, state, version FROM decisions"))
        return {r.id: (r.state, r.version) for r in rows if r.id in wanted}


def _stage(position: str) -> str:
    """The main stage of an audited position ("argumentation/branch:state" -> "argumentation")."""
    return position.split("/", 1)[0]


def disagreements(engine: Engine, decision_ids: Iterable[int]) -> list[str]:
    """Where a decision's stored state differs from what its audit events say, or the events
    skip or repeat a version: empty when every decision is exactly its audited history."""
    ids = list(decision_ids)
    events, rows = audit_events(engine, ids), decision_rows(engine, ids)
    records = record_ids(engine, ids)
    problems: list[str] = []
    for decision_id in ids:
        done = [e for e in events[decision_id] if e.outcome == "done"]
        if not done or done[0].action != "create_decision":
            problems.append(f"decision {decision_id}: its creation is not audited first")
            continue
        version, stage = 1, _stage(done[0].state_after)
        for event in done[1:]:
            if event.version != version + 1:
                problems.append(
                    f"decision {decision_id}: event {event.seq} ({event.action}) made version "
                    f"{event.version}, after version {version}"
                )
            if event.state_before != stage:
                problems.append(
                    f"decision {decision_id}: event {event.seq} ({event.action}) starts from "
                    f"{event.state_before!r}, but the audit left it at {stage!r}"
                )
            version, stage = event.version or version, _stage(event.state_after)
        # every stored record was made by an audited change, and no refusal left one behind
        audited = {e.record_id for e in done if e.record_id is not None}
        if records[decision_id] != audited:
            problems.append(
                f"decision {decision_id}: records {sorted(records[decision_id] - audited)} stored"
                f" without their audit event, {sorted(audited - records[decision_id])} audited"
                " but not stored"
            )
        if rows[decision_id] != (stage, version):
            problems.append(
                f"decision {decision_id}: stored {rows[decision_id]}, audited {(stage, version)}"
            )
    return problems


@dataclass(frozen=True)
class Tally:
    """What the clients saw, next to what the audit log holds, for the moves after the seed."""

    attempted: int
    acknowledged: int
    conflicts: int
    refused_by_stage: int
    no_answer: int
    by_status: dict[int | None, int]
    #: acknowledged moves the audit log lacks (must be empty)
    lost: list[tuple[int, int, str]]
    #: audited moves no client saw acknowledged (must be empty, or covered by moves with no answer)
    unacknowledged: list[tuple[int, int, str]]
    #: audited refusals by outcome (conflict, rule_not_met...)
    audited_refusals: dict[str, int]


def tally(engine: Engine, outcomes: Sequence[Outcome], decision_ids: Iterable[int]) -> Tally:
    """Compare every move the clients sent with the audit log's events for them."""
    events = audit_events(engine, decision_ids)
    moves = [o for o in outcomes if o.action != "read"]
    acked = Counter(
        (o.decision_id, o.version, o.action)
        for o in moves
        if o.status is not None and 200 <= o.status < 300
    )
    audited: Counter[tuple[int, int, str]] = Counter()
    refusals: Counter[str] = Counter()
    for trail in events.values():
        for event in trail:
            if event.action == "create_decision" or (
                event.outcome == "done" and (event.version or 0) <= OPENED_VERSION
            ):
                continue  # the seed's own steps
            if event.outcome == "done":
                audited[(event.decision_id, event.version or 0, event.action)] += 1
            elif event.action in (SUBMIT, RETURN, DRAFT):
                refusals[event.outcome] += 1
    statuses = Counter(o.status for o in moves)
    return Tally(
        attempted=len(moves),
        acknowledged=sum(acked.values()),
        conflicts=statuses[409],
        refused_by_stage=statuses[422],
        no_answer=statuses[None],
        by_status=dict(statuses),
        lost=sorted((acked - audited).elements()),
        unacknowledged=sorted((audited - acked).elements()),
        audited_refusals=dict(refusals),
    )


def duplicates(outcomes: Sequence[Outcome]) -> list[tuple[int, int]]:
    """(decision, version) pairs acknowledged more than once: a doubled move."""
    seen = Counter(
        (o.decision_id, o.version)
        for o in outcomes
        if o.status is not None and 200 <= o.status < 300
    )
    return sorted(k for k, n in seen.items() if n > 1)


def per_decision_no_answer(outcomes: Sequence[Outcome]) -> dict[int, int]:
    """How many moves per decision got no answer (the server died while they were in flight)."""
    counts: dict[int, int] = defaultdict(int)
    for o in outcomes:
        if o.status is None and o.action != "read":
            counts[o.decision_id] += 1
    return dict(counts)


@contextmanager
def serving(
    database_url: str, instance: Path, *, log: Path, workers: int = 4, threads: int = 2
) -> Iterator[LiveServer]:
    """gunicorn serving that database; a failure to start shows the end of the server's log."""
    try:
        with gunicorn_server(
            server_env(database_url, instance), workers=workers, threads=threads, log=log
        ) as server:
            yield server
    except RuntimeError as err:
        if "gunicorn" not in str(err) or not log.exists():
            raise
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{err}\n--- end of {log} ---\n{tail}") from err


def restart(server: LiveServer, log: Path) -> None:
    """Start a killed server again; a failure shows the end of its log."""
    try:
        server.start()
    except RuntimeError as err:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{err}\n--- end of {log} ---\n{tail}") from err


def server_env(database_url: str, instance: Path) -> dict[str, str]:
    """The DECISIONFLOW_* environment of a server on that database."""
    return {
        "DECISIONFLOW_DATABASE_URL": database_url,
        "DECISIONFLOW_INSTANCE_PATH": str(instance),
        "DECISIONFLOW_PROFILE": "test",
        "DECISIONFLOW_SECRET_KEY": "system-test-secret-key-not-for-production",
    }
