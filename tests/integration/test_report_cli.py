"""`decisionflow report yearly` as an operator runs it: a real process on a seeded SQLite file."""

from __future__ import annotations

from decisionflow.bootstrap import build
from tests.conftest import Clock, make_people, settings_for
from tests.integration.test_cli import run
from tests.yearbook import YEAR, seed_year


def test_the_yearly_report_prints_and_writes_the_year_s_figures(
    tmp_path, sqlite_url, password_hash
):
    """The command prints the figures, writes a printable page, and names an unknown unit."""
    clock = Clock()
    parts = build(settings_for(sqlite_url, tmp_path / "seed"), clock=clock)
    try:
        seeded = seed_year(parts, make_people(parts, password_hash), clock)
    finally:
        parts.dispose()
    env = {"DECISIONFLOW_DATABASE_URL": sqlite_url}

    printed = run(tmp_path, "report", "yearly", str(YEAR), env=env)
    assert printed.returncode == 0, printed.stderr
    assert "审查文件草案: 3" in printed.stdout
    assert "正式发布: 3" in printed.stdout
    assert "按时备案: 1" in printed.stdout
    assert "与多数意见不一致并说明理由: 1" in printed.stdout

    page = tmp_path / "report.html"
    written = run(
        tmp_path, "report", "yearly", str(YEAR), "--output", str(page), "--lang", "en", env=env
    )
    assert written.returncode == 0, written.stderr
    html = page.read_text(encoding="utf-8")
    assert f"Law-based administration: figures for {YEAR}" in html
    assert '<a href="#normative.published">3</a>' in html
    assert f"#{seeded.n3} " in html  # the decisions behind each figure are listed

    ecology = run(tmp_path, "report", "yearly", str(YEAR), "--department", "ecology", env=env)
    assert ecology.returncode == 0 and "提出决策建议: 1" in ecology.stdout

    unknown = run(tmp_path, "report", "yearly", str(YEAR), "--department", "nowhere", env=env)
    assert unknown.returncode == 1
    assert "nowhere" in unknown.stderr and "Traceback" not in unknown.stderr
