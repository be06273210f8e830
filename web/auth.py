"""Sign in and out; Flask-Login keeps the session."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from decisionflow.accounts import Actor, authenticate
from decisionflow.models import User
from web.extensions import login_manager
from web.i18n import LANGUAGES
from web.parts import engine

bp = Blueprint("auth", __name__)


@dataclass
class SignedIn(UserMixin):
    """The signed-in user: an actor plus what pages show."""

    actor: Actor
    display_name: str

    def get_id(self) -> str:
        return str(self.actor.id)


@login_manager.user_loader
def load_user(user_id: str) -> SignedIn | None:
    """Reload the user each request, so a deactivated account is out at once."""
    if not user_id.isdigit():
        return None
    with engine().readers() as db:
        user = db.get(User, int(user_id))
        if user is None or not user.active:
            return None
        return SignedIn(Actor.of(user), user.display_name)


login_manager.login_view = "auth.login"
login_manager.login_message = None


def _safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else the user's work: never an open redirect."""
    # Browsers read "/\host" as "//host" and drop tabs and newlines ("/\t/host"), so both
    # would leave the site; only a plain absolute path without a host is followed.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(c.isprintable() for c in target)
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("work.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> tuple[str, int] | Response:
    """Show the sign-in form, or sign the user in."""
    username = request.form.get("username", "").strip()
    error = None
    if request.method == "POST":
        actor, name = None, ""
        # No account has such a name; and PostgreSQL would refuse a NUL in the query (a 500).
        if len(username) <= 64 and username.isprintable():
            with engine().readers() as db:
                actor = authenticate(db, username, request.form.get("password", ""))
                user = db.get(User, actor.id) if actor and actor.id else None
                name = user.display_name if user else ""
        if actor is None:
            error = _("Wrong username or password.")
        else:
            session.clear()
            login_user(SignedIn(actor, name))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", username=username, error=error), 401 if error else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """Sign the user out."""
    logout_user()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def choose_language(code: str) -> Response:
    """Switch the pages' language."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))
