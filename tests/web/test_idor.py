"""No object of another department by guessing its id: pages, forms, the API, follow-ups, files.

Department B's clerk (and executor) knows or guesses the ids of department A's decision, its
attachment, a public comment on it, its follow-up and A's notifications, and tries every way in.
Each answer is 403 or 404 without A's data, and nothing changes.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from decisionflow.accounts import SYSTEM
from decisionflow.bootstrap import Parts
from decisionflow.models import Notification
from decisionflow.roles import Role
from tests.conftest import Clock, People
from tests.helpers import snapshot
from tests.web.conftest import (
    COMMENT,
    SECRET_FILE,
    TITLE,
    Auth,
    OpenForComment,
    csrf_token,
    open_for_comment,
)

INSTRUCTIONS = "请于期限内说明补偿标准测算依据"
API = "/api/v1"


@dataclass(frozen=True)
class Scene(OpenForComment):
    """Department A's objects, by id: the decision, its file and comment, and a follow-up."""

    follow_up: int


@pytest.fixture
def scene(web_parts: Parts, web_people: People, clock: Clock) -> Scene:
    """A's decision open for comment, a file on it, a public comment and a supervisor's follow-up."""
    base = open_for_comment(web_parts, web_people, clock)
    due = (clock.today + timedelta(days=20)).isoformat()
    follow_up = web_parts.follow_ups.open(
        web_people[Role.SUPERVISOR], base.decision_id, instructions=INSTRUCTIONS, due=due
    )
    return Scene(**asdict(base), follow_up=follow_up)


def _shows_nothing_of_a(
    response: Any, where: str, *, statuses: tuple[int, ...] = (403, 404)
) -> None:
    assert response.status_code in statuses, f"{where}: {response.status_code}"
    body = response.data.decode("utf-8", "replace")
    for secret in (TITLE, COMMENT, INSTRUCTIONS, "区片"):
        assert secret not in body, f"{where} shows {secret!r}"


@pytest.mark.parametrize("username", ["staff_b", "executor_b"])
def test_pages_and_forms_of_a_are_closed_to_b(
    username: str, client: FlaskClient, auth: Auth, scene: Scene, web_parts: Parts
) -> None:
    """Every page and form naming A's objects answers B with 403/404 and shows none of A's data."""
    auth.login(username)
    token = csrf_token(client, "/work")
    d, a, c, f = scene.decision_id, scene.attachment_id, scene.comment_id, scene.follow_up
    before = snapshot(web_parts, d)
    gets = [
        f"/decisions/{d}",
        f"/decisions/{d}/attachments/{a}",
        f"/decisions/{d}/drafts/diff",
        f"/supervision/decisions/{d}/trace",
        f"/supervision/decisions/{d}/dossier.zip",
        f"/supervision/follow-ups/{f}",
        f"/supervision/follow-ups/new/{d}",
    ]
    posts = [
        (f"/decisions/{d}/comments/{c}/disposition", {"disposition": "adopted", "reason": "采纳"}),
        (f"/decisions/{d}/comments/{c}/moderation", {"release": "yes", "reason": "x"}),
        (f"/supervision/follow-ups/{f}/answer", {"answer": "已说明"}),
        (f"/supervision/follow-ups/{f}/close", {"note": "办结"}),
        (f"/supervision/follow-ups/new/{d}", {"instructions": "x", "due": "2026-12-31"}),
    ]
    for path in gets:
        _shows_nothing_of_a(client.get(path), f"GET {path}")
    for path, data in posts:
        _shows_nothing_of_a(client.post(path, data={**data, "csrf_token": token}), f"POST {path}")
    for listing in ("/decisions/", "/supervision/follow-ups/", "/work", "/inbox/"):
        page = client.get(listing).get_data(as_text=True)
        assert TITLE not in page and INSTRUCTIONS not in page, listing
    after = snapshot(web_parts, d)
    assert (after.decision, after.counts) == (before.decision, before.counts)


def test_bs_token_reaches_nothing_of_a_through_the_api(
    client: FlaskClient, scene: Scene, web_parts: Parts
) -> None:
    """Another system acting as B's clerk gets 403/404 problem documents for A's objects."""
    token = web_parts.tokens.issue(SYSTEM, username="staff_b", name="B's OA system")
    headers = {"Authorization": f"Bearer {token}"}
    d = scene.decision_id
    before = snapshot(web_parts, d)
    for path in (
        f"/decisions/{d}",
        f"/decisions/{d}/actions",
        f"/decisions/{d}/records",
        f"/decisions/{d}/attachments",
        f"/decisions/{d}/audit-events",
    ):
        response = client.get(API + path, headers=headers)
        _shows_nothing_of_a(response, f"GET {path}")
        assert (
            response.is_json and response.json is not None and response.json["status"] in (403, 404)
        )
    writes = [
        (f"/decisions/{d}/actions/start_risk_assessment", {"json": {"payload": {}}}),
        (f"/decisions/{d}/records/expert_adoption", {"json": {"payload": {"summary": "x"}}}),
        (
            f"/decisions/{d}/attachments",
            {"data": {"file": (io.BytesIO(b"forged"), "note.txt")}},
        ),
    ]
    for path, body in writes:
        _shows_nothing_of_a(client.post(API + path, headers=headers, **body), f"POST {path}")
    listed = client.get(API + "/decisions", headers=headers)
    assert listed.status_code == 200 and TITLE not in listed.get_data(as_text=True)
    after = snapshot(web_parts, d)
    assert (after.decision, after.counts) == (before.decision, before.counts)


def test_a_comment_or_file_id_of_a_under_bs_own_decision_is_not_found(
    client: FlaskClient, auth: Auth, scene: Scene, web_parts: Parts, web_people: People
) -> None:
    """B's clerk naming A's comment or file under B's own decision gets 404, never A's object."""
    own = web_parts.decisions.create_decision(
        web_people.staff_b,
        title="乙局大气治理方案",
        category="public_policy",
        undertaking_unit="ecology",
    )
    auth.login("staff_b")
    token = csrf_token(client, "/work")
    _shows_nothing_of_a(
        client.get(f"/decisions/{own.id}/attachments/{scene.attachment_id}"),
        "file under own",
        statuses=(404,),
    )
    disposed = client.post(
        f"/decisions/{own.id}/comments/{scene.comment_id}/disposition",
        data={"disposition": "adopted", "reason": "采纳", "csrf_token": token},
    )
    _shows_nothing_of_a(disposed, "comment under own", statuses=(404,))
    with web_parts.sessions() as session:
        [comment] = web_parts.participation.comments(session, scene.decision_id)
    assert comment.disposition is None


def test_someone_elses_notification_cannot_be_marked_read(
    client: FlaskClient, auth: Auth, scene: Scene, web_parts: Parts, web_people: People
) -> None:
    """A's notifications (of the follow-up) stay unread when B tries them by id."""
    with web_parts.readers() as session:
        theirs = list(
            session.scalars(
                select(Notification).where(Notification.recipient_id != web_people.staff_b.id)
            )
        )
    assert theirs, "opening a follow-up notifies department A"
    assert all(n.read_at is None for n in theirs)
    auth.login("staff_b")
    token = csrf_token(client, "/work")
    for note in theirs:
        response = client.post(f"/inbox/{note.id}/read", data={"csrf_token": token})
        # not B's: not found, as if it did not exist (a redirect would be a mark made or a
        # sign-in page, neither of which this test is about)
        assert response.status_code == 404, note.id
    with web_parts.readers() as session:
        still = {
            n.id: n.read_at
            for n in session.scalars(
                select(Notification).where(Notification.id.in_([n.id for n in theirs]))
            )
        }
    assert still == {n.id: n.read_at for n in theirs}


# -- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/static/../config.py",
        "/static/..%2fconfig.py",
        "/static/%2e%2e/config.py",
        "/static/..%5cconfig.py",
        "/static/%2e%2e%2f%2e%2e%2fetc/passwd",
        "/static//etc/passwd",
        "/decisions/{d}/attachments/..%2f..%2fconfig.py",
        "/decisions/{d}/attachments/%2e%2e",
        "/decisions/{d}/attachments/1%2f..%2f..%2fconfig.py",
        "/supervision/decisions/{d}/dossier.zip/..%2f..%2fconfig.py",
    ],
)
def test_no_path_leads_out_of_its_folder(
    path: str, client: FlaskClient, auth: Auth, scene: Scene
) -> None:
    """Climbing out of the static folder or an attachment's address finds nothing (404)."""
    auth.login(Role.SUPERVISOR)
    # (Werkzeug first folds a doubled slash with a redirect: followed, it is still not found.)
    response = client.get(path.format(d=scene.decision_id), follow_redirects=True)
    assert response.status_code in (400, 404), path
    body = response.get_data(as_text=True)
    assert "SECRET_KEY" not in body and "root:" not in body, path


def test_a_file_is_served_from_its_content_hash_only(
    client: FlaskClient, auth: Auth, scene: Scene, web_parts: Parts
) -> None:
    """The stored name is the SHA-256 of the content: what a user named the file never
    becomes a path, and the download is an attachment, never rendered."""
    auth.login(Role.STAFF)
    response = client.get(f"/decisions/{scene.decision_id}/attachments/{scene.attachment_id}")
    assert response.status_code == 200 and response.data == SECRET_FILE
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Type"] == "application/octet-stream"
    stored = list(web_parts.settings.resolved_attachments_path.rglob("*"))
    names = {p.name for p in stored if p.is_file()}
    assert names and all(len(n) == 64 and set(n) <= set("0123456789abcdef") for n in names)
