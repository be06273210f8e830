"""Statistics for supervisors and leaders, their CSV downloads, and the printable yearly report."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template, request, url_for
from flask_login import login_required

from decisionflow import queries
from decisionflow.casebook import Scope
from decisionflow.models import Department
from decisionflow.report import Line, shown, yearly_for
from decisionflow.roles import Permission, has_permission
from decisionflow.statistics import FIGURES, to_csv
from web.charts import bar_chart, number
from web.i18n import is_english
from web.parts import actor, engine

bp = Blueprint("statistics", __name__, url_prefix="/supervision")


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def _scope() -> Scope:
    """The filters asked for: department, period (this year so far by default), procedure."""
    today = engine().statistics.today()
    since = _date("since") or date(today.year, 1, 1)
    until = _date("until") or today
    procedure = request.args.get("procedure", "").strip()
    if procedure not in engine().registry.procedures:
        procedure = ""
    return Scope(
        department=request.args.get("department", "").strip()[:32],
        since=since,
        until=until,
        procedure=procedure,
    )


def _filters(scope: Scope) -> dict[str, str]:
    """The scope as query arguments (for links that keep it)."""
    return {
        "department": scope.department,
        "since": scope.since.isoformat() if scope.since else "",
        "until": scope.until.isoformat() if scope.until else "",
        "procedure": scope.procedure,
    }


def _units() -> list[Department]:
    """The departments a reader may choose: every one, or a clerk's own alone."""
    with engine().readers() as db:
        units = queries.departments(db)
    if has_permission(actor().role, Permission.STATISTICS_READ):
        return units
    return [u for u in units if u.code == actor().department_code]


def decisions_link(ids: tuple[int, ...]) -> str:
    """The decision list showing only these decisions."""
    return url_for("decisions.index", ids=",".join(str(i) for i in ids))


@bp.get("/statistics")
@login_required
def index() -> str:
    """Show the figures as bar charts, each with its table and a CSV download."""
    scope, figures = engine().statistics.figures(actor(), _scope())  # the engine refuses others
    units = _units()
    registry = engine().registry
    return render_template(
        "supervision/statistics.html",
        figures=[(f, bar_chart(f)) for f in figures],
        filters=_filters(scope),
        units=units,
        procedures=[registry.current(name) for name in registry.procedures],
        number=number,
        decisions_link=decisions_link,
    )


@bp.get("/statistics/<any(" + ", ".join(FIGURES) + "):figure>.csv")
@login_required
def figure_csv(figure: str) -> Response:
    """Download one figure's table as CSV."""
    scope = _scope()
    found = engine().statistics.figure(actor(), figure, scope)
    body = to_csv(found, lang="en" if is_english() else "zh")
    period = _filters(scope)
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{figure}-{period["since"]}'
            f'-{period["until"]}.csv"'
        },
    )


@bp.get("/report/<int(min=1990, max=2200):year>")
@login_required
def yearly(year: int) -> str:
    """Show the year's law-based-administration figures, printable, each linked to its decisions."""
    department = request.args.get("department", "").strip()[:32]
    report = yearly_for(actor(), engine().statistics, year, department=department)
    units = _units()

    def link(line: Line) -> str:
        return decisions_link(line.decisions)

    return render_template(
        "supervision/report.html",
        report=report,
        units=units,
        shown=shown,
        link=link,
        department=report.department,
    )
