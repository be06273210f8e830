"""Shared fixtures: real databases (an SQLite file, and PostgreSQL when reachable), a clock, people."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import REPO_ROOT, Settings
from decisionflow import audit
from decisionflow.accounts import Actor, hash_password
from decisionflow.bootstrap import Parts, build
from decisionflow.db import make_engine
from decisionflow.migrate import upgrade
from decisionflow.models import Base, Department, ExpertProfile, User
from decisionflow.roles import ACCOUNT_ROLES, Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
POSTGRES_ADMIN_URL = os.environ.get(
    "DECISIONFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery staple"


def _postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as err:  # any failure to connect means: no PostgreSQL run here
        return f"{type(err).__name__}: {str(err).splitlines()[0]}"
    finally:
        engine.dispose()


def require_postgres(what: str = "the PostgreSQL run") -> None:
    """Skip without PostgreSQL — except in CI, where its absence fails the run."""
    problem = _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({problem})"
        if IN_CI:
            pytest.fail(f"{message}: CI requires the PostgreSQL run", pytrace=False)
        pytest.skip(f"{message}: skipping {what}")


def create_postgres_database(prefix: str = "decisionflow_test") -> str:
    """A new, migrated PostgreSQL database named after `prefix`; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this run's own, migrated once, dropped at the end."""
    require_postgres()
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once; each test works on a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _empty_postgres(url: str) -> None:
    """Empty every table, as a freshly migrated database has it."""
    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        # replica mode skips the append-only triggers, so that tests can start clean
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(
            text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, :h)"),
            {"h": audit.GENESIS_HASH},
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: an SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "decisionflow.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite file, for tests about SQLite alone."""
    path = tmp_path / "decisionflow.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


class Clock:
    """A clock the test moves by hand; starts on a working Monday morning in Shanghai."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**kwargs)

    @property
    def today(self):  # type: ignore[no-untyped-def]
        """The legal date now, in Shanghai."""
        return self.now.astimezone(SHANGHAI).date()


@pytest.fixture
def clock() -> Clock:
    """A hand-moved clock."""
    return Clock()


def settings_for(url: str, instance: Path) -> Settings:
    """Settings for a test run on a given database."""
    # A copy of the repository's override file: a test that saves the calendar through the
    # admin page (or a fuzzer posting to it) must never rewrite the committed file.
    instance.mkdir(parents=True, exist_ok=True)
    overrides = instance / "calendar-overrides.yaml"
    if not overrides.exists():
        shutil.copyfile(REPO_ROOT / "workflows" / "calendar" / "overrides.yaml", overrides)
    return Settings(
        profile="test",
        database_url=url,
        instance_path=instance,
        workflows_path=REPO_ROOT / "workflows",
        calendar_overrides=overrides,
        max_attachment_bytes=64 * 1024,
    )


@pytest.fixture
def parts(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[Parts]:
    """The engine on a fresh database, with the hand-moved clock."""
    built = build(settings_for(db_url, tmp_path / "instance"), clock=clock)
    yield built
    built.dispose()


@dataclass(frozen=True)
class People:
    """One actor per role in department A, and a clerk and executor in department B."""

    by_role: dict[Role, Actor]
    staff_b: Actor
    executor_b: Actor
    expert_2: Actor

    def __getitem__(self, role: Role) -> Actor:
        return self.by_role[role]


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One real Argon2id hash, computed once for every test account."""
    return hash_password(PASSWORD)


def make_people(parts: Parts, password_hash: str) -> People:
    """Departments A (housing) and B (ecology), the government office, and a user of every role."""
    with parts.sessions() as session, session.begin():
        a = Department(code="housing", name_zh="住房和城乡建设局", name_en="Housing Bureau")
        b = Department(code="ecology", name_zh="生态环境局", name_en="Ecology Bureau")
        office = Department(code="office", name_zh="政府办公室", name_en="Government Office")
        session.add_all([a, b, office])
        session.flush()
        users = [
            User(
                username=f"{role.value}_a",
                display_name=role.value,
                role=role.value,
                password_hash=password_hash,
                department_id=a.id if role in (Role.STAFF, Role.EXECUTOR) else office.id,
            )
            for role in ACCOUNT_ROLES
        ]
        users += [
            User(
                username="staff_b",
                display_name="staff b",
                role="staff",
                password_hash=password_hash,
                department_id=b.id,
            ),
            User(
                username="executor_b",
                display_name="executor b",
                role="executor",
                password_hash=password_hash,
                department_id=b.id,
            ),
            User(
                username="expert_2",
                display_name="expert 2",
                role="expert",
                password_hash=password_hash,
                department_id=office.id,
            ),
        ]
        session.add_all(users)
        session.flush()
        # Every expert is in the expert pool, with no declared interest (Art 20).
        session.add_all(
            ExpertProfile(
                user_id=u.id, fields="土地管理、社会稳定", status="active", declared_interests=[]
            )
            for u in users
            if u.role == "expert"
        )
        actors = {u.username: Actor.of(u) for u in users}
    return People(
        by_role={role: actors[f"{role.value}_a"] for role in ACCOUNT_ROLES},
        staff_b=actors["staff_b"],
        executor_b=actors["executor_b"],
        expert_2=actors["expert_2"],
    )


@pytest.fixture
def people(parts: Parts, password_hash: str) -> People:
    """Departments A (housing) and B (ecology), and a user of every role."""
    return make_people(parts, password_hash)
