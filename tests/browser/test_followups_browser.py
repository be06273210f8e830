"""Follow-up (督办) in a real browser: a supervisor opens it from the decision page, the clerk
finds it in the inbox and answers, the supervisor reads the answer and closes it; no page
breaks the content security policy; screenshots kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from decisionflow.roles import Role
from tests.browser.conftest import SCREENSHOTS, Browsers, LiveServer, Screenshots

FOLDER = SCREENSHOTS / "followups"


@pytest.fixture
def shots() -> Screenshots:
    """Screenshots of this walk, in a folder of its own, emptied first."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    for old in FOLDER.glob("*.png"):
        old.unlink()
    return Screenshots(Path(FOLDER))


def test_a_follow_up_from_opening_to_closing(
    live_server: LiveServer, browsers: Browsers, shots: Screenshots
):
    """Each side sees the other's step: in the nav's unread count, the inbox and the pages."""
    parts, people, clock = live_server.parts, live_server.people, live_server.clock
    decision = parts.decisions.create_decision(
        people[Role.STAFF],
        title="背街小巷整治方案",
        category="public_policy",
        undertaking_unit="housing",
    )
    blocked: list[str] = []

    supervisor = browsers.signed_in("supervisor_a")
    supervisor.on(
        "console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None
    )
    supervisor.goto(f"{live_server.url}/decisions/{decision.id}")
    supervisor.locator("#open-follow-up-link").click()
    due = (clock.today + timedelta(days=5)).isoformat()
    supervisor.locator("#f-instructions").fill("请说明整治资金落实情况")
    supervisor.locator("#f-due").fill(due)
    shots.take(supervisor, "supervisor opens a follow-up")
    with supervisor.expect_navigation():
        supervisor.locator("#open-follow-up button[type=submit]").click()
    assert "已列入督办" in supervisor.locator("p.flash").inner_text()

    clerk = browsers.signed_in("staff_a")
    clerk.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    assert clerk.locator("#nav-inbox .count").inner_text() == "1"
    shots.take(clerk, "the clerk's work list")
    clerk.locator("#nav-inbox").click()
    assert "【督办】背街小巷整治方案" in clerk.locator("ul.inbox").inner_text()
    shots.take(clerk, "the clerk's inbox")
    clerk.locator("ul.inbox a", has_text="查看督办").click()
    clerk.locator("#f-answer").fill("资金已列入年度预算，三月底前拨付")
    with clerk.expect_navigation():
        clerk.locator("#answer-follow-up button[type=submit]").click()
    assert clerk.locator("#follow-up-status").inner_text() == "已答复"

    supervisor.goto(f"{live_server.url}/inbox/")
    assert "【督办答复】背街小巷整治方案" in supervisor.locator("ul.inbox").inner_text()
    supervisor.locator("ul.inbox a", has_text="查看督办").click()
    assert "三月底前拨付" in supervisor.locator("#follow-up-answer").inner_text()
    supervisor.locator("#f-note").fill("答复清楚，办结")
    with supervisor.expect_navigation():
        supervisor.locator("#close-follow-up button[type=submit]").click()
    assert supervisor.locator("#follow-up-status").inner_text() == "已办结"
    shots.take(supervisor, "the closed follow-up")
    assert blocked == []
