""" "My work": what awaits the signed-in user now."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from decisionflow import queries
from decisionflow.checklist import moves_for, states_with_work
from decisionflow.definitions import Text
from decisionflow.facts import branch_positions
from decisionflow.models import Decision
from web.parts import actor, engine

bp = Blueprint("work", __name__)


@dataclass(frozen=True)
class Task:
    """A decision and what this user may do on it now."""

    decision: Decision
    stage: Text
    moves: list[Text]


@bp.get("/")
def home() -> Response:
    """Signed in: my work; otherwise the public portal."""
    return redirect(url_for("work.index" if current_user.is_authenticated else "portal.index"))


@bp.get("/work")
@login_required
def index() -> str:
    """List the decisions on which I can act now, oldest activity first, a page at a time."""
    me = actor()
    registry = engine().registry
    tasks: list[Task] = []
    states = {
        procedure: states_with_work(registry.current(procedure), me.role)
        for procedure in registry.procedures
    }
    with engine().readers() as db:
        page = queries.work_candidates(db, me, states, cursor=request.args.get("cursor", ""))
        for decision in page.items:
            decision_def = registry.get(
                decision.procedure, decision.definition_version, db, overlay=decision.overlay
            )
            branches, _ = branch_positions(decision)
            moves = moves_for(decision_def, decision.state, branches, me.role, decision.flags or {})
            if moves:
                tasks.append(Task(decision, decision_def.state(decision.state).label, moves))
    return render_template("work.html", tasks=tasks, page=page)
