"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

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
