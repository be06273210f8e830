"""The inbox: each user reads their own notifications, sees the unread count and marks them read."""

from __future__ import annotations

import re
from datetime import timedelta

from decisionflow.roles import Role
from tests.web.conftest import csrf_token


def put_under_follow_up(web_parts, web_people, clock) -> tuple[int, int]:
    """A decision of department A under follow-up: the clerk of A has one notification."""
    decision = web_parts.decisions.create_decision(
        web_people[Role.STAFF],
        title="农贸市场改造",
        category="public_policy",
        undertaking_unit="housing",
    )
    follow_up_id = web_parts.follow_ups.open(
        web_people[Role.SUPERVISOR],
        decision.id,
        instructions="请报告改造进度",
        due=(clock.today + timedelta(days=7)).isoformat(),
    )
    return decision.id, follow_up_id


def unread_badge(page: str) -> str | None:
    """The unread count shown beside the inbox link, if any."""
    found = re.search(r'id="nav-inbox">[^<]*<span class="count"[^>]*>(\d+)</span>', page)
    return found.group(1) if found else None


def test_the_clerk_sees_the_notification_and_the_count_until_read(
    client, auth, web_parts, web_people, clock
):
    """The nav shows 1 unread; the inbox shows the follow-up; marking it read clears the count."""
    decision_id, follow_up_id = put_under_follow_up(web_parts, web_people, clock)
    auth.login(Role.STAFF)
    work = client.get("/work").get_data(as_text=True)
    assert unread_badge(work) == "1"
    page = client.get("/inbox/").get_data(as_text=True)
    assert "【督办】农贸市场改造" in page and "请报告改造进度" in page
    assert f"/decisions/{decision_id}" in page
    assert f"/supervision/follow-ups/{follow_up_id}" in page
    [notification_id] = re.findall(r'id="notification-(\d+)"', page)
    token = csrf_token(client, "/inbox/")
    done = client.post(
        f"/inbox/{notification_id}/read", data={"csrf_token": token}, follow_redirects=True
    )
    assert done.status_code == 200
    assert unread_badge(done.get_data(as_text=True)) is None
    assert 'class="notification unread' not in done.get_data(as_text=True)


def test_others_never_see_or_mark_someone_elses_notification(
    client, auth, web_parts, web_people, clock
):
    """Another department's clerk has an empty inbox and gets 404 marking the clerk's message."""
    put_under_follow_up(web_parts, web_people, clock)
    [item] = web_parts.inbox.items(web_people[Role.STAFF])
    auth.login("staff_b")
    page = client.get("/inbox/").get_data(as_text=True)
    assert "农贸市场改造" not in page and "暂无通知" in page
    token = csrf_token(client, "/inbox/")
    assert client.post(f"/inbox/{item.id}/read", data={"csrf_token": token}).status_code == 404
    assert web_parts.inbox.unread_count(web_people[Role.STAFF]) == 1


def test_mark_all_read_needs_the_forms_token(client, auth, web_parts, web_people, clock):
    """Without the CSRF token nothing is marked; with it, everything is."""
    put_under_follow_up(web_parts, web_people, clock)
    put_under_follow_up(web_parts, web_people, clock)
    auth.login(Role.STAFF)
    assert client.post("/inbox/read-all").status_code == 400
    assert web_parts.inbox.unread_count(web_people[Role.STAFF]) == 2
    token = csrf_token(client, "/inbox/")
    done = client.post("/inbox/read-all", data={"csrf_token": token}, follow_redirects=True)
    assert "2" in done.get_data(as_text=True)
    assert web_parts.inbox.unread_count(web_people[Role.STAFF]) == 0


def test_the_inbox_needs_signing_in(client):
    """Anonymous visitors are sent to sign in."""
    response = client.get("/inbox/")
    assert response.status_code in (302, 401)


def test_an_administrator_sets_the_address_reminders_go_to(client, auth, web_parts, web_people):
    """A faulty address is refused beside the row with what was typed kept; a good one is saved."""
    auth.login(Role.ADMIN)
    token = csrf_token(client, "/admin/users")
    refused = client.post(
        "/admin/users/staff_a/email", data={"csrf_token": token, "email": "zhang at housing"}
    )
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "电子邮箱地址有误" in page and 'value="zhang at housing"' in page
    saved = client.post(
        "/admin/users/staff_a/email",
        data={"csrf_token": token, "email": "zhang@housing.gov.cn"},
        follow_redirects=True,
    )
    assert saved.status_code == 200 and 'value="zhang@housing.gov.cn"' in saved.get_data(
        as_text=True
    )
    events = web_parts.oversight.events(web_people[Role.SUPERVISOR], action="set_user_email")
    assert [e.outcome for e in events.items] == ["done", "invalid_input"]
