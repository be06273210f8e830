"""The `decisionflow` command as an operator runs it: real processes, a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from decisionflow.seed import DECISIONS

COMMAND = [sys.executable, "-m", "decisionflow.cli"]


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in an instance folder of the test's own."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DECISIONFLOW_")}
    environment["DECISIONFLOW_INSTANCE_PATH"] = str(tmp_path / "instance")
    environment.update(env or {})
    return subprocess.run(
        COMMAND + list(args),
        cwd=tmp_path,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_every_command(tmp_path):
    """`--help` shows each command an operator needs, with its help text."""
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for name in ("db", "workflows", "audit", "users", "departments", "seed-demo", "demo"):
        assert name in result.stdout
    workflows = run(tmp_path, "workflows", "--help")
    assert "check" in workflows.stdout and "graph" in workflows.stdout


def test_workflows_check_passes_the_shipped_definitions(tmp_path):
    """The definitions in the repository validate."""
    result = run(tmp_path, "workflows", "check")
    assert result.returncode == 0, result.stderr
    assert "ok   major_decision.yaml: major_decision v1" in result.stdout


def test_workflows_check_names_the_faulty_file_and_place(tmp_path):
    """A broken definition fails the check with its file, path and problem — no traceback."""
    folder = tmp_path / "defs"
    folder.mkdir()
    good = (Path(__file__).parents[2] / "workflows" / "major_decision.yaml").read_text(
        encoding="utf-8"
    )
    (folder / "broken.yaml").write_text(
        good.replace("dest: legality_review", "dest: legal_review"), encoding="utf-8"
    )
    result = run(tmp_path, "workflows", "check", "--folder", str(folder))
    assert result.returncode == 1
    assert "broken.yaml: transitions[4].dest: unknown state 'legal_review'" in result.stderr
    assert "Traceback" not in result.stderr


def test_workflows_graph_draws_the_procedure(tmp_path):
    """The graph command prints a Mermaid state diagram; an unknown name lists the known ones."""
    result = run(tmp_path, "workflows", "graph", "major_decision")
    assert result.returncode == 0
    assert result.stdout.startswith("stateDiagram-v2")
    # the review concludes into the meeting pack, which goes on the meeting's agenda (Art 28-29)
    assert "legality_review --> meeting_preparation" in result.stdout
    assert "meeting_preparation --> collective_discussion" in result.stdout
    unknown = run(tmp_path, "workflows", "graph", "no_such")
    assert unknown.returncode == 1
    assert "known: major_decision" in unknown.stderr


def test_seed_demo_fills_every_stage_and_the_chain_verifies(tmp_path):
    """seed-demo makes decisions at many stages, once; audit verify passes, then catches tampering."""
    first = run(tmp_path, "seed-demo")
    assert first.returncode == 0, first.stderr
    assert f"created {len(DECISIONS)} demo decisions" in first.stdout
    assert "chief" in first.stdout and "supervisor" in first.stdout
    again = run(tmp_path, "seed-demo")
    assert "demo data already present" in again.stdout

    database = tmp_path / "instance" / "decisionflow.db"
    with sqlite3.connect(database) as connection:
        states = {row[0] for row in connection.execute("SELECT state FROM decisions")}
    assert {
        "proposed",
        "drafting",
        "argumentation",
        "legality_review",
        "meeting_preparation",
        "party_report",
        "execution",
        "archived",
    } <= states

    verified = run(tmp_path, "audit", "verify")
    assert verified.returncode == 0
    assert "audit chain intact" in verified.stdout

    with sqlite3.connect(database) as connection:
        connection.execute("DROP TRIGGER audit_events_no_update")
        connection.execute("UPDATE audit_events SET actor_username = 'someone_else' WHERE seq = 40")
    tampered = run(tmp_path, "audit", "verify")
    assert tampered.returncode == 1
    assert "chain broken at event 40" in tampered.stderr


def test_users_create_then_duplicate_is_refused(tmp_path):
    """An operator creates a department and a user; the same username twice is a clear conflict."""
    assert run(tmp_path, "db", "upgrade").returncode == 0
    dept = run(
        tmp_path, "departments", "create", "housing", "--name-zh", "住建局", "--name-en", "Housing"
    )
    assert dept.returncode == 0, dept.stderr
    made = run(
        tmp_path,
        "users",
        "create",
        "li.na",
        "--role",
        "staff",
        "--department",
        "housing",
        "--password",
        "a-long-enough-password",
    )
    assert made.returncode == 0, made.stderr
    assert "user created: li.na" in made.stdout
    twice = run(
        tmp_path,
        "users",
        "create",
        "li.na",
        "--role",
        "staff",
        "--password",
        "a-long-enough-password",
    )
    assert twice.returncode == 1
    assert "Username 'li.na' is taken" in twice.stderr
    short = run(tmp_path, "users", "create", "wang", "--role", "staff", "--password", "short")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr


def test_an_uninitialised_database_gets_advice_not_a_traceback(tmp_path):
    """audit verify on a database never migrated tells the operator what to run."""
    result = run(tmp_path, "audit", "verify")
    assert result.returncode == 1
    assert "decisionflow db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("secret", ["", "development-only-not-secret"])
def test_production_refuses_to_start_without_a_secret(tmp_path, secret):
    """The production profile stops at once, naming the variable to set."""
    result = run(
        tmp_path,
        "db",
        "upgrade",
        env={"DECISIONFLOW_PROFILE": "production", "DECISIONFLOW_SECRET_KEY": secret},
    )
    assert result.returncode == 1
    assert "DECISIONFLOW_SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr
