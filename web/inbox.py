"""The inbox: every signed-in user's notifications, with the unread count in the navigation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from decisionflow import queries
from web.parts import actor, engine

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

#: a row id in a URL: a larger number names no row and gets 404 before any query
ID = f"int(min=1, max={queries.MAX_ID})"


@bp.app_context_processor
def unread_count() -> dict[str, Any]:
    """Offer every page the signed-in user's unread count (read with the account)."""

    def inbox_unread() -> int:
        # read with the account at the start of the request (web.auth.load_user)
        return int(current_user.unread) if current_user.is_authenticated else 0

    return {"inbox_unread": inbox_unread}


@bp.get("/")
@login_required
def index() -> str:
    """List my notifications, unread first."""
    return render_template("inbox/index.html", items=engine().inbox.items(actor()))


@bp.post(f"/<{ID}:notification_id>/read")
@login_required
def mark_read(notification_id: int) -> Response:
    """Mark one of my notifications read."""
    engine().inbox.mark_read(actor(), notification_id)
    return redirect(url_for("inbox.index"))


@bp.post("/read-all")
@login_required
def mark_all_read() -> Response:
    """Mark all my notifications read."""
    count = engine().inbox.mark_all_read(actor())
    flash(_("%(n)d notifications marked read.", n=count))
    return redirect(url_for("inbox.index"))
