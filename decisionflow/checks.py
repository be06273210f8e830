"""Cross-reference checks of a parsed definition: every name it uses must exist."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from decisionflow.definitions import (
    BranchSpec,
    Condition,
    Definition,
    DefinitionError,
    FieldSpec,
    StateSpec,
    TransitionSpec,
)
from decisionflow.guards import REGISTRY


class _Checker:
    """Walks a definition and raises the first DefinitionError it finds."""

    def __init__(self, definition: Definition, file: str) -> None:
        self.d = definition
        self.file = file
        # A trigger's payload is kept as a record of the trigger's name, so time rules may
        # count from it or read a waiver from it.
        self.record_fields: dict[str, set[str]] = {
            name: set(spec.fields) for name, spec in definition.records.items()
        }
        every = list(definition.transitions)
        every += [t for s in definition.states for b in s.branches for t in b.transitions]
        for t in every:
            self.record_fields.setdefault(t.trigger, set()).update(t.fields)

    def fail(self, path: str, problem: str) -> None:
        raise DefinitionError(self.file, path, problem)

    def run(self) -> None:
        d = self.d
        self.check_states(d.states, "states", main=True)
        self.check_transitions(d.transitions, "transitions", d.states)
        for i, state in enumerate(d.states):
            for j, branch in enumerate(state.branches):
                self.check_branch(branch, f"states[{i}].branches[{j}]")
        self.check_triggers_unique()
        self.check_records()
        self.check_requirements()
        self.check_reachability(d.states, d.transitions, "states")

    def check_states(self, states: Sequence[StateSpec], path: str, *, main: bool) -> None:
        seen: set[str] = set()
        for i, state in enumerate(states):
            if state.name in seen:
                self.fail(f"{path}[{i}].name", f"state '{state.name}' is declared twice")
            seen.add(state.name)
            if state.final and state.branches:
                self.fail(f"{path}[{i}].branches", "a final state cannot hold branches")
            if not main and state.branches:
                self.fail(f"{path}[{i}].branches", "branches cannot be nested")
        initial = [s.name for s in states if s.initial]
        if len(initial) != 1:
            self.fail(path, f"exactly one state must be initial, found {len(initial)}")
        if not any(s.final for s in states):
            self.fail(path, "at least one state must be final")

    def check_branch(self, branch: BranchSpec, path: str) -> None:
        self.check_states(branch.states, f"{path}.states", main=False)
        self.check_condition(branch.when, f"{path}.when")
        self.check_transitions(branch.transitions, f"{path}.transitions", branch.states)
        self.check_reachability(branch.states, branch.transitions, f"{path}.states")

    def check_condition(self, condition: Condition | None, path: str) -> None:
        if condition is None:
            return
        for key, flags in (("flags", condition.flags), ("not_flags", condition.not_flags)):
            for k, flag in enumerate(flags):
                if flag not in self.d.flags:
                    self.fail(
                        f"{path}.{key}[{k}]", f"unknown flag '{flag}'{self.known(self.d.flags)}"
                    )

    def check_transitions(
        self, transitions: Sequence[TransitionSpec], path: str, scope: Sequence[StateSpec]
    ) -> None:
        states = {s.name for s in scope}
        finals = {s.name for s in scope if s.final}
        for i, t in enumerate(transitions):
            here = f"{path}[{i}]"
            for k, source in enumerate(t.source):
                if source not in states:
                    self.fail(
                        f"{here}.source[{k}]", f"unknown state '{source}'{self.known(states)}"
                    )
                if source in finals:
                    self.fail(f"{here}.source[{k}]", f"'{source}' is final; nothing may leave it")
            if t.dest not in states:
                self.fail(f"{here}.dest", f"unknown state '{t.dest}'{self.known(states)}")
            self.check_condition(t.when, f"{here}.when")
            self.check_fields(t.fields, f"{here}.fields")
            for k, ref in enumerate(t.guards):
                guard = REGISTRY.get(ref.name)
                if guard is None:
                    self.fail(
                        f"{here}.guards[{k}].name",
                        f"unknown guard '{ref.name}'{self.known(REGISTRY)}",
                    )
                    return
                missing = guard.params - set(ref.params)
                extra = set(ref.params) - guard.params
                if missing or extra:
                    self.fail(
                        f"{here}.guards[{k}].params",
                        f"guard '{ref.name}' takes parameters {sorted(guard.params)}, "
                        f"got {sorted(ref.params)}",
                    )
            for k, rule in enumerate(t.time_rules):
                rpath = f"{here}.time_rules[{k}]"
                if isinstance(rule.days, str) and rule.days not in self.d.parameters:
                    self.fail(
                        f"{rpath}.days",
                        f"unknown parameter '{rule.days}'{self.known(self.d.parameters)}",
                    )
                if rule.since != "state_entry" and rule.since not in self.record_fields:
                    self.fail(
                        f"{rpath}.since",
                        f"unknown record '{rule.since}'{self.known(self.record_fields)}",
                    )
                if rule.kind == "field_min_ahead":
                    spec = t.fields.get(rule.field or "")
                    if spec is None or spec.type != "date":
                        self.fail(f"{rpath}.field", "must name a date field of this transition")
                if rule.waiver is not None:
                    fields = self.record_fields.get(rule.waiver.record)
                    if fields is None:
                        self.fail(
                            f"{rpath}.waiver.record", f"unknown record '{rule.waiver.record}'"
                        )
                    elif rule.waiver.field not in fields:
                        self.fail(
                            f"{rpath}.waiver.field",
                            f"record '{rule.waiver.record}' has no field '{rule.waiver.field}'",
                        )

    def check_fields(self, fields: dict[str, FieldSpec], path: str) -> None:
        for name, spec in fields.items():
            if spec.type == "choice" and not spec.choices:
                self.fail(f"{path}.{name}.choices", "a choice field needs its choices")
            if spec.type != "choice" and spec.choices:
                self.fail(f"{path}.{name}.choices", "only a choice field has choices")

    def check_triggers_unique(self) -> None:
        """A trigger belongs to the main line or to one branch, never to both."""
        owner: dict[str, str] = {t.trigger: "main line" for t in self.d.transitions}
        for i, state in enumerate(self.d.states):
            for j, branch in enumerate(state.branches):
                for k, t in enumerate(branch.transitions):
                    if owner.get(t.trigger, branch.name) != branch.name:
                        self.fail(
                            f"states[{i}].branches[{j}].transitions[{k}].trigger",
                            f"trigger '{t.trigger}' is already used by the {owner[t.trigger]}",
                        )
                    owner[t.trigger] = branch.name

    def check_records(self) -> None:
        places = {s.name for s in self.d.states}
        places |= {
            f"{b.name}.{s.name}" for st in self.d.states for b in st.branches for s in b.states
        }
        for name, record in self.d.records.items():
            self.check_fields(record.fields, f"records.{name}.fields")
            for k, place in enumerate(record.allowed_in):
                if place not in places:
                    self.fail(f"records.{name}.allowed_in[{k}]", f"unknown state '{place}'")

    def check_requirements(self) -> None:
        def walk(states: Sequence[StateSpec], path: str) -> None:
            for i, state in enumerate(states):
                for k, req in enumerate(state.requires):
                    if req.record not in self.d.records:
                        self.fail(
                            f"{path}[{i}].requires[{k}].record",
                            f"unknown record '{req.record}'{self.known(self.d.records)}",
                        )
                for j, branch in enumerate(state.branches):
                    walk(branch.states, f"{path}[{i}].branches[{j}].states")

        walk(self.d.states, "states")

    def check_reachability(
        self, states: Sequence[StateSpec], transitions: Sequence[TransitionSpec], path: str
    ) -> None:
        """No state unreachable from the initial one, and no dead end short of a final state."""
        reached = {next(s.name for s in states if s.initial)}
        grew = True
        while grew:
            grew = False
            for t in transitions:
                if t.dest not in reached and reached.intersection(t.source):
                    reached.add(t.dest)
                    grew = True
        for i, state in enumerate(states):
            if state.name not in reached:
                self.fail(
                    f"{path}[{i}]", f"state '{state.name}' cannot be reached from the initial state"
                )
            leaves = any(state.name in t.source for t in transitions)
            if not state.final and not leaves:
                self.fail(
                    f"{path}[{i}]",
                    f"state '{state.name}' is a dead end: not final and no transition leaves it",
                )

    @staticmethod
    def known(names: Iterable[str]) -> str:
        listed = sorted(names)
        return f" (known: {', '.join(listed)})" if listed else ""


def check_definition(definition: Definition, *, file: str) -> None:
    """Raise DefinitionError for the first name the definition uses that does not exist."""
    _Checker(definition, file).run()
