"""`decisionflow tokens` as an operator runs it: real processes, a real SQLite file, the real API."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.conftest import settings_for
from tests.integration.test_cli import run
from web import create_app

PASSWORD = "a-long-enough-password"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder with a migrated database, a department and a clerk, made by the CLI once."""
    folder = tmp_path_factory.mktemp("tokens-template")
    assert run(folder, "db", "upgrade").returncode == 0
    made = run(
        folder, "departments", "create", "housing", "--name-zh", "住建局", "--name-en", "Housing"
    )
    assert made.returncode == 0, made.stderr
    user = run(
        folder,
        "users",
        "create",
        "li.na",
        "--role",
        "staff",
        "--department",
        "housing",
        "--password",
        PASSWORD,
    )
    assert user.returncode == 0, user.stderr
    return folder


@pytest.fixture
def instance(template: Path, tmp_path: Path) -> Path:
    """A copy of the template instance for one test (the commands are the slow part)."""
    shutil.copytree(template / "instance", tmp_path / "instance")
    return tmp_path


@pytest.fixture
def api(instance: Path) -> Iterator[FlaskClient]:
    """The web application on the very database file the commands work on."""
    folder = instance / "instance"
    settings = settings_for(f"sqlite:///{folder / 'decisionflow.db'}", folder)
    app = create_app({"TESTING": True, "DECISIONFLOW_SETTINGS": settings})
    yield app.test_client()
    app.extensions["decisionflow"].dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_shown_once_works_and_stops_working_when_revoked(instance, api):
    """`tokens create` prints the token once (alone on stdout); the API accepts it; `tokens list`
    never shows it; after `tokens revoke` the API answers 401."""
    created = run(instance, "tokens", "create", "li.na", "--name", "OA system")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout.count("\n") == 1 and token.startswith("dfl_") and len(token) > 40
    assert "#1" in created.stderr and "shown only this once" in created.stderr

    answer = api.get("/api/v1/decisions", headers=bearer(token))
    assert answer.status_code == 200 and answer.json["total"] == 0

    listed = run(instance, "tokens", "list")
    assert listed.returncode == 0
    assert "#1\tli.na\tOA system" in listed.stdout and "active" in listed.stdout
    assert "last used 20" in listed.stdout  # the request just made is recorded
    assert token not in listed.stdout + listed.stderr

    revoked = run(instance, "tokens", "revoke", "1")
    assert revoked.returncode == 0, revoked.stderr
    assert "token #1 (li.na, OA system) revoked" in revoked.stdout

    refused = api.get("/api/v1/decisions", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.content_type == "application/problem+json"
    assert "revoked" in run(instance, "tokens", "list").stdout

    # The database holds the token's hash, never the token; both changes are in the audit log.
    with sqlite3.connect(instance / "instance" / "decisionflow.db") as connection:
        dump = "\n".join(connection.iterdump())
        actions = [row[0] for row in connection.execute("SELECT action FROM audit_events")]
    assert token not in dump
    assert {"issue_api_token", "revoke_api_token"} <= set(actions)
    verified = run(instance, "audit", "verify")
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout


def test_a_second_token_is_independent_of_a_revoked_one(instance, api):
    """Revoking one token leaves another of the same user working."""
    first = run(instance, "tokens", "create", "li.na", "--name", "OA").stdout.strip()
    second = run(instance, "tokens", "create", "li.na", "--name", "档案系统").stdout.strip()
    assert first != second
    assert run(instance, "tokens", "revoke", "1").returncode == 0
    assert api.get("/api/v1/decisions", headers=bearer(first)).status_code == 401
    assert api.get("/api/v1/decisions", headers=bearer(second)).status_code == 200


def test_refusals_are_one_clear_line_not_a_traceback(instance):
    """A refused command exits non-zero naming what is wrong, in the service's words."""
    for args, message in (
        (("tokens", "create", "nobody", "--name", "OA"), "No active user 'nobody'"),
        (("tokens", "create", "li.na", "--name", "   "), "Name the token"),
        (("tokens", "create", "li.na", "--name", "x" * 101), "at most 100 characters"),
        (("tokens", "revoke", "99"), "No API token #99"),
        (("tokens", "revoke", "0"), "0 is not in the range x>=1"),
    ):
        result = run(instance, *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "dfl_" not in result.stdout  # nothing was issued
    with sqlite3.connect(instance / "instance" / "decisionflow.db") as connection:
        assert connection.execute("SELECT count(*) FROM api_tokens").fetchone() == (0,)


def test_revoking_twice_is_refused_and_audited(instance):
    """Revoking a revoked token says so and exits 1; the refusal itself is audited."""
    assert run(instance, "tokens", "create", "li.na", "--name", "OA").returncode == 0
    assert run(instance, "tokens", "revoke", "1").returncode == 0
    again = run(instance, "tokens", "revoke", "1")
    assert again.returncode == 1
    assert "API token #1 is already revoked" in again.stderr and "Traceback" not in again.stderr
    with sqlite3.connect(instance / "instance" / "decisionflow.db") as connection:
        outcomes = [
            row[0]
            for row in connection.execute(
                "SELECT outcome FROM audit_events WHERE action = 'revoke_api_token' ORDER BY seq"
            )
        ]
    assert outcomes == ["done", "conflict"]


def test_tokens_on_an_uninitialised_database_get_advice(tmp_path):
    """Before `db upgrade`, the tokens commands tell the operator what to run, not a traceback."""
    result = run(tmp_path, "tokens", "create", "li.na", "--name", "OA")
    assert result.returncode == 1
    assert "decisionflow db upgrade" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_the_tokens_commands(tmp_path):
    """`tokens --help` shows create, list and revoke."""
    result = run(tmp_path, "tokens", "--help")
    assert result.returncode == 0
    for name in ("create", "list", "revoke"):
        assert name in result.stdout
