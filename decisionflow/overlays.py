"""Local overlays: a province's or city's numbers and extra steps on top of a national procedure.

An overlay file (``workflows/overlays/<name>.yaml``) names its base procedure and changes it
without copying it: it raises parameters (never below the law's minimum), adds records, adds
required records to states, and adds guards and time rules to triggers. `apply_overlay`
returns the merged definition, checked like any definition; a fault names the overlay file
and the place inside the overlay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from pydantic_core import ErrorDetails

from decisionflow.checks import check_definition
from decisionflow.definitions import (
    Article,
    Definition,
    DefinitionError,
    GuardRef,
    Name,
    RecordSpec,
    Requirement,
    Text,
    TimeRule,
    _describe,
    _format_loc,
    _Loader,
    _problem,
    _yaml_problem,
    _yaml_where,
    model_at,
)

#: how an overlay's text is named among the procedure snapshots in the database
SNAPSHOT_PREFIX = "overlay:"

#: "state" on the main line, or "branch.state" inside a parallel branch
Place = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$", max_length=129)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParameterOverride(_Frozen):
    """A new value for one of the base procedure's parameters, with the local article."""

    value: StrictInt = Field(ge=0)
    article: Article


class Overlay(_Frozen):
    """A province's or city's rules on top of a national procedure, at one version."""

    overlay: Name
    version: StrictInt = Field(ge=1)
    #: the procedure it applies to (any version on file)
    base: Name
    title: Text
    basis: str = Field(min_length=1)
    parameters: dict[Name, ParameterOverride] = Field(default_factory=dict)
    add_records: dict[Name, RecordSpec] = Field(default_factory=dict)
    add_requirements: dict[Place, tuple[Requirement, ...]] = Field(default_factory=dict)
    add_guards: dict[Name, tuple[GuardRef, ...]] = Field(default_factory=dict)
    add_time_rules: dict[Name, tuple[TimeRule, ...]] = Field(default_factory=dict)
    #: SHA-256 of the source text, set by the loader
    digest: str = ""

    @property
    def ref(self) -> str:
        """How a decision names the overlay it runs under: "liaoning@1"."""
        return overlay_ref(self.overlay, self.version)

    @property
    def key(self) -> tuple[str, int]:
        """(overlay, version)."""
        return (self.overlay, self.version)


def overlay_ref(name: str, version: int) -> str:
    """The reference a decision and its merged definition keep: name and version."""
    return f"{name}@{version}"


def split_ref(ref: str) -> tuple[str, int | None]:
    """("liaoning", 1) from "liaoning@1"; ("liaoning", None) from a bare name."""
    name, at, version = ref.partition("@")
    if not at:
        return name, None
    if not version.isdigit():
        raise KeyError(ref)
    return name, int(version)


# -- parsing ---------------------------------------------------------------------------------


def _overlay_problem(error: ErrorDetails) -> str:
    """A pydantic error as a sentence; an unknown key lists the keys allowed in the overlay."""
    if error["type"] != "extra_forbidden":
        return _problem(error)
    model = model_at(error["loc"][:-1], Overlay)
    keys = [k for k in model.model_fields if k not in ("digest", "overlay")] if model else []
    if model is Overlay:
        keys = ["overlay", *keys]
    allowed = f"; allowed here: {', '.join(keys)}" if keys else ""
    return f"unknown key{allowed}"


def parse_overlay(text: str, *, file: str) -> Overlay:
    """Parse and validate one overlay's YAML text; raise DefinitionError naming the fault."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader that refuses duplicate keys
    except yaml.YAMLError as err:
        problem = f"not valid YAML: {_yaml_problem(err)}"
        raise DefinitionError(file, _yaml_where(err, text), problem) from None
    except RecursionError:
        raise DefinitionError(file, "", "not valid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise DefinitionError(
            file, "", f"must be a mapping with overlay, version, base…, got {_describe(data)}"
        )
    if "digest" in data:
        raise DefinitionError(file, "digest", "is set by the loader; remove it")
    try:
        overlay = Overlay.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise DefinitionError(file, _format_loc(first["loc"]), _overlay_problem(first)) from None
    except RecursionError:
        raise DefinitionError(file, "", "nested too deeply") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return overlay.model_copy(update={"digest": digest})


def read_text(path: Path) -> str:
    """A definition or overlay file's text; DefinitionError if unreadable or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise DefinitionError(str(path), "", f"cannot be read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise DefinitionError(
            path.name, f"byte {err.start}", "is not UTF-8 text; save the file as UTF-8"
        ) from None


def load_overlay(path: Path) -> Overlay:
    """Load one overlay file and check that it is named after its overlay."""
    overlay = parse_overlay(read_text(path), file=file_name(path))
    check_file_name(overlay, path)
    return overlay


def overlay_files(workflows: Path) -> list[Path]:
    """The overlay files of a workflows folder (its overlays/*.yaml)."""
    folder = workflows / "overlays"
    return sorted(p for p in folder.glob("*.yaml") if p.is_file()) if folder.is_dir() else []


def file_name(path: Path) -> str:
    """How an error names an overlay file: overlays/liaoning.yaml."""
    return f"overlays/{path.name}"


def check_file_name(overlay: Overlay, path: Path) -> None:
    """An overlay lives in the file named after it, so every message can name that file."""
    if path.stem != overlay.overlay:
        raise DefinitionError(
            file_name(path),
            "overlay",
            f"'{overlay.overlay}' differs from the file name; name the file "
            f"{overlay.overlay}.yaml (older versions are kept in the database)",
        )


def check_base(definition: Definition, *, file: str) -> None:
    """A procedure file may not claim an overlay: local rules belong in overlays/."""
    if definition.overlay is not None:
        raise DefinitionError(
            file,
            "overlay",
            "is set when an overlay is merged; a procedure file cannot name one "
            "(put local rules in overlays/)",
        )


# -- merging ---------------------------------------------------------------------------------


def _cite(national: str, local: str) -> str:
    """Both articles, national first, when they fit the 120 characters an article may have."""
    both = f"{national}; {local}"
    return both if len(both) <= 120 else local


class _Merge:
    """Builds the merged document, remembering where each added part came from."""

    def __init__(self, base: Definition, overlay: Overlay, file: str) -> None:
        self.base, self.overlay, self.file = base, overlay, file
        self.data: dict[str, Any] = base.model_dump()
        #: a place in the merged definition -> the place in the overlay file it came from
        self.origins: dict[str, str] = {}

    def fail(self, path: str, problem: str) -> NoReturn:
        raise DefinitionError(self.file, path, problem)

    def run(self) -> dict[str, Any]:
        self.parameters()
        self.records()
        self.requirements()
        self.additions("add_guards", "guards", self.overlay.add_guards)
        self.additions("add_time_rules", "time_rules", self.overlay.add_time_rules)
        self.data["basis"] = f"{self.base.basis}；{self.overlay.basis}"
        return self.data

    def parameters(self) -> None:
        for name, change in self.overlay.parameters.items():
            here = f"parameters.{name}"
            spec = self.base.parameters.get(name)
            if spec is None:
                known = _known(self.base.parameters)
                self.fail(here, f"'{self.base.procedure}' has no parameter '{name}'{known}")
            if change.value < spec.minimum:
                self.fail(
                    f"{here}.value",
                    f"{change.value} is below the statutory minimum {spec.minimum} "
                    f"({spec.article})",
                )
            self.data["parameters"][name]["value"] = change.value
            self.data["parameters"][name]["article"] = _cite(spec.article, change.article)
            self.origins[here] = here
            # A refusal over the changed number cites the local article beside the national one.
            for transition in self._every_transition():
                for rule in transition["time_rules"]:
                    if rule["days"] == name:
                        rule["article"] = _cite(rule["article"], change.article)

    def records(self) -> None:
        for name, spec in self.overlay.add_records.items():
            if name in self.base.records:
                self.fail(
                    f"add_records.{name}",
                    f"'{self.base.procedure}' already has a record '{name}'; "
                    "an overlay adds records, it cannot redefine one",
                )
            self.data["records"][name] = spec.model_dump()
            self.origins[f"records.{name}"] = f"add_records.{name}"

    def requirements(self) -> None:
        places = self._places()
        for place, requirements in self.overlay.add_requirements.items():
            found = places.get(place)
            if found is None:
                self.fail(f"add_requirements.{place}", f"unknown state '{place}'{_known(places)}")
            path, state = found
            start = len(state["requires"])
            state["requires"] = (*state["requires"], *(r.model_dump() for r in requirements))
            for k in range(len(requirements)):
                self.origins[f"{path}.requires[{start + k}]"] = f"add_requirements.{place}[{k}]"

    def additions(self, key: str, part: str, added: dict[str, tuple[Any, ...]]) -> None:
        """Guards or time rules added to every route of a trigger."""
        routes = self._routes()
        for trigger, items in added.items():
            found = routes.get(trigger)
            if not found:
                self.fail(f"{key}.{trigger}", f"unknown trigger '{trigger}'{_known(routes)}")
            for path, transition in found:
                start = len(transition[part])
                transition[part] = (*transition[part], *(i.model_dump() for i in items))
                for k in range(len(items)):
                    self.origins[f"{path}.{part}[{start + k}]"] = f"{key}.{trigger}[{k}]"

    def _places(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Each state of the merged document by "state" or "branch.state", with its path."""
        places: dict[str, tuple[str, dict[str, Any]]] = {}
        for i, state in enumerate(self.data["states"]):
            places[state["name"]] = (f"states[{i}]", state)
            for j, branch in enumerate(state["branches"]):
                for m, inner in enumerate(branch["states"]):
                    path = f"states[{i}].branches[{j}].states[{m}]"
                    places[f"{branch['name']}.{inner['name']}"] = (path, inner)
        return places

    def _routes(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """Each trigger's transitions (one per route) in the merged document, with their paths."""
        routes: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for i, t in enumerate(self.data["transitions"]):
            routes.setdefault(t["trigger"], []).append((f"transitions[{i}]", t))
        for i, state in enumerate(self.data["states"]):
            for j, branch in enumerate(state["branches"]):
                for k, t in enumerate(branch["transitions"]):
                    path = f"states[{i}].branches[{j}].transitions[{k}]"
                    routes.setdefault(t["trigger"], []).append((path, t))
        return routes

    def _every_transition(self) -> list[dict[str, Any]]:
        return [t for found in self._routes().values() for _, t in found]

    def translate(self, path: str) -> str:
        """The place in the overlay file that a place in the merged definition came from."""
        for merged in sorted(self.origins, key=len, reverse=True):
            if path == merged or path.startswith((f"{merged}.", f"{merged}[")):
                return self.origins[merged] + path[len(merged) :]
        return f"{path} (of '{self.base.procedure}' with this overlay)"


def _known(names: Iterable[str]) -> str:
    listed = sorted(names)
    return f" (known: {', '.join(listed)})" if listed else ""


def apply_overlay(base: Definition, overlay: Overlay, *, file: str) -> Definition:
    """The base definition with the overlay merged in, checked; DefinitionError names the fault."""
    if base.overlay is not None:
        raise DefinitionError(file, "base", f"'{base.procedure}' already carries {base.overlay}")
    if overlay.base != base.procedure:
        raise DefinitionError(
            file,
            "base",
            f"the overlay is for '{overlay.base}'; it cannot apply to '{base.procedure}'",
        )
    merge = _Merge(base, overlay, file)
    data = merge.run()
    # Both texts decide the rules: a change to either is a change to the merged definition.
    data["digest"] = hashlib.sha256(f"{base.digest}\n{overlay.digest}".encode()).hexdigest()
    data["overlay"] = overlay.ref
    try:
        merged = Definition.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        path = merge.translate(_format_loc(first["loc"]))
        raise DefinitionError(file, path, _problem(first)) from None
    try:
        check_definition(merged, file=file)
    except DefinitionError as err:
        raise DefinitionError(file, merge.translate(err.path), err.problem) from None
    return merged
