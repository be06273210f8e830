"""Load benchmark: DecisionFlow served by gunicorn on a seeded database, beside a trivial floor.

For each database size it seeds a fresh SQLite database (bench/seed_load.py), serves the app with
tests/system/live_server.py's gunicorn server, and drives five requests from a thread pool of
persistent sessions at several concurrency levels: "my work", the decision list and a decision
page (a signed-in clerk), an action POST (proposing a decision, with the form's CSRF token, as a
browser sends it) and an API GET (a decision, by bearer token). The floor is a trivial Flask route
(bench/floor_app.py) served by the same gunicorn settings and driven the same way, in turns with
each endpoint (a few short windows each) so that both meet the same moments of a shared machine;
the ratio is the endpoint's p99 over the floor's p99 at the same concurrency.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.seed_load import Seeded, seed  # noqa: E402
from tests.system.live_server import APP, gunicorn_server  # noqa: E402

FLOOR_APP = "bench.floor_app:app"
#: the housing clerk of the demo: "my work", the lists and the decision pages are theirs
CLERK = "clerk"
#: the endpoints measured, by the names the table prints
ENDPOINTS = ("my work", "decision list", "decision page", "action POST", "API GET")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Sample:
    """What one endpoint answered at one concurrency level."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def add(self, other: Sample) -> None:
        """Take in what another window of the same measurement answered."""
        self.latencies += other.latencies
        self.statuses += other.statuses
        self.errors += other.errors
        self.elapsed += other.elapsed


@dataclass(frozen=True)
class Endpoint:
    """A request the benchmark sends, and the statuses that mean it was served as intended."""

    name: str
    send: Callable[[requests.Session, int], requests.Response]
    expected: frozenset[int]
    signed_in: bool = True
    #: where a redirect must lead (a sign-in page instead means the session was lost)
    location: re.Pattern[str] | None = None

    def served(self, response: requests.Response) -> bool:
        """Whether the response is the one a working app gives."""
        if response.status_code not in self.expected:
            return False
        return self.location is None or bool(
            self.location.search(response.headers.get("Location", ""))
        )


def sign_in(base: str, username: str, password: str) -> requests.Session:
    """A session signed in through the real form, as a browser would (CSRF token included)."""
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=30)
    token = CSRF.search(page.text)
    assert token, "the sign-in page carries no CSRF token"
    answer = session.post(
        f"{base}/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"signing in as {username} answered {answer.status_code}")
    return session


def endpoints(base: str, seeded: Seeded, decision_ids: Sequence[int]) -> list[Endpoint]:
    """The five requests measured; decision pages and API GETs cycle through the clerk's ids."""
    csrf: dict[int, str] = {}
    lock = threading.Lock()

    def form_token(session: requests.Session) -> str:
        with lock:
            known = csrf.get(id(session))
        if known is None:
            found = CSRF.search(session.get(f"{base}/decisions/new", timeout=30).text)
            assert found, "the new-decision form carries no CSRF token"
            known = found.group(1)
            with lock:
                csrf[id(session)] = known
        return known

    def pick(n: int) -> int:
        return decision_ids[n % len(decision_ids)]

    def propose(s: requests.Session, n: int) -> requests.Response:
        return s.post(
            f"{base}/decisions/new",
            data={
                "csrf_token": form_token(s),
                "procedure": "major_decision",
                "title": f"负载测试决策 {n}",
                "category": "public_policy",
                "undertaking_unit": "housing",
            },
            allow_redirects=False,
            timeout=60,
        )

    api = {"Authorization": f"Bearer {seeded.token}"}
    once: dict[str, Any] = {"timeout": 60, "allow_redirects": False}
    return [
        # Redirects are not followed: a page answering with the sign-in page (a lost session)
        # must count as a failure, not as the 200 the sign-in page would give.
        Endpoint("my work", lambda s, n: s.get(f"{base}/work", **once), frozenset({200})),
        Endpoint(
            "decision list", lambda s, n: s.get(f"{base}/decisions/", **once), frozenset({200})
        ),
        Endpoint(
            "decision page",
            lambda s, n: s.get(f"{base}/decisions/{pick(n)}", **once),
            frozenset({200}),
        ),
        Endpoint("action POST", propose, frozenset({302}), location=re.compile(r"/decisions/\d+$")),
        Endpoint(
            "API GET",
            lambda s, n: s.get(f"{base}/api/v1/decisions/{pick(n)}", headers=api, **once),
            frozenset({200}),
            signed_in=False,
        ),
    ]


def drive(
    endpoint: Endpoint,
    sessions: Sequence[requests.Session],
    *,
    seconds: float,
    prepare: Callable[[requests.Session], None] | None = None,
) -> Sample:
    """Send the endpoint's request from one thread per session, back to back, for `seconds`."""
    sample = Sample()
    lock = threading.Lock()
    counter = iter(range(10**12))

    def worker(session: requests.Session) -> None:
        if prepare is not None:
            prepare(session)
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        errors: list[str] = []
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter)
            started = time.perf_counter()
            try:
                response = endpoint.send(session, n)
            except requests.RequestException as err:
                errors.append(f"{type(err).__name__}: {err}")
                continue
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            if not endpoint.served(response):
                where = response.headers.get("Location", "")
                errors.append(f"{response.status_code} {where} {response.text[:200]!r}")
        with lock:
            sample.latencies += latencies
            sample.statuses += statuses
            sample.errors += errors

    started = time.perf_counter()
    deadline = started + seconds
    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        list(pool.map(worker, sessions))
    sample.elapsed = time.perf_counter() - started
    return sample


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    decisions: int
    endpoint: str
    concurrency: int
    sample: Sample
    floor: Sample


def clerk_decisions(seeded: Seeded, *, count: int = 200) -> list[int]:
    """Decisions the clerk may open (their own unit's), spread over the whole table."""
    path = seeded.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT d.id FROM decisions d JOIN departments u ON u.id = d.undertaking_unit_id "
            "WHERE u.code = 'housing' ORDER BY d.id"
        ).fetchall()
    ids = [r[0] for r in rows]
    step = max(1, len(ids) // count)
    return ids[::step][:count]


def run_size(
    *,
    decisions: int,
    events: int,
    levels: Sequence[int],
    seconds: float,
    workers: int,
    threads: int,
    folder: Path,
    log: Callable[[str], None] = print,
    app: str = APP,
    only: Sequence[str] = (),
    windows: int = 5,
) -> list[Row]:
    """Seed one database size, serve it and the floor, and measure every endpoint at every level."""
    log(f"seeding {decisions} decisions, {events} audit events …")
    seeded = seed(folder / f"instance-{decisions}", decisions=decisions, events=events, log=log)
    env = {
        "DECISIONFLOW_PROFILE": "development",
        "DECISIONFLOW_INSTANCE_PATH": str(folder / f"instance-{decisions}"),
        "DECISIONFLOW_SECRET_KEY": secrets.token_hex(32),
    }
    ids = clerk_decisions(seeded)
    rows: list[Row] = []
    floor_log, app_log = folder / "floor.log", folder / f"app-{decisions}.log"
    with (
        gunicorn_server(env, workers=workers, threads=threads, log=app_log, app=app) as served,
        gunicorn_server(
            {}, workers=workers, threads=threads, log=floor_log, app=FLOOR_APP, ready_path="/"
        ) as floor_server,
    ):
        floor = Endpoint(
            "floor", lambda s, n: s.get(f"{floor_server.url}/", timeout=60), frozenset({200}), False
        )
        for endpoint in endpoints(served.url, seeded, ids):
            if only and endpoint.name not in only:
                continue
            for level in levels:
                sessions = [
                    sign_in(served.url, CLERK, seeded.password)
                    if endpoint.signed_in
                    else requests.Session()
                    for _ in range(level)
                ]
                plain = [requests.Session() for _ in range(level)]
                sample, floor_sample = beside(
                    endpoint, sessions, floor, plain, seconds=seconds, windows=windows
                )
                for s in (*sessions, *plain):
                    s.close()
                rows.append(Row(decisions, endpoint.name, level, sample, floor_sample))
                log(_line(rows[-1]))
    return rows


def beside(
    endpoint: Endpoint,
    sessions: Sequence[requests.Session],
    floor: Endpoint,
    floor_sessions: Sequence[requests.Session],
    *,
    seconds: float,
    windows: int,
) -> tuple[Sample, Sample]:
    """The endpoint and the floor, each driven for `seconds` in all, in turns of `windows`
    short windows: a machine shared with others slows down and speeds up over minutes, and
    whatever it does then, it does to both."""
    # a short warm-up: connections open, caches filled, CSRF tokens fetched
    drive(endpoint, sessions, seconds=min(1.0, seconds / 5))
    drive(floor, floor_sessions, seconds=min(1.0, seconds / 5))
    sample, floor_sample = Sample(), Sample()
    for _ in range(windows):
        floor_sample.add(drive(floor, floor_sessions, seconds=seconds / windows))
        sample.add(drive(endpoint, sessions, seconds=seconds / windows))
    return sample, floor_sample


HEADER = (
    f"{'decisions':>9} {'endpoint':<14} {'conc':>4} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
    f"{'p99 ms':>7} {'floor p99':>9} {'floor r/s':>9} {'p99/floor':>9} {'errors':>6}"
)


def _line(row: Row) -> str:
    s, f = row.sample, row.floor
    ratio = s.percentile(99) / f.percentile(99) if f.latencies else float("nan")
    return (
        f"{row.decisions:>9} {row.endpoint:<14} {row.concurrency:>4} {s.rate:>7.1f} "
        f"{s.percentile(50):>7.1f} {s.percentile(95):>7.1f} {s.percentile(99):>7.1f} "
        f"{f.percentile(99):>9.1f} {f.rate:>9.1f} {ratio:>8.1f}× {len(s.errors):>6}"
    )


def summary(rows: Sequence[Row]) -> list[str]:
    """The targets, checked: decision page p99 within 5× the floor's; little change with size."""
    lines = []
    pages = [r for r in rows if r.endpoint == "decision page"]
    for r in pages:
        ratio = r.sample.percentile(99) / r.floor.percentile(99)
        # a failed answer (a lost session's quick redirect) is timed too: never a pass with any
        verdict = "met" if ratio <= 5 and not r.sample.errors else "NOT met"
        failed = f", {len(r.sample.errors)} requests failed" if r.sample.errors else ""
        lines.append(
            f"decision page p99 at {r.decisions} decisions, concurrency {r.concurrency}: "
            f"{ratio:.1f}× the floor's p99 (target ≤ 5×: {verdict}{failed})"
        )
    sizes = sorted({r.decisions for r in rows})
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for endpoint in dict.fromkeys(r.endpoint for r in rows):
            for level in sorted({r.concurrency for r in rows}):
                a = _find(rows, small, endpoint, level)
                b = _find(rows, large, endpoint, level)
                if a and b and a.sample.latencies and b.sample.latencies:
                    change = b.sample.percentile(50) / a.sample.percentile(50)
                    lines.append(
                        f"{endpoint:<14} conc {level:>2}: p50 at {large} / at {small} decisions "
                        f"= {change:.2f}"
                    )
    return lines


def _find(rows: Sequence[Row], decisions: int, endpoint: str, level: int) -> Row | None:
    return next(
        (
            r
            for r in rows
            if (r.decisions, r.endpoint, r.concurrency) == (decisions, endpoint, level)
        ),
        None,
    )


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--decisions",
        type=int,
        nargs="+",
        default=[1_000, 10_000],
        help="database sizes (decisions) to measure, in turn (default: 1000 10000)",
    )
    parser.add_argument(
        "--events-per-decision",
        type=int,
        default=100,
        help="audit events per decision (default 100: 1,000,000 at 10,000 decisions)",
    )
    parser.add_argument("--events", type=int, help="audit events, whatever the size")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="per endpoint and level (and as long again for the floor beside it)",
    )
    parser.add_argument(
        "--windows",
        type=int,
        default=5,
        help="turns the endpoint and the floor take within those seconds (default 5; keep "
        "seconds / windows under gunicorn's keep-alive, 5 s, or each window opens its "
        "connections anew)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        choices=ENDPOINTS,
        help="measure only this endpoint (repeatable; default: all five)",
    )
    parser.add_argument("--keep", type=Path, help="seed and log in this folder and keep it")
    parser.add_argument(
        "--app", default=APP, help=f"the WSGI app gunicorn serves (default {APP}), to try a variant"
    )
    args = parser.parse_args(argv)
    if args.windows < 1:
        parser.error("--windows must be at least 1")
    given = sys.argv[1:] if argv is None else argv
    print(" ".join(["command: python bench/bench_load.py", *given]))
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; gunicorn {args.workers} workers × {args.threads} "
        "threads; the load generator runs on the same machine"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(HEADER)
        for size in args.decisions:
            events = args.events if args.events is not None else size * args.events_per_decision
            rows += run_size(
                decisions=size,
                events=events,
                levels=args.levels,
                seconds=args.seconds,
                workers=args.workers,
                threads=args.threads,
                folder=folder,
                log=lambda line: print(line, flush=True),
                app=args.app,
                only=args.endpoint,
                windows=args.windows,
            )
    print()
    print(HEADER)
    for row in rows:
        print(_line(row))
    print()
    for line in summary(rows):
        print(line)
    errors = sum(len(r.sample.errors) for r in rows)
    if errors:
        print(f"{errors} requests failed; first: {next(e for r in rows for e in r.sample.errors)}")
    return rows


if __name__ == "__main__":
    main()
