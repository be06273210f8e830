"""Every list and page asks the database the same number of questions for 5 rows as for 50 (no N+1),
and opens as many connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from decisionflow import driver, queries
from decisionflow.accounts import SYSTEM
from decisionflow.bootstrap import Parts, build
from decisionflow.roles import Role
from tests.conftest import Clock, People, make_people, settings_for
from tests.web.conftest import Auth
from web import create_app

PROPOSAL = {
    "source": "department",
    "problem": "征收补偿标准多年未调整",
    "reasons": "依据《土地管理法》第四十八条",
    "solution": "按区片综合地价上调补偿标准",
}
FEW, MANY = 5, 50


class Scene:
    """An app on a real database, staff decisions with records, and a statement counter."""

    def __init__(self, parts: Parts, people: People) -> None:
        self.parts = parts
        self.people = people
        self.app: Flask = create_app(
            {"TESTING": True, "DECISIONFLOW_SETTINGS": parts.settings, "DECISIONFLOW_PARTS": parts}
        )
        self.decisions: list[int] = []
        self.statements: list[str] | None = None
        #: connections checked out inside `counting`
        self.checkouts = 0
        event.listen(parts.engine, "before_cursor_execute", self._count)
        event.listen(parts.engine, "checkout", self._checkout)

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.statements is not None:
            self.statements.append(statement)

    def count_driver_statements(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Count the statements run on the driver too (decisionflow.driver: the page's reads
        and the action path's), which SQLAlchemy's events never see."""
        run = driver.execute

        def counted(connection: Any, sql: str, params: Any = ()) -> Any:
            self._count(connection, None, sql)
            return run(connection, sql, params)

        monkeypatch.setattr(driver, "execute", counted)

    def _checkout(self, *args: Any) -> None:
        if self.statements is not None:
            self.checkouts += 1

    def grow_to(self, n: int) -> None:
        """Staff of department A propose decisions until there are n, each with its proposal;
        the first decision gets n proposal records (so its page has n records and events)."""
        staff = self.people[Role.STAFF]
        while len(self.decisions) < n:
            view = self.parts.decisions.create_decision(
                staff,
                title=f"决策 {len(self.decisions)}",
                category="public_policy",
                undertaking_unit="housing",
            )
            self.parts.decisions.add_record(staff, view.id, "proposal", PROPOSAL)
            self.decisions.append(view.id)
        first = self.decisions[0]
        for _ in range(n - self._records_of_first()):
            self.parts.decisions.add_record(staff, first, "proposal", PROPOSAL)

    def _records_of_first(self) -> int:
        with self.parts.readers() as db:
            return len(queries.records(db, self.decisions[0]))

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """The statements sent to the database inside the block."""
        self.statements = []
        self.checkouts = 0
        try:
            yield self.statements
        finally:
            self.statements = None


@pytest.fixture
def scene(
    db_url: str, tmp_path: Path, clock: Clock, password_hash: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    """The app and engine on each real database (SQLite file and PostgreSQL)."""
    parts = build(settings_for(db_url, tmp_path / "instance"), clock=clock)
    built = Scene(parts, make_people(parts, password_hash))
    built.count_driver_statements(monkeypatch)
    yield built
    parts.dispose()


def _cost_of_page(scene: Scene, client: FlaskClient, path: str, **kwargs: Any) -> tuple[int, int]:
    """How many statements one GET of the page sends and how many connections it takes (after
    one warm-up GET fills the caches)."""
    assert client.get(path, **kwargs).status_code == 200, path
    with scene.counting() as statements:
        response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    if path.startswith("/decisions/") and path != "/decisions/":
        # the page's reads run on the driver: the count sees them (else it would miss an N+1)
        assert any("DISTINCT audit_events.state_before" in s for s in statements), statements
    return len(statements), scene.checkouts


def _pages(scene: Scene) -> dict[str, tuple[str, str]]:
    """Each page checked: who opens it, and where."""
    first = scene.decisions[0]
    return {
        "my work": ("staff", "/work"),
        "decision list": ("staff", "/decisions/"),
        "decision page": ("staff", f"/decisions/{first}"),
        "audit log": ("supervisor", "/supervision/audit"),
        "API list": ("api", "/api/v1/decisions"),
        "API decision": ("api", f"/api/v1/decisions/{first}"),
        "API records": ("api", f"/api/v1/decisions/{first}/records"),
        "API audit events": ("api", f"/api/v1/decisions/{first}/audit-events"),
    }


def _count_all(scene: Scene, token: str) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    clients: dict[str, FlaskClient] = {}
    for who in ("staff", "supervisor"):
        clients[who] = scene.app.test_client()
        Auth(clients[who], scene.people).login(Role(who))
    headers = {"Authorization": f"Bearer {token}"}
    for name, (who, path) in _pages(scene).items():
        if who == "api":
            client = scene.app.test_client()
            counts[name] = _cost_of_page(scene, client, path, headers=headers)
        else:
            counts[name] = _cost_of_page(scene, clients[who], path)
    return counts


def test_no_page_asks_more_questions_for_more_rows(scene: Scene) -> None:
    """My work, the decision list, a decision page, the audit log and the API answer 50 rows with
    as many statements and connections as 5: a page's cost does not grow with what it lists."""
    token = scene.parts.tokens.issue(SYSTEM, username="staff_a", name="counting")
    scene.grow_to(FEW)
    few = _count_all(scene, token)
    scene.grow_to(MANY)
    many = _count_all(scene, token)
    assert many == few
    # and each page asks a couple of dozen questions at most, not several per row
    assert all(statements <= 24 for statements, _ in few.values()), few
    # and a handful of connections (sessions), not one per row either
    assert all(sessions <= 10 for _, sessions in few.values()), few
