"""Supervision: the audit log, chain verification, accountability traces and dossiers."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template, request, send_file
from flask_login import login_required
from werkzeug.wrappers import Response

from decisionflow import queries
from decisionflow.dossier import build_dossier
from decisionflow.models import Decision, utcnow
from decisionflow.roles import OPENS_AUDIT_LOG, Permission, has_any, has_permission
from web.numbers import whole_number
from web.parts import actor, engine

bp = Blueprint("supervision", __name__, url_prefix="/supervision")

#: a row id in a URL: a larger number names no row and gets 404 before any query
ID = f"int(min=1, max={queries.MAX_ID})"


def _may(permission: Permission) -> bool:
    return has_permission(actor().role, permission)


def _day(name: str, *, end: bool = False) -> datetime | None:
    """A date filter as a moment in the government's time zone (the end of the day for `until`)."""
    raw = request.args.get(name, "")
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        return None
    zone = ZoneInfo(engine().settings.timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start + timedelta(days=1) if end else start


@bp.get("/audit")
@login_required
def audit_log() -> str:
    """Browse the audit log, filtered by decision, actor, action and dates."""
    if not has_any(actor().role, OPENS_AUDIT_LOG):
        abort(403)
    decision = request.args.get("decision", "")
    filters = {
        k: request.args.get(k, "").strip()
        for k in ("decision", "actor", "action", "since", "until")
    }
    oversight = engine().oversight
    page = None
    if oversight.may_read(actor()):
        page = oversight.events(
            actor(),
            decision_id=whole_number(decision, None, most=queries.MAX_ID + 1),
            username=filters["actor"],
            action=filters["action"],
            since=_day("since"),
            until=_day("until", end=True),
            cursor=request.args.get("cursor", ""),
        )
    return render_template("supervision/audit.html", page=page, filters=filters, verification=None)


@bp.post("/audit/verify")
@login_required
def verify() -> str:
    """Verify the whole chain now and show the result."""
    oversight = engine().oversight
    result = oversight.verify(actor())  # the engine refuses a role that may not verify
    page = oversight.events(actor()) if oversight.may_read(actor()) else None
    return render_template("supervision/audit.html", page=page, filters={}, verification=result)


@bp.get(f"/decisions/<{ID}:decision_id>/trace")
@login_required
def trace(decision_id: int) -> str:
    """Per step, who acted, what each signed, said or decided and when, with each event's hash."""
    step = request.args.get("step", "").strip()[:64]
    full = request.args.get("full") == "1"
    # refuses as reading the decision would
    found = engine().traces.trace(actor(), decision_id, step=step, full_check=full)
    return render_template(
        "supervision/trace.html",
        decision=found.decision,
        definition=found.definition,
        trace=found,
        step=step,
        made_at=utcnow(),
    )


@bp.get(f"/decisions/<{ID}:decision_id>/dossier.zip")
@login_required
def dossier(decision_id: int) -> Response:
    """Download the decision's dossier: records, files, summary and a manifest of hashes."""
    engine().decisions.get(actor(), decision_id)
    parts = engine()
    with parts.readers() as db:
        decision = db.get(Decision, decision_id)
        if decision is None:
            abort(404)
        definition = parts.registry.get(
            decision.procedure, decision.definition_version, db, overlay=decision.overlay
        )
        data = build_dossier(db, definition, decision, parts.decisions.attachments, utcnow())
    import io

    return send_file(
        io.BytesIO(data),
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"decision-{decision_id}-dossier.zip",
    )
