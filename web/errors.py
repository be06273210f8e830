"""Error pages: every refusal and fault gets a page that says what happened, never a trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from decisionflow.attachments import size_text
from decisionflow.errors import (
    Conflict,
    DecisionFlowError,
    InvalidInput,
    NotFound,
    NotPermitted,
    RuleNotMet,
)
from web.parts import engine

log = logging.getLogger(__name__)

STATUS = {NotPermitted: 403, RuleNotMet: 422, NotFound: 404, Conflict: 409, InvalidInput: 400}


def status_of(error: DecisionFlowError) -> int:
    """The HTTP status a refusal maps to."""
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)


def _explained(code: int) -> tuple[str, str]:
    """A status's title and what the user can do about it, in the page's language."""
    # Werkzeug's own descriptions are English and speak of servers and URLs: never shown.
    if code == 413:
        limit = size_text(engine().settings.max_attachment_bytes)
        return _("Upload too large"), _(
            "The upload is larger than the %(limit)s allowed for a file. Attach a smaller file.",
            limit=limit,
        )
    explained = {
        400: (_("Bad request"), _("The request could not be understood. Go back and try again.")),
        401: (_("Please sign in"), _("Sign in to open this page.")),
        403: (_("Not permitted"), _("Your role or department may not open this page.")),
        404: (_("Not found"), _("There is no such page or record. Check the address.")),
        405: (_("Not allowed"), _("This address does not take that kind of request.")),
        429: (
            _("Too many requests"),
            _("Too many requests in a short time; please wait and try again."),
        ),
    }
    return explained.get(
        code,
        (_("Request not completed"), _("The request could not be completed. Please try again.")),
    )


def _in_api() -> bool:
    """Whether the failed request was meant for the JSON API (answered as problem documents)."""
    return request.path == "/api" or request.path.startswith("/api/")


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
    def http_error(error: HTTPException) -> ResponseReturnValue:
        if _in_api():
            # Routing errors (an unknown path, a wrong method) happen before Flask knows the
            # blueprint, so the API's own handlers never see them: hand them over here.
            from web import api

            return api.http_error(error)
        code = error.code or 500
        title, message = _explained(code)
        page = render_template("errors/http.html", code=code, title=title, message=message)
        headers = {}
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return page, code, headers

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> ResponseReturnValue:
        if _in_api():
            from web import api

            return api.unexpected(error)
        log.exception("unexpected error on %s %s", request.method, request.path)
        message = _("Something went wrong on our side. Nothing was changed; please try again.")
        return render_template(
            "errors/http.html", code=500, title=_("Server error"), message=message
        ), 500
