"""Where a decision stands, who may reach it, and how a move or record changes it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from decisionflow import audit, checklist, driver, refusals
from decisionflow.accounts import Actor, find_department
from decisionflow.db import is_writer
from decisionflow.definitions import BranchSpec, Definition, FieldSpec, TransitionSpec
from decisionflow.errors import InvalidInput, NotPermitted, RuleNotMet
from decisionflow.facts import SqlRecordFacts, branch_entry, branch_positions, facts_of
from decisionflow.guards import DecisionFacts, RecordFact
from decisionflow.machine import ProcedureMachine
from decisionflow.models import (
    AuditChainHead,
    Category,
    Decision,
    DecisionAssignment,
    DecisionCoUnit,
    Department,
    DraftVersion,
    StepRecord,
    User,
)
from decisionflow.registers import check_experts
from decisionflow.registry import DefinitionRegistry
from decisionflow.roles import ROLE_SCOPES, Role, Scope


def in_force(registry: DefinitionRegistry, procedure: str) -> Definition:
    """The newest definition of a procedure; InvalidInput if there is none."""
    try:
        return registry.current(procedure)
    except KeyError:
        raise InvalidInput(
            zh=f"没有名为“{procedure}”的程序",
            en=f"No procedure named '{procedure}'",
            fields={"procedure": ("没有此程序", "no such procedure")},
        ) from None


def check_new_decision(
    session: Session,
    definition: Definition,
    *,
    title: str,
    category: str,
    flags: Mapping[str, Any],
    undertaking_unit: str,
    co_units: Sequence[str],
    executing_unit: str | None,
) -> tuple[Department, list[Department], Department | None]:
    """A new decision's departments (lead, co-units, executor); InvalidInput names each fault."""
    errors: dict[str, tuple[str, str]] = {}
    if not title.strip() or len(title) > 300 or "\x00" in title:
        errors["title"] = ("必须填写，且不超过 300 字", "is required, at most 300 characters")
    if category not in {c.value for c in Category}:
        errors["category"] = ("应为条例第三条所列类别之一", "must be one of the kinds of Art 3")
    unknown = sorted(set(flags) - set(definition.flags))
    if unknown:
        errors["flags"] = (
            f"未知的标记：{', '.join(unknown)}",
            f"unknown flags: {', '.join(unknown)}",
        )
    elif any(not isinstance(v, bool) for v in flags.values()):
        # "false" as text would otherwise switch a statutory step on (bool("false") is True).
        errors["flags"] = ("标记的值应为是或否", "flag values must be true or false")
    unit = find_department(session, undertaking_unit)
    if unit is None:
        errors["undertaking_unit"] = ("没有此单位", "no such department")
    co = [find_department(session, code) for code in dict.fromkeys(co_units)]
    if any(d is None for d in co):
        errors["co_units"] = ("没有此单位", "no such department")
    executor = find_department(session, executing_unit) if executing_unit else None
    if executing_unit and executor is None:
        errors["executing_unit"] = ("没有此单位", "no such department")
    if errors or unit is None:
        raise InvalidInput(zh="填写内容有误", en="Invalid input", fields=errors)
    # A unit shares the work once, and the lead unit is no co-unit of its own (Art 11).
    return unit, [d for d in co if d is not None and d.id != unit.id], executor


def keep_snapshot(session: Session, registry: DefinitionRegistry, definition: Definition) -> None:
    """Keep the definition's text in the database, once, even when two creators race."""
    try:
        # In a savepoint: two first decisions created at once may both store the text, and
        # the loser must not lose its whole transaction for it.
        with session.begin_nested():
            registry.ensure_snapshot(session, definition)
    except IntegrityError:
        registry.ensure_snapshot(session, definition)  # stored by the other: compare digests


def open_moves(
    definition: Definition, decision: Decision, role: Role
) -> Iterator[tuple[BranchSpec | None, str, TransitionSpec]]:
    """Each transition the role may take from where the decision stands (branch, state, spec)."""
    flags = dict(decision.flags or {})
    branches, _ = branch_positions(decision)
    scopes: list[tuple[BranchSpec | None, str]] = [(None, decision.state)]
    # The definition's order, not the stored one (PostgreSQL's JSONB orders keys its own way).
    scopes += [
        (b, branches[b.name]) for b in definition.branches_in(decision.state) if b.name in branches
    ]
    for branch, state in scopes:
        seen: set[str] = set()
        for t in definition.transitions if branch is None else branch.transitions:
            if state not in t.source or t.trigger in seen or role not in t.roles:
                continue
            if t.when is None or t.when.holds(flags):
                seen.add(t.trigger)
                yield branch, state, t


def places(decision: Decision) -> set[str]:
    """The main-line state and every `branch.state` the decision stands in now."""
    branches, _ = branch_positions(decision)
    return checklist.places(decision.state, branches)


def declared(
    machine: ProcedureMachine, trigger: str
) -> tuple[BranchSpec | None, list[TransitionSpec]]:
    """The branch a trigger belongs to and its declared transitions; InvalidInput if unknown."""
    found = machine.declared.get(trigger)
    if found is None:
        raise InvalidInput(
            zh=f"没有名为“{trigger}”的操作",
            en=f"No action named '{trigger}'",
            fields={"trigger": ("没有此操作", "no such action")},
        )
    branch, transitions = found
    return branch, list(transitions)


def check_role(actor: Actor, transitions: list[TransitionSpec]) -> None:
    """Refuse an actor whose role no transition of the trigger lists."""
    roles = tuple(dict.fromkeys(r for t in transitions for r in t.roles))
    if actor.role not in roles:
        first = transitions[0]
        raise NotPermitted(
            zh=f"您的角色不能执行“{first.label.zh}”",
            en=f"Your role may not '{first.label.en}'",
            unmet=[refusals.wrong_role(first.article, roles)],
        )


def check_stage(
    definition: Definition,
    transitions: list[TransitionSpec],
    source: str | None,
    branch: BranchSpec | None,
) -> list[TransitionSpec]:
    """The transitions the trigger may take from where the decision stands, or a refusal."""
    candidates = [t for t in transitions if source is not None and source in t.source]
    if candidates:
        return candidates
    spec = transitions[0]
    zh, en = f"现阶段不能“{spec.label.zh}”", f"'{spec.label.en}' is not possible at this stage"
    if branch is not None and source is None:
        zh += f"（“{branch.label.zh}”未在进行）"
        en += f" ('{branch.label.en}' is not under way)"
    raise RuleNotMet(zh=zh, en=en, unmet=[refusals.wrong_stage(definition, spec, branch)])


def check_scope(session: Session, actor: Actor, decision: Decision) -> None:
    """Refuse an actor whose department (or assignment) does not reach this decision."""
    scope = ROLE_SCOPES[actor.role]
    if scope is Scope.GOVERNMENT:
        return
    if scope is Scope.UNDERTAKING_UNIT:
        if actor.department_id == decision.undertaking_unit_id:
            return  # the lead unit: no need to ask about co-units
        units = {decision.undertaking_unit_id}
        units |= set(
            session.scalars(
                select(DecisionCoUnit.department_id).where(
                    DecisionCoUnit.decision_id == decision.id
                )
            )
        )
        if actor.department_id in units:
            return
    elif scope is Scope.EXECUTING_UNIT:
        if actor.department_id is not None and actor.department_id == decision.executing_unit_id:
            return
    elif scope is Scope.ASSIGNED:
        key = (decision.id, actor.id, str(actor.role))
        if session.get(DecisionAssignment, key) is not None:
            return
    raise NotPermitted(
        zh="这不是您所在单位经办的决策", en="This decision is not one your department handles"
    )


def check_may_attach(actor: Actor, definition: Definition) -> None:
    """Refuse a role that takes no part in the procedure (a supervisor watches, never files)."""
    roles = {r for t in definition.every_transition for r in t.roles}
    roles |= {r for spec in definition.records.values() for r in spec.roles}
    # The executing unit files its progress reports with the decision (Art 34).
    roles.add(Role.EXECUTOR)
    if actor.role not in roles:
        raise NotPermitted(
            zh="您的角色不能向决策案卷添加附件",
            en="Your role may not attach files to a decision",
            unmet=[
                refusals.wrong_role(definition.filing_article, sorted(roles, key=list(Role).index))
            ],
        )


_DECISIONS = cast(Table, Decision.__table__)
_RECORDS = cast(Table, StepRecord.__table__)
# Compiled once per database and run on the driver (decisionflow.driver): these three run on
# every action, and SQLAlchemy's execution path would cost more than the statements do.
_SAVE = driver.Prepared(
    update(_DECISIONS)
    .where(_DECISIONS.c.id == bindparam("b_id"), _DECISIONS.c.version == bindparam("b_version"))
    .values(
        state=bindparam("state"),
        state_entered_at=bindparam("state_entered_at"),
        branch_states=bindparam("branch_states"),
        executing_unit_id=bindparam("executing_unit_id"),
        updated_at=bindparam("updated_at"),
        version=bindparam("version"),
    )
)
_RECORD_COLUMNS = ("decision_id", "kind", "data", "state", "branch", "created_by", "created_at")
_RECORD_INSERT = insert(_RECORDS).values({name: bindparam(name) for name in _RECORD_COLUMNS})
#: by whether the new id comes back by RETURNING (PostgreSQL) or the cursor's lastrowid
_INSERT_RECORD = {
    False: driver.Prepared(_RECORD_INSERT),
    True: driver.Prepared(_RECORD_INSERT.returning(_RECORDS.c.id)),
}
_LOAD = driver.Prepared(select(*_DECISIONS.c).where(_DECISIONS.c.id == bindparam("id")))
_HEAD = cast(Table, AuditChainHead.__table__)
# On SQLite, the audit chain's head comes with the decision: the action's append needs it.
_LOAD_WITH_HEAD = driver.Prepared(
    select(
        *_DECISIONS.c,
        _HEAD.c.seq.label("audit_head_seq"),
        _HEAD.c.hash.label("audit_head_hash"),
    )
    .select_from(_DECISIONS.outerjoin(_HEAD, _HEAD.c.id == audit.HEAD_ID))
    .where(_DECISIONS.c.id == bindparam("id"))
)


def load(session: Session, decision_id: int) -> Decision | None:
    """A decision as plain values in a Decision object the session does not track.

    Changes are written by `save`, one guarded UPDATE; an object outside the unit of work can
    never be written twice, and loading it skips the ORM's identity bookkeeping.
    """
    connection = session.connection()
    # Only a writer appends to the chain (a reader's head would be of no use, nor sure).
    if connection.dialect.name != "sqlite" or not is_writer(connection):
        values = _LOAD.one_or_none(connection, {"id": decision_id})
    else:
        values = _LOAD_WITH_HEAD.one_or_none(connection, {"id": decision_id})
        if values is not None:
            seq, hash = values.pop("audit_head_seq"), values.pop("audit_head_hash")
            if seq is not None:
                audit.head_seen(session, connection, seq, hash)
    return None if values is None else driver.detached(Decision, values)


def save(session: Session, decision: Decision, now: datetime) -> None:
    """Write the decision's new position and raise its version; a stale version is a conflict.

    The decision was detached from the session when loaded: one plain UPDATE, guarded by the
    version read, costs a fraction of the ORM's unit of work on every action. Every change
    raises the version, even one made in the same instant as the last.
    """
    cursor = _SAVE.execute(
        session.connection(),
        {
            "b_id": decision.id,
            "b_version": decision.version,
            "state": decision.state,
            "state_entered_at": decision.state_entered_at,
            "branch_states": decision.branch_states,
            "executing_unit_id": decision.executing_unit_id,
            "updated_at": now,
            "version": decision.version + 1,
        },
    )
    if cursor.rowcount != 1:
        raise StaleDataError(f"decision {decision.id} changed since version {decision.version}")
    decision.updated_at = now
    decision.version += 1


def insert_record(session: Session, **values: Any) -> int:
    """Keep one step record (a plain INSERT); its id."""
    connection = session.connection()
    # SQLite tells the new row's id without RETURNING (which older SQLite lacks)
    sqlite = connection.dialect.name == "sqlite"
    cursor = _INSERT_RECORD[not sqlite].execute(connection, values)
    return int(cursor.lastrowid if sqlite else cursor.fetchone()[0])


_RECORD_TIMES = driver.Prepared(
    select(_RECORDS.c.kind, _RECORDS.c.created_at).where(
        _RECORDS.c.decision_id == bindparam("decision_id")
    )
)
_LATEST_RECORD = driver.Prepared(
    select(_RECORDS.c.data, _RECORDS.c.created_at, _RECORDS.c.created_by)
    .where(_RECORDS.c.decision_id == bindparam("decision_id"), _RECORDS.c.kind == bindparam("kind"))
    .order_by(_RECORDS.c.id.desc())
    .limit(1)
)


class DriverRecordFacts(SqlRecordFacts):
    """The record facts a move asks most (counts, the newest of a kind), read on the driver."""

    def count(self, kind: str, *, since: datetime | None = None) -> int:
        """How many records of a kind (made at or after `since`)."""
        if self._times is None:
            times: dict[str, list[datetime]] = {}
            connection = self._session.connection()
            for row in _RECORD_TIMES.rows(connection, {"decision_id": self._decision_id}):
                times.setdefault(row["kind"], []).append(row["created_at"])
            self._times = times
        return super().count(kind, since=since)

    def latest(self, kind: str) -> RecordFact | None:
        """The newest record of a kind, if any."""
        if kind not in self._latest:
            row = _LATEST_RECORD.one_or_none(
                self._session.connection(), {"decision_id": self._decision_id, "kind": kind}
            )
            self._latest[kind] = (
                RecordFact(kind, row["data"], row["created_at"], row["created_by"]) if row else None
            )
        return self._latest[kind]


def facts_for_move(session: Session, decision: Decision) -> DecisionFacts:
    """The facts the rules see about a decision (facts.facts_of), its records read on the
    driver: a move asks them on every action."""
    return facts_of(session, decision, DriverRecordFacts(session, decision.id))


def enter_branches(
    definition: Definition,
    decision: Decision,
    state: str,
    now: datetime,
    completed: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The branch positions of a state just entered: each branch its flags switch on.

    A branch kept on re-entry that was completed before starts in its final state.
    """
    flags = dict(decision.flags or {})
    positions = {}
    for b in definition.branches_in(state):
        if b.when is not None and not b.when.holds(flags):
            continue
        final = next(s.name for s in b.states if s.final)
        start = (
            final
            if b.keep_on_reentry and b.name in completed
            else next(s.name for s in b.states if s.initial)
        )
        positions[b.name] = branch_entry(start, now)
    return positions


def completed_branches(
    session: Session, definition: Definition, decision: Decision, state: str
) -> set[str]:
    """The kept-on-re-entry branches of a state this decision has completed before."""
    kept = [b for b in definition.branches_in(state) if b.keep_on_reentry]
    finishing = {
        t.trigger: b.name
        for b in kept
        for t in b.transitions
        if any(s.final and s.name == t.dest for s in b.states)
    }
    if not finishing:
        return set()
    rows = session.execute(
        select(StepRecord.kind, StepRecord.branch).where(
            StepRecord.decision_id == decision.id, StepRecord.kind.in_(sorted(finishing))
        )
    )
    return {branch for kind, branch in rows if branch is not None and branch == finishing.get(kind)}


def apply_move(
    definition: Definition,
    decision: Decision,
    branch: BranchSpec | None,
    new_state: str,
    now: datetime,
    completed: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Put the decision (or one of its branches) in its new state."""
    if branch is not None:
        states = dict(decision.branch_states)
        states[branch.name] = branch_entry(new_state, now)
        decision.branch_states = states
    elif new_state != decision.state or definition.state(new_state).branches:
        decision.state = new_state
        decision.state_entered_at = now
        decision.branch_states = enter_branches(definition, decision, new_state, now, completed)


def assign_people(
    session: Session, decision: Decision, fields: Mapping[str, FieldSpec], clean: Mapping[str, Any]
) -> None:
    """Name the people a move assigns (experts asked for opinions); refuse unknown ones."""
    errors: dict[str, tuple[str, str]] = {}
    for name, spec in fields.items():
        if spec.assigns is None or not clean.get(name):
            continue
        ids = list(clean[name])
        found = set(
            session.scalars(
                select(User.id).where(
                    User.id.in_(ids), User.role == str(spec.assigns), User.active.is_(True)
                )
            )
        )
        missing = [str(i) for i in ids if i not in found]
        if missing:
            role = Role(spec.assigns)
            errors[name] = (
                f"以下编号不是在用的{refusals.role_label(role)[0]}：{', '.join(missing)}",
                f"not active {refusals.role_label(role)[1]} accounts: {', '.join(missing)}",
            )
            continue
        if spec.assigns is Role.EXPERT:
            unit = session.get(Department, decision.undertaking_unit_id)
            check_experts(session, ids, unit.code if unit else "", field=name)
        for user_id in ids:
            session.merge(
                DecisionAssignment(decision_id=decision.id, user_id=user_id, role=str(spec.assigns))
            )
    if errors:
        raise InvalidInput(zh="填写内容有误", en="Invalid input", fields=errors)


def store_draft(
    session: Session, decision_id: int, data: dict[str, Any], actor: Actor, now: datetime
) -> dict[str, Any]:
    """Keep a new draft version, numbered after the last, with its SHA-256."""
    number = (
        session.scalar(
            select(func.max(DraftVersion.number)).where(DraftVersion.decision_id == decision_id)
        )
        or 0
    ) + 1
    content = data["content"]
    sha256 = hashlib.sha256(content.encode("utf-8")).hexdigest()
    session.add(
        DraftVersion(
            decision_id=decision_id,
            number=number,
            content=content,
            sha256=sha256,
            change_note=data.get("change_note", ""),
            created_by=actor.id,
            created_at=now,
        )
    )
    return {"number": number, "sha256": sha256, "change_note": data.get("change_note", "")}


def branch_of_record(decision: Decision, allowed_in: Sequence[str]) -> str | None:
    """The branch a record is made in, when its kind belongs to a branch's state."""
    branches, _ = branch_positions(decision)
    return next((b for b, state in branches.items() if f"{b}.{state}" in allowed_in), None)
