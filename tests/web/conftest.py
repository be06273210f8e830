"""Web fixtures: the app on a fresh SQLite file, a client per test, and sign-in helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from decisionflow.bootstrap import Parts, build
from decisionflow.roles import Role
from tests.conftest import PASSWORD, Clock, People, make_people, settings_for
from tests.helpers import drive
from web import create_app

#: department A's decision: a title, file and comment no outsider's page may show
TITLE = "甲局旧城改造补偿方案"
SECRET_FILE = "区片,地价\n一,100\n".encode()
COMMENT = "建议公开测算依据"


@pytest.fixture
def web_parts(sqlite_url: str, tmp_path: Path, clock: Clock) -> Iterator[Parts]:
    """The engine behind the app (SQLite: the web layer adds nothing database-specific)."""
    built = build(settings_for(sqlite_url, tmp_path / "instance"), clock=clock)
    yield built
    built.dispose()


@pytest.fixture
def web_people(web_parts: Parts, password_hash: str) -> People:
    """A user of every role in department A (and some in B); every password is PASSWORD."""
    return make_people(web_parts, password_hash)


@pytest.fixture
def app(web_parts: Parts, web_people: People) -> Flask:
    """The application, with CSRF on as in production."""
    return create_app(
        {
            "TESTING": True,
            "DECISIONFLOW_SETTINGS": web_parts.settings,
            "DECISIONFLOW_PARTS": web_parts,
        }
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like client for the app."""
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page hands out, as a browser would read it from the form."""
    html = client.get(path).get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


class Auth:
    """Sign in and out as a user of a role, through the real sign-in form."""

    def __init__(self, client: FlaskClient, people: People) -> None:
        self.client = client
        self.people = people

    def login(self, who: Role | str) -> Any:
        """Sign in as the role's user in department A, or as a username."""
        username = f"{who.value}_a" if isinstance(who, Role) else who
        token = csrf_token(self.client)
        return self.client.post(
            "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
        )

    def logout(self) -> Any:
        """Sign out."""
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/work")})


@pytest.fixture
def auth(client: FlaskClient, web_people: People) -> Auth:
    """The sign-in helper."""
    return Auth(client, web_people)


@dataclass(frozen=True)
class OpenForComment:
    """Department A's decision open for comment, with a file and a public comment on it, by id."""

    decision_id: int
    attachment_id: int
    comment_id: int
    version: int


def open_for_comment(parts: Parts, people: People, clock: Clock) -> OpenForComment:
    """A decision every account role can reach: executed by A, its expert named, a file on it."""
    view = drive(
        parts,
        people,
        clock,
        through="request_expert_opinions",
        title=TITLE,
        executing_unit="housing",
    )
    attached = parts.decisions.attach_file(
        people[Role.STAFF],
        view.id,
        filename="测算表.csv",
        content_type="text/csv",
        data=SECRET_FILE,
    )
    parts.participation.submit_comment(view.id, text=COMMENT, address="10.0.0.3")
    with parts.sessions() as session:
        [comment] = parts.participation.comments(session, view.id)
    version = parts.decisions.get(people[Role.SUPERVISOR], view.id).version
    return OpenForComment(view.id, attached.id, comment.id, version)
