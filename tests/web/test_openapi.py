"""The OpenAPI document of /api/v1: valid, complete, and true to what the API answers."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from werkzeug.test import TestResponse

from decisionflow.accounts import SYSTEM
from decisionflow.bootstrap import Parts
from decisionflow.definitions import Signature, Text
from decisionflow.demo import FLAGS_FOR_PATH
from decisionflow.errors import Conflict, InvalidInput, NotFound, NotPermitted, RuleNotMet
from decisionflow.views import ActionView
from tests.conftest import People
from web.api import _action

BASE = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    """The document as a client downloads it, without a token."""
    response = client.get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def _template(rule: str) -> str:
    """A Flask rule as an OpenAPI path template: /decisions/<int:decision_id> → /decisions/{decision_id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix(BASE))


def _routes(app: Flask) -> dict[str, set[str]]:
    """Every path of the `api` blueprint with the methods it answers."""
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            methods = set(rule.methods or ()) - IGNORED_METHODS
            found.setdefault(_template(rule.rule), set()).update(methods)
    return found


def _documented(document: dict[str, Any]) -> dict[str, set[str]]:
    return {path: {m.upper() for m in ops} for path, ops in document["paths"].items()}


def test_the_document_is_valid_openapi_3_1(document):
    """An integrator's tooling accepts the document: it validates as OpenAPI 3.1."""
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises, naming the fault, if the document is not valid


def test_every_route_is_documented_and_every_documented_path_exists(app, document):
    """No drift: the routes the app serves and the paths the document promises are the same."""
    served, documented = _routes(app), _documented(document)
    assert served, "the api blueprint serves no route"
    assert set(served) - set(documented) == set(), "routes missing from the document"
    assert set(documented) - set(served) == set(), "documented paths the app does not serve"
    for path, methods in served.items():
        assert documented[path] == methods, (
            f"{path}: served {methods}, documented {documented[path]}"
        )


def test_every_path_parameter_is_declared_and_every_operation_is_named(document):
    """Each {placeholder} has its path parameter, and each operation has a unique operationId."""
    ids = []
    for path, ops in document["paths"].items():
        placeholders = set(re.findall(r"{([^}]+)}", path))
        for method, op in ops.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == placeholders, f"{method.upper()} {path}"
            ids.append(op["operationId"])
            assert "200" in op["responses"] or "201" in op["responses"], f"{method} {path}"
    assert len(ids) == len(set(ids))


def test_only_the_document_itself_is_open_without_a_token(app, document):
    """Every operation but the document itself needs the bearer token, and documents its 401."""
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if path == "/openapi.json":
                assert op["security"] == []
            else:
                assert "security" not in op  # the document-wide bearer requirement applies
                assert "401" in op["responses"], f"{method.upper()} {path} documents no 401"


class Conformance:
    """Checks a real response against the schema the document gives for it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: set[str] = set()

    def __call__(self, response: TestResponse, path: str, method: str) -> Any:
        """The response's body, after checking it against its documented status and schema."""
        op = self.document["paths"][path][method]
        status = str(response.status_code)
        assert status in op["responses"], f"{method.upper()} {path} answered undocumented {status}"
        content = op["responses"][status]["content"]
        media = response.content_type.split(";")[0]
        assert media in content, f"{method.upper()} {path} {status} answered as {media}"
        schema = content[media]["schema"]
        # The document's components travel with the schema, so that its $refs resolve.
        validator = Draft202012Validator({**schema, "components": self.document["components"]})
        errors = sorted(validator.iter_errors(response.json), key=lambda e: list(e.path))
        assert not errors, f"{method.upper()} {path} {status}: " + "; ".join(
            f"{list(e.path)}: {e.message}" for e in errors
        )
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref") or ""
        self.checked.add(ref.rsplit("/", 1)[-1] + (" list" if "items" in schema else ""))
        self.checked.add(f"{status} {method.upper()} {path}")
        return response.json


def test_real_responses_conform_to_their_documented_schemas(
    client: FlaskClient, document: dict[str, Any], web_parts: Parts, web_people: People
):
    """What the API really answers — decisions, pages, actions, records, files, audit events,
    verification and problems — matches the schema the document gives for it."""
    conform = Conformance(document)

    def bearer(username: str) -> dict[str, str]:
        token = web_parts.tokens.issue(SYSTEM, username=username, name="conformance")
        return {"Authorization": f"Bearer {token}"}

    staff, supervisor, other = bearer("staff_a"), bearer("supervisor_a"), bearer("staff_b")
    new = {
        "title": "老旧小区改造方案",
        "category": "public_policy",
        "undertaking_unit": "housing",
        "flags": dict(FLAGS_FOR_PATH),
    }
    made = client.post(f"{BASE}/decisions", json=new, headers=staff)
    decision = conform(made, "/decisions", "post")
    one = f"{BASE}/decisions/{decision['id']}"
    conform(client.get(one, headers=staff), "/decisions/{decision_id}", "get")
    page = conform(client.get(f"{BASE}/decisions", headers=staff), "/decisions", "get")
    assert page["total"] == 1 and page["items"][0]["id"] == decision["id"]

    proposal = {
        "source": "department",
        "problem": "房屋老化",
        "reasons": "群众反映强烈",
        "solution": "分批改造",
    }
    added = client.post(f"{one}/records/proposal", json={"payload": proposal}, headers=staff)
    conform(added, "/decisions/{decision_id}/records/{kind}", "post")
    conform(client.get(f"{one}/records", headers=staff), "/decisions/{decision_id}/records", "get")
    chief = bearer("chief_executive_a")
    actions = conform(
        client.get(f"{one}/actions", headers=chief), "/decisions/{decision_id}/actions", "get"
    )
    assert "start_procedure" in {a["trigger"] for a in actions}
    moved = client.post(
        f"{one}/actions/start_procedure", json={"payload": {"reasons": "列入目录"}}, headers=chief
    )
    assert conform(moved, "/decisions/{decision_id}/actions/{trigger}", "post")["state"] == (
        "drafting"
    )

    upload = {"file": (io.BytesIO(b"%PDF-1.4 draft"), "draft.pdf", "application/pdf")}
    files = f"{one}/attachments"
    conform(
        client.post(files, data=upload, headers=staff),
        "/decisions/{decision_id}/attachments",
        "post",
    )
    conform(client.get(files, headers=staff), "/decisions/{decision_id}/attachments", "get")
    conform(
        client.get(f"{one}/audit-events", headers=supervisor),
        "/decisions/{decision_id}/audit-events",
        "get",
    )
    conform(client.post(f"{BASE}/audit/verify", headers=supervisor), "/audit/verify", "post")

    # Problems: each refusal's status is documented for its operation, with the Problem shape.
    conform(client.get(f"{BASE}/decisions"), "/decisions", "get")  # 401
    conform(client.get(one, headers=other), "/decisions/{decision_id}", "get")  # 403
    conform(client.get(f"{BASE}/decisions/999", headers=staff), "/decisions/{decision_id}", "get")
    wrong_stage = client.post(
        f"{one}/actions/find_lawful", json={}, headers=bearer("legal_officer_a")
    )
    problem = conform(wrong_stage, "/decisions/{decision_id}/actions/{trigger}", "post")  # 422
    assert [(u["rule"], u["article"]) for u in problem["unmet"]] == [("stage", "Art 28")]
    bad = client.post(f"{one}/records/draft_version", json={"payload": {}}, headers=staff)
    assert "content" in conform(bad, "/decisions/{decision_id}/records/{kind}", "post")["fields"]
    stale = client.post(
        f"{one}/records/legal_basis",
        json={"payload": {"laws": "《城市更新条例》"}, "expected_version": 1},
        headers=staff,
    )
    conform(stale, "/decisions/{decision_id}/records/{kind}", "post")  # 409
    conform(client.post(f"{BASE}/audit/verify", headers=staff), "/audit/verify", "post")  # 403

    assert {"Decision", "DecisionPage", "Action list", "Problem", "Verification"} <= conform.checked
    for status in ("400", "401", "403", "404", "409", "422"):
        assert any(c.startswith(status) for c in conform.checked), f"no {status} checked"


def test_the_documented_problem_codes_are_the_services(document):
    """A client reading the Problem schema learns every refusal code the service really uses."""
    codes = set(document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"])
    for kind in (NotPermitted, RuleNotMet, NotFound, Conflict, InvalidInput):
        assert kind(zh="", en="").code in codes


def test_a_signed_move_tells_clients_to_send_the_password(document):
    """A move its maker signs says so, as documented: its article, and that a password is due."""
    signed = ActionView(
        "sign_off",
        Text(zh="签发", en="Sign off"),
        "Art 28",
        None,
        {},
        signature=Signature(article="Art 28"),
    )
    unsigned = ActionView("close", Text(zh="办结", en="Close"), "Art 33", None, {})
    schema = {**document["components"]["schemas"]["Action"], "components": document["components"]}
    for view, expected in ((signed, {"article": "Art 28"}), (unsigned, None)):
        answer = _action(view)
        assert answer["signature"] == expected
        assert not list(Draft202012Validator(schema).iter_errors(answer))
