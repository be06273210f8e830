"""Load procedure definitions from YAML and validate them into frozen models."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from decisionflow.roles import Role

FieldType = Literal["text", "date", "datetime", "choice", "bool", "int", "user", "users"]
Unit = Literal["calendar_days", "working_days"]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Article = Annotated[str, Field(min_length=3, max_length=120)]


class DefinitionError(ValueError):
    """A definition file is malformed: names the file, the path inside it and the problem."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file, self.path, self.problem = file, path, problem
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {problem}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Frozen):
    """A label in Simplified Chinese and English."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class FieldSpec(_Frozen):
    """One input field of a transition or record."""

    type: FieldType
    label: Text
    required: bool = True
    choices: tuple[str, ...] = ()
    max_length: int = Field(default=20_000, gt=0)
    minimum: int | None = None
    #: a `users` field whose people are thereby assigned to the decision in this role
    assigns: Role | None = None


class Condition(_Frozen):
    """Switches a step on by the decision's flags: all of `flags` set and none of `not_flags`."""

    flags: tuple[Name, ...] = ()
    not_flags: tuple[Name, ...] = ()

    def holds(self, decision_flags: dict[str, bool]) -> bool:
        """Whether the decision's flags switch the step on."""
        return all(decision_flags.get(f, False) for f in self.flags) and not any(
            decision_flags.get(f, False) for f in self.not_flags
        )


class Flag(_Frozen):
    """A decision attribute that switches steps on (e.g. vital interests → hearing)."""

    label: Text
    article: Article


class Parameter(_Frozen):
    """A number a local overlay may change, never below its statutory minimum."""

    value: int = Field(ge=0)
    label: Text
    article: Article
    minimum: int = Field(default=0, ge=0)


class Requirement(_Frozen):
    """A record that must exist before the state can be left."""

    record: Name
    article: Article
    min_count: int = Field(default=1, ge=1)
    #: count only records made since the state was last entered (e.g. a new draft after a loop)
    since_entry: bool = False


class GuardRef(_Frozen):
    """A named statutory condition from the guard registry, with the article it enforces."""

    name: Name
    article: Article
    params: dict[str, Any] = Field(default_factory=dict)


class Waiver(_Frozen):
    """A recorded field that waives a time rule (e.g. a reason to shorten the comment window)."""

    record: Name
    field: Name


class TimeRule(_Frozen):
    """A time limit: a minimum wait, a date that must lie far enough ahead, or a deadline."""

    kind: Literal["min_elapsed", "field_min_ahead", "max_elapsed"]
    article: Article
    #: a number of days, or the name of a parameter holding it
    days: int | Name
    unit: Unit = "calendar_days"
    #: min_elapsed / max_elapsed: counted from the last record of this kind, or from state entry
    since: Literal["state_entry"] | Name = "state_entry"
    #: field_min_ahead: the date field of the payload that must lie `days` ahead
    field: Name | None = None
    waiver: Waiver | None = None


class TransitionSpec(_Frozen):
    """A move from one state to another, fired by a named trigger."""

    trigger: Name
    label: Text
    source: tuple[str, ...]
    dest: Name
    roles: tuple[Role, ...] = Field(min_length=1)
    article: Article
    fields: dict[Name, FieldSpec] = Field(default_factory=dict)
    guards: tuple[GuardRef, ...] = ()
    time_rules: tuple[TimeRule, ...] = ()
    #: route condition: this move applies only when the decision's flags say so
    when: Condition | None = None
    #: leave without the source state's required records (withdrawal, termination)
    skip_requirements: bool = False

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class StateSpec(_Frozen):
    """A stage of the procedure."""

    name: Name
    label: Text
    initial: bool = False
    final: bool = False
    requires: tuple[Requirement, ...] = ()
    branches: tuple[BranchSpec, ...] = ()


class BranchSpec(_Frozen):
    """A track run in parallel inside a state, in any order with its siblings."""

    name: Name
    label: Text
    article: Article
    when: Condition | None = None
    states: tuple[StateSpec, ...] = Field(min_length=2)
    transitions: tuple[TransitionSpec, ...] = Field(min_length=1)


class RecordSpec(_Frozen):
    """A kind of record the procedure keeps (an opinion, a report, a draft version…)."""

    label: Text
    article: Article
    roles: tuple[Role, ...] = Field(min_length=1)
    fields: dict[Name, FieldSpec] = Field(default_factory=dict)
    #: states (or "branch.state") in which it may be added; empty: any non-final state
    allowed_in: tuple[str, ...] = ()
    #: "draft" records are stored as draft versions with their SHA-256
    storage: Literal["record", "draft"] = "record"


class Definition(_Frozen):
    """A whole procedure, as the law fixes it, at one version."""

    procedure: Name
    version: int = Field(ge=1)
    title: Text
    basis: str = Field(min_length=1)
    flags: dict[Name, Flag] = Field(default_factory=dict)
    parameters: dict[Name, Parameter] = Field(default_factory=dict)
    records: dict[Name, RecordSpec] = Field(default_factory=dict)
    states: tuple[StateSpec, ...] = Field(min_length=2)
    transitions: tuple[TransitionSpec, ...] = Field(min_length=1)
    #: SHA-256 of the source text, set by the loader
    digest: str = ""

    # -- lookups used by the machine and the service -------------------------------------
    @property
    def key(self) -> tuple[str, int]:
        """(procedure, version): how a decision names the definition it runs on."""
        return (self.procedure, self.version)

    def state(self, name: str) -> StateSpec:
        """The main-line state of that name."""
        return next(s for s in self.states if s.name == name)

    @property
    def initial_state(self) -> StateSpec:
        """The state a new decision starts in."""
        return next(s for s in self.states if s.initial)

    def branch(self, name: str) -> BranchSpec:
        """The parallel branch of that name, in whichever state holds it."""
        return next(b for s in self.states for b in s.branches if b.name == name)

    def branches_in(self, state: str) -> tuple[BranchSpec, ...]:
        """The branches run inside a main-line state."""
        return self.state(state).branches

    def branch_of_trigger(self, trigger: str) -> BranchSpec | None:
        """The branch a trigger belongs to, or None for a main-line trigger."""
        for s in self.states:
            for b in s.branches:
                if any(t.trigger == trigger for t in b.transitions):
                    return b
        return None

    def parameter(self, name: str) -> int:
        """The value of a numeric parameter."""
        return self.parameters[name].value

    def days(self, rule: TimeRule) -> int:
        """A time rule's number of days, resolving a parameter name."""
        return rule.days if isinstance(rule.days, int) else self.parameter(rule.days)

    @property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger name, main line and branches, in declaration order."""
        names = [t.trigger for t in self.transitions]
        names += [t.trigger for s in self.states for b in s.branches for t in b.transitions]
        return tuple(dict.fromkeys(names))


StateSpec.model_rebuild()


def _format_loc(loc: Iterable[Any]) -> str:
    """Turn pydantic's location tuple into `transitions[3].roles[0]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"function-before", "function-after"} or str(part).startswith("function-"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_definition(text: str, *, file: str) -> Definition:
    """Parse and validate one definition's YAML text; raise DefinitionError naming the fault."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise DefinitionError(file, where, f"not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise DefinitionError(file, "", "must be a mapping with procedure, version, states…")
    try:
        definition = Definition.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise DefinitionError(file, _format_loc(first["loc"]), first["msg"]) from None
    from decisionflow.checks import check_definition  # cross-references need the guard registry

    check_definition(definition, file=file)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return definition.model_copy(update={"digest": digest})


def load_definition(path: Path) -> Definition:
    """Load one definition file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DefinitionError(str(path), "", f"cannot be read: {err.strerror}") from None
    return parse_definition(text, file=path.name)


def definition_files(folder: Path) -> list[Path]:
    """The procedure definition files in a folder (its top-level *.yaml)."""
    return sorted(p for p in folder.glob("*.yaml") if p.is_file())
