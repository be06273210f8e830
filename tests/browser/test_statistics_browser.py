"""The statistics page and the yearly report in a real browser: the SVG charts draw the right
bars with the right labels, the report's figures open their decisions; screenshots kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import SCREENSHOTS, Browsers, LiveServer, Screenshots
from tests.yearbook import YEAR, seed_year

FOLDER = SCREENSHOTS / "statistics"


@pytest.fixture(scope="module")
def fresh_folder() -> Path:
    """A folder of these pages' own (the walk's screenshots stay beside it), emptied once."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    for old in FOLDER.glob("*.png"):
        old.unlink()
    return FOLDER


@pytest.fixture
def shots(fresh_folder: Path) -> Screenshots:
    """Screenshots of the pages of one test."""
    return Screenshots(fresh_folder)


def _bars(page, key: str) -> dict[str, tuple[str, float]]:
    """{label: (number shown, bar width)} of the chart of a figure, as the browser drew it."""
    rows = page.locator(f'svg.chart[data-figure="{key}"] g.bar-row')
    found = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        box = row.locator("rect.bar").bounding_box()
        found[row.locator("text.bar-label").text_content() or ""] = (
            row.locator("text.bar-value").text_content() or "",
            box["width"] if box else 0.0,
        )
    return found


def test_the_statistics_page_and_the_yearly_report_in_the_browser(
    live_server: LiveServer, browsers: Browsers, shots: Screenshots
):
    """A supervisor reads the charts of the seeded year and the printable yearly report."""
    year = seed_year(live_server.parts, live_server.people, live_server.clock)
    page = browsers.signed_in("supervisor_a")
    page.locator("header nav a", has_text="统计").click()
    page.locator("input[name=since]").fill(f"{YEAR}-01-01")
    page.locator("input[name=until]").fill(f"{YEAR}-12-31")
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").click()
    assert page.locator("svg.chart").count() == 7

    comments = _bars(page, "comments")
    assert {label: shown for label, (shown, _w) in comments.items()} == {
        "收到意见": "4",
        "采纳": "2",
        "部分采纳": "1",
        "不予采纳": "1",
        "尚未处理": "0",
    }
    # bars are drawn to scale: 2 of 4 is half as long, 1 a quarter, 0 none
    received = comments["收到意见"][1]
    assert received > 100
    assert comments["采纳"][1] == pytest.approx(received / 2, abs=1.5)
    assert comments["部分采纳"][1] == pytest.approx(received / 4, abs=1.5)
    assert comments["尚未处理"][1] == 0

    [(label, (shown, width))] = _bars(page, "on_time").items()
    assert "报送备案" in label and shown == "33.3%"
    assert width == pytest.approx(650 * 0.333, abs=2)  # a rate is drawn against 100%
    meetings = _bars(page, "meetings")
    assert meetings["与多数意见不一致"][0] == "1"
    shots.take(page, "statistics")
    shots.take(page, "statistics-comments-chart", part=page.locator("#figure-comments"))

    # the table under a chart leads to the decisions behind a row
    with page.expect_navigation():
        page.locator("#figure-meetings tr", has_text="与多数意见不一致").locator("a").click()
    assert page.locator("table.list tbody tr").count() == 1
    assert page.locator("table.list tbody").inner_text().count("老旧小区改造计划") == 1

    page.goto(f"{live_server.url}/supervision/report/{YEAR}")
    assert page.locator("h1").inner_text() == f"{YEAR} 年度依法行政工作统计"
    assert page.locator('[data-figure="normative.published"]').inner_text() == "3"
    assert page.locator('[data-figure="normative.filing_rate"]').inner_text() == "33.3%"
    shots.take(page, "yearly-report")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    shots.take(page, "yearly-report-print")
    page.emulate_media(media="screen")
    with page.expect_navigation():
        page.locator('[data-figure="normative.filed_on_time"]').click()
    listed = page.locator("table.list tbody tr")
    assert listed.count() == 1 and str(year.n1) in listed.inner_text()

    # the same figures in English
    page.goto(f"{live_server.url}/supervision/statistics?since={YEAR}-01-01&until={YEAR}-12-31")
    with page.expect_navigation():
        page.locator('header button[lang="en"]').click()
    assert (
        page.locator("#figure-comments h2").inner_text() == "Public comments and their disposition"
    )
    assert "Comments received" in _bars(page, "comments")
    shots.take(page, "statistics-english")


def test_the_accountability_trace_in_the_browser(
    live_server: LiveServer, browsers: Browsers, shots: Screenshots
):
    """A supervisor reads who decided what at the meeting, and prints the trace."""
    year = seed_year(live_server.parts, live_server.people, live_server.clock)
    page = browsers.signed_in("supervisor_a")
    page.goto(f"{live_server.url}/supervision/decisions/{year.d2}/trace")
    assert page.locator("#chain-check.verification.ok").is_visible()
    page.locator("select[name=step]").select_option("collective_discussion")
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").click()
    [step] = page.locator("section.trace-step").all()
    assert step.get_attribute("data-step") == "collective_discussion"
    assert step.locator("p.dissent").count() == 2
    assert "改造资金已落实" in step.locator("p.departure").inner_text()
    shots.take(page, "trace-meeting")
    page.goto(f"{live_server.url}/supervision/decisions/{year.d2}/trace")
    page.emulate_media(media="print")
    assert not page.locator("form.filters").is_visible()
    shots.take(page, "trace-print")
