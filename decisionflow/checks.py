"""Cross-reference checks of a parsed definition: every name it uses must exist."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NoReturn

from decisionflow.definitions import (
    BranchSpec,
    Condition,
    Definition,
    DefinitionError,
    FieldSpec,
    GuardRef,
    StateSpec,
    TransitionSpec,
)
from decisionflow.guards import REGISTRY
from decisionflow.roles import Role


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
        for t in definition.every_transition:
            self.record_fields.setdefault(t.trigger, set()).update(t.fields)

    def fail(self, path: str, problem: str) -> NoReturn:
        raise DefinitionError(self.file, path, problem)

    def run(self) -> None:
        d = self.d
        self.check_parameters()
        self.check_states(d.states, "states", main=True)
        self.check_transitions(d.transitions, "transitions", d.states)
        self.check_routes(d.transitions, "transitions")
        for i, state in enumerate(d.states):
            for j, branch in enumerate(state.branches):
                self.check_branch(branch, f"states[{i}].branches[{j}]")
        self.check_triggers_unique()
        self.check_records()
        self.check_requirements()
        self.check_reachability(d.states, d.transitions, "states")
        self.check_public_comments()
        self.check_published_by()

    def check_published_by(self) -> None:
        if self.d.published_by is not None and self.d.published_by not in self.d.triggers:
            self.fail("published_by", f"unknown trigger '{self.d.published_by}'")

    def check_public_comments(self) -> None:
        """The consultation the public comments on must name a real branch state and date field."""
        spec = self.d.public_comments
        if spec is None:
            return
        branch = next((b for s in self.d.states for b in s.branches if b.name == spec.branch), None)
        if branch is None:
            self.fail("public_comments.branch", f"unknown branch '{spec.branch}'")
            return
        if spec.state not in {s.name for s in branch.states}:
            self.fail(
                "public_comments.state", f"branch '{spec.branch}' has no state '{spec.state}'"
            )
        for key in ("deadline", "explanation"):
            ref = getattr(spec, key)
            fields = self.record_fields.get(ref.record)
            if fields is None:
                self.fail(f"public_comments.{key}.record", f"unknown record '{ref.record}'")
            elif ref.field not in fields:
                self.fail(
                    f"public_comments.{key}.field",
                    f"record '{ref.record}' has no field '{ref.field}'",
                )

    def check_parameters(self) -> None:
        """A local overlay may raise a statutory number, never lower it below the law."""
        for name, parameter in self.d.parameters.items():
            if parameter.value < parameter.minimum:
                self.fail(
                    f"parameters.{name}.value",
                    f"{parameter.value} is below the statutory minimum {parameter.minimum} "
                    f"({parameter.article})",
                )

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
        self.check_routes(branch.transitions, f"{path}.transitions")
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
            self.check_roles(t.roles, f"{here}.roles")
            if t.numbering is not None:
                spec = t.fields.get(t.numbering.field)
                if spec is None or spec.type != "text" or spec.required:
                    self.fail(
                        f"{here}.numbering.field",
                        "must name an optional text field of this transition: the service fills it",
                    )
                if "{year}" not in t.numbering.format:
                    self.fail(f"{here}.numbering.format", "must contain {year} and {n}")
            self.check_condition(t.when, f"{here}.when")
            self.check_fields(t.fields, f"{here}.fields")
            for k, ref in enumerate(t.guards):
                self.check_guard(t, ref, f"{here}.guards[{k}]")
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
                elif rule.field is not None:
                    self.fail(f"{rpath}.field", "only a field_min_ahead rule names a field")
                if rule.waiver is not None:
                    fields = self.record_fields.get(rule.waiver.record)
                    if fields is None:
                        self.fail(
                            f"{rpath}.waiver.record",
                            f"unknown record '{rule.waiver.record}'{self.known(self.record_fields)}",
                        )
                    elif rule.waiver.field not in fields:
                        self.fail(
                            f"{rpath}.waiver.field",
                            f"record '{rule.waiver.record}' has no field '{rule.waiver.field}'",
                        )

    def check_guard(self, t: TransitionSpec, ref: GuardRef, path: str) -> None:
        guard = REGISTRY.get(ref.name)
        if guard is None:
            self.fail(f"{path}.name", f"unknown guard '{ref.name}'{self.known(REGISTRY)}")
        missing = guard.params - set(ref.params)
        extra = set(ref.params) - guard.params
        if missing or extra:
            self.fail(
                f"{path}.params",
                f"guard '{ref.name}' takes parameters {sorted(guard.params)}, "
                f"got {sorted(ref.params)}",
            )
        # A guard naming a record or field that does not exist could never hold (or would
        # fail at run time on a value of the wrong type): refuse it here instead.
        record, field = ref.params.get("record"), ref.params.get("field")
        if "record" in ref.params:
            fields = self.record_fields.get(record) if isinstance(record, str) else None
            if fields is None:
                self.fail(
                    f"{path}.params.record",
                    f"unknown record {record!r}{self.known(self.record_fields)}",
                )
            if "field" in ref.params and (not isinstance(field, str) or field not in fields):
                self.fail(f"{path}.params.field", f"record '{record}' has no field {field!r}")
            spec = (
                self.d.records[record].fields.get(str(field)) if record in self.d.records else None
            )
            for key in ("value", "expects"):
                value = ref.params.get(key)
                if (
                    key in ref.params
                    and spec is not None
                    and spec.type == "choice"
                    and value not in spec.choices
                ):
                    self.fail(
                        f"{path}.params.{key}",
                        f"{value!r} is not one of the choices of '{record}.{field}': "
                        f"{', '.join(spec.choices)}",
                    )
        elif "field" in ref.params:
            spec = t.fields.get(field) if isinstance(field, str) else None
            if spec is None:
                self.fail(
                    f"{path}.params.field",
                    f"this transition has no field {field!r}{self.known(t.fields)}",
                )
            if guard.field_type is not None and spec.type != guard.field_type:
                self.fail(
                    f"{path}.params.field",
                    f"guard '{ref.name}' needs a {guard.field_type} field; "
                    f"'{field}' is a {spec.type} field",
                )

        by = ref.params.get("by")
        if "by" in ref.params and (
            not isinstance(by, str)
            or by not in self.record_fields.get(str(ref.params.get("record")), set())
        ):
            self.fail(
                f"{path}.params.by", f"record '{ref.params.get('record')}' has no field {by!r}"
            )
        flag = ref.params.get("flag")
        if "flag" in ref.params and flag not in self.d.flags:
            self.fail(f"{path}.params.flag", f"unknown flag {flag!r}{self.known(self.d.flags)}")
        reason = ref.params.get("reason_field")
        if "reason_field" in ref.params and (not isinstance(reason, str) or reason not in t.fields):
            self.fail(
                f"{path}.params.reason_field",
                f"this transition has no field {reason!r}{self.known(t.fields)}",
            )
        for k, item in enumerate(ref.params.get("records") or []):
            named = item.get("record") if isinstance(item, dict) else None
            fields = self.record_fields.get(named) if isinstance(named, str) else None
            if fields is None or item.get("field") not in fields:
                self.fail(
                    f"{path}.params.records[{k}]",
                    f"must name a record and one of its fields, got {item!r}",
                )

    def check_routes(self, transitions: Sequence[TransitionSpec], path: str) -> None:
        """Routes of one trigger declare the same fields, since one form serves them all."""
        first: dict[str, tuple[int, TransitionSpec]] = {}
        for i, t in enumerate(transitions):
            if t.trigger not in first:
                first[t.trigger] = (i, t)
                continue
            j, other = first[t.trigger]
            if set(t.roles) != set(other.roles):
                # who may act is asked before the flags pick a route: it must not depend on them
                self.fail(
                    f"{path}[{i}].roles",
                    f"trigger '{t.trigger}' allows {sorted(t.roles)} here but {sorted(other.roles)} "
                    f"at {path}[{j}]; routes of one trigger must allow the same roles",
                )
            if t.fields == other.fields:
                continue
            why = "routes of one trigger must declare the same fields, since one form serves them"
            if set(t.fields) != set(other.fields):
                self.fail(
                    f"{path}[{i}].fields",
                    f"trigger '{t.trigger}' declares fields {sorted(t.fields)} here but "
                    f"{sorted(other.fields)} at {path}[{j}]; {why}",
                )
            name = next(n for n in t.fields if t.fields[n] != other.fields[n])
            self.fail(
                f"{path}[{i}].fields.{name}",
                f"field '{name}' of trigger '{t.trigger}' differs from "
                f"{path}[{j}].fields.{name}; {why}",
            )

    def check_roles(self, roles: Sequence[Role], path: str) -> None:
        for k, role in enumerate(roles):
            if role is Role.PUBLIC:
                self.fail(
                    f"{path}[{k}]",
                    "the public has no account and acts only through the portal; name a user role",
                )

    def check_fields(self, fields: dict[str, FieldSpec], path: str) -> None:
        for name, spec in fields.items():
            if spec.type == "choice" and not spec.choices:
                self.fail(f"{path}.{name}.choices", "a choice field needs its choices")
            if spec.type != "choice" and spec.choices:
                self.fail(f"{path}.{name}.choices", "only a choice field has choices")
            if spec.assigns is not None and spec.type != "users":
                # the service assigns each listed user id: only a `users` value is a list
                self.fail(f"{path}.{name}.assigns", "only a users field assigns a role")
            if spec.sets is not None and spec.type != "department":
                self.fail(f"{path}.{name}.sets", "only a department field sets a unit")
            if spec.minimum is not None and spec.type != "int":
                self.fail(f"{path}.{name}.minimum", "only an int field has a minimum")
            for choice in spec.choice_labels:
                if choice not in spec.choices:
                    self.fail(
                        f"{path}.{name}.choice_labels.{choice}",
                        f"'{choice}' is not one of the choices",
                    )

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
        triggers = set(self.d.triggers)
        for name, record in self.d.records.items():
            self.check_roles(record.roles, f"records.{name}.roles")
            if name in triggers:
                # a move is kept as a record of its trigger's name: it would count as this record
                self.fail(
                    f"records.{name}",
                    f"'{name}' is also a trigger; a move is kept as a record of its trigger's "
                    "name, so name the record differently",
                )
            self.check_fields(record.fields, f"records.{name}.fields")
            content = record.fields.get("content")
            if record.storage == "draft" and (content is None or content.type != "text"):
                self.fail(
                    f"records.{name}.fields",
                    "a draft record needs a text field 'content' (the draft's text)",
                )
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
                    self.check_condition(req.when, f"{path}[{i}].requires[{k}].when")
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
