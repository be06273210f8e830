"""The procedure definitions in force, their local overlays, earlier versions, and machines."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from decisionflow.definitions import (
    Definition,
    DefinitionError,
    definition_files,
    parse_definition,
)
from decisionflow.machine import ProcedureMachine
from decisionflow.models import ProcedureDefinition
from decisionflow.overlays import (
    SNAPSHOT_PREFIX,
    Overlay,
    apply_overlay,
    check_base,
    check_file_name,
    file_name,
    overlay_files,
    parse_overlay,
    read_text,
    split_ref,
)

#: (procedure, version, overlay reference or None): one merged definition, one machine
MergedKey = tuple[str, int, str | None]


class DefinitionRegistry:
    """Definitions and overlays from the workflows folder; older versions from the database."""

    def __init__(
        self,
        definitions: list[Definition],
        sources: dict[tuple[str, int], str],
        overlays: Iterable[tuple[Overlay, str]] = (),
    ) -> None:
        """Definitions with their texts, and overlays with theirs (each checked on its base)."""
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
        self._overlays: dict[tuple[str, int], Overlay] = {}
        self._overlay_sources: dict[tuple[str, int], str] = {}
        self._merged: dict[MergedKey, Definition] = {}
        self._machines: dict[MergedKey, ProcedureMachine] = {}
        self._lock = threading.Lock()
        for overlay, text in overlays:
            file = f"overlays/{overlay.overlay}.yaml"
            if overlay.key in self._overlays:
                raise DefinitionError(
                    file,
                    "version",
                    f"version {overlay.version} of overlay '{overlay.overlay}' is declared twice",
                )
            self._overlays[overlay.key] = overlay
            self._overlay_sources[overlay.key] = text
            # Fail at start-up, not at a clerk's first decision: the overlay must fit its base.
            try:
                base = self.current(overlay.base)
            except KeyError:
                raise DefinitionError(
                    file,
                    "base",
                    f"unknown procedure '{overlay.base}' (known: {', '.join(self.procedures)})",
                ) from None
            self._merge(base, overlay, file)

    @classmethod
    def from_folder(cls, folder: Path) -> DefinitionRegistry:
        """Load and validate every definition file in a folder, and the overlays beside them."""
        definitions, sources = [], {}
        for path in definition_files(folder):
            text = read_text(path)
            definition = parse_definition(text, file=path.name)
            check_base(definition, file=path.name)
            definitions.append(definition)
            sources[definition.key] = text
        overlays = []
        for path in overlay_files(folder):
            text = read_text(path)
            overlay = parse_overlay(text, file=file_name(path))
            check_file_name(overlay, path)
            overlays.append((overlay, text))
        return cls(definitions, sources, overlays)

    # -- what is on file -------------------------------------------------------------------
    @property
    def procedures(self) -> list[str]:
        """The names of the procedures on file."""
        return sorted({name for name, _ in self._by_key})

    @property
    def overlays(self) -> list[Overlay]:
        """The newest version of each overlay on file, by name."""
        newest: dict[str, Overlay] = {}
        for overlay in self._overlays.values():
            if overlay.overlay not in newest or overlay.version > newest[overlay.overlay].version:
                newest[overlay.overlay] = overlay
        return [newest[name] for name in sorted(newest)]

    def overlays_for(self, procedure: str) -> list[Overlay]:
        """The overlays (newest versions) that apply to a procedure."""
        return [o for o in self.overlays if o.base == procedure]

    def overlay(self, ref: str, session: Session | None = None) -> Overlay:
        """An overlay by "name@version" (from the folder or the database) or by bare name
        (the newest on file); KeyError if there is none."""
        name, version = split_ref(ref)
        if version is None:
            found = [o for o in self.overlays if o.overlay == name]
            if not found:
                raise KeyError(ref)
            return found[0]
        overlay = self._overlays.get((name, version))
        if overlay is not None:
            return overlay
        if session is None:
            raise KeyError(ref)
        source = self._snapshot_text(session, f"{SNAPSHOT_PREFIX}{name}", version)
        if source is None:
            raise KeyError(ref)
        loaded = parse_overlay(source, file=f"database:{SNAPSHOT_PREFIX}{name}@{version}")
        with self._lock:
            self._overlays.setdefault(loaded.key, loaded)
            self._overlay_sources.setdefault(loaded.key, source)
        return self._overlays[loaded.key]

    # -- definitions -----------------------------------------------------------------------
    def current(self, procedure: str, overlay: str | None = None) -> Definition:
        """The newest version of a procedure on file, with the newest version of an overlay
        (or the one named "name@version") merged in; KeyError if either is unknown or the
        overlay is for another procedure."""
        versions = [d for (name, _), d in self._by_key.items() if name == procedure]
        if not versions:
            raise KeyError(procedure)
        base = max(versions, key=lambda d: d.version)
        if overlay is None:
            return base
        found = self.overlay(overlay)
        if found.base != procedure:
            raise KeyError(overlay)
        return self._merge(base, found, f"overlays/{found.overlay}.yaml")

    def get(
        self,
        procedure: str,
        version: int,
        session: Session | None = None,
        overlay: str | None = None,
    ) -> Definition:
        """A definition version: from the folder, or from the snapshot kept in the database;
        with the overlay a decision runs under ("name@version") merged in, if any."""
        base = self._base(procedure, version, session)
        if overlay is None:
            return base
        found = self.overlay(overlay, session)
        if found.base != procedure:
            raise KeyError(overlay)
        return self._merge(base, found, f"overlay {found.ref}")

    def _base(self, procedure: str, version: int, session: Session | None) -> Definition:
        key = (procedure, version)
        found = self._by_key.get(key)
        if found is not None:
            return found
        if session is None:
            raise KeyError(key)
        source = self._snapshot_text(session, procedure, version)
        if source is None:
            raise KeyError(key)
        definition = parse_definition(source, file=f"database:{procedure}@{version}")
        with self._lock:
            self._by_key.setdefault(key, definition)
        return self._by_key[key]

    def _merge(self, base: Definition, overlay: Overlay, file: str) -> Definition:
        """The base with the overlay merged in, built once per (procedure, version, overlay)."""
        key: MergedKey = (base.procedure, base.version, overlay.ref)
        merged = self._merged.get(key)
        if merged is None:
            built = apply_overlay(base, overlay, file=file)
            with self._lock:
                merged = self._merged.setdefault(key, built)
        return merged

    @staticmethod
    def _snapshot_text(session: Session, procedure: str, version: int) -> str | None:
        return session.execute(
            select(ProcedureDefinition.source).where(
                ProcedureDefinition.procedure == procedure, ProcedureDefinition.version == version
            )
        ).scalar_one_or_none()

    # -- machines and snapshots ------------------------------------------------------------
    def machine(self, definition: Definition) -> ProcedureMachine:
        """The definition's machines, built on first use and reused for every decision."""
        key: MergedKey = (definition.procedure, definition.version, definition.overlay)
        machine = self._machines.get(key)
        if machine is None:
            with self._lock:
                machine = self._machines.get(key)
                if machine is None:
                    machine = ProcedureMachine(definition)
                    self._machines[key] = machine
        return machine

    def ensure_snapshot(self, session: Session, definition: Definition) -> None:
        """Keep the definition's text (and its overlay's) in the database; refuse a version
        edited in place."""
        base = self._by_key.get(definition.key, definition)
        self._keep(
            session,
            procedure=definition.procedure,
            version=definition.version,
            digest=base.digest,
            source=lambda: self._sources[definition.key],
            file=f"{definition.procedure}.yaml",
        )
        if definition.overlay is not None:
            overlay = self.overlay(definition.overlay, session)
            self._keep(
                session,
                procedure=f"{SNAPSHOT_PREFIX}{overlay.overlay}",
                version=overlay.version,
                digest=overlay.digest,
                source=lambda: self._overlay_sources[overlay.key],
                file=f"overlays/{overlay.overlay}.yaml",
            )

    @staticmethod
    def _keep(
        session: Session,
        *,
        procedure: str,
        version: int,
        digest: str,
        source: Callable[[], str],
        file: str,
    ) -> None:
        row = session.execute(
            select(ProcedureDefinition).where(
                ProcedureDefinition.procedure == procedure,
                ProcedureDefinition.version == version,
            )
        ).scalar_one_or_none()
        if row is None:
            session.add(
                ProcedureDefinition(
                    procedure=procedure, version=version, digest=digest, source=source()
                )
            )
        elif row.digest != digest:
            # Decisions already run on the stored text: changing it in place would change
            # the rules under them. A new text needs a new version number.
            raise DefinitionError(
                file,
                "version",
                f"version {version} was changed after decisions started on it; "
                "give the new text a higher version number",
            )
