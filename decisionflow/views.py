"""Plain values the service layer returns: decisions, records, actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from decisionflow.definitions import Definition, FieldSpec, Signature, Text
from decisionflow.errors import Unmet
from decisionflow.facts import branch_positions
from decisionflow.models import Decision


@dataclass(frozen=True)
class BranchView:
    """A parallel branch of the current stage and where it stands."""

    name: str
    label: Text
    state: str
    state_label: Text
    final: bool


@dataclass(frozen=True)
class DecisionView:
    """A decision as callers see it."""

    id: int
    title: str
    category: str
    procedure: str
    definition_version: int
    state: str
    state_label: Text
    final: bool
    branches: tuple[BranchView, ...]
    flags: dict[str, bool]
    undertaking_unit_id: int
    executing_unit_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    #: the local rules it runs under ("liaoning@1"), or None for the national procedure
    overlay: str | None = None
    #: the decision this one adjusts (Art 37), if any
    predecessor_id: int | None = None

    @classmethod
    def of(cls, decision: Decision, definition: Definition) -> DecisionView:
        """The view of a decision under its definition."""
        state = definition.state(decision.state)
        states, _ = branch_positions(decision)
        branches = []
        # In the definition's order: PostgreSQL's JSONB keeps its own order of the keys.
        for spec in definition.branches_in(decision.state):
            current = states.get(spec.name)
            if current is None:
                continue  # switched off by the decision's flags
            bstate = next(s for s in spec.states if s.name == current)
            branches.append(BranchView(spec.name, spec.label, current, bstate.label, bstate.final))
        return cls(
            id=decision.id,
            title=decision.title,
            category=decision.category,
            procedure=decision.procedure,
            definition_version=decision.definition_version,
            state=decision.state,
            state_label=state.label,
            final=state.final,
            branches=tuple(branches),
            flags=dict(decision.flags or {}),
            undertaking_unit_id=decision.undertaking_unit_id,
            executing_unit_id=decision.executing_unit_id,
            version=decision.version,
            created_at=decision.created_at,
            updated_at=decision.updated_at,
            overlay=decision.overlay,
            predecessor_id=decision.predecessor_id,
        )


@dataclass(frozen=True)
class RecordView:
    """A record just made."""

    id: int
    decision_id: int
    kind: str
    data: dict[str, Any]
    created_at: datetime
    decision_version: int


@dataclass(frozen=True)
class AttachmentView:
    """A file just attached."""

    id: int
    decision_id: int
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ActionView:
    """A move the caller's role may make now, its fields, and what still stands in its way."""

    trigger: str
    label: Text
    article: str
    branch: str | None
    fields: dict[str, FieldSpec]
    unmet: tuple[Unmet, ...] = field(default_factory=tuple)
    #: the signature the move asks of its maker (the password re-entered), if any
    signature: Signature | None = None

    @property
    def ready(self) -> bool:
        """Whether nothing but the payload stands in the way."""
        return not self.unmet


def position_text(state: str, branches: dict[str, str], moved: str | None = None) -> str:
    """`state`, or `state/branch:branch_state` when a move happens inside a branch."""
    return f"{state}/{moved}:{branches[moved]}" if moved else state
