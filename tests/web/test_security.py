"""The web's defences: CSRF on every form, strict headers, safe cookies, redirects and downloads."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import quote, urlparse

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from sqlalchemy import func, select

from decisionflow.bootstrap import Parts
from decisionflow.demo import StepContext
from decisionflow.models import Attachment, AuditEvent, PublicComment
from decisionflow.roles import Role
from tests.conftest import PASSWORD, Clock, People
from tests.helpers import drive, snapshot, step_named
from tests.web.conftest import Auth, csrf_token
from web import create_app


@pytest.fixture
def decision_id(web_parts: Parts, web_people: People, clock: Clock) -> int:
    """Department A's decision, open for public comment, its experts asked."""
    return drive(web_parts, web_people, clock, through="request_expert_opinions").id


def _audit_head(parts: Parts) -> int:
    with parts.sessions() as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def _count(parts: Parts, model: Any) -> int:
    with parts.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# -- CSRF -----------------------------------------------------------------------------------


def _refused_as_forged(response: Any) -> None:
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "表单已过期" in page  # says what happened, in the user's language


def test_sign_in_without_the_form_token_is_refused(client: FlaskClient, web_people: People) -> None:
    """A sign-in posted from another site (no token) is refused and signs nobody in."""
    response = client.post("/login", data={"username": "staff_a", "password": "x" * 8})
    _refused_as_forged(response)
    assert urlparse(client.get("/work").headers["Location"]).path == "/login"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/decisions/{d}/actions/start_risk_assessment", {}),
        ("/decisions/{d}/records/expert_adoption", {"summary": "全部采纳"}),
        ("/decisions/{d}/attachments", {"file": (io.BytesIO(b"data"), "a.txt")}),
    ],
    ids=["action", "record", "attachment"],
)
def test_a_decision_form_without_the_token_changes_nothing(
    path: str,
    data: dict[str, Any],
    client: FlaskClient,
    auth: Auth,
    web_parts: Parts,
    decision_id: int,
) -> None:
    """A decision form replayed without its token is refused (400): no change, no audit event."""
    auth.login(Role.STAFF)
    before = snapshot(web_parts, decision_id)
    response = client.post(path.format(d=decision_id), data=data)
    _refused_as_forged(response)
    after = snapshot(web_parts, decision_id)
    assert after == before


def test_sign_out_without_the_token_keeps_the_session(client: FlaskClient, auth: Auth) -> None:
    """A forged sign-out is refused: the user stays signed in."""
    auth.login(Role.STAFF)
    _refused_as_forged(client.post("/logout"))
    assert client.get("/work").status_code == 200


def test_language_switch_without_the_token_is_refused(client: FlaskClient, auth: Auth) -> None:
    """A forged language switch is refused and the pages stay in Chinese."""
    auth.login(Role.STAFF)
    _refused_as_forged(client.post("/lang/en", data={"next": "/work"}))
    assert "我的待办" in client.get("/work").get_data(as_text=True)


def test_public_comment_without_the_token_is_refused(
    client: FlaskClient, web_parts: Parts, decision_id: int
) -> None:
    """A comment posted by a script without the form's token is refused and not stored."""
    head = _audit_head(web_parts)
    response = client.post(f"/public/consultations/{decision_id}", data={"text": "同意"})
    _refused_as_forged(response)
    assert _count(web_parts, PublicComment) == 0
    assert _audit_head(web_parts) == head


def test_a_token_from_another_session_is_refused(
    client: FlaskClient, app: Any, web_parts: Parts, decision_id: int
) -> None:
    """A token read from someone else's session does not open this one's forms."""
    other = app.test_client()
    stolen = csrf_token(other, f"/public/consultations/{decision_id}")
    client.get(f"/public/consultations/{decision_id}")
    response = client.post(
        f"/public/consultations/{decision_id}", data={"text": "同意", "csrf_token": stolen}
    )
    _refused_as_forged(response)
    assert _count(web_parts, PublicComment) == 0


# -- headers, pages, cookies ----------------------------------------------------------------

#: src, href or action naming a host: "http://x", "https://x" or "//x"
OFF_SITE = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def _pages(client: FlaskClient, auth: Auth, decision_id: int) -> dict[str, Any]:
    """Several rendered pages, signed out and signed in as a clerk and a supervisor."""
    pages = {
        p: client.get(p) for p in ("/login", "/public/", f"/public/consultations/{decision_id}")
    }
    pages["/nowhere (404)"] = client.get("/nowhere")
    auth.login(Role.STAFF)
    for path in ("/work", "/decisions/", f"/decisions/{decision_id}", "/decisions/new"):
        pages[path] = client.get(path)
    pages[f"/decisions/{decision_id}/drafts/diff"] = client.get(
        f"/decisions/{decision_id}/drafts/diff"
    )
    auth.logout()
    auth.login(Role.SUPERVISOR)
    for path in ("/supervision/audit", f"/supervision/decisions/{decision_id}/trace"):
        pages[path] = client.get(path)
    return pages


def test_pages_load_nothing_from_outside(client: FlaskClient, auth: Auth, decision_id: int) -> None:
    """Each page has a self-only CSP and links or loads nothing off-site (intranets are offline)."""
    pages = _pages(client, auth, decision_id)
    for path, response in pages.items():
        csp = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp, path
        assert "http:" not in csp and "https:" not in csp, path
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        assert response.headers.get("X-Frame-Options") == "DENY", path
        page = response.get_data(as_text=True)
        assert "<html" in page, path
        assert not OFF_SITE.search(page), f"{path} points off-site: {OFF_SITE.search(page)}"


def test_error_and_redirect_answers_carry_the_headers_too(client: FlaskClient) -> None:
    """A redirect and an error page are protected like any page."""
    for response in (client.get("/work"), client.get("/nowhere")):
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_views_own_header_is_kept_and_each_header_sent_once(app: Flask) -> None:
    """A header the view set itself (a file's caching, say) wins over the default, and no
    security header is sent twice."""

    @app.get("/own-cache")
    def own_cache() -> Response:
        answer = Response("ok")
        answer.headers["cache-control"] = "private, max-age=60"
        return answer

    response = app.test_client().get("/own-cache")
    assert response.headers.getlist("Cache-Control") == ["private, max-age=60"]
    for name in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
        assert len(response.headers.getlist(name)) == 1, name


def test_user_text_is_shown_as_text_never_as_markup(
    client: FlaskClient, auth: Auth, web_parts: Parts, web_people: People, clock: Clock
) -> None:
    """A title or draft carrying a script is shown escaped on the decision page and the diff."""
    evil = "<script>alert(1)</script>"
    view = drive(web_parts, web_people, clock, through="draft_version", title=f"方案{evil}")
    # The lawful path's draft, with a script in its text and its note.
    lawful = step_named("draft_version").payload(StepContext(clock.today, ()))
    second = {**lawful, "content": f"第二稿{evil}", "change_note": f"修改{evil}"}
    web_parts.decisions.add_record(web_people[Role.STAFF], view.id, "draft_version", second)
    auth.login(Role.STAFF)
    for path in (f"/decisions/{view.id}", f"/decisions/{view.id}/drafts/diff", "/decisions/"):
        page = client.get(path).get_data(as_text=True)
        assert evil not in page, path
        assert "&lt;script&gt;" in page, path


def test_the_session_cookie_is_http_only_and_same_site(client: FlaskClient, auth: Auth) -> None:
    """The session cookie is out of scripts' reach and not sent by other sites' forms."""
    response = auth.login(Role.STAFF)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "signing in sets the session cookie"
    attributes = {part.strip().lower() for part in cookies[-1].split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "http:evil.example",
    ],
)
def test_next_never_leads_off_site(target: str, client: FlaskClient, web_people: People) -> None:
    """Signing in or switching language with a crafted `next` stays on this site."""
    token = csrf_token(client)
    signed_in = client.post(
        f"/login?next={quote(target, safe='')}",
        data={"username": "staff_a", "password": PASSWORD, "csrf_token": token},
    )
    switched = client.post(
        "/lang/en", data={"next": target, "csrf_token": csrf_token(client, "/work")}
    )
    for response in (signed_in, switched):
        assert response.status_code == 302
        location = response.headers["Location"]
        parsed = urlparse(location)
        assert not parsed.scheme and not parsed.netloc, location
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        assert "\\" not in location and "\t" not in location, location


def test_next_within_the_site_is_followed(client: FlaskClient, web_people: People) -> None:
    """A `next` path on this site is where signing in leads (the login form's purpose)."""
    response = client.post(
        "/login?next=/decisions/%3Fstate%3Ddrafting",
        data={"username": "staff_a", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/decisions/?state=drafting"


def test_signing_in_returns_to_the_page_asked_for(
    client: FlaskClient, web_people: People, decision_id: int
) -> None:
    """A signed-out clerk following a link to a decision signs in and lands on that decision."""
    asked = client.get(f"/decisions/{decision_id}")
    login_url = asked.headers["Location"]
    assert urlparse(login_url).path == "/login"
    response = client.post(
        login_url,
        data={"username": "staff_a", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == f"/decisions/{decision_id}"


# -- uploads --------------------------------------------------------------------------------


def test_an_uploaded_page_is_refused_and_a_document_is_served_as_a_download(
    client: FlaskClient, auth: Auth, web_parts: Parts, decision_id: int
) -> None:
    """A page that would run in a browser is refused by its content; a document comes back
    as an opaque download, never rendered on our site."""
    auth.login(Role.STAFF)
    token = csrf_token(client, "/work")
    page = b"<html><script>alert(document.cookie)</script></html>"
    refused = client.post(
        f"/decisions/{decision_id}/attachments",
        data={"file": (io.BytesIO(page), "说明.txt", "text/plain"), "csrf_token": token},
    )
    assert refused.status_code == 400
    assert "只接受 PDF、图片、Office 文档和纯文本" in refused.get_data(as_text=True)
    body = "区片,地价\n一,100\n".encode()
    response = client.post(
        f"/decisions/{decision_id}/attachments",
        data={"file": (io.BytesIO(body), "测算表.csv", "text/csv"), "csrf_token": token},
    )
    assert response.status_code == 302
    with web_parts.sessions() as session:
        attachment_id = session.scalars(select(Attachment.id)).one()
    download = client.get(f"/decisions/{decision_id}/attachments/{attachment_id}")
    assert download.status_code == 200
    assert download.data == body
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_a_file_over_the_attachment_limit_is_refused_clearly(
    client: FlaskClient, auth: Auth, web_parts: Parts, decision_id: int
) -> None:
    """A file over the limit is refused beside the upload form, naming the limit; nothing kept."""
    auth.login(Role.STAFF)
    before = snapshot(web_parts, decision_id)
    limit = web_parts.settings.max_attachment_bytes
    response = client.post(
        f"/decisions/{decision_id}/attachments",
        data={
            "file": (io.BytesIO(b"x" * (limit + 1)), "big.bin"),
            "csrf_token": csrf_token(client, "/work"),
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "超过 64 KB 上限" in page
    assert snapshot(web_parts, decision_id).counts == before.counts


def test_a_body_over_the_request_limit_gets_413_not_500(
    client: FlaskClient, auth: Auth, web_parts: Parts, decision_id: int
) -> None:
    """A body far over the limit is cut off with a clear 413 page, and nothing is kept."""
    auth.login(Role.STAFF)
    before = snapshot(web_parts, decision_id)
    response = client.post(
        f"/decisions/{decision_id}/attachments",
        data={
            "file": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "huge.bin"),
            "csrf_token": csrf_token(client, "/work"),
        },
    )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "上传文件过大" in page
    assert "64 KB" in page  # the limit a user can act on
    assert snapshot(web_parts, decision_id).counts == before.counts


# -- on both databases -------------------------------------------------------------------


@pytest.fixture
def any_db_client(parts: Parts, people: People) -> FlaskClient:
    """A client of the app on each real database: SQLite, then PostgreSQL."""
    app = create_app(
        {"TESTING": True, "DECISIONFLOW_SETTINGS": parts.settings, "DECISIONFLOW_PARTS": parts}
    )
    return app.test_client()


def test_a_nul_character_is_refused_never_a_fault(
    any_db_client: FlaskClient, parts: Parts, people: People, clock: Clock
) -> None:
    """A NUL in the sign-in or comment form (PostgreSQL cannot store one) is refused, never 500."""
    client = any_db_client
    signed_in = client.post(
        "/login",
        data={"username": "staff_a\x00", "password": "x", "csrf_token": csrf_token(client)},
    )
    assert signed_in.status_code == 401
    opened = drive(parts, people, clock, through="open_consultation").id
    path = f"/public/consultations/{opened}"
    commented = client.post(
        path, data={"text": "意见\x00", "contact": "\x00", "csrf_token": csrf_token(client, path)}
    )
    assert commented.status_code == 400
    assert _count(parts, PublicComment) == 0
