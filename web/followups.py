"""Follow-up (督办) pages: supervisors open and close follow-ups, the unit answers them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from decisionflow import queries
from decisionflow.errors import DecisionFlowError, InvalidInput, NotPermitted
from decisionflow.followups import FollowUpView
from decisionflow.roles import OPENS_FOLLOW_UPS, Permission, has_any, has_permission
from web.errors import status_of
from web.parts import actor, engine, origin

bp = Blueprint("followups", __name__, url_prefix="/supervision/follow-ups")

#: a row id in a URL: a larger number names no row and gets 404 before any query
ID = f"int(min=1, max={queries.MAX_ID})"
STATUSES = ("open", "answered", "closed")


def followup_status(status: str) -> str:
    """A follow-up's status in the page's language."""
    names = {"open": _("open"), "answered": _("answered"), "closed": _("closed")}
    return names.get(status, status)


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    """Offer pages the status labels, and the follow-ups the signed-in unit must answer."""

    def follow_ups_to_answer() -> list[FollowUpView]:
        """The open follow-ups the signed-in unit must answer (for "My work")."""
        me = current_user.actor if current_user.is_authenticated else None
        if me is None or not has_permission(me.role, Permission.FOLLOWUP_ANSWER):
            return []
        return engine().follow_ups.listing(me, status="open")

    return {
        "followup_status": followup_status,
        "follow_ups_to_answer": follow_ups_to_answer,
    }


def _may_see_list() -> bool:
    return has_any(actor().role, OPENS_FOLLOW_UPS)


@bp.get("/")
@login_required
def index() -> str:
    """List the follow-ups I may see (supervisors: all; units: their own), overdue first."""
    if not _may_see_list():
        abort(403)
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    listed = engine().follow_ups.listing(actor(), status=status)
    return render_template(
        "supervision/followups.html", follow_ups=listed, status=status, statuses=STATUSES
    )


def _refused_page(template: str, err: DecisionFlowError, **context: Any) -> tuple[str, int]:
    errors = err.fields if isinstance(err, InvalidInput) else {}
    return render_template(template, refusal=err, errors=errors, **context), status_of(err)


@bp.route(f"/new/<{ID}:decision_id>", methods=["GET", "POST"])
@login_required
def new(decision_id: int) -> str | Response | tuple[str, int]:
    """Put a decision under follow-up: instructions and the date by which the unit answers."""
    me = actor()
    # the form is not shown to a role that may not use it; a sent form is refused by the
    # service, which names the rule and its article and records the attempt
    if request.method == "GET" and not has_permission(me.role, Permission.FOLLOWUP_MANAGE):
        abort(403)
    decision = engine().decisions.get(me, decision_id)
    values = request.form.to_dict() if request.method == "POST" else {}
    context = {"decision": decision, "values": values}
    if request.method == "POST":
        try:
            follow_up_id = engine().follow_ups.open(
                me,
                decision_id,
                instructions=values.get("instructions", ""),
                due=values.get("due", ""),
                origin=origin(),
            )
        except NotPermitted:
            raise  # no form for one who may not use it: the refusal page, rule and article
        except DecisionFlowError as err:
            return _refused_page("supervision/followup_new.html", err, **context)
        flash(_("The decision is under follow-up; the unit has been told."))
        return redirect(url_for("followups.show", follow_up_id=follow_up_id))
    return render_template("supervision/followup_new.html", errors={}, refusal=None, **context)


def _show_context(follow_up_id: int) -> dict[str, Any]:
    me = actor()
    view = engine().follow_ups.get(me, follow_up_id)
    return {
        "f": view,
        "may_answer": view.status == "open" and engine().follow_ups.may_answer(me, view.id),
        "may_close": view.status != "closed"
        and has_permission(me.role, Permission.FOLLOWUP_MANAGE),
    }


@bp.get(f"/<{ID}:follow_up_id>")
@login_required
def show(follow_up_id: int) -> str:
    """One follow-up: instructions, due date, the answer, and what I may do with it."""
    if not _may_see_list():
        abort(403)
    context = _show_context(follow_up_id)
    return render_template(
        "supervision/followup.html", values={}, errors={}, refusal=None, form="", **context
    )


@bp.post(f"/<{ID}:follow_up_id>/answer")
@login_required
def answer(follow_up_id: int) -> Response | tuple[str, int]:
    """Answer a follow-up on my unit's decision."""
    # the service refuses anyone but the decision's units; a role that never answers is
    # turned away before the follow-up is even looked up
    if not has_permission(actor().role, Permission.FOLLOWUP_ANSWER):
        abort(403)
    values = request.form.to_dict()
    try:
        engine().follow_ups.answer(
            actor(), follow_up_id, answer=values.get("answer", ""), origin=origin()
        )
    except NotPermitted:
        raise  # the refusal page, rule and article
    except DecisionFlowError as err:
        return _refused_page(
            "supervision/followup.html",
            err,
            values=values,
            form="answer",
            **_show_context(follow_up_id),
        )
    flash(_("Answer sent to the supervisor."))
    return redirect(url_for("followups.show", follow_up_id=follow_up_id))


@bp.post(f"/<{ID}:follow_up_id>/close")
@login_required
def close(follow_up_id: int) -> Response | tuple[str, int]:
    """Close a follow-up (办结); the service refuses any but a supervisor, before any lookup."""
    values = request.form.to_dict()
    try:
        engine().follow_ups.close(
            actor(), follow_up_id, note=values.get("note", ""), origin=origin()
        )
    except NotPermitted:
        raise  # the refusal page, rule and article
    except DecisionFlowError as err:
        return _refused_page(
            "supervision/followup.html",
            err,
            values=values,
            form="close",
            **_show_context(follow_up_id),
        )
    flash(_("Follow-up closed."))
    return redirect(url_for("followups.show", follow_up_id=follow_up_id))
