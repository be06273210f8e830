"""Sign in and out; Flask-Login keeps the session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import ceil
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from decisionflow.accounts import Actor, account
from decisionflow.errors import InvalidInput
from decisionflow.login_guard import password_mark
from decisionflow.models import User
from decisionflow.notifications import unread
from decisionflow.queries import MAX_ID
from web.extensions import login_manager
from web.i18n import LANGUAGES
from web.parts import actor, engine, origin

bp = Blueprint("auth", __name__)


@dataclass
class SignedIn(UserMixin):
    """The signed-in user: an actor plus what pages show."""

    actor: Actor
    display_name: str
    #: unread notifications when the request began (the navigation shows the count)
    unread: int = 0

    def get_id(self) -> str:
        return str(self.actor.id)


@login_manager.user_loader
def load_user(user_id: str) -> SignedIn | None:
    """Reload the user each request, so a deactivated account is out at once."""
    if not user_id.isdigit():
        return None
    # Every signed-in request asks this: one connection and prepared statements, no ORM.
    with engine().engine.connect() as connection:
        found = account(connection, int(user_id)) if int(user_id) <= MAX_ID else None
        if found is None or not found.active:
            return None
        # A password changed (by its owner or reset by an administrator) ends every session
        # signed in with the old one; a session older than the longest allowed ends too.
        if (
            session.get("pw") != password_mark(found.password_hash)
            or session.get("epoch") != found.session_epoch
            or _expired()
        ):
            session.clear()
            return None
        # the navigation's unread count, in the same transaction
        return SignedIn(found.actor, found.display_name, unread(connection, int(user_id)))


def _expired() -> bool:
    """Whether the session began longer ago than sessions may last, however active."""
    began = session.get("signed_in_at")
    limit = timedelta(hours=engine().settings.session_max_hours)
    if not isinstance(began, (int, float)):
        return True
    return datetime.now(UTC) - datetime.fromtimestamp(began, UTC) > limit


#: how often a signed-in session's cookie is renewed (signed again, its idle clock restarted)
RENEW_SESSION_SECONDS = 60


@bp.before_app_request
def renew_session() -> None:
    """Restart the idle clock at most once a minute, not on every request.

    The idle limit is the cookie's signed time (PERMANENT_SESSION_LIFETIME, checked on the
    server); signing and sending a new cookie on every request cost some 80 µs a page for a
    precision nobody needs: the limit now holds to within a minute.
    """
    if session.permanent:
        now = int(datetime.now(UTC).timestamp())
        if now - int(session.get("renewed", 0)) >= RENEW_SESSION_SECONDS:
            session["renewed"] = now


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
def login() -> tuple[str, int, dict[str, str]] | Response:
    """Show the sign-in form, or sign the user in."""
    username = request.form.get("username", "").strip()
    error, status, retry = None, 200, 0
    if request.method == "POST":
        found, name, mark, epoch, locked = None, "", "", 0, None
        # No account has such a name; and PostgreSQL would refuse a NUL in the query (a 500).
        if len(username) <= 64 and username.isprintable():
            outcome = engine().sign_in.sign_in(
                username,
                request.form.get("password", ""),
                address=request.remote_addr or "-",
                origin=origin(),
            )
            found, locked = outcome.actor, outcome.locked_until
            if found is not None and found.id is not None:
                with engine().readers() as db:
                    user = db.get(User, found.id)
                    name = user.display_name if user else ""
                    mark = password_mark(user.password_hash) if user else ""
                    epoch = user.session_epoch if user else 0
        if locked is not None:
            # The same answer whether or not the username exists, and whatever the password.
            retry = max(1, ceil((locked - engine().sign_in.clock()).total_seconds()))
            minutes = ceil(retry / 60)
            error, status = (
                _(
                    "Too many failed sign-ins. Signing in is locked for %(minutes)s minutes; "
                    "try again later.",
                    minutes=minutes,
                ),
                429,
            )
        elif found is None:
            error, status = _("Wrong username or password."), 401
        else:
            session.clear()  # a new session for the signed-in user: no fixation
            session.permanent = True  # expires after session_idle_minutes without a request
            session["signed_in_at"] = datetime.now(UTC).timestamp()
            session["pw"] = mark
            session["epoch"] = epoch
            login_user(SignedIn(found, name))
            return redirect(_safe_next(request.args.get("next")))
    page = render_template("auth/login.html", username=username, error=error)
    headers = {"Retry-After": str(retry)} if status == 429 else {}
    return page, status, headers


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """Sign the user out."""
    engine().sign_in.signed_out(actor(), origin=origin())
    logout_user()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def choose_language(code: str) -> Response:
    """Switch the pages' language."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> tuple[str, int] | Response:
    """Change one's own password (the current one is asked for)."""
    errors: dict[str, tuple[str, str]] = {}
    refusal = None
    if request.method == "POST":
        form = request.form
        try:
            if form.get("new_password", "") != form.get("confirm_password", ""):
                raise InvalidInput(
                    zh="两次输入的新密码不一致",
                    en="The two new passwords differ",
                    fields={"confirm_password": ("与新密码不一致", "differs from the new one")},
                )
            mark = engine().sign_in.change_password(
                actor(),
                current=form.get("current_password", ""),
                new=form.get("new_password", ""),
                origin=origin(),
            )
        except InvalidInput as err:
            errors, refusal = err.fields, err
        else:
            session["pw"] = mark  # this session goes on; every other one of the account ends
            flash(_("Your password has been changed."))
            return redirect(url_for("work.index"))
    page = render_template("auth/password.html", errors=errors, refusal=refusal, user=current_user)
    return page, 400 if refusal else 200
