"""One `transitions` state machine per definition version (and per branch), built once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transitions import EventData, Machine

from decisionflow.definitions import BranchSpec, Definition, StateSpec, TransitionSpec
from decisionflow.rules import Move, route_applies, unmet_for


class Position:
    """Where a decision stands, as a machine sees it; made per move, never kept."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


@dataclass(frozen=True)
class _RouteCheck:
    """Condition: the decision's flags route the trigger along this transition."""

    transition: TransitionSpec

    def __call__(self, event: EventData) -> bool:
        return route_applies(event.kwargs["move"], self.transition)


@dataclass(frozen=True)
class _RuleCheck:
    """Condition: every rule of the transition holds; the unmet ones are kept on the move."""

    transition: TransitionSpec
    source: StateSpec

    def __call__(self, event: EventData) -> bool:
        move: Move = event.kwargs["move"]
        unmet = unmet_for(move, self.transition, self.source)
        move.unmet.extend(unmet)
        return not unmet


def _build(
    name: str, states: Sequence[StateSpec], transitions: Sequence[TransitionSpec]
) -> Machine:
    by_name = {s.name: s for s in states}
    machine = Machine(
        model=None,
        states=[s.name for s in states],
        initial=next(s.name for s in states if s.initial),
        auto_transitions=False,
        send_event=True,
        name=name,
    )
    for t in transitions:
        for source in t.source:
            # Route first, so a move the flags do not route here reports no rules.
            machine.add_transition(
                t.trigger,
                source,
                t.dest,
                conditions=[_RouteCheck(t), _RuleCheck(t, by_name[source])],
            )
    return machine


class ProcedureMachine:
    """The machines of one definition version: the main line and each parallel branch."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.main = _build(definition.procedure, definition.states, definition.transitions)
        self.branches: dict[str, Machine] = {
            b.name: _build(f"{definition.procedure}.{b.name}", b.states, b.transitions)
            for s in definition.states
            for b in s.branches
        }
        #: each trigger's branch (None: the main line) and its declared transitions, found
        #: once here rather than by a walk over every transition on each move
        self.declared: dict[str, tuple[BranchSpec | None, tuple[TransitionSpec, ...]]] = {}
        for trigger in definition.triggers:
            branch = definition.branch_of_trigger(trigger)
            spec = branch.transitions if branch else definition.transitions
            self.declared[trigger] = (branch, tuple(t for t in spec if t.trigger == trigger))

    def machine_for(self, branch: BranchSpec | None) -> Machine:
        """The machine that owns a trigger: a branch's, or the main line's."""
        return self.main if branch is None else self.branches[branch.name]

    def transitions_from(
        self, trigger: str, state: str, branch: BranchSpec | None = None
    ) -> list[TransitionSpec]:
        """The declared transitions a trigger may take from a state."""
        declared = self.definition.transitions if branch is None else branch.transitions
        return [t for t in declared if t.trigger == trigger and state in t.source]

    def fire(self, trigger: str, position: Position, move: Move, branch: BranchSpec | None) -> bool:
        """Try the trigger; True if a transition was taken (position.state is then the new one)."""
        machine = self.machine_for(branch)
        return bool(machine.events[trigger].trigger(position, move=move))
