"""Template helpers: labels of roles, choices, records, actions and outcomes in the page's language."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select

from decisionflow.definitions import Definition, FieldSpec
from decisionflow.models import Decision, User
from decisionflow.roles import ROLE_LABELS, Role
from web.i18n import pick
from web.parts import engine


def role_label(role: str) -> str:
    """A role's name."""
    try:
        return pick(ROLE_LABELS[Role(role)])
    except ValueError:
        return role


def choice_label(choice: str, spec: FieldSpec | None = None) -> str:
    """How a choice reads."""
    if spec is not None and choice in spec.choice_labels:
        return pick(spec.choice_labels[choice])
    return choice.replace("_", " ")


def record_label(definition: Definition, kind: str) -> str:
    """A record kind's name (a trigger's payload is named after the action)."""
    if kind in definition.records:
        return pick(definition.records[kind].label)
    return action_label(definition, kind)


def action_label(definition: Definition, action: str) -> str:
    """An audited action's name."""
    if action.startswith("record:"):
        return f"{_('Added')}: {record_label(definition, action.removeprefix('record:'))}"
    every = list(definition.transitions) + [
        t for s in definition.states for b in s.branches for t in b.transitions
    ]
    found = next((t for t in every if t.trigger == action), None)
    if found is not None:
        return pick(found.label)
    names = {
        "create_decision": _("Proposed the decision"),
        "attach_file": _("Attached a file"),
        "submit_comment": _("Public comment"),
        "moderate_comment": _("Moderated a comment"),
    }
    return names.get(action, action)


def outcome_label(outcome: str) -> str:
    """What a refused attempt's outcome code means."""
    names = {
        "not_permitted": _("refused: not permitted"),
        "rule_not_met": _("refused: a rule is not met"),
        "not_found": _("refused: not found"),
        "conflict": _("refused: someone else acted first"),
        "invalid_input": _("refused: invalid input"),
        "rate_limited": _("refused: too many requests"),
    }
    return names.get(outcome, outcome)


def state_label(decision: Decision) -> str:
    """The stage a decision stands at."""
    definition = engine().registry.current(decision.procedure)
    if decision.definition_version != definition.version:
        with engine().readers() as db:
            definition = engine().registry.get(decision.procedure, decision.definition_version, db)
    return pick(definition.state(decision.state).label)


def people_for(spec: FieldSpec) -> list[User]:
    """The people a user field may name: experts for an expert assignment, else every active user."""
    query = select(User).where(User.active.is_(True)).order_by(User.display_name)
    if spec.assigns is not None:
        query = query.where(User.role == str(spec.assigns))
    with engine().readers() as db:
        return list(db.scalars(query))


def init_app(app: Flask) -> None:
    """Make the helpers available in every template."""

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {
            "role_label": role_label,
            "choice_label": choice_label,
            "record_label": record_label,
            "action_label": action_label,
            "outcome_label": outcome_label,
            "state_label": state_label,
            "people_for": people_for,
        }
