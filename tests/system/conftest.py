"""System-test fixtures: a fresh, migrated database of each test's own, and where its server logs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from decisionflow.db import make_engine
from decisionflow.migrate import upgrade
from tests.conftest import IN_CI, POSTGRES_ADMIN_URL, _empty_postgres, _postgres_reachable


def require_postgres() -> None:
    """Skip without PostgreSQL — except in CI, where its absence fails the run."""
    problem = _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({problem})"
        if IN_CI:
            pytest.fail(f"{message}: CI requires the PostgreSQL run", pytrace=False)
        pytest.skip(f"{message}: skipping the PostgreSQL system test")


def create_postgres_database() -> str:
    """A new, migrated PostgreSQL database; its URL."""
    name = f"decisionflow_system_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_postgres_database(url: str) -> None:
    """Drop a database made by create_postgres_database, whoever is still connected."""
    name = make_url(url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def create_sqlite_database(folder: Path) -> str:
    """A new, migrated SQLite file (WAL mode) in `folder`; its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'decisionflow.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def system_postgres_database() -> Iterator[str]:
    """A PostgreSQL database of the system tests' own, migrated once, dropped at the end."""
    require_postgres()
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def system_postgres(system_postgres_database: str) -> str:
    """That database, emptied for this test (as freshly migrated; cheaper than a new one)."""
    _empty_postgres(system_postgres_database)
    return system_postgres_database


@pytest.fixture
def system_sqlite(tmp_path: Path) -> str:
    """An SQLite file of this test's own, migrated."""
    return create_sqlite_database(tmp_path / "instance")


@pytest.fixture
def server_log(tmp_path: Path) -> Path:
    """Where the gunicorn server of a test writes; shown when the test fails."""
    return tmp_path / "gunicorn.log"
