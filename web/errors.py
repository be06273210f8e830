"""Error pages: every refusal and fault gets a page that says what happened, never a trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from decisionflow.errors import (
    Conflict,
    DecisionFlowError,
    InvalidInput,
    NotFound,
    NotPermitted,
    RuleNotMet,
)

log = logging.getLogger(__name__)

STATUS = {NotPermitted: 403, RuleNotMet: 422, NotFound: 404, Conflict: 409, InvalidInput: 400}


def status_of(error: DecisionFlowError) -> int:
    """The HTTP status a refusal maps to."""
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(DecisionFlowError)
    def refused(error: DecisionFlowError) -> tuple[str, int]:
        return render_template("errors/refused.html", error=error), status_of(error)

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> tuple[str, int]:
        message = _(
            "This form has expired or did not come from this site. Go back, reload the page and try again."
        )
        return render_template(
            "errors/http.html", code=400, title=_("Form expired"), message=message
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        titles = {
            401: _("Please sign in"),
            403: _("Not permitted"),
            404: _("Not found"),
            405: _("Not allowed"),
            413: _("Upload too large"),
        }
        code = error.code or 500
        return render_template(
            "errors/http.html",
            code=code,
            title=titles.get(code, error.name),
            message=error.description,
        ), code

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        message = _("Something went wrong on our side. Nothing was changed; please try again.")
        return render_template(
            "errors/http.html", code=500, title=_("Server error"), message=message
        ), 500
