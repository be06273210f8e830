"""Database engines and sessions: SQLite in WAL mode with serialised writers, or PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

WRITER_OPTION = "decisionflow_writer"


def is_sqlite(url: str) -> bool:
    """Whether a database URL names an SQLite file."""
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite, WAL mode, foreign keys, and BEGIN IMMEDIATE transactions."""
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    # SQLAlchemy's default pool hands each connection to one thread at a time. A pool matters
    # for speed here: closing SQLite's last connection folds the write-ahead log back into the
    # database file, which the next commit then has to recreate (measured: 3-4x per action).
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, say when a transaction starts (pysqlite's own
        # implicit BEGIN would be DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer's BEGIN IMMEDIATE takes the write lock up front: writers queue instead of
        # failing with "database is locked" when a reader tries to become a writer, and the
        # audit chain's head is read and extended by one writer at a time. Readers stay
        # DEFERRED so that, in WAL mode, pages never wait for a writer.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if is_writer(connection) else "BEGIN")

    return engine


def is_writer(connection: Connection) -> bool:
    """Whether the connection belongs to a writer session (make_session_factory)."""
    return bool(connection.get_execution_options().get(WRITER_OPTION, False))


def make_session_factory(engine: Engine, *, writer: bool = True) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit; writers lock up front,
    readers see one snapshot."""
    bind: Engine
    if writer:
        bind = engine.execution_options(**{WRITER_OPTION: True})
    elif engine.dialect.name == "postgresql":
        # A read made of several parts (a decision's page, its trace) sees them all as of one
        # moment, as SQLite's WAL reader does anyway: at READ COMMITTED a move committed
        # mid-read could show in the timeline but not in the state read before it. A reader
        # never fails to serialise.
        bind = engine.execution_options(isolation_level="REPEATABLE READ")
    else:
        bind = engine
    return sessionmaker(bind, expire_on_commit=False)
