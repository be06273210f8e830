"""What the law still requires at a decision's current position, and which records fit it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from decisionflow.definitions import Definition, RecordSpec, Text, TransitionSpec
from decisionflow.roles import Role


def places(state: str, branch_states: Mapping[str, str]) -> set[str]:
    """The names records use for a position: the state, and `branch.state` for each branch."""
    return {state} | {f"{branch}.{bstate}" for branch, bstate in branch_states.items()}


def record_fits(
    spec: RecordSpec, definition: Definition, state: str, branch_states: Mapping[str, str]
) -> bool:
    """Whether a record of this kind may be added at this position (ignoring who adds it)."""
    if definition.state(state).final:
        return False
    return not spec.allowed_in or bool(places(state, branch_states).intersection(spec.allowed_in))


@dataclass(frozen=True)
class RecordSlot:
    """A kind of record the actor may add now."""

    kind: str
    spec: RecordSpec


def addable_records(
    definition: Definition, state: str, branch_states: Mapping[str, str], role: Role
) -> list[RecordSlot]:
    """The record kinds this role may add at this position."""
    return [
        RecordSlot(kind, spec)
        for kind, spec in definition.records.items()
        if role in spec.roles and record_fits(spec, definition, state, branch_states)
    ]


def states_with_work(definition: Definition, role: Role) -> set[str]:
    """Main-line states in which this role may have a move or a record to add (branches included)."""
    parent = {b.name: s.name for s in definition.states for b in s.branches}
    states = {s for t in definition.transitions if role in t.roles for s in t.source}
    for state in definition.states:
        if any(role in t.roles for b in state.branches for t in b.transitions):
            states.add(state.name)
    for spec in definition.records.values():
        if role in spec.roles:
            places = spec.allowed_in or tuple(s.name for s in definition.states)
            states |= {parent.get(p.split(".")[0], p) if "." in p else p for p in places}
    return {s for s in states if not definition.state(s).final}


def moves_for(
    definition: Definition,
    state: str,
    branch_states: Mapping[str, str],
    role: Role,
    flags: Mapping[str, bool],
) -> list[Text]:
    """What this role could do at this position: its moves and the records it may add.

    A move the decision's flags switch off (no comment window on a confidential matter) is no
    work of anyone's.
    """

    def offered(t: TransitionSpec, at: str) -> bool:
        return role in t.roles and at in t.source and (t.when is None or t.when.holds(dict(flags)))

    found = [t.label for t in definition.transitions if offered(t, state)]
    for name, bstate in branch_states.items():
        branch = definition.branch(name)
        found += [t.label for t in branch.transitions if offered(t, bstate)]
    found += [slot.spec.label for slot in addable_records(definition, state, branch_states, role)]
    return list(dict.fromkeys(found))
