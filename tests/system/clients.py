"""Client processes acting on the same decisions at once through the HTTP API.

The decisions cycle through a loop the law allows without waiting days: in drafting a clerk adds
a draft and submits it for argumentation (Art 12), then returns it to drafting (Art 24), forever.
Each client reads a decision, picks the move that stands next, and sends it — with the version it
read (`expected_version`), or, for a "blind" client, without. When many send the same move at
once, one must win; the rest must be told 409 (or, blind, 422 once the stage has moved on).

Only `requests` here: each client is a fresh process (spawned), and starts quickly.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

#: the lawful path's first steps: the proposal, its start, a draft, its legal basis, consultation
OPENING_STEPS = 5
#: a decision has version 1 when created and one more after each change
OPENED_VERSION = 1 + OPENING_STEPS
#: what a client does when nothing answers (the server is down): wait a little, then try again
RETRY_PAUSE = 0.05
#: per request: connecting, then reading the answer
TIMEOUTS = (3.0, 60.0)

SUBMIT = "submit_for_argumentation"
RETURN = "return_to_drafting"
DRAFT = "record:draft_version"


@dataclass(frozen=True)
class Site:
    """A seeded database: the decisions under contention and one API token per client."""

    decision_ids: tuple[int, ...]
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What one client process does."""

    url: str
    token: str
    decision_ids: tuple[int, ...]
    number: int
    #: sends no expected_version: a stale move is then refused by the stage it finds
    blind: bool = False
    #: stop once every decision has reached this version
    until_version: int = 10**9
    #: and stop at this wall-clock time (time.time()) in any case
    deadline: float = 0.0
    #: keep trying through connection errors (the server is being killed and restarted)
    patient: bool = False


@dataclass(frozen=True)
class Outcome:
    """One move sent, and the answer to it (status None: no answer came)."""

    client: int
    decision_id: int
    action: str
    seen_version: int
    blind: bool
    status: int | None
    #: the decision's version and state after an acknowledged move
    version: int | None = None
    state: str | None = None
    #: a refusal's code (conflict, rule_not_met...) or what went wrong
    code: str = ""
    detail: str = ""


class ReadRefused(Exception):
    """A read was answered, but not with what was asked for (a 4xx or a 5xx)."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(response.status_code)
        self.status = response.status_code
        self.text = response.text[:500]


def _next_move(
    session: requests.Session, url: str, decision: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The move that stands next for a decision as read, with its payload."""
    if decision["state"] == "argumentation":
        return RETURN, {"reason": f"再次修改（版本 {decision['version']}）"}
    actions = session.get(f"{url}/actions", timeout=TIMEOUTS)
    if not actions.ok:
        raise ReadRefused(actions)
    ready = {a["trigger"] for a in actions.json() if a["ready"]}
    if SUBMIT in ready:
        return SUBMIT, {}
    return DRAFT, {
        "content": f"草案第 {decision['version']} 稿",
        "cause": "other",
        "change_note": f"修改（版本 {decision['version']}）",
    }


def _send(session: requests.Session, plan: Plan, decision: dict[str, Any], base: str) -> Outcome:
    """Read what stands next and send it once; the answer, whatever it is."""
    action, payload = _next_move(session, base, decision)
    body: dict[str, Any] = {"payload": payload}
    if not plan.blind:
        body["expected_version"] = decision["version"]
    target = f"{base}/records/draft_version" if action == DRAFT else f"{base}/actions/{action}"
    common = {
        "client": plan.number,
        "decision_id": decision["id"],
        "action": action,
        "seen_version": decision["version"],
        "blind": plan.blind,
    }
    try:
        answer = session.post(target, json=body, timeout=TIMEOUTS)
    except requests.RequestException as err:
        return Outcome(**common, status=None, code="no answer", detail=type(err).__name__)
    data = answer.json() if answer.headers.get("Content-Type", "").endswith("json") else {}
    if answer.ok:
        version = data["decision_version"] if action == DRAFT else data["version"]
        return Outcome(
            **common, status=answer.status_code, version=version, state=data.get("state")
        )
    return Outcome(
        **common,
        status=answer.status_code,
        code=str(data.get("code", "")),
        detail=json.dumps(data, ensure_ascii=False)[:500],
    )


def run_client(plan: Plan, ready: Any, start: Any, stop: Any, results: Any) -> None:
    """One client process: wait for the start, then act until done, told to stop, or out of time."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {plan.token}"
    outcomes: list[Outcome] = []
    ready.put(plan.number)
    start.wait()
    try:
        _act(plan, session, stop, outcomes)
    except Exception as err:  # a fault of the client itself: reported, never a silent hang
        results.put((plan.number, outcomes, f"{type(err).__name__}: {err}"))
        raise
    results.put((plan.number, outcomes, ""))


def _act(plan: Plan, session: requests.Session, stop: Any, outcomes: list[Outcome]) -> None:
    rng = random.Random(plan.number)
    done: set[int] = set()
    while not stop.is_set() and time.time() < plan.deadline:
        pending = [d for d in plan.decision_ids if d not in done]
        if not pending:
            break
        decision_id = rng.choice(pending)
        base = f"{plan.url}/api/v1/decisions/{decision_id}"
        try:
            read = session.get(base, timeout=TIMEOUTS)
            if not read.ok:
                raise ReadRefused(read)
            decision = read.json()
            if decision["version"] >= plan.until_version:
                done.add(decision_id)
                continue
            outcome = _send(session, plan, decision, base)
        except ReadRefused as refused:
            # Reads are never refused here: whatever the answer was, it is kept to be seen.
            outcomes.append(
                Outcome(
                    plan.number,
                    decision_id,
                    "read",
                    0,
                    plan.blind,
                    refused.status,
                    detail=refused.text,
                )
            )
            if not plan.patient:
                break
            time.sleep(RETRY_PAUSE)
            continue
        except requests.RequestException as err:
            # A read got no answer: nothing was sent, so nothing can have happened.
            if not plan.patient:
                outcomes.append(
                    Outcome(plan.number, decision_id, "read", 0, plan.blind, None, detail=str(err))
                )
                break
            time.sleep(RETRY_PAUSE)
            continue
        outcomes.append(outcome)
        if outcome.status is None:
            if not plan.patient:
                break
            time.sleep(RETRY_PAUSE)


@dataclass
class Run:
    """Client processes started together; `finish()` collects what each saw."""

    plans: Sequence[Plan]
    processes: list[Any] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # no inherited pools or sockets
        self.ready, self.results = context.Queue(), context.Queue()
        self.start_signal, self.stop_signal = context.Event(), context.Event()
        for plan in self.plans:
            process = context.Process(
                target=run_client,
                args=(plan, self.ready, self.start_signal, self.stop_signal, self.results),
                daemon=True,
            )
            process.start()
            self.processes.append(process)
        for _ in self.plans:  # every client imported and waiting: then all start at once
            self.ready.get(timeout=120)
        #: when the clients were let go (time.perf_counter())
        self.started = time.perf_counter()
        self.start_signal.set()

    def finish(self, *, stop: bool = False, timeout: float = 300.0) -> list[Outcome]:
        """Wait for every client (telling them to stop first, if asked); what they saw."""
        if stop:
            self.stop_signal.set()
        faults = []
        for _ in self.processes:
            number, outcomes, fault = self.results.get(timeout=timeout)
            self.outcomes.extend(outcomes)
            if fault:
                faults.append(f"client {number}: {fault}")
        for process in self.processes:
            process.join(timeout=30)
        if faults:
            raise RuntimeError("client processes failed: " + "; ".join(faults))
        return self.outcomes

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Whatever happened, no client outlives the run (a failed test must not leave them)."""
        self.stop_signal.set()
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def plans_for(
    site: Site,
    url: str,
    *,
    blind: int = 0,
    until_version: int = 10**9,
    seconds: float,
    patient: bool = False,
) -> list[Plan]:
    """One plan per token, the first `blind` of them sending no expected version."""
    deadline = time.time() + seconds
    return [
        Plan(
            url,
            token,
            site.decision_ids,
            number,
            blind=number < blind,
            until_version=until_version,
            deadline=deadline,
            patient=patient,
        )
        for number, token in enumerate(site.tokens)
    ]
