"""Random sequences of actions on the real engine never break the procedure or its audit trail.

A Hypothesis state machine drives the service layer on a real SQLite file: actors of every
role in two departments create decisions, fire triggers (lawful or not, with lawful, spoiled
or random payloads, sometimes with a stale version), add records and let time pass. After
every step it checks that a decision moved only along a transition the definition declares,
with the records the law requires, that every attempt left exactly one audit event saying how
it ended, that a refusal changed nothing, and that the audit chain verifies.
"""

from __future__ import annotations

import atexit
import functools
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

from decisionflow.accounts import Actor, hash_password
from decisionflow.bootstrap import Parts, build
from decisionflow.db import make_engine
from decisionflow.definitions import BranchSpec, Definition, FieldSpec, TransitionSpec
from decisionflow.demo import MAJOR_DECISION_PATH, StepContext
from decisionflow.errors import DecisionFlowError, InvalidInput
from decisionflow.migrate import upgrade
from decisionflow.models import (
    AuditEvent,
    Category,
    Decision,
    DecisionAssignment,
    Department,
    DraftVersion,
    ExpertProfile,
    StepRecord,
    User,
)
from decisionflow.roles import ACCOUNT_ROLES, ROLE_SCOPES, Role, Scope
from decisionflow.rules import flags_route, state_of
from decisionflow.views import position_text
from tests.conftest import PASSWORD, Clock, People, settings_for
from tests.helpers import FLAG_STEPS, drive

# The clock runs into years whose holiday arrangement is not on file yet; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::decisionflow.calendar.OutsideKnownCalendarWarning")

PROCEDURE = "major_decision"
UNITS = ("housing", "ecology")  # departments A and B
MISSING_ID = 987_654  # a decision number that never exists
UNKNOWN_TRIGGER = "approve_everything"
UNKNOWN_RECORD = "secret_memo"
FLAGS = (
    "not_disclosed",
    "vital_interests",
    "professional",
    "social_risk",
    "opinions_differ",
    "market_activity",
    "exploratory_reform",
    "congress_matter",
    "wide_concern",
)
ARTICLE = re.compile(r"Art \d+")
#: the lawful path's steps with those its flags add
PATH_STEPS = (*MAJOR_DECISION_PATH, *(step for _, _, step in FLAG_STEPS))
#: the lawful path's payloads, by the trigger or record they are for
PATH_PAYLOADS = {step.name: step.payload for step in PATH_STEPS}
#: the triggers that carry a decision forward (the others decline, defer, return, terminate,
#: evaluate, suspend or adjust)
FORWARD = frozenset(step.name for step in PATH_STEPS if step.kind == "fire")
#: passwords a signer may type: their own (mostly), none, or a wrong one
PASSWORDS = (PASSWORD, PASSWORD, PASSWORD, None, "not the password")


# -- the database every example starts from -----------------------------------------------
@functools.cache
def _template() -> Path:
    """An SQLite file migrated once per session; every example works on a copy."""
    folder = Path(tempfile.mkdtemp(prefix="decisionflow-stateful-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@functools.cache
def _password_hash() -> str:
    """One real Argon2id hash, shared by every test account."""
    return hash_password(PASSWORD)


def _add_people(parts: Parts) -> dict[str, Actor]:
    """Departments A and B with a user of every role in each, and an expert never named."""
    with parts.sessions() as session, session.begin():
        units = [Department(code=code, name_zh=code, name_en=code) for code in UNITS]
        session.add_all(units)
        session.flush()
        users = [
            User(
                username=f"{role.value}_{unit.code}",
                display_name=f"{role.value} {unit.code}",
                role=role.value,
                password_hash=_password_hash(),
                department_id=unit.id,
            )
            for unit in units
            for role in ACCOUNT_ROLES
        ]
        users.append(
            User(
                username="expert_2",
                display_name="expert 2",
                role="expert",
                password_hash=_password_hash(),
                department_id=units[0].id,
            )
        )
        session.add_all(users)
        session.flush()
        # Every expert is in the pool, with no declared interest (Art 20).
        session.add_all(
            ExpertProfile(user_id=u.id, fields="law", status="active", declared_interests=[])
            for u in users
            if u.role == "expert"
        )
        return {u.username: Actor.of(u) for u in users}


# -- what the machine sees of the database --------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """One decision as stored: where it stands and how much it holds."""

    state: str
    branches: dict[str, str]
    version: int
    records: int
    kinds: dict[str, int]
    drafts: int
    assigned: frozenset[int]
    flags: dict[str, bool]
    unit_id: int
    executing_unit_id: int | None
    predecessor_id: int | None


@dataclass
class Tried:
    """The attempt the last rule made, and how the service answered."""

    action: str
    actor: Actor
    decision_id: int | None
    trigger: str | None = None
    record: str | None = None
    stale: bool = False
    error: DecisionFlowError | None = None
    created_id: int | None = None


def _lawful_value(spec: FieldSpec, ctx: StepContext) -> Any:
    """A value any lawful caller could give for a field with no path payload."""
    if spec.type == "date":
        return ctx.today.isoformat()
    if spec.type == "choice":
        return spec.choices[0]
    if spec.type == "bool":
        return True
    if spec.type in {"int", "user"}:
        return spec.minimum or 0
    if spec.type == "users":
        return list(ctx.expert_ids)
    return "依法办理，理由见附件"


# Dates stay within a century or so: a date centuries away makes the legal calendar build a
# table for every year in between, which only slows the run down.
DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
VALUES = st.one_of(
    st.text(max_size=20),
    DATES,
    DATES.map(date.isoformat),
    st.integers(),
    st.lists(st.integers(min_value=-3, max_value=40) | st.integers(), max_size=3),
    st.booleans(),
    st.none(),
)
JUNK_FIELDS = ("note", "state", "version", "approved")


class DecisionMachine(RuleBasedStateMachine):
    """Actors of every role try things on a few decisions; the engine must stay lawful."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="decisionflow-example-"))
        url = f"sqlite:///{self.folder / 'decisionflow.db'}"
        shutil.copyfile(_template(), self.folder / "decisionflow.db")
        self.clock = Clock()
        self.parts = build(settings_for(url, self.folder / "instance"), clock=self.clock)
        self.service = self.parts.decisions
        self.definition: Definition = self.parts.registry.current(PROCEDURE)
        assert set(FLAGS) == set(self.definition.flags)
        self.people = _add_people(self.parts)
        self.actors = sorted(self.people.values(), key=lambda a: a.username)
        self.expert_ids = {a.id for a in self.actors if a.role is Role.EXPERT}
        self.unit_ids = {a.department_code: a.department_id for a in self.actors}
        self.before = self._snapshot()
        self.seen_seq = self._head_seq()
        self.tried: Tried | None = None
        self.creations = 0

    def teardown(self) -> None:
        self.parts.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- reading the database -------------------------------------------------------------
    def _snapshot(self) -> dict[int, Snapshot]:
        with self.parts.readers() as session:
            kinds: dict[int, dict[str, int]] = {}
            for decision_id, kind, count in session.execute(
                select(StepRecord.decision_id, StepRecord.kind, func.count()).group_by(
                    StepRecord.decision_id, StepRecord.kind
                )
            ):
                kinds.setdefault(decision_id, {})[kind] = count
            drafts = dict(
                session.execute(
                    select(DraftVersion.decision_id, func.count()).group_by(
                        DraftVersion.decision_id
                    )
                ).all()
            )
            assigned: dict[int, set[int]] = {}
            for decision_id, user_id in session.execute(
                select(DecisionAssignment.decision_id, DecisionAssignment.user_id)
            ):
                assigned.setdefault(decision_id, set()).add(user_id)
            return {
                d.id: Snapshot(
                    state=d.state,
                    branches={n: v["state"] for n, v in (d.branch_states or {}).items()},
                    version=d.version,
                    records=sum(kinds.get(d.id, {}).values()),
                    kinds=kinds.get(d.id, {}),
                    drafts=drafts.get(d.id, 0),
                    assigned=frozenset(assigned.get(d.id, ())),
                    flags=dict(d.flags),
                    unit_id=d.undertaking_unit_id,
                    executing_unit_id=d.executing_unit_id,
                    predecessor_id=d.predecessor_id,
                )
                for d in session.scalars(select(Decision))
            }

    def _head_seq(self) -> int:
        with self.parts.readers() as session:
            return session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0

    def _events_since(self, seq: int) -> list[AuditEvent]:
        with self.parts.readers() as session:
            return list(
                session.scalars(
                    select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)
                )
            )

    # -- choosing -------------------------------------------------------------------------
    def _ctx(self) -> StepContext:
        return StepContext(
            today=self.clock.today,
            expert_ids=(self.people["expert_housing"].id,),
            password=PASSWORD,
        )

    def _fitting_actor(
        self, roles: tuple[Role, ...], decision_id: int | None, unit: str | None = None
    ) -> Actor:
        """Someone whose role and department may do this to the decision."""
        role = roles[0]
        unit = unit or "housing"
        snapshot = self.before.get(decision_id) if decision_id is not None else None
        if snapshot is not None and ROLE_SCOPES[role] is Scope.UNDERTAKING_UNIT:
            unit = next(code for code, i in self.unit_ids.items() if i == snapshot.unit_id)
        return self.people[f"{role.value}_{unit}"]

    def _open_transitions(self, snapshot: Snapshot) -> list[TransitionSpec]:
        """The declared transitions from where the decision stands that its flags route."""
        open_ = [t for t in self.definition.transitions if snapshot.state in t.source]
        for name, state in snapshot.branches.items():
            branch = self.definition.branch(name)
            open_ += [t for t in branch.transitions if state in t.source]
        return [t for t in open_ if flags_route(t, snapshot.flags)]

    def _open_records(self, snapshot: Snapshot) -> tuple[list[str], list[str]]:
        """The record kinds allowed where the decision stands, and those still missing there."""
        places = {snapshot.state} | {f"{b}.{s}" for b, s in snapshot.branches.items()}
        allowed = [
            kind
            for kind, spec in self.definition.records.items()
            if not spec.allowed_in or places.intersection(spec.allowed_in)
        ]
        requires = list(self.definition.state(snapshot.state).requires)
        for name, state in snapshot.branches.items():
            spec = next(s for s in self.definition.branch(name).states if s.name == state)
            requires += spec.requires
        # a requirement the flags switch off (alternatives when opinions agree) is not missing;
        # one asking for two (two alternatives) is missing until the second is made
        needed = {
            r.record: r.min_count
            for r in requires
            if r.when is None or r.when.holds(snapshot.flags)
        }
        return allowed, [k for k in allowed if snapshot.kinds.get(k, 0) < needed.get(k, 0)]

    def _lawful(self, name: str, fields: dict[str, FieldSpec]) -> dict[str, Any]:
        """The lawful path's payload for a trigger or record, or lawful values for its fields."""
        builder = PATH_PAYLOADS.get(name)
        if builder is not None:
            return builder(self._ctx())
        return {field: _lawful_value(spec, self._ctx()) for field, spec in fields.items()}

    def _payload(
        self, data: st.DataObject, fields: dict[str, FieldSpec], lawful: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A lawful payload, one with random fields laid over it, or a random one."""
        if lawful is None:
            lawful = {name: _lawful_value(spec, self._ctx()) for name, spec in fields.items()}
        how = data.draw(st.sampled_from(["lawful", "lawful", "lawful", "spoiled", "random"]))
        if how == "lawful":
            return lawful
        junk = data.draw(
            st.dictionaries(
                st.sampled_from(sorted(fields) + list(JUNK_FIELDS)) | st.text(max_size=6),
                VALUES,
                max_size=4,
            )
        )
        return {**lawful, **junk} if how == "spoiled" else junk

    def _version(self, data: st.DataObject, decision_id: int) -> tuple[int | None, bool]:
        """No expected version, the current one, or a stale one (and whether it is stale)."""
        snapshot = self.before.get(decision_id)
        how = data.draw(st.sampled_from(["none", "none", "current", "stale"]))
        if how == "none" or snapshot is None:
            return None, False
        if how == "current":
            return snapshot.version, False
        return snapshot.version + data.draw(st.sampled_from([-1, 1, -5])), True

    def _pick_decision(self, data: st.DataObject) -> int:
        if data.draw(st.integers(0, 9), label="missing decision") == 9:
            return MISSING_ID
        return data.draw(st.sampled_from(sorted(self.before)), label="decision")

    # -- rules ----------------------------------------------------------------------------
    @initialize(flags=st.sets(st.sampled_from(FLAGS)))
    def first_decision(self, flags: set[str]) -> None:
        """Start with one decision proposed by a clerk of department A."""
        self._create(self.people["staff_housing"], "housing", flags)

    @precondition(lambda self: self.creations < 3)
    @rule(data=st.data())
    def create_decision(self, data: st.DataObject) -> None:
        """Someone (often a clerk or the government office) proposes a decision."""
        unit = data.draw(st.sampled_from(UNITS), label="unit")
        roles = data.draw(st.sampled_from([(Role.STAFF,), (Role.GOVERNMENT_OFFICE,)]), label="role")
        actor = self._actor(data, roles, None, unit)
        flags = data.draw(st.sets(st.sampled_from(FLAGS)), label="flags")
        self._create(actor, unit, flags)

    def _create(self, actor: Actor, unit: str, flags: set[str]) -> None:
        self.creations += 1
        tried = Tried("create_decision", actor, None)
        try:
            view = self.service.create_decision(
                actor,
                title="老旧小区改造计划",
                category=Category.PUBLIC_POLICY.value,
                undertaking_unit=unit,
                flags={name: True for name in flags},
            )
            tried.created_id = view.id
        except DecisionFlowError as err:
            tried.error = err
        self.tried = tried

    @rule(data=st.data())
    def fire(self, data: st.DataObject) -> None:
        """Someone fires a trigger (mostly one open from where the decision stands)."""
        decision_id = self._pick_decision(data)
        snapshot = self.before.get(decision_id)
        open_ = self._open_transitions(snapshot) if snapshot else []
        forward = [t for t in open_ if t.trigger in FORWARD]
        how = data.draw(st.sampled_from(["forward", "forward", "open", "any"]), label="how")
        candidates = forward if how == "forward" else open_
        if how == "any" or not candidates:
            trigger = data.draw(
                st.sampled_from([*self.definition.triggers, UNKNOWN_TRIGGER]), label="trigger"
            )
            spec = next((t for t in self._declared() if t.trigger == trigger), None)
        else:
            trigger = data.draw(
                st.sampled_from(sorted({t.trigger for t in candidates})), label="trigger"
            )
            spec = next(t for t in candidates if t.trigger == trigger)
        actor = self._actor(data, spec.roles if spec else (Role.STAFF,), decision_id)
        fields = dict(spec.fields) if spec else {}
        builder = PATH_PAYLOADS.get(trigger)
        payload = self._payload(data, fields, builder(self._ctx()) if builder else None)
        self._fire(actor, decision_id, trigger, payload, *self._version(data, decision_id))

    def _fire(
        self,
        actor: Actor,
        decision_id: int,
        trigger: str,
        payload: dict[str, Any],
        expected: int | None = None,
        stale: bool = False,
    ) -> None:
        tried = Tried(trigger, actor, decision_id, trigger=trigger, stale=stale)
        try:
            self.service.fire(actor, decision_id, trigger, payload, expected_version=expected)
        except DecisionFlowError as err:
            tried.error = err
        self.tried = tried

    @rule(data=st.data())
    def add_record(self, data: st.DataObject) -> None:
        """Someone adds a record (mostly one the decision's stage allows or still lacks)."""
        decision_id = self._pick_decision(data)
        snapshot = self.before.get(decision_id)
        allowed, missing = self._open_records(snapshot) if snapshot else ([], [])
        how = data.draw(st.sampled_from(["missing", "missing", "allowed", "any"]), label="how")
        if how == "missing" and missing:
            kind = data.draw(st.sampled_from(missing), label="kind")
        elif how != "any" and allowed:
            kind = data.draw(st.sampled_from(allowed), label="kind")
        else:
            kind = data.draw(
                st.sampled_from([*self.definition.records, UNKNOWN_RECORD]), label="kind"
            )
        spec = self.definition.records.get(kind)
        actor = self._actor(data, spec.roles if spec else (Role.STAFF,), decision_id)
        builder = PATH_PAYLOADS.get(kind)
        payload = self._payload(
            data, dict(spec.fields) if spec else {}, builder(self._ctx()) if builder else None
        )
        password = data.draw(st.sampled_from(PASSWORDS), label="password")
        self._record(
            actor, decision_id, kind, payload, *self._version(data, decision_id), password=password
        )

    def _record(
        self,
        actor: Actor,
        decision_id: int,
        kind: str,
        payload: dict[str, Any],
        expected: int | None = None,
        stale: bool = False,
        password: str | None = PASSWORD,
    ) -> None:
        tried = Tried(f"record:{kind}", actor, decision_id, record=kind, stale=stale)
        try:
            self.service.add_record(
                actor, decision_id, kind, payload, expected_version=expected, password=password
            )
        except DecisionFlowError as err:
            tried.error = err
        self.tried = tried

    # Named to sort first among the rules: Hypothesis's plainest runs repeat the first rule
    # with the first choices, and those runs should then walk the lawful path.
    @rule(data=st.data())
    def act_on_the_lawful_path(self, data: st.DataObject) -> None:
        """A diligent clerk's next move: add a record still missing, or move forward."""
        decision_id = data.draw(st.sampled_from(sorted(self.before)), label="decision")
        snapshot = self.before[decision_id]
        _, missing = self._open_records(snapshot)
        forward = [t for t in self._open_transitions(snapshot) if t.trigger in FORWARD]
        if missing and (
            not forward or data.draw(st.sampled_from([True, True, False]), label="record first")
        ):
            kind = data.draw(st.sampled_from(missing), label="kind")
            spec = self.definition.records[kind]
            actor = self._fitting_actor(spec.roles, decision_id)
            self._record(actor, decision_id, kind, self._lawful(kind, dict(spec.fields)))
        elif forward:
            trigger = data.draw(
                st.sampled_from(sorted({t.trigger for t in forward})), label="trigger"
            )
            spec = next(t for t in forward if t.trigger == trigger)
            actor = self._fitting_actor(spec.roles, decision_id)
            self._fire(actor, decision_id, spec.trigger, self._lawful(trigger, dict(spec.fields)))
        else:
            self.tried = None  # nothing left to do on this decision (it is final)

    @rule(days=st.integers(min_value=0, max_value=40), hours=st.integers(0, 23))
    def advance_clock(self, days: int, hours: int) -> None:
        """Let time pass, so that waiting periods sometimes run out."""
        self.clock.advance(days=days, hours=hours)
        self.tried = None

    def _declared(self) -> list[TransitionSpec]:
        out = list(self.definition.transitions)
        for state in self.definition.states:
            for branch in state.branches:
                out += branch.transitions
        return out

    def _actor(
        self,
        data: st.DataObject,
        roles: tuple[Role, ...],
        decision_id: int | None,
        unit: str | None = None,
    ) -> Actor:
        """Mostly someone who may act; sometimes anyone at all."""
        if data.draw(st.sampled_from([True, True, False]), label="fitting actor"):
            return self._fitting_actor(roles, decision_id, unit)
        return data.draw(st.sampled_from(self.actors), label="actor")

    # -- invariants -----------------------------------------------------------------------
    @invariant()
    def every_step_is_lawful_and_audited(self) -> None:
        """The last attempt moved along the definition and left exactly one audit event."""
        after = self._snapshot()
        events = self._events_since(self.seen_seq)
        tried, before = self.tried, self.before
        if tried is None:
            # nothing was attempted (the clock moved): nothing may change, nothing is logged
            assert events == []
            assert after == before
        else:
            assert len(events) == 1, [(e.action, e.outcome) for e in events]
            event = events[0]
            assert event.action == tried.action
            assert event.actor_username == tried.actor.username
            if tried.error is None:
                assert event.outcome == "done"
                self._check_done(tried, event, before, after)
            else:
                self._check_refused(tried, event, before, after)
        self.before, self.seen_seq, self.tried = after, self.seen_seq + len(events), None

    @invariant()
    def audit_chain_verifies(self) -> None:
        """The hash chain of the audit log is intact after every step."""
        result = self.parts.verify_audit()
        assert result.ok, str(result)

    def _check_refused(
        self,
        tried: Tried,
        event: AuditEvent,
        before: dict[int, Snapshot],
        after: dict[int, Snapshot],
    ) -> None:
        err = tried.error
        assert err is not None
        assert event.outcome == err.code
        assert event.decision_id == tried.decision_id
        # a refusal changes nothing at all: no state, version, branch, record or draft
        assert after == before
        # the audit event says why, rule by rule, as the refusal did
        detail = json.loads(event.detail)
        assert detail["refusal"] == {"zh": err.zh, "en": err.en}
        assert detail["unmet"] == [u.as_dict() for u in err.unmet]
        for unmet in err.unmet:
            assert unmet.rule and ARTICLE.fullmatch(unmet.article), unmet
        if tried.decision_id == MISSING_ID:
            assert err.code == "not_found"
        elif tried.stale:
            assert err.code in {"not_permitted", "conflict"}
        if tried.trigger == UNKNOWN_TRIGGER or tried.record == UNKNOWN_RECORD:
            assert err.code in {"not_found", "not_permitted", "conflict", "invalid_input"}

    def _check_done(
        self,
        tried: Tried,
        event: AuditEvent,
        before: dict[int, Snapshot],
        after: dict[int, Snapshot],
    ) -> None:
        assert tried.decision_id != MISSING_ID
        assert not tried.stale, "a stale expected version was accepted"
        actor = tried.actor
        if tried.created_id is not None:
            assert event.decision_id == tried.created_id
            self._check_created(tried, before, after)
            return
        decision_id = tried.decision_id
        assert decision_id is not None and event.decision_id == decision_id
        b, a = before[decision_id], after[decision_id]
        # no other decision changed; only a major adjustment opens one (Art 37)
        successors = set(after) - set(before)
        assert {k: v for k, v in after.items() if k != decision_id and k not in successors} == {
            k: v for k, v in before.items() if k != decision_id
        }
        if successors:
            self._check_successor(tried, successors, b, after)
        # only someone in scope acted: the own department, or an expert named on it
        scope = ROLE_SCOPES[actor.role]
        if scope is Scope.UNDERTAKING_UNIT:
            assert actor.department_id == b.unit_id
        elif scope is Scope.ASSIGNED:
            assert actor.id in b.assigned
        elif scope is Scope.EXECUTING_UNIT:
            assert actor.department_id == b.executing_unit_id
        assert a.version == b.version + 1
        assert a.records == b.records + 1
        assert event.state_before == b.state
        if tried.record is not None:
            spec = self.definition.records[tried.record]
            assert actor.role in spec.roles
            assert not self.definition.state(b.state).final
            places = {b.state} | {f"{n}.{s}" for n, s in b.branches.items()}
            assert not spec.allowed_in or places.intersection(spec.allowed_in)
            assert (a.state, a.branches, a.assigned) == (b.state, b.branches, b.assigned)
            assert a.drafts == b.drafts + (1 if spec.storage == "draft" else 0)
            return
        trigger = tried.trigger
        assert trigger is not None and a.drafts == b.drafts
        branch = self.definition.branch_of_trigger(trigger)
        if branch is None:
            taken = [
                t
                for t in self.definition.transitions
                if t.trigger == trigger and b.state in t.source
            ]
            assert a.state in {t.dest for t in taken}, (b.state, trigger, a.state)
            # entering a stage starts its branches as the flags switch them on: afresh, or
            # complete if kept on re-entry and completed before
            assert a.branches == {
                br.name: self._entry_state(br, b)
                for br in self.definition.branches_in(a.state)
                if br.when is None or br.when.holds(b.flags)
            }
            assert event.state_after == a.state
        else:
            assert a.state == b.state and branch.name in b.branches
            source = b.branches[branch.name]
            taken = [t for t in branch.transitions if t.trigger == trigger and source in t.source]
            assert a.branches[branch.name] in {t.dest for t in taken}, (source, trigger)
            assert {n: s for n, s in a.branches.items() if n != branch.name} == {
                n: s for n, s in b.branches.items() if n != branch.name
            }
            assert event.state_after == position_text(a.state, a.branches, branch.name)
        assert any(actor.role in t.roles and flags_route(t, b.flags) for t in taken)
        lawful = [t for t in taken if actor.role in t.roles and flags_route(t, b.flags)]
        self._check_rules_held(lawful[0], branch.name if branch else None, b)
        # only a move that names people assigns them, and then only expert accounts
        assigns = any(f.assigns for t in taken for f in t.fields.values())
        assert a.assigned >= b.assigned if assigns else a.assigned == b.assigned
        assert a.assigned - b.assigned <= self.expert_ids

    def _entry_state(self, branch: BranchSpec, b: Snapshot) -> str:
        """Where a branch starts when its stage is entered (a finishing move's record shows it
        was completed before)."""
        final = {s.name for s in branch.states if s.final}
        finishing = [t.trigger for t in branch.transitions if t.dest in final]
        if branch.keep_on_reentry and any(b.kinds.get(t) for t in finishing):
            return next(iter(final))
        return next(s.name for s in branch.states if s.initial)

    def _check_successor(
        self, tried: Tried, successors: set[int], b: Snapshot, after: dict[int, Snapshot]
    ) -> None:
        """A major adjustment opens one new decision on the same matter, from the start."""
        assert tried.trigger is not None
        assert any(
            t.opens_successor for t in self.definition.transitions if t.trigger == tried.trigger
        )
        [new] = successors
        successor = after[new]
        assert successor.predecessor_id == tried.decision_id
        assert successor.state == self.definition.initial_state.name
        assert (successor.flags, successor.unit_id) == (b.flags, b.unit_id)
        assert (successor.version, successor.records) == (1, 0)

    def _check_rules_held(self, taken: TransitionSpec, branch: str | None, b: Snapshot) -> None:
        """The move left its stage only with the records the law requires there."""
        if not taken.skip_requirements:
            source = b.branches[branch] if branch else b.state
            spec = state_of(self.definition, branch, source)
            for required in spec.requires:
                if required.when is not None and not required.when.holds(b.flags):
                    continue  # the decision's flags do not call for this record
                assert b.kinds.get(required.record, 0) >= required.min_count, required
        if any(g.name == "required_branches_complete" for g in taken.guards):
            for name, state in b.branches.items():
                assert state_of(self.definition, name, state).final, (name, state)

    def _check_created(
        self, tried: Tried, before: dict[int, Snapshot], after: dict[int, Snapshot]
    ) -> None:
        new = set(after) - set(before)
        assert new == {tried.created_id}
        assert {k: after[k] for k in before} == before
        created = after[tried.created_id]
        assert created.state == self.definition.initial_state.name
        assert (created.branches, created.version, created.records) == ({}, 1, 0)
        assert tried.actor.role in {Role.STAFF, Role.GOVERNMENT_OFFICE}
        if tried.actor.role is Role.STAFF:
            assert created.unit_id == tried.actor.department_id


# How far decisions get under the complete procedure (measured over five runs, 221 examples, at
# 100 steps an example): the best stage an example's decisions reached was archived in 5% of
# examples, the argumentation stage with its four parallel branches under way in 33%, drafting in
# 11%; in 19% every decision ended declined or terminated, and 31% (mostly runs of a few steps, or
# runs whose swarm choice switched the lawful-path rule off) never left "proposed". The run
# takes 15-20 s.
class TestDecisionMachine(DecisionMachine.TestCase):
    """Random actions by every role keep each decision lawful and every attempt audited."""

    settings = settings(max_examples=40, stateful_step_count=100, deadline=None)


def test_an_expert_number_too_large_for_the_database_is_refused_and_audited(
    parts: Parts, people: People, clock: Clock
) -> None:
    """Naming an expert by a number beyond 64 bits is refused as invalid input and audited."""
    # Found by this machine: such a number once crashed SQLite's driver (OverflowError) and
    # left the attempt unaudited.
    service = parts.decisions
    staff = people[Role.STAFF]
    decision = drive(
        parts, people, clock, flags={"professional": True}, before="request_expert_opinions"
    )
    before = service.get(staff, decision.id)
    with pytest.raises(InvalidInput) as refused:
        service.fire(staff, decision.id, "request_expert_opinions", {"experts": [2**70]})
    assert "experts" in refused.value.fields
    after = service.get(staff, decision.id)
    assert (after.version, after.branches) == (before.version, before.branches)
    with parts.readers() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last is not None
    assert (last.action, last.outcome) == ("request_expert_opinions", "invalid_input")
    assert parts.verify_audit().ok
