"""Template helpers: labels of roles, choices, records, actions and outcomes in the page's language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, g
from flask_login import current_user

from decisionflow import queries
from decisionflow.definitions import Definition, FieldSpec
from decisionflow.models import Decision, Department
from decisionflow.roles import (
    OPENS_AUDIT_LOG,
    OPENS_FOLLOW_UPS,
    OPENS_STATISTICS,
    ROLE_LABELS,
    Permission,
    has_any,
    has_permission,
)
from web.i18n import gettext as _
from web.i18n import pick
from web.parts import engine


def role_label(role: str) -> str:
    """A role's name."""
    # Roles are a StrEnum: the stored text finds its label without making a Role of it first.
    label = ROLE_LABELS.get(role)  # type: ignore[call-overload]
    return role if label is None else pick(label)


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


#: audited actions that are no move of a definition; translated only when shown (a timeline
#: shows dozens, and translating every name for each would cost more than the page itself)
_ACTION_NAMES: dict[str, Callable[[], str]] = {
    "create_decision": lambda: _("Proposed the decision"),
    "attach_file": lambda: _("Attached a file"),
    "submit_comment": lambda: _("Public comment"),
    "moderate_comment": lambda: _("Moderated a comment"),
    "dispose_comment": lambda: _("Disposed of a comment"),
    "send_reminders": lambda: _("Sent deadline reminders"),
    "open_follow_up": lambda: _("Put under follow-up"),
    "answer_follow_up": lambda: _("Answered the follow-up"),
    "close_follow_up": lambda: _("Closed the follow-up"),
    "set_user_email": lambda: _("Set an email address"),
}

#: what a refused attempt's outcome code means, translated only when shown
_OUTCOME_NAMES: dict[str, Callable[[], str]] = {
    "not_permitted": lambda: _("refused: not permitted"),
    "rule_not_met": lambda: _("refused: a rule is not met"),
    "not_found": lambda: _("refused: not found"),
    "conflict": lambda: _("refused: someone else acted first"),
    "invalid_input": lambda: _("refused: invalid input"),
    "rate_limited": lambda: _("refused: too many requests"),
}


def action_label(definition: Definition, action: str) -> str:
    """An audited action's name."""
    if action.startswith("record:"):
        kind = record_label(definition, action.removeprefix("record:"))
        return _("Added: %(record)s", record=kind)
    label = definition.transition_labels.get(action)
    if label is not None:
        return pick(label)
    name = _ACTION_NAMES.get(action)
    return name() if name is not None else action


def disposition_label(disposition: str) -> str:
    """What was done with a public comment."""
    names = {
        "adopted": _("adopted"),
        "partly_adopted": _("partly adopted"),
        "not_adopted": _("not adopted"),
    }
    return names.get(disposition, disposition)


def outcome_label(outcome: str) -> str:
    """What a refused attempt's outcome code means."""
    name = _OUTCOME_NAMES.get(outcome)
    return name() if name is not None else outcome


def state_label(decision: Decision) -> str:
    """The stage a decision stands at."""
    definition = engine().registry.current(decision.procedure)
    if decision.definition_version != definition.version or decision.overlay:
        with engine().readers() as db:
            definition = engine().registry.get(
                decision.procedure, decision.definition_version, db, overlay=decision.overlay
            )
    return pick(definition.state(decision.state).label)


#: what the engine adds to a record beside the typed fields
_STORED_LABELS = {
    "number": ("版本号", "Version"),
    "sha256": ("SHA-256", "SHA-256"),
    "signature": ("签署", "Signature"),
    "procedure_account": ("已履行的程序", "Procedure followed"),
    "document_number": ("文件编号", "Document number"),
    "successor_id": ("重新履行程序的决策", "Decision re-running the procedure"),
}


def _signature_text(value: Mapping[str, Any]) -> str:
    """A signature as a sentence: who signed, when, over which draft."""
    draft = value.get("draft_number")
    digest = str(value.get("draft_sha256") or "")[:16]
    over = _("over draft v%(n)s (SHA-256 %(digest)s…)", n=draft, digest=digest) if draft else ""
    return f"{value.get('signer', '')} · {value.get('signed_at', '')} {over}".strip()


def _shown(value: Any, spec: FieldSpec | None, people: Mapping[int, str]) -> str:
    """A stored value as people read it: yes/no, a choice's label, people by name."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, Mapping) and "signer" in value:
        return _signature_text(value)
    if isinstance(value, list) and value and isinstance(value[0], Mapping) and "action" in value[0]:
        # the account of the procedure followed: one line per step, from the audit chain
        return _(
            "%(n)d steps, from the audit chain (events %(first)s–%(last)s)",
            n=len(value),
            first=value[0].get("seq"),
            last=value[-1].get("seq"),
        )
    if spec is not None and spec.type == "choice" and isinstance(value, str):
        return choice_label(value, spec)
    if spec is not None and spec.type in ("user", "users"):
        ids = value if isinstance(value, list) else [value]
        return "、".join(people.get(i, str(i)) for i in ids)
    return str(value)


def record_fields(
    definition: Definition,
    kind: str,
    data: Mapping[str, Any],
    people: Mapping[int, str],
) -> list[tuple[str, str]]:
    """A record's fields as (label, value) in the page's language, not the stored names;
    `people`: the names of the users the page's records name, read with them
    (queries.people_in_records)."""
    specs = definition.fields_of(kind)
    rows = []
    for name, value in data.items():
        spec = specs.get(name)
        if spec is not None:
            label = pick(spec.label)
        elif name in _STORED_LABELS:
            label = pick(_STORED_LABELS[name])
        else:
            label = name
        rows.append((label, _shown(value, spec, people)))
    return rows


def position_label(definition: Definition, position: str) -> str:
    """An audited position ("state" or "state/branch:branch_state") by its stage names."""
    state, _sep, moved = position.partition("/")
    try:
        label = pick(definition.state(state).label)
        if not moved:
            return label
        branch_name, _sep, branch_state = moved.partition(":")
        branch = definition.branch(branch_name)
        inner = next(s for s in branch.states if s.name == branch_state)
    except (KeyError, StopIteration):
        return position  # a position no longer in the definition: shown as recorded
    return f"{label} · {pick(branch.label)}: {pick(inner.label)}"


def departments() -> list[Department]:
    """Every department, for a field that names one (read once a page, however many fields)."""
    if "departments" not in g:
        with engine().readers() as db:
            g.departments = queries.departments(db)
    return list(g.departments)


def may(permission: str) -> bool:
    """Whether the signed-in user holds a permission (to offer only links that will open)."""
    if not current_user.is_authenticated:
        return False
    return has_permission(current_user.actor.role, Permission(permission))


@dataclass(frozen=True)
class Menu:
    """Which of the navigation's role-bound links the signed-in user may open."""

    follow_ups: bool
    audit_log: bool
    statistics: bool


def menu() -> Menu:
    """The navigation's links for the signed-in user's role (asked once a page)."""
    if not current_user.is_authenticated:
        return Menu(False, False, False)
    role = current_user.actor.role
    return Menu(
        follow_ups=has_any(role, OPENS_FOLLOW_UPS),
        audit_log=has_any(role, OPENS_AUDIT_LOG),
        statistics=has_any(role, OPENS_STATISTICS),
    )


def people_for(spec: FieldSpec) -> list[queries.Person]:
    """The people a user field may name: experts for an expert assignment, else every active user
    (read once a page for each kind of field)."""
    role = None if spec.assigns is None else str(spec.assigns)
    known: dict[str | None, list[queries.Person]] = g.setdefault("people", {})
    if role not in known:
        with engine().readers() as db:
            known[role] = queries.people(db, role)
    return known[role]


def init_app(app: Flask) -> None:
    """Make the helpers available in every template, the labels also as filters."""
    # Filters are called directly by Jinja (functions go through the template's context):
    # {{ e.action|action_label(definition) }} on a page of dozens of events.
    for label in (role_label, outcome_label, disposition_label, choice_label):
        app.add_template_filter(label)
    app.add_template_filter(lambda action, d: action_label(d, action), "action_label")
    app.add_template_filter(lambda position, d: position_label(d, position), "position_label")
    app.add_template_filter(lambda kind, d: record_label(d, kind), "record_label")

    # Globals, not context: the form macros (_field.html) are imported without a page's context.
    app.add_template_global(people_for)
    app.add_template_global(departments)

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {
            "role_label": role_label,
            "choice_label": choice_label,
            "record_label": record_label,
            "action_label": action_label,
            "outcome_label": outcome_label,
            "disposition_label": disposition_label,
            "state_label": state_label,
            "may": may,
            "menu": menu,
            "record_fields": record_fields,
            "position_label": position_label,
        }
