"""Administration: users, departments, the expert pool, the decision catalogue, the legal calendar."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from decisionflow import queries
from decisionflow.calendar import CalendarOverrideError, ChinaLegalCalendar
from decisionflow.errors import DecisionFlowError, InvalidInput
from decisionflow.models import User
from decisionflow.registers import EXPERT_STATUSES
from decisionflow.roles import ACCOUNT_ROLES, Permission, has_permission
from web.errors import status_of
from web.numbers import whole_number
from web.parts import actor, engine

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def only_administrators() -> None:
    """Every page here is for administrators alone."""
    if not has_permission(actor().role, Permission.USER_MANAGE):
        abort(403)


def _refused(template: str, err: DecisionFlowError, **context: Any) -> tuple[str, int]:
    errors = err.fields if isinstance(err, InvalidInput) else {}
    return render_template(
        template, errors=errors, refusal=err, values=request.form, **context
    ), status_of(err)


def _users_context() -> dict[str, Any]:
    """What the accounts page lists: every account, the departments and the roles."""
    with engine().readers() as db:
        accounts = list(db.scalars(select(User).order_by(User.username)))
        units = queries.departments(db)
    return {"accounts": accounts, "units": units, "roles": ACCOUNT_ROLES}


@bp.route("/users", methods=["GET", "POST"])
def users() -> str | Response | tuple[str, int]:
    """List the accounts and create one."""
    if request.method == "POST":
        form = request.form
        try:
            engine().admin.create_user(
                actor(),
                username=form.get("username", ""),
                display_name=form.get("display_name", ""),
                password=form.get("password", ""),
                role=form.get("role", ""),
                department=form.get("department") or None,
            )
        except DecisionFlowError as err:
            return _refused("admin/users.html", err, **_users_context())
        flash(_("Account created."))
        return redirect(url_for("admin.users"))
    return render_template(
        "admin/users.html", errors={}, refusal=None, values={}, **_users_context()
    )


@bp.post("/users/<username>")
def update_user(username: str) -> str | Response | tuple[str, int]:
    """Change an account's role, department, or whether it may sign in."""
    form = request.form
    try:
        engine().admin.update_user(
            actor(),
            username=username,
            role=form.get("role") or None,
            department=form.get("department") or None,
            active=form.get("active") == "yes",
            password=form.get("new_password") or None,
        )
    except DecisionFlowError as err:
        return _refused("admin/users.html", err, **_users_context())
    flash(_("Account updated."))
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/email")
def set_email(username: str) -> str | Response | tuple[str, int]:
    """Set the address an account's reminders are mailed to (empty: the inbox alone)."""
    typed = request.form.get("email", "")
    try:
        engine().admin.set_email(actor(), username=username, email=typed)
    except DecisionFlowError as err:
        return _refused("admin/users.html", err, typed_email={username: typed}, **_users_context())
    flash(_("Email address saved."))
    return redirect(url_for("admin.users"))


@bp.route("/departments", methods=["GET", "POST"])
def departments() -> str | Response | tuple[str, int]:
    """List the departments and add one."""
    with engine().readers() as db:
        units = queries.departments(db)
    if request.method == "POST":
        form = request.form
        try:
            engine().admin.create_department(
                actor(),
                code=form.get("code", ""),
                name_zh=form.get("name_zh", ""),
                name_en=form.get("name_en", ""),
            )
        except DecisionFlowError as err:
            return _refused("admin/departments.html", err, units=units)
        flash(_("Department added."))
        return redirect(url_for("admin.departments"))
    return render_template(
        "admin/departments.html", units=units, errors={}, refusal=None, values={}
    )


@bp.route("/experts", methods=["GET", "POST"])
def experts() -> str | Response | tuple[str, int]:
    """The expert pool: enrol an expert account or change an entry."""
    registers = engine().registers
    with engine().readers() as db:
        units = queries.departments(db)
    context = {"pool": registers.experts(), "units": units, "statuses": EXPERT_STATUSES}
    if request.method == "POST":
        form = request.form
        try:
            registers.enrol_expert(
                actor(),
                username=form.get("username", ""),
                fields=form.get("fields", ""),
                status=form.get("status", "active"),
                declared_interests=form.getlist("declared_interests"),
            )
        except DecisionFlowError as err:
            return _refused("admin/experts.html", err, **context)
        flash(_("Expert pool updated."))
        return redirect(url_for("admin.experts"))
    return render_template("admin/experts.html", errors={}, refusal=None, values={}, **context)


@bp.route("/catalogue", methods=["GET", "POST"])
def catalogue() -> str | Response | tuple[str, int]:
    """A year's decision catalogue, and a form to add to it."""
    year_arg = request.args.get("year", "")
    year = whole_number(year_arg, date.today().year, most=9999)
    with engine().readers() as db:
        units = queries.departments(db)
    context = {"year": year, "entries": engine().registers.catalogue(year), "units": units}
    if request.method == "POST":
        form = request.form
        try:
            engine().registers.add_catalogue_entry(
                actor(),
                year=whole_number(form.get("year", ""), 0, most=9999),
                matter=form.get("matter", ""),
                undertaking_unit=form.get("undertaking_unit", ""),
                planned_timing=form.get("planned_timing", ""),
                published=bool(form.get("published")),
            )
        except DecisionFlowError as err:
            return _refused("admin/catalogue.html", err, **context)
        flash(_("Catalogue entry added."))
        return redirect(url_for("admin.catalogue", year=form.get("year")))
    return render_template("admin/catalogue.html", errors={}, refusal=None, values={}, **context)


@bp.get("/calendar")
def calendar() -> str:
    """The legal calendar: which years' official arrangements are on file, and the override file."""
    legal = engine().calendar
    this_year = date.today().year
    years = [(y, legal.known(date(y, 1, 1))) for y in range(this_year - 1, this_year + 3)]
    path = legal.overrides_path
    text = path.read_text(encoding="utf-8") if path and path.exists() else ""
    return render_template("admin/calendar.html", years=years, path=path, text=text, problem=None)


@bp.post("/calendar/check")
def check_calendar() -> tuple[str, int] | str:
    """Check an override text as the calendar would load it, without saving anything."""
    import tempfile
    from pathlib import Path

    text = request.form.get("text", "")
    legal = engine().calendar
    with tempfile.TemporaryDirectory() as folder:
        candidate = Path(folder) / "overrides.yaml"
        candidate.write_text(text, encoding="utf-8")
        try:
            checked = ChinaLegalCalendar(candidate)
            problem = None
        except CalendarOverrideError as err:
            checked, problem = None, str(err).replace(str(candidate), "overrides.yaml")
    this_year = date.today().year
    years = [
        (y, (checked or legal).known(date(y, 1, 1))) for y in range(this_year - 1, this_year + 3)
    ]
    page = render_template(
        "admin/calendar.html",
        years=years,
        path=legal.overrides_path,
        text=text,
        problem=problem,
        checked=checked is not None,
    )
    return (page, 400) if problem else page


@bp.post("/calendar/save")
def save_calendar() -> Response | tuple[str, int]:
    """Save an override text (checked first) and count working days by it from now on."""
    parts = engine()
    path = parts.settings.calendar_overrides
    text = request.form.get("text", "")
    try:
        parts.admin.save_calendar_overrides(actor(), text=text, path=path)
    except DecisionFlowError as err:
        fields = err.fields if isinstance(err, InvalidInput) else {}
        problem = fields["text"][0] if "text" in fields else str(err)
        this_year = date.today().year
        years = [
            (y, parts.calendar.known(date(y, 1, 1))) for y in range(this_year - 1, this_year + 3)
        ]
        page = render_template(
            "admin/calendar.html", years=years, path=path, text=text, problem=problem
        )
        return page, status_of(err)
    parts.reload_calendar()
    flash(_("Calendar overrides saved."))
    return redirect(url_for("admin.calendar"))
