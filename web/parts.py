"""The engine parts the app was built with, and the signed-in actor."""

from __future__ import annotations

from typing import cast

from flask import abort, current_app, request
from flask_login import current_user

from decisionflow.accounts import Actor
from decisionflow.bootstrap import Parts


def engine() -> Parts:
    """The engine this app serves."""
    return cast(Parts, current_app.extensions["decisionflow"])


def actor() -> Actor:
    """The signed-in user as the service layer's actor."""
    if not current_user.is_authenticated:
        abort(401)
    return cast(Actor, current_user.actor)


def origin() -> str:
    """Where a request came from, for the audit log."""
    return f"web {request.remote_addr or '-'}"[:200]
