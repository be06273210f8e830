"""The procedure definitions in force, their earlier versions, and their machines."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from decisionflow.definitions import (
    Definition,
    DefinitionError,
    definition_files,
    load_definition,
    parse_definition,
)
from decisionflow.machine import ProcedureMachine
from decisionflow.models import ProcedureDefinition


class DefinitionRegistry:
    """Definitions from the workflows folder; older versions come back from the database."""

    def __init__(self, definitions: list[Definition], sources: dict[tuple[str, int], str]) -> None:
        self._by_key: dict[tuple[str, int], Definition] = {}
        for definition in definitions:
            if definition.key in self._by_key:
                raise DefinitionError(
                    definition.procedure,
                    "version",
                    f"version {definition.version} of '{definition.procedure}' is declared twice",
                )
            self._by_key[definition.key] = definition
        self._sources = sources
        self._machines: dict[tuple[str, int], ProcedureMachine] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_folder(cls, folder: Path) -> DefinitionRegistry:
        """Load and validate every definition file in a folder."""
        definitions, sources = [], {}
        for path in definition_files(folder):
            definition = load_definition(path)
            definitions.append(definition)
            sources[definition.key] = path.read_text(encoding="utf-8")
        return cls(definitions, sources)

    @property
    def procedures(self) -> list[str]:
        """The names of the procedures on file."""
        return sorted({name for name, _ in self._by_key})

    def current(self, procedure: str) -> Definition:
        """The newest version of a procedure on file; KeyError if there is none."""
        versions = [d for (name, _), d in self._by_key.items() if name == procedure]
        if not versions:
            raise KeyError(procedure)
        return max(versions, key=lambda d: d.version)

    def get(self, procedure: str, version: int, session: Session | None = None) -> Definition:
        """A definition version: from the folder, or from the snapshot kept in the database."""
        key = (procedure, version)
        found = self._by_key.get(key)
        if found is not None:
            return found
        if session is None:
            raise KeyError(key)
        row = session.execute(
            select(ProcedureDefinition).where(
                ProcedureDefinition.procedure == procedure, ProcedureDefinition.version == version
            )
        ).scalar_one_or_none()
        if row is None:
            raise KeyError(key)
        definition = parse_definition(row.source, file=f"database:{procedure}@{version}")
        with self._lock:
            self._by_key.setdefault(key, definition)
        return self._by_key[key]

    def machine(self, definition: Definition) -> ProcedureMachine:
        """The definition's machines, built on first use and reused for every decision."""
        machine = self._machines.get(definition.key)
        if machine is None:
            with self._lock:
                machine = self._machines.get(definition.key)
                if machine is None:
                    machine = ProcedureMachine(definition)
                    self._machines[definition.key] = machine
        return machine

    def ensure_snapshot(self, session: Session, definition: Definition) -> None:
        """Keep the definition's text in the database; refuse a version edited in place."""
        row = session.execute(
            select(ProcedureDefinition).where(
                ProcedureDefinition.procedure == definition.procedure,
                ProcedureDefinition.version == definition.version,
            )
        ).scalar_one_or_none()
        if row is None:
            session.add(
                ProcedureDefinition(
                    procedure=definition.procedure,
                    version=definition.version,
                    digest=definition.digest,
                    source=self._sources[definition.key],
                )
            )
        elif row.digest != definition.digest:
            # Decisions already run on the stored text: changing it in place would change
            # the rules under them. A new text needs a new version number.
            raise DefinitionError(
                f"{definition.procedure}.yaml",
                "version",
                f"version {definition.version} was changed after decisions started on it; "
                "give the new text a higher version number",
            )
