"""Administrators keep accounts, departments, the expert pool, the catalogue and the calendar."""

from __future__ import annotations

import pytest

from decisionflow.roles import Role
from tests.web.conftest import Auth, csrf_token

PAGES = [
    "/admin/users",
    "/admin/departments",
    "/admin/experts",
    "/admin/catalogue",
    "/admin/calendar",
]


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.ADMIN, Role.PUBLIC)])
def test_only_administrators_reach_the_admin_pages(client, auth, role):
    """Every other role gets 403 on every admin page."""
    auth.login(role)
    assert {page: client.get(page).status_code for page in PAGES} == dict.fromkeys(PAGES, 403)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    """Without an account, the admin pages redirect to the sign-in page."""
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_administrator_creates_an_account_and_a_mistake_keeps_the_form(client, auth, web_parts):
    """A short password is refused beside its field with the username kept; a good one creates it."""
    auth.login(Role.ADMIN)
    token = csrf_token(client, "/admin/users")
    refused = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "wang.fang",
            "display_name": "王芳",
            "password": "short",
            "role": "staff",
            "department": "housing",
        },
    )
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert 'value="wang.fang"' in page and "至少 12 个字符" in page
    made = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "wang.fang",
            "display_name": "王芳",
            "password": "a-long-password-1",
            "role": "staff",
            "department": "housing",
        },
        follow_redirects=True,
    )
    assert made.status_code == 200
    assert "wang.fang" in made.get_data(as_text=True)


def test_the_expert_pool_and_catalogue_are_kept_through_the_pages(client, auth):
    """Enrolling an expert with a declared interest, and adding a catalogue matter, show on the pages."""
    auth.login(Role.ADMIN)
    token = csrf_token(client, "/admin/experts")
    client.post(
        "/admin/experts",
        data={
            "csrf_token": token,
            "username": "expert_2",
            "fields": "环境工程",
            "status": "active",
            "declared_interests": ["ecology"],
        },
    )
    assert "环境工程" in client.get("/admin/experts").get_data(as_text=True)
    client.post(
        "/admin/catalogue",
        data={
            "csrf_token": token,
            "year": "2026",
            "matter": "湿地保护修复方案",
            "undertaking_unit": "ecology",
            "planned_timing": "2026 年 10 月",
        },
    )
    assert "湿地保护修复方案" in client.get("/admin/catalogue?year=2026").get_data(as_text=True)


def test_the_calendar_page_checks_an_override_without_saving(client, auth):
    """A bad override text is refused naming its place; 2026 shows as known."""
    auth.login(Role.ADMIN)
    page = client.get("/admin/calendar").get_data(as_text=True)
    assert "2026" in page
    token = csrf_token(client, "/admin/calendar")
    bad = client.post(
        "/admin/calendar/check",
        data={
            "csrf_token": token,
            "text": "years:\n  2027:\n    holidays: [2027-02-30]\n    workdays: []\n",
        },
    )
    assert bad.status_code == 400
    assert "years.2027.holidays[0]" in bad.get_data(as_text=True)


def test_an_administrator_changes_a_role_and_a_deactivated_account_is_out(client, auth, web_parts):
    """Deactivating an account ends its session at once and it can no longer sign in (audited)."""
    from flask import Flask  # noqa: F401  (the app fixture already runs)

    other = client.application.test_client()
    assert Auth(other, None).login("staff_b").status_code == 302
    assert other.get("/work").status_code == 200
    auth.login(Role.ADMIN)
    token = csrf_token(client, "/admin/users")
    answer = client.post(
        "/admin/users/staff_b",
        data={"csrf_token": token, "role": "executor", "department": "ecology"},
    )
    assert answer.status_code == 302  # no "active" box ticked: deactivated
    assert other.get("/work").status_code == 302  # sent to sign in
    assert Auth(other, None).login("staff_b").status_code == 401
    with web_parts.sessions() as session:
        from decisionflow.models import AuditEvent, User

        user = session.query(User).filter_by(username="staff_b").one()
        assert (user.role, user.active) == ("executor", False)
        assert (
            session.query(AuditEvent).filter_by(action="update_user", outcome="done").count() == 1
        )


def test_an_administrator_saves_calendar_overrides_and_days_count_by_them(
    client, auth, web_parts, tmp_path
):
    """A valid 2027 arrangement is saved and the engine counts working days by it at once."""
    from dataclasses import replace
    from datetime import date

    path = tmp_path / "overrides.yaml"
    path.write_text("years: {}\n", encoding="utf-8")
    web_parts.settings = replace(web_parts.settings, calendar_overrides=path)
    auth.login(Role.ADMIN)
    token = csrf_token(client, "/admin/calendar")
    bad = client.post(
        "/admin/calendar/save", data={"csrf_token": token, "text": "years: [nonsense"}
    )
    assert bad.status_code == 400 and path.read_text(encoding="utf-8") == "years: {}\n"
    text = "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-01-09]\n"
    saved = client.post("/admin/calendar/save", data={"csrf_token": token, "text": text})
    assert saved.status_code == 302
    assert path.read_text(encoding="utf-8") == text
    # 2027-01-09 is a Saturday made a working day by the saved arrangement
    assert web_parts.decisions.calendar.is_working_day(date(2027, 1, 9))
    assert web_parts.decisions.calendar.known(date(2027, 6, 1))


def test_a_refused_account_change_shows_the_list_with_the_reason_and_changes_nothing(
    client, auth, web_parts
):
    """An unknown role is refused on the accounts page itself (every account still listed)."""
    auth.login(Role.ADMIN)
    token = csrf_token(client, "/admin/users")
    refused = client.post(
        "/admin/users/staff_b",
        data={"csrf_token": token, "role": "mayor", "department": "ecology", "active": "yes"},
    )
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert '<div class="refusal" role="alert">' in page
    assert "staff_a" in page and "staff_b" in page  # the list is shown again
    with web_parts.readers() as session:
        from decisionflow.models import User

        user = session.query(User).filter_by(username="staff_b").one()
        assert (user.role, user.active) == ("staff", True)
