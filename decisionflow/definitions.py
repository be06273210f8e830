"""Load procedure definitions from YAML and validate them into frozen models."""

from __future__ import annotations

import hashlib
import re
import types
from collections.abc import Iterable, Mapping
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from decisionflow.roles import Role

FieldType = Literal[
    "text", "date", "datetime", "choice", "bool", "int", "user", "users", "department"
]
Unit = Literal["calendar_days", "working_days"]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Article = Annotated[str, Field(min_length=3, max_length=120)]
_NAME_RULE = "lower-case letters, digits and '_', starting with a letter, at most 64 characters"


def _days_value(value: Any) -> int | str:
    """A time rule's days: a whole number of days, or the name of a parameter holding it."""
    # One validator instead of a union `int | Name`, so a bad value gets one plain message
    # rather than pydantic's two guesses tagged `days.int` and `days.constrained-str`.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and len(value) <= 64 and re.fullmatch(r"[a-z][a-z0-9_]*", value):
        return value
    raise ValueError(
        f"should be a whole number of days (0 or more) or the name of a parameter, "
        f"got {_describe(value)}"
    )


Days = Annotated[int | str, PlainValidator(_days_value)]


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
    required: StrictBool = True
    choices: tuple[str, ...] = ()
    max_length: StrictInt = Field(default=20_000, gt=0)
    minimum: StrictInt | None = None
    #: a `users` field whose people are thereby assigned to the decision in this role
    assigns: Role | None = None
    #: how each choice reads, in both languages (a choice without one shows as written)
    choice_labels: dict[str, Text] = Field(default_factory=dict)
    #: a `department` field that names the decision's executing unit (Art 34)
    sets: Literal["executing_unit"] | None = None


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

    value: StrictInt = Field(ge=0)
    label: Text
    article: Article
    #: the number the law fixes; checks refuse a value below it
    minimum: StrictInt = Field(default=0, ge=0)


class Requirement(_Frozen):
    """A record that must exist before the state can be left."""

    record: Name
    article: Article
    min_count: StrictInt = Field(default=1, ge=1)
    #: count only records made since the state was last entered (e.g. a new draft after a loop)
    since_entry: StrictBool = False
    #: required only when the decision's flags say so (e.g. a fair competition review, Art 30)
    when: Condition | None = None


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
    days: Days
    unit: Unit = "calendar_days"
    #: min_elapsed / max_elapsed: counted from the last record of this kind, or from state entry
    since: Name = "state_entry"
    #: field_min_ahead: the date field of the payload that must lie `days` ahead
    field: Name | None = None
    waiver: Waiver | None = None


class Signature(_Frozen):
    """A move or record that its author signs by re-entering the password, over the current draft."""

    article: Article


class Numbering(_Frozen):
    """A unified number the service issues into a field, e.g. 锦新政规〔{year}〕{n}号."""

    field: Name
    format: str = Field(pattern=r"\{n\}")
    article: Article


class TransitionSpec(_Frozen):
    """A move from one state to another, fired by a named trigger."""

    trigger: Name
    label: Text
    source: tuple[str, ...] = Field(min_length=1)
    dest: Name
    roles: tuple[Role, ...] = Field(min_length=1)
    article: Article
    fields: dict[Name, FieldSpec] = Field(default_factory=dict)
    guards: tuple[GuardRef, ...] = ()
    time_rules: tuple[TimeRule, ...] = ()
    #: route condition: this move applies only when the decision's flags say so
    when: Condition | None = None
    #: leave without the source state's required records (withdrawal, termination)
    skip_requirements: StrictBool = False
    #: the actor signs the move (re-entering the password), bound to the draft's SHA-256
    signature: Signature | None = None
    #: the service issues a unified number into one of the record's fields
    numbering: Numbering | None = None
    #: keep an account of the procedure followed so far with the move (Art 26)
    attach_account: StrictBool = False
    #: the move opens a new decision that re-runs the full procedure, linked to this one (Art 37)
    opens_successor: StrictBool = False

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class StateSpec(_Frozen):
    """A stage of the procedure."""

    name: Name
    label: Text
    initial: StrictBool = False
    final: StrictBool = False
    requires: tuple[Requirement, ...] = ()
    branches: tuple[BranchSpec, ...] = ()


class BranchSpec(_Frozen):
    """A track run in parallel inside a state, in any order with its siblings."""

    name: Name
    label: Text
    article: Article
    when: Condition | None = None
    #: a branch completed once stays complete when its stage is entered again (a loop back to
    #: drafting does not repeat a 30-day consultation already held)
    keep_on_reentry: StrictBool = False
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
    #: the author signs the record (re-entering the password), bound to the draft's SHA-256
    signature: Signature | None = None


class RecordField(_Frozen):
    """A field of the newest record of a kind (a trigger's payload counts as a record)."""

    record: Name
    field: Name


class PublicComments(_Frozen):
    """Where the public may comment: the branch state of an open consultation and its deadline."""

    branch: Name
    state: Name
    deadline: RecordField
    explanation: RecordField
    article: Article


class Definition(_Frozen):
    """A whole procedure, as the law fixes it, at one version."""

    procedure: Name
    version: StrictInt = Field(ge=1)
    title: Text
    basis: str = Field(min_length=1)
    flags: dict[Name, Flag] = Field(default_factory=dict)
    parameters: dict[Name, Parameter] = Field(default_factory=dict)
    records: dict[Name, RecordSpec] = Field(default_factory=dict)
    states: tuple[StateSpec, ...] = Field(min_length=2)
    transitions: tuple[TransitionSpec, ...] = Field(min_length=1)
    public_comments: PublicComments | None = None
    #: the move that publishes the decision (Art 32): what the public portal then shows
    published_by: Name | None = None
    #: the article that keeps a closed matter's file complete and unaltered (Art 33)
    archive_article: Article | None = None
    #: SHA-256 of the source text, set by the loader
    digest: str = ""
    #: the local overlay merged in ("liaoning@1"), set by decisionflow.overlays; None: national
    overlay: str | None = None

    # -- lookups used by the machine and the service -------------------------------------
    @property
    def key(self) -> tuple[str, int]:
        """(procedure, version): how a decision names the definition it runs on."""
        return (self.procedure, self.version)

    def state(self, name: str) -> StateSpec:
        """The main-line state of that name; KeyError if the definition has none."""
        return self._states_by_name[name]

    # Pages ask for labels of states and triggers hundreds of times; a definition never
    # changes once loaded (frozen), so its lookups are built once. (model_copy carries them
    # over: a copy may change only what no lookup is built from, as the loader's digest.)
    @cached_property
    def _states_by_name(self) -> dict[str, StateSpec]:
        return {s.name: s for s in self.states}

    @cached_property
    def _first_route(self) -> dict[str, TransitionSpec]:
        """Each trigger's first route, in declaration order: its routes share a label, fields
        and signature, so the first speaks for them all."""
        found: dict[str, TransitionSpec] = {}
        for t in self.every_transition:
            found.setdefault(t.trigger, t)
        return found

    @cached_property
    def transition_labels(self) -> dict[str, Text]:
        """Each trigger's label."""
        return {trigger: t.label for trigger, t in self._first_route.items()}

    @property
    def initial_state(self) -> StateSpec:
        """The state a new decision starts in."""
        return next(s for s in self.states if s.initial)

    def branch(self, name: str) -> BranchSpec:
        """The parallel branch of that name, in whichever state holds it; KeyError if none."""
        return self._branches_by_name[name]

    @cached_property
    def _branches_by_name(self) -> dict[str, BranchSpec]:
        return {b.name: b for s in self.states for b in s.branches}

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

    @property
    def filing_article(self) -> str:
        """The article under which a closed matter's file is kept and read-only (e.g. Art 33)."""
        return self.archive_article or self.basis

    def parameter(self, name: str) -> int:
        """The value of a numeric parameter."""
        return self.parameters[name].value

    def days(self, rule: TimeRule) -> int:
        """A time rule's number of days, resolving a parameter name."""
        return rule.days if isinstance(rule.days, int) else self.parameter(rule.days)

    @cached_property
    def every_transition(self) -> tuple[TransitionSpec, ...]:
        """Every transition, the main line's first, then each branch's, in declaration order."""
        branch = (t for s in self.states for b in s.branches for t in b.transitions)
        return (*self.transitions, *branch)

    def fields_of(self, kind: str) -> Mapping[str, FieldSpec]:
        """The fields a record of this kind is made with (a trigger's record: its move's)."""
        return self._fields_by_kind.get(kind, {})

    @cached_property
    def _fields_by_kind(self) -> dict[str, Mapping[str, FieldSpec]]:
        moves: dict[str, Mapping[str, FieldSpec]] = {
            trigger: t.fields for trigger, t in self._first_route.items()
        }
        return moves | {kind: spec.fields for kind, spec in self.records.items()}

    def signature_of(self, kind: str) -> Signature | None:
        """The signature a record of this kind (a trigger's record: its move) asks of its author."""
        if kind in self.records:
            return self.records[kind].signature
        route = self._first_route.get(kind)
        return None if route is None else route.signature

    @cached_property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger name, main line and branches, in declaration order."""
        return tuple(self._first_route)


StateSpec.model_rebuild()


def _describe(value: Any) -> str:
    """A YAML value as a reader would name it in an error message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _format_loc(loc: Iterable[Any]) -> str:
    """Turn pydantic's location tuple into `transitions[3].roles[0]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]" or str(part).startswith("function-"):
            continue  # pydantic's markers, not places in the file
        else:
            out += f".{part}" if out else str(part)
    return out


def _unwrap(annotation: Any) -> Any:
    """The model, tuple or dict type inside Annotated[...] / X | None."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            annotation = options[0] if len(options) == 1 else Any
        else:
            return annotation


def model_at(loc: Iterable[Any], root: type[BaseModel] | None = None) -> type[BaseModel] | None:
    """The model class that sits at a location of a document (a definition by default), if any."""
    current: Any = root or Definition
    for part in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif origin is tuple and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict:
            current = get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _problem(error: ErrorDetails) -> str:
    """One pydantic error as a plain sentence for whoever edits the YAML."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    got = f", got {_describe(value)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        model = model_at(error["loc"][:-1])
        keys = [k for k in model.model_fields if k != "digest"] if model else []
        allowed = f"; allowed here: {', '.join(keys)}" if keys else ""
        return f"unknown key{allowed}"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not a valid name: use {_NAME_RULE}"
    if kind == "enum":
        return f"unknown role {value!r}; known roles: {ctx.get('expected', '')}"
    if kind == "literal_error":
        return f"should be {ctx.get('expected', '')}{got}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    plain = {
        "int_type": "should be a whole number",
        "int_parsing": "should be a whole number",
        "int_from_float": "should be a whole number",
        "string_type": "should be text",
        "bool_type": "should be true or false",
        "bool_parsing": "should be true or false",
        "tuple_type": "should be a list",
        "list_type": "should be a list",
        "dict_type": "should be a mapping",
        "model_type": "should be a mapping",
        "model_attributes_type": "should be a mapping",
    }
    if kind in plain:
        return plain[kind] + got
    if kind == "too_short" and "min_length" in ctx:
        found = ctx.get("actual_length", 0)
        return f"should list at least {ctx['min_length']} items, found {found}"
    if kind == "string_too_short":
        return f"should have at least {ctx.get('min_length')} characters{got}"
    if kind == "string_too_long":
        return f"should have at most {ctx.get('max_length')} characters"
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        return error["msg"].replace("Input should be", "should be") + got
    return error["msg"]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key written twice in one mapping is an error."""

    # PyYAML keeps the last of two equal keys silently; in a definition the first one (say,
    # a transition's `guards`) would vanish without a word.
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` may be overridden by keys written beside it
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: the base method names that fault
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_where(err: yaml.YAMLError, text: str) -> str:
    mark = getattr(err, "problem_mark", None)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}"
    position = getattr(err, "position", None)  # a ReaderError: a character YAML refuses
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        return f"line {line}, column {column}"
    return ""


def _yaml_problem(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.reader.ReaderError):
        code = err.character if isinstance(err.character, int) else ord(err.character)
        return f"the character #x{code:04x} is not allowed in YAML text"
    return getattr(err, "problem", None) or str(err)


def parse_definition(text: str, *, file: str) -> Definition:
    """Parse and validate one definition's YAML text; raise DefinitionError naming the fault."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: no Python objects
    except yaml.YAMLError as err:
        problem = f"not valid YAML: {_yaml_problem(err)}"
        raise DefinitionError(file, _yaml_where(err, text), problem) from None
    except RecursionError:
        raise DefinitionError(file, "", "not valid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise DefinitionError(
            file, "", f"must be a mapping with procedure, version, states…, got {_describe(data)}"
        )
    try:
        definition = Definition.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise DefinitionError(file, _format_loc(first["loc"]), _problem(first)) from None
    except RecursionError:
        raise DefinitionError(file, "", "nested too deeply") from None
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
    except UnicodeDecodeError as err:
        raise DefinitionError(
            path.name, f"byte {err.start}", "is not UTF-8 text; save the file as UTF-8"
        ) from None
    return parse_definition(text, file=path.name)


def definition_files(folder: Path) -> list[Path]:
    """The procedure definition files in a folder (its top-level *.yaml)."""
    return sorted(p for p in folder.glob("*.yaml") if p.is_file())
