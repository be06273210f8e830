"""The public portal: drafts open for comment, comments with receipts, published decisions."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from decisionflow import queries
from decisionflow.errors import DecisionFlowError, InvalidInput
from web.errors import status_of
from web.parts import engine

bp = Blueprint("portal", __name__, url_prefix="/public")

#: a row id in a URL: a larger number names no row and gets 404 before any query
ID = f"int(min=1, max={queries.MAX_ID})"

#: a field people never see; software that fills every field reveals itself
HONEYPOT = "website"


@bp.get("/")
def index() -> str:
    """List the drafts open for public comment, with their deadlines."""
    return render_template(
        "portal/index.html", consultations=engine().participation.open_consultations()
    )


@bp.route(f"/consultations/<{ID}:decision_id>", methods=["GET", "POST"])
def consultation(decision_id: int) -> str | tuple[str, int]:
    """Show a draft open for comment and take a comment on it."""
    participation = engine().participation
    found = participation.consultation(decision_id)
    # line breaks as LF, as the API would send them
    values = {
        k: request.form.get(k, "").replace("\r\n", "\n").replace("\r", "\n")
        for k in ("name", "contact", "text")
    }
    errors: dict[str, tuple[str, str]] = {}
    if request.method == "POST":
        try:
            receipt = participation.submit_comment(
                decision_id,
                text=values["text"],
                name=values["name"],
                contact=values["contact"],
                address=request.remote_addr or "-",
                suspicious=bool(request.form.get(HONEYPOT)),
            )
        except InvalidInput as err:
            errors = err.fields
            page = render_template(
                "portal/consultation.html", c=found, values=values, errors=errors, refusal=err
            )
            return page, 400
        except DecisionFlowError as err:
            status = 429 if err.code == "rate_limited" else status_of(err)
            page = render_template(
                "portal/consultation.html", c=found, values=values, errors={}, refusal=err
            )
            return page, status
        return render_template("portal/receipt.html", c=found, receipt=receipt)
    return render_template(
        "portal/consultation.html",
        c=found,
        values=values,
        errors=errors,
        refusal=None,
        honeypot=HONEYPOT,
        message=_("Your comment"),
    )


@bp.get("/decisions/")
def published() -> str:
    """List the published decisions, newest first."""
    return render_template("portal/published.html", decisions=engine().participation.published())


@bp.get(f"/decisions/<{ID}:decision_id>")
def published_decision(decision_id: int) -> str:
    """Show a published decision and how the public's opinions were adopted (Art 32)."""
    return render_template(
        "portal/published_decision.html", d=engine().participation.published_decision(decision_id)
    )
