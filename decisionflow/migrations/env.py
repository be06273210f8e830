"""Alembic's environment: migrate the database the caller's connection or URL names."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from decisionflow.db import make_engine
from decisionflow.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    """Run the migrations on one connection, in one transaction."""
    # render_as_batch lets ALTER work on SQLite by copying the table, as Alembic recommends.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
