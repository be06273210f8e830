"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from decisionflow.db import make_engine
from decisionflow.migrate import current_revision, upgrade
from decisionflow.models import Base


def test_migrated_schema_matches_the_models(db_url):
    """Autogenerate finds nothing to change: no model change is missing its migration."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
        assert current_revision(engine) is not None
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_keeps_the_chain_head(db_url):
    """Running `db upgrade` again changes nothing and keeps the genesis head."""
    engine = make_engine(db_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        assert current_revision(engine) == before
        with engine.connect() as connection:
            assert connection.execute(text("SELECT seq FROM audit_chain_head")).scalar_one() == 0
            tables = set(inspect(connection).get_table_names())
        assert {
            "decisions",
            "audit_events",
            "audit_chain_head",
            "users",
            "draft_versions",
        } <= tables
    finally:
        engine.dispose()


def test_upgrading_a_database_with_decisions_keeps_them(tmp_path):
    """A database in use at an earlier revision upgrades with its decisions and records intact."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    old = make_engine(url)
    upgrade(old, "0002")
    old.dispose()
    # Rows written by the engine's own tables at revision 0002, through plain SQL as an old
    # release would have written them.
    raw = create_engine(url)
    with raw.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO departments (id, code, name_zh, name_en) VALUES (1, 'housing', '住建局', 'Housing')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO users (id, username, display_name, password_hash, role, department_id, active, created_at) "
                "VALUES (1, 'clerk', 'clerk', 'x', 'staff', 1, 1, '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO decisions (id, title, category, procedure, definition_version, undertaking_unit_id, flags, "
                "state, state_entered_at, branch_states, version, created_by, created_at, updated_at) VALUES "
                "(1, 'old matter', 'public_policy', 'major_decision', 1, 1, '{}', 'drafting', '2026-01-01 00:00:00', "
                "'{}', 3, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO step_records (decision_id, kind, data, state, created_by, created_at) VALUES "
                "(1, 'proposal', '{}', 'proposed', 1, '2026-01-01 00:00:00')"
            )
        )
    raw.dispose()
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT title, version FROM decisions")).one() == (
                "old matter",
                3,
            )
            assert connection.execute(text("SELECT count(*) FROM step_records")).scalar_one() == 1
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        engine.dispose()
