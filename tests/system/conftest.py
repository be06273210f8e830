"""System-test fixtures: a fresh, migrated database of each test's own, and where its server logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from decisionflow.db import make_engine
from decisionflow.migrate import upgrade
from tests.conftest import (
    _empty_postgres,
    create_postgres_database,
    drop_postgres_database,
    require_postgres,
)


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
    require_postgres("the PostgreSQL system test")
    url = create_postgres_database("decisionflow_system")
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
