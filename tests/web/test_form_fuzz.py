"""Any page, asked or posted anything by anyone: an answer, never a server error.

Hypothesis picks a page of the web app (every route but the API's, which Schemathesis covers),
fills its path with ids of real rows or numbers of no row, names of real or unknown moves, and
sends query arguments or form fields — the names the forms use, or any — with values a person
or a tampered form might send, as a signed-in user of some role or as the public. Whatever
it sends, the answer is a page, a redirect or a refusal: never a 5xx, never an exception.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

from decisionflow.bootstrap import Parts, build
from decisionflow.queries import MAX_ID
from decisionflow.roles import Role
from tests.conftest import Clock, make_people, settings_for
from tests.helpers import drive
from tests.web.conftest import Auth, csrf_token
from web import create_app

#: routes a fuzzer must not take: signing out would end the session it fuzzes with
SKIPPED_ENDPOINTS = {"auth.logout", "static"}
ROLES = (
    Role.STAFF,
    Role.CHIEF_EXECUTIVE,
    Role.LEGAL_OFFICER,
    Role.GOVERNMENT_OFFICE,
    Role.EXPERT,
    Role.SUPERVISOR,
    Role.ADMIN,
)


@dataclass
class Site:
    """The app on a seeded database, a signed-in client per role, and the public's client."""

    app: Flask
    clients: dict[str, FlaskClient]
    tokens: dict[str, str]
    rules: list[Rule]
    moves: list[str]
    triggers: set[str]
    fields: list[str]


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, password_hash: str
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("form-fuzz")
    database = folder / "decisionflow.db"
    database.write_bytes(sqlite_template.read_bytes())
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    parts: Parts = build(settings_for(f"sqlite:///{database}", folder / "instance"), clock=clock)
    people = make_people(parts, password_hash)
    # decisions at the start, open for public comment, and in execution
    drive(parts, people, clock, through="start_procedure")
    drive(parts, people, clock, through="open_consultation")
    drive(parts, people, clock, through="publish_decision")
    app = create_app(
        {"TESTING": True, "DECISIONFLOW_SETTINGS": parts.settings, "DECISIONFLOW_PARTS": parts}
    )
    clients: dict[str, FlaskClient] = {"public": app.test_client()}
    for role in ROLES:
        client = app.test_client()
        Auth(client, people).login(role)
        # signed in for real, or every example would only meet the sign-in redirect
        assert client.get("/work").status_code == 200, role
        clients[role.value] = client
    tokens = {name: csrf_token(client, "/login") for name, client in clients.items()}
    definition = parts.registry.current("major_decision")
    fields = {name for t in definition.every_transition for name in t.fields}
    fields |= {name for r in definition.records.values() for name in r.fields}
    rules = [
        r
        for r in app.url_map.iter_rules()
        if not r.endpoint.startswith("api.") and r.endpoint not in SKIPPED_ENDPOINTS
    ]
    yield Site(
        app,
        clients,
        tokens,
        sorted(rules, key=lambda r: r.rule),
        sorted(definition.triggers) + sorted(definition.records),
        set(definition.triggers),
        sorted(fields),
    )
    parts.dispose()


#: the names the app's own forms and filters use, beside those of the procedure's fields
FORM_NAMES = [
    "_version",
    "csrf_token",
    "password",
    "username",
    "title",
    "category",
    "undertaking_unit",
    "executing_unit",
    "co_units",
    "flags",
    "procedure",
    "overlay",
    "disposition",
    "reason",
    "release",
    "year",
    "matter",
    "planned_timing",
    "code",
    "name_zh",
    "name_en",
    "role",
    "department",
    "display_name",
    "new_password",
    "current_password",
    "text",
    "state",
    "page",
    "per_page",
    "ids",
    "decision",
    "actor",
    "action",
    "outcome",
    "since",
    "until",
    "author_name",
    "contact",
    "content",
    "lang",
    "next",
]
#: numbers as people and tampered forms write them: other scripts' digits, far too many digits
NUMBERS = st.sampled_from(["", "1", "2", "0", "-1", "²", "١٢", "9" * 30, "9" * 5000])
VALUES = st.one_of(
    NUMBERS, st.sampled_from(["2026-03-02", "yes", "on", "\x00", "a\r\nb"]), st.text(max_size=30)
)


def _path_value(rule: Rule, name: str, site: Site) -> st.SearchStrategy[Any]:
    converter = rule._converters[name]  # the converter says what the segment may be
    kind = type(converter).__name__
    if kind == "IntegerConverter":
        low = converter.min if converter.min is not None else 0
        high = converter.max if converter.max is not None else MAX_ID
        return st.one_of(st.integers(low, min(low + 4, high)), st.integers(low, high))
    if kind == "AnyConverter":
        return st.sampled_from(sorted(converter.items))  # type: ignore[attr-defined]
    if name in ("trigger", "kind"):
        return st.one_of(st.sampled_from(site.moves), st.text(min_size=1, max_size=20))
    if name == "code":
        return st.one_of(st.sampled_from(["zh", "en"]), st.text(min_size=1, max_size=5))
    if name == "username":
        return st.one_of(st.sampled_from(["nobody", "expert_2"]), st.text(min_size=1, max_size=10))
    return st.text(min_size=1, max_size=20)


def _endpoints() -> list[str]:
    """Every page's endpoint but the API's and the skipped, to fuzz one by one."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DECISIONFLOW_SETTINGS": settings_for("", Path(folder))})
        found = {r.endpoint for r in app.url_map.iter_rules()}
        app.extensions["decisionflow"].dispose()
    return sorted(e for e in found if not e.startswith("api.") and e not in SKIPPED_ENDPOINTS)


ENDPOINTS = _endpoints()
#: examples per page: enough to try each form with odd values, as the CI's time allows
EXAMPLES_PER_ROUTE = 10


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_page_asked_anything_answers_without_a_server_error(
    site: Site, endpoint: str, data: Any
) -> None:
    """Each page, asked or posted any fields by any role or the public."""
    rule = next(r for r in site.rules if r.endpoint == endpoint)
    methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    method = data.draw(st.sampled_from(methods), label="method")
    who = data.draw(st.sampled_from(sorted(site.clients)), label="who")
    values = {name: data.draw(_path_value(rule, name, site), label=name) for name in rule.arguments}
    path = rule.build(values, append_unknown=False)[1]  # type: ignore[index]
    value = st.one_of(VALUES, st.lists(VALUES, min_size=2, max_size=3))
    # each name a form of the app uses, sent or not; then a few of the procedure's or any
    sent = data.draw(st.fixed_dictionaries({}, optional=dict.fromkeys(FORM_NAMES, value)))
    others = st.one_of(st.sampled_from(site.fields), st.text(min_size=1, max_size=12))
    sent |= data.draw(st.dictionaries(others, value, max_size=4), label="fields")
    client = site.clients[who]
    if method == "GET":
        response = client.get(path, query_string=sent)
    else:
        if data.draw(st.booleans(), label="with the form's CSRF token"):
            sent["csrf_token"] = site.tokens[who]
        response = client.open(path, method=method, data=sent)
    assert response.status_code < 500, (method, path, who, sent, response.status_code)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_decisions_forms_take_any_input_without_a_server_error(site: Site, data: Any) -> None:
    """The forms of the decision page — moves and records — sent with odd versions and values."""
    decision_id = data.draw(st.integers(1, 4), label="decision")
    move = data.draw(st.sampled_from(site.moves), label="move")
    kind = "actions" if move in site.triggers else "records"
    sent = data.draw(st.dictionaries(st.sampled_from(site.fields), VALUES, max_size=5))
    sent["_version"] = data.draw(NUMBERS | st.text(max_size=5), label="version")
    who = data.draw(st.sampled_from([r.value for r in ROLES]), label="who")
    if data.draw(st.integers(0, 4), label="token") > 0:
        sent["csrf_token"] = site.tokens[who]
    path = f"/decisions/{decision_id}/{kind}/{move}"
    response = site.clients[who].post(path, data=sent)
    assert response.status_code < 500, (path, who, sent, response.status_code)
