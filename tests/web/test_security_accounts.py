"""Accounts over HTTP: lock-out, password changes, sessions that end, security events, proxies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import itsdangerous.timed
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from decisionflow import security_events as events
from decisionflow.accounts import SYSTEM
from decisionflow.bootstrap import Parts
from decisionflow.models import AuditEvent
from decisionflow.roles import Role
from tests.conftest import PASSWORD, Clock, People
from tests.helpers import drive
from tests.web.conftest import Auth, csrf_token
from web import create_app
from web.auth import RENEW_SESSION_SECONDS

SECRET = "a-private-random-secret-key-for-the-production-tests"
NEW = "quiet river under old bridges"


def log_of(parts: Parts, *actions: str) -> list[AuditEvent]:
    """Audit events of these actions, oldest first."""
    with parts.readers() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.seq)
            )
        )


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, **kw: Any) -> Any:
    token = csrf_token(client)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}, **kw
    )


def app_with(parts: Parts, **settings: Any) -> Flask:
    """The app on the same engine, with some settings changed (production, proxies)."""
    return create_app(
        {
            "TESTING": True,
            "DECISIONFLOW_SETTINGS": parts.settings.with_overrides(**settings),
            "DECISIONFLOW_PARTS": parts,
        }
    )


# -- lock-out ----------------------------------------------------------------------------------


def _without_username(page: str) -> str:
    return re.sub(r'name="username" value="[^"]*"', "", re.sub(r'value="[^"]{20,}"', "", page))


def test_the_sign_in_form_locks_after_five_failures_telling_nobody_who_exists(
    app: Flask, web_people: People, clock: Clock
) -> None:
    """Five wrong passwords lock the name for 15 minutes; a made-up name gets the same page."""
    real, ghost = app.test_client(), app.test_client()
    answers = [sign_in(real, "staff_a", "wrong password !!").status_code for _ in range(5)]
    assert answers == [401, 401, 401, 401, 429]
    for _ in range(5):
        sign_in(ghost, "no_such_user", "wrong password !!")
    locked_real = sign_in(real, "staff_a")  # the right password, refused unheard
    locked_ghost = sign_in(ghost, "no_such_user")
    assert locked_real.status_code == locked_ghost.status_code == 429
    assert locked_real.headers["Retry-After"] == str(15 * 60)  # seconds until the lock ends
    page = locked_real.get_data(as_text=True)
    assert "登录失败次数过多" in page and "15" in page
    assert _without_username(page) == _without_username(locked_ghost.get_data(as_text=True))
    assert real.get("/work").status_code == 302  # still signed out
    clock.advance(minutes=15, seconds=1)
    assert sign_in(real, "staff_a").status_code == 302


def test_a_change_of_password_ends_every_other_session(
    app: Flask, web_parts: Parts, web_people: People
) -> None:
    """Changing one's password needs the current one; other sessions of the account end."""
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, "staff_a")
    sign_in(elsewhere, "staff_a")
    page = here.get("/account/password")
    assert page.status_code == 200 and 'id="change-password"' in page.get_data(as_text=True)
    token = csrf_token(here, "/account/password")
    differ = here.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": NEW,
            "confirm_password": NEW + "x",
        },
    )
    assert differ.status_code == 400 and "两次输入的新密码不一致" in differ.get_data(as_text=True)
    weak = here.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "password2026",
            "confirm_password": "password2026",
        },
    )
    assert weak.status_code == 400 and "过于常见" in weak.get_data(as_text=True)
    done = here.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": NEW,
            "confirm_password": NEW,
        },
        follow_redirects=True,
    )
    assert done.status_code == 200 and "密码已修改" in done.get_data(as_text=True)
    assert here.get("/work").status_code == 200  # this session goes on
    assert elsewhere.get("/work").status_code == 302  # the other one has ended
    assert sign_in(app.test_client(), "staff_a").status_code == 401
    assert sign_in(app.test_client(), "staff_a", NEW).status_code == 302
    outcomes = [e.outcome for e in log_of(web_parts, events.PASSWORD_CHANGED)]
    assert outcomes == ["invalid_input", "done"]  # the mismatch never reached the service


def test_an_administrator_resets_a_password_under_the_policy(
    app: Flask, client: FlaskClient, auth: Auth, web_parts: Parts, web_people: People
) -> None:
    """A reset must meet the policy; once done, the user's open session ends."""
    clerk = app.test_client()
    sign_in(clerk, "staff_a")
    auth.login(Role.ADMIN)
    token = csrf_token(client, "/admin/users")
    form = {"csrf_token": token, "role": "staff", "department": "housing", "active": "yes"}
    weak = client.post("/admin/users/staff_a", data={**form, "new_password": "staff_a2026!"})
    assert weak.status_code == 400 and "不能包含用户名" in weak.get_data(as_text=True)
    assert clerk.get("/work").status_code == 200
    reset = client.post("/admin/users/staff_a", data={**form, "new_password": NEW})
    assert reset.status_code == 302
    assert clerk.get("/work").status_code == 302
    # the new password is the one that signs in now; the weak one was never stored
    assert sign_in(app.test_client(), "staff_a", "staff_a2026!").status_code == 401
    assert sign_in(app.test_client(), "staff_a", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "staff_a", NEW).status_code == 302
    [event] = [e for e in log_of(web_parts, "update_user") if e.outcome == "done"]
    assert NEW not in event.detail


# -- security events ---------------------------------------------------------------------------


def test_signing_in_and_out_is_recorded_with_the_address(
    client: FlaskClient, auth: Auth, web_parts: Parts
) -> None:
    """A sign-in and a sign-out each leave an audit event naming the account and the address."""
    auth.login(Role.STAFF)
    auth.logout()
    logged = [
        (e.actor_username, e.action, e.origin)
        for e in log_of(web_parts, events.SIGN_IN, events.SIGN_OUT)
    ]
    assert logged == [
        ("staff_a", "sign_in", "web 127.0.0.1"),
        ("staff_a", "sign_out", "web 127.0.0.1"),
    ]


def test_a_denied_page_is_recorded_once(
    client: FlaskClient, auth: Auth, web_parts: Parts, web_people: People, clock: Clock
) -> None:
    """A page refused is an audit event; a refused change is audited once (by the service)."""
    decision = drive(web_parts, web_people, clock, through="request_expert_opinions")
    auth.login(Role.STAFF)
    assert client.get("/admin/users").status_code == 403
    [denied] = log_of(web_parts, events.ACCESS_DENIED)
    assert (denied.actor_username, denied.outcome) == ("staff_a", "not_permitted")
    assert '"path":"/admin/users"' in denied.detail
    auth.logout()
    auth.login("staff_b")
    with web_parts.readers() as session:
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    refused = client.post(
        f"/decisions/{decision.id}/actions/start_risk_assessment",
        data={"csrf_token": csrf_token(client, "/work")},
    )
    assert refused.status_code == 403
    with web_parts.readers() as session:
        after = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > before)))
    # the service's refusal, and no second access_denied event from the web layer
    assert [(e.action, e.outcome, e.actor_username, e.decision_id) for e in after] == [
        ("start_risk_assessment", "not_permitted", "staff_b", decision.id)
    ]
    assert web_parts.verify_audit().ok


def test_api_token_use_and_refusals_are_recorded(
    client: FlaskClient, web_parts: Parts, web_people: People
) -> None:
    """A refused token is recorded each time; a good token's use once (not on every call)."""
    token = web_parts.tokens.issue(SYSTEM, username="staff_a", name="OA system")
    bad = client.get("/api/v1/decisions", headers={"Authorization": "Bearer dfl_forged"})
    assert bad.status_code == 401
    for _ in range(3):
        good = client.get("/api/v1/decisions", headers={"Authorization": f"Bearer {token}"})
        assert good.status_code == 200
    logged = [
        (e.action, e.actor_username, e.outcome)
        for e in log_of(web_parts, events.API_TOKEN_REFUSED, events.API_TOKEN_USED)
    ]
    assert logged == [
        ("api_token_refused", "api-token", "not_permitted"),
        ("api_token_used", "staff_a", "done"),
    ]
    assert all(token not in e.detail for e in log_of(web_parts, *events.SECURITY_ACTIONS))


def test_the_audit_page_shows_security_events_to_a_supervisor(
    client: FlaskClient, auth: Auth, web_parts: Parts
) -> None:
    """A supervisor reading the log sees failed sign-ins among the events."""
    sign_in(client, "staff_a", "wrong password !!")
    auth.login(Role.SUPERVISOR)
    page = client.get("/supervision/audit").get_data(as_text=True)
    assert "sign_in_failed" in page and "staff_a" in page


# -- sessions and cookies ----------------------------------------------------------------------


@pytest.fixture
def production(web_parts: Parts, web_people: People) -> Flask:
    """The app as production runs it (secret key set, HTTPS cookies)."""
    return app_with(web_parts, profile="production", secret_key=SECRET)


def test_production_cookies_are_secure_host_only_and_expire(production: Flask) -> None:
    """In production the session cookie is __Host-, Secure, HttpOnly, SameSite, and expires."""
    client = production.test_client()
    response = sign_in(client, "staff_a")
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("__Host-session=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite", "expires", "path"} <= attributes
    assert "domain" not in attributes  # the __Host- prefix forbids one
    assert "samesite=lax" in cookie.lower()


def test_production_adds_hsts_and_every_page_the_other_headers(
    production: Flask, client: FlaskClient
) -> None:
    """HSTS in production only; Permissions-, Opener- and Resource-Policy everywhere."""
    for response in (production.test_client().get("/login"), client.get("/login")):
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert (
        "max-age=31536000"
        in production.test_client().get("/login").headers["Strict-Transport-Security"]
    )
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_production_refuses_to_start_without_a_real_secret_key(web_parts: Parts) -> None:
    """No secret key, the development key, or a short one: production does not start."""
    from config import ConfigError

    for secret in ("", "development-only-not-secret", "short-key"):
        with pytest.raises(ConfigError, match="SECRET_KEY"):
            app_with(web_parts, profile="production", secret_key=secret)


def test_a_session_ends_after_the_longest_time_however_active(
    client: FlaskClient, auth: Auth, web_parts: Parts
) -> None:
    """A session signed in longer ago than session_max_hours is over, even if in use."""
    auth.login(Role.STAFF)
    assert client.get("/work").status_code == 200
    with client.session_transaction() as session:
        hours = web_parts.settings.session_max_hours
        session["signed_in_at"] = (
            datetime.now(UTC) - timedelta(hours=hours, minutes=1)
        ).timestamp()
    assert client.get("/work").status_code == 302


@pytest.fixture
def past(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Sign cookies as if at another time (the cookie's own timestamp is what is checked)."""

    def at(minutes_ago: float) -> None:
        stamp = datetime.now(UTC).timestamp() - minutes_ago * 60
        monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: stamp)

    yield at
    monkeypatch.undo()


def test_an_idle_session_ends(app: Flask, client: FlaskClient, auth: Auth, past: Any) -> None:
    """A session cookie last renewed longer ago than the idle limit no longer signs anyone in."""
    auth.login(Role.STAFF)
    with client.session_transaction() as session:
        data = dict(session)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    idle = app.config["PERMANENT_SESSION_LIFETIME"]
    assert idle == timedelta(minutes=30)
    for minutes, status in (
        (idle.total_seconds() / 60 - 1, 200),
        (idle.total_seconds() / 60 + 1, 302),
    ):
        past(minutes)
        cookie = serializer.dumps(data)
        past(0)
        client.set_cookie("session", cookie)
        assert client.get("/work").status_code == status, minutes


# -- behind a load balancer --------------------------------------------------------------------


def test_behind_a_proxy_the_client_address_is_the_forwarded_one(
    web_parts: Parts, web_people: People
) -> None:
    """With one trusted hop, the audit log and the throttle see the client, not the balancer;
    without it, a forged X-Forwarded-For is ignored."""
    proxied = app_with(web_parts, proxy_hops=1).test_client()
    direct = app_with(web_parts).test_client()
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    # Seen as HTTPS, a form must come with a same-site Referer (CSRF's strict check over TLS),
    # as a browser's does: the balancer's scheme is taken.
    assert sign_in(proxied, "staff_a", headers=forwarded).status_code == 400
    referred = {**forwarded, "Referer": "https://localhost/login"}
    assert sign_in(proxied, "staff_a", headers=referred).status_code == 302
    assert sign_in(direct, "legal_officer_a", headers=forwarded).status_code == 302
    origins = [(e.actor_username, e.origin) for e in log_of(web_parts, events.SIGN_IN)]
    assert origins == [("staff_a", "web 203.0.113.7"), ("legal_officer_a", "web 127.0.0.1")]


def test_behind_a_proxy_clients_are_throttled_apart(web_parts: Parts, web_people: People) -> None:
    """One client guessing from behind the balancer does not lock out the others behind it."""
    web_parts.sign_in.policy = type(web_parts.sign_in.policy)(max_failures_per_address=3)
    client = app_with(web_parts, proxy_hops=1).test_client()
    guesser = {"X-Forwarded-For": "198.51.100.66"}
    codes = [
        sign_in(client, f"guess{i}", "wrong password !!", headers=guesser).status_code
        for i in range(3)
    ]
    assert codes == [401, 401, 429]
    assert sign_in(client, "staff_a", headers=guesser).status_code == 429
    honest = {"X-Forwarded-For": "198.51.100.10"}
    assert sign_in(client, "staff_a", headers=honest).status_code == 302


def test_signing_out_ends_a_copied_session_cookie_too(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    """A session cookie copied before sign-out (stolen, or a second browser) stops working."""
    auth.login(Role.STAFF)
    stolen = client.get_cookie("session")
    assert stolen is not None
    thief = app.test_client()
    thief.set_cookie("session", stolen.value)
    assert thief.get("/work").status_code == 200
    auth.logout()
    assert thief.get("/work").status_code == 302
    auth.login(Role.STAFF)  # signing in again works as ever
    assert client.get("/work").status_code == 200


def test_behind_a_proxy_forms_post_on_the_public_host_name(
    web_parts: Parts, web_people: People
) -> None:
    """The balancer reaches the server by an internal name; the browser's Referer names the
    public one, given in X-Forwarded-Host: the form goes through, a foreign Referer does not."""
    client = app_with(web_parts, proxy_hops=1).test_client()
    public = {
        "Host": "app-3.internal:8000",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "decisions.gov.example",
    }
    page = client.get("/login", headers=public).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"username": "staff_a", "password": PASSWORD, "csrf_token": token}
    foreign = {**public, "Referer": "https://evil.example/login"}
    assert client.post("/login", data=form, headers=foreign).status_code == 400
    own = {**public, "Referer": "https://decisions.gov.example/login"}
    assert client.post("/login", data=form, headers=own).status_code == 302


def test_a_denied_api_read_is_recorded(
    client: FlaskClient, web_parts: Parts, web_people: People, clock: Clock
) -> None:
    """Another system reading a decision outside its account's reach leaves an audit event."""
    decision = drive(web_parts, web_people, clock, through="request_expert_opinions")
    token = web_parts.tokens.issue(SYSTEM, username="staff_b", name="B's OA system")
    response = client.get(
        f"/api/v1/decisions/{decision.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    [denied] = log_of(web_parts, events.ACCESS_DENIED)
    assert (denied.actor_username, denied.decision_id) == ("staff_b", decision.id)
    assert denied.origin == "api 127.0.0.1"


def test_the_session_is_renewed_once_a_minute_not_on_every_request(
    client: FlaskClient, auth: Auth
) -> None:
    """Pages within a minute send no new cookie; the first after it restarts the idle clock."""
    auth.login(Role.STAFF)
    client.get("/work")  # the first page after signing in renews the fresh session
    assert "Set-Cookie" not in client.get("/work").headers
    with client.session_transaction() as session:
        session["renewed"] = int(datetime.now(UTC).timestamp()) - RENEW_SESSION_SECONDS
    renewed = client.get("/work")
    assert renewed.status_code == 200 and "Set-Cookie" in renewed.headers
    with client.session_transaction() as session:
        assert int(datetime.now(UTC).timestamp()) - session["renewed"] < RENEW_SESSION_SECONDS
