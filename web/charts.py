"""Bar charts drawn on the server as inline SVG: geometry here, markup in supervision/_chart.html."""

from __future__ import annotations

from dataclasses import dataclass

from decisionflow.figures import Figure, Value
from web.i18n import pick

#: the drawing's width, the room for the number after the longest bar, one row's height
WIDTH, VALUE_ROOM, ROW = 720, 70, 44
#: where a row's label sits (its baseline) and where its bar starts and how tall it is
LABEL_Y, BAR_Y, BAR_HEIGHT = 15, 21, 16


@dataclass(frozen=True)
class Bar:
    """One bar: its label, the number printed after it, and its place in the drawing."""

    label: str
    shown: str
    y: int
    width: float
    value_x: float


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart of one column of a figure."""

    key: str
    title: str
    column: str
    width: int
    height: int
    bars: tuple[Bar, ...]


def number(value: Value) -> str:
    """A number as a table shows it: whole numbers plain, others to one decimal, none as —."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else f"{value:.1f}"
    return str(value)


def bar_chart(figure: Figure) -> Chart:
    """Lay out a figure's charted column as bars, each row's label above its bar."""
    values = figure.bars()
    # a percentage is drawn against 100, counts against the largest
    percent = "%" in figure.columns[figure.chart][1]
    top = 100.0 if percent else max((v for _, v in values), default=0.0) or 1.0
    room = WIDTH - VALUE_ROOM
    bars = []
    for index, (label, value) in enumerate(values):
        width = round(room * value / top, 1)
        raw = figure.rows[index].values[figure.chart]
        bars.append(
            Bar(
                pick(label),
                number(raw) + ("%" if percent and raw is not None else ""),
                index * ROW,
                width,
                width + 6,
            )
        )
    return Chart(
        figure.key,
        pick(figure.title),
        pick(figure.columns[figure.chart]),
        WIDTH,
        max(1, len(bars)) * ROW,
        tuple(bars),
    )
