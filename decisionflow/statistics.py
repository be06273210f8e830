"""Figures for supervisors and leaders, for the roles that may read them, and as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from decisionflow.accounts import Actor
from decisionflow.calendar import ChinaLegalCalendar
from decisionflow.casebook import Case, Scope, Timed, deadlines, load_cases
from decisionflow.errors import NotFound, NotPermitted
from decisionflow.figures import (
    FIGURES,
    Figure,
    comments,
    durations,
    legality,
    meetings,
    on_time,
    overdue,
    stages,
)
from decisionflow.models import utcnow
from decisionflow.registry import DefinitionRegistry
from decisionflow.roles import Permission, has_permission


def readable_scope(actor: Actor, scope: Scope) -> Scope:
    """The scope the actor may read: every department, or only the actor's own."""
    if has_permission(actor.role, Permission.STATISTICS_READ):
        return scope
    if has_permission(actor.role, Permission.STATISTICS_READ_OWN) and actor.department_code:
        return replace(scope, department=actor.department_code)
    raise NotPermitted(zh="您的角色不能查阅统计数据", en="Your role may not read the statistics")


def to_csv(figure: Figure, *, lang: str = "zh") -> str:
    """The figure's table as CSV (UTF-8 with a BOM, so that spreadsheet programs read Chinese)."""
    pick = 0 if lang == "zh" else 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            figure.title[pick],
            *(c[pick] for c in figure.columns),
            "decisions" if pick else "决策编号",
        ]
    )
    for row in figure.rows:
        values = ["" if v is None else v for v in row.values]
        writer.writerow([row.label[pick], *values, " ".join(str(i) for i in row.decisions)])
    return "\ufeff" + out.getvalue()


class Statistics:
    """The supervision figures, for the roles that may read them; the permission is checked here."""

    def __init__(
        self,
        readers: sessionmaker[Session],
        registry: DefinitionRegistry,
        *,
        calendar: ChinaLegalCalendar,
        timezone: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.readers = readers
        self.registry = registry
        self.calendar = calendar
        self.timezone = ZoneInfo(timezone)
        self.clock = clock

    def today(self) -> date:
        """The legal date now."""
        return self.clock().astimezone(self.timezone).date()

    def cases(self, actor: Actor, scope: Scope) -> tuple[Scope, list[Case]]:
        """The scope the actor may read and its decisions' facts; NotPermitted for other roles."""
        scope = readable_scope(actor, scope)
        with self.readers() as session:
            return scope, load_cases(session, self.registry, scope, timezone=self.timezone)

    def deadlines(self, cases: list[Case]) -> list[Timed]:
        """Every deadline the decisions ran into."""
        return deadlines(cases, calendar=self.calendar, today=self.today(), timezone=self.timezone)

    def figures(self, actor: Actor, scope: Scope) -> tuple[Scope, list[Figure]]:
        """Every figure for the scope the actor may read."""
        scope, cases = self.cases(actor, scope)
        by_id = {c.id: c for c in cases}
        items = self.deadlines(cases)
        in_period = [i for i in items if scope.holds(i.since)]
        return scope, [
            stages(cases, scope),
            on_time(in_period, by_id),
            durations(cases, scope, calendar=self.calendar, timezone=self.timezone),
            comments(cases, scope, timezone=self.timezone),
            legality(cases, scope),
            meetings(cases, scope),
            overdue(items, by_id, self.today()),
        ]

    def figure(self, actor: Actor, key: str, scope: Scope) -> Figure:
        """One figure by its key; NotFound for an unknown key."""
        if key not in FIGURES:
            raise NotFound(zh=f"没有名为“{key}”的统计图表", en=f"No figure named '{key}'")
        _scope, figures = self.figures(actor, scope)
        return next(f for f in figures if f.key == key)
