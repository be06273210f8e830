"""The JSON API as another government system uses it: token auth, the whole procedure, refusals."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from decisionflow.accounts import SYSTEM
from decisionflow.bootstrap import Parts
from decisionflow.definitions import FieldSpec, Text
from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, StepContext
from decisionflow.errors import Conflict, InvalidInput, NotFound, NotPermitted
from decisionflow.models import ApiToken, AuditEvent, User
from decisionflow.payload import validate_payload
from decisionflow.roles import Role
from decisionflow.tokens import token_digest
from tests.conftest import PASSWORD, Clock, People

BASE = "/api/v1"
PROBLEM = "application/problem+json"
CHALLENGE = 'Bearer realm="decisionflow"'
PROPOSAL = {
    "source": "department",
    "problem": "征收补偿标准多年未调整",
    "reasons": "依据《土地管理法》第四十八条",
    "solution": "按区片综合地价上调补偿标准",
}


class Api:
    """A client of the API with one token, as another system would hold it."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(BASE + path, headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.post(BASE + path, headers=self.headers, **kwargs)


Login = Callable[[str], Api]


@pytest.fixture
def login(client: FlaskClient, web_parts: Parts, web_people: People) -> Login:
    """An API client for a username, with a token an administrator issued for it."""

    def make(username: str) -> Api:
        return Api(client, web_parts.tokens.issue(SYSTEM, username=username, name="test"))

    return make


@pytest.fixture
def staff(login: Login) -> Api:
    """Department A's clerk (housing)."""
    return login("staff_a")


def new_decision(api: Api, **changes: Any) -> dict[str, Any]:
    """A decision of department A, proposed through the API."""
    body = {
        "title": "征地补偿标准调整",
        "category": "public_policy",
        "undertaking_unit": "housing",
        "flags": dict(FLAGS_FOR_PATH),
        **changes,
    }
    response = api.post("/decisions", json=body)
    assert response.status_code == 201, response.json
    created: dict[str, Any] = response.json  # type: ignore[assignment]
    return created


def problem_of(response: TestResponse, status: int) -> dict[str, Any]:
    """The problem document of a refused request, after checking its status and media type."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    assert body["status"] == status and body["title"]
    return body


def unmet(body: dict[str, Any]) -> set[tuple[str, str]]:
    """The (rule, article) pairs a problem names."""
    return {(u["rule"], u["article"]) for u in body["unmet"]}


def audit_rows(parts: Parts, action: str) -> list[AuditEvent]:
    """The audit events of one action, oldest first."""
    with parts.sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


# -- token authentication -------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic c3RhZmZfYTpwYXNzd29yZA==",
        "Bearer not-a-token",
        "Bearer dfl_",
        "Bearer dfl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
    ids=["none", "empty", "scheme-only", "blank", "basic", "malformed", "prefix-only", "unknown"],
)
def test_a_request_without_a_valid_token_is_401_problem(client, web_people, header):
    """No token, another scheme, a malformed or an unknown token: 401 problem+json and a challenge."""
    headers = {} if header is None else {"Authorization": header}
    response = client.get(f"{BASE}/decisions", headers=headers)
    body = problem_of(response, 401)
    assert response.headers["WWW-Authenticate"].startswith(CHALLENGE)
    assert "Bearer" in body["detail"] and body["detail_zh"]


def test_a_presented_but_bad_token_is_called_invalid(client, web_people):
    """RFC 6750: a presented token that is no good is answered with error="invalid_token"."""
    response = client.get(f"{BASE}/decisions", headers={"Authorization": "Bearer dfl_nope"})
    assert response.headers["WWW-Authenticate"] == CHALLENGE + ', error="invalid_token"'
    bare = client.get(f"{BASE}/decisions")
    assert bare.headers["WWW-Authenticate"] == CHALLENGE  # nothing presented: no error claimed


def test_the_token_must_be_presented_whole(client, web_parts, web_people):
    """A valid token with a character more or less, or under another scheme, opens nothing."""
    token = web_parts.tokens.issue(SYSTEM, username="staff_a", name="OA")
    ok = client.get(f"{BASE}/decisions", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    for header in (f"Bearer {token}x", f"Bearer {token[:-1]}", f"Token {token}", token):
        response = client.get(f"{BASE}/decisions", headers={"Authorization": header})
        problem_of(response, 401)


def test_a_revoked_token_is_refused_at_once(client, web_parts, web_people):
    """Revoking a token stops it on the next request, with a 401 problem and challenge."""
    issued = web_parts.tokens.issue_token(SYSTEM, username="staff_a", name="OA")
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.get(f"{BASE}/decisions", headers=headers).status_code == 200
    web_parts.tokens.revoke(SYSTEM, issued.id)
    response = client.get(f"{BASE}/decisions", headers=headers)
    problem_of(response, 401)
    assert response.headers["WWW-Authenticate"] == CHALLENGE + ', error="invalid_token"'


def test_a_deactivated_users_token_is_refused(client, web_parts, web_people):
    """When the account a token acts as is switched off, the token opens nothing."""
    token = web_parts.tokens.issue(SYSTEM, username="staff_a", name="OA")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{BASE}/decisions", headers=headers).status_code == 200
    with web_parts.sessions() as session, session.begin():
        session.execute(update(User).where(User.username == "staff_a").values(active=False))
    response = client.get(f"{BASE}/decisions", headers=headers)
    problem_of(response, 401)
    assert response.headers["WWW-Authenticate"].startswith(CHALLENGE)


def test_tokens_are_stored_only_as_their_hash(client, web_parts, web_people):
    """The plain token is nowhere in the database (tokens, audit log, anything); its hash is."""
    token = web_parts.tokens.issue(SYSTEM, username="staff_a", name="OA system")
    client.get(f"{BASE}/decisions", headers={"Authorization": f"Bearer {token}"})
    database = web_parts.engine.url.database
    assert database
    with sqlite3.connect(database) as connection:
        dump = "\n".join(connection.iterdump())
    assert token not in dump
    assert token.removeprefix("dfl_") not in dump
    assert token_digest(token) in dump
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()


def test_using_a_token_records_when_it_was_last_used(client, web_parts, web_people, clock):
    """The administrator sees when each token was last used (on the engine's clock)."""
    issued = web_parts.tokens.issue_token(SYSTEM, username="staff_a", name="OA")
    assert web_parts.tokens.list_tokens(SYSTEM)[0].last_used_at is None
    clock.advance(hours=2)
    client.get(f"{BASE}/decisions", headers={"Authorization": f"Bearer {issued.token}"})
    (info,) = web_parts.tokens.list_tokens(SYSTEM)
    assert (info.id, info.username, info.name) == (issued.id, "staff_a", "OA")
    assert info.last_used_at == clock.now


def test_issuing_and_revoking_are_audited_without_the_secret(web_parts, web_people):
    """Issuing and revoking a token each leave an audit event naming user, name and token id."""
    issued = web_parts.tokens.issue_token(SYSTEM, username="legal_officer_a", name="法制办系统")
    web_parts.tokens.revoke(SYSTEM, issued.id)
    (issue,) = audit_rows(web_parts, "issue_api_token")
    (revoke,) = audit_rows(web_parts, "revoke_api_token")
    assert (issue.actor_username, issue.outcome) == ("system", "done")
    assert f'"token_id":{issued.id}' in issue.detail.replace(" ", "")
    assert (revoke.outcome, revoke.seq > issue.seq) == ("done", True)
    for event in (issue, revoke):
        assert "legal_officer_a" in event.detail and "法制办系统" in event.detail
    assert issued.token not in issue.detail + revoke.detail + issue.payload_digest
    assert web_parts.verify_audit().ok


def test_only_an_administrator_issues_or_revokes_tokens(web_parts, web_people):
    """A clerk may neither issue nor revoke a token; each refusal is audited."""
    clerk = web_people[Role.STAFF]
    with pytest.raises(NotPermitted):
        web_parts.tokens.issue(clerk, username="staff_a", name="mine")
    issued = web_parts.tokens.issue_token(web_people[Role.ADMIN], username="staff_a", name="x")
    with pytest.raises(NotPermitted):
        web_parts.tokens.revoke(clerk, issued.id)
    assert [e.outcome for e in audit_rows(web_parts, "issue_api_token")] == [
        "not_permitted",
        "done",
    ]
    assert [e.outcome for e in audit_rows(web_parts, "revoke_api_token")] == ["not_permitted"]
    assert not web_parts.tokens.list_tokens(SYSTEM)[0].revoked


def test_revoking_an_unknown_or_revoked_token_is_refused(web_parts, web_people):
    """Revoking a token that does not exist is NotFound; revoking one twice is a Conflict."""
    with pytest.raises(NotFound, match="No API token #42"):
        web_parts.tokens.revoke(SYSTEM, 42)
    with pytest.raises(NotFound):
        web_parts.tokens.revoke(SYSTEM, 2**63)  # far beyond any id: no database error
    issued = web_parts.tokens.issue_token(SYSTEM, username="staff_a", name="OA")
    web_parts.tokens.revoke(SYSTEM, issued.id)
    with pytest.raises(Conflict, match="already revoked"):
        web_parts.tokens.revoke(SYSTEM, issued.id)


def test_no_token_for_an_unknown_or_inactive_user(web_parts, web_people):
    """A token is issued only for an active account, and only with a name."""
    with pytest.raises(NotFound, match="No active user 'nobody'"):
        web_parts.tokens.issue(SYSTEM, username="nobody", name="x")
    with pytest.raises(InvalidInput, match="Name the token"):
        web_parts.tokens.issue(SYSTEM, username="staff_a", name="  ")
    with web_parts.sessions() as session, session.begin():
        session.execute(update(User).where(User.username == "staff_b").values(active=False))
    with pytest.raises(NotFound):
        web_parts.tokens.issue(SYSTEM, username="staff_b", name="x")
    with web_parts.sessions() as session:
        assert session.scalars(select(ApiToken)).all() == []


# -- the whole procedure, by the API alone ----------------------------------------------------


def test_the_whole_major_decision_procedure_by_the_api_alone(
    login: Login, web_people: People, clock: Clock
):
    """Five systems, each with its own token, take a decision from proposal to archive; every
    action is listed with its fields before it is taken, every step is in the audit trail, and
    the audit chain verifies."""
    roles = {step.role for step in MAJOR_DECISION_PATH}
    api = {role: login(f"{role.value}_a") for role in roles | {Role.SUPERVISOR}}
    assert {Role.STAFF, Role.CHIEF_EXECUTIVE, Role.LEGAL_OFFICER, Role.EXPERT} <= roles
    assert Role.GOVERNMENT_OFFICE in roles
    decision = new_decision(api[Role.STAFF])
    path = f"/decisions/{decision['id']}"
    assert (decision["state"], decision["version"]) == ("proposed", 1)

    for step in MAJOR_DECISION_PATH:
        clock.advance(days=step.wait_days, minutes=5)
        caller = api[step.role]
        ctx = StepContext(
            today=clock.today, expert_ids=(web_people[Role.EXPERT].id,), password=PASSWORD
        )
        payload = step.payload(ctx)
        before = caller.get(path)
        assert before.status_code == 200, f"{step.role} cannot see the decision at {step.name}"
        version = before.json["version"]
        if step.kind == "fire":
            listed = caller.get(f"{path}/actions")
            assert listed.status_code == 200
            actions = {a["trigger"]: a for a in listed.json}
            assert step.name in actions, f"{step.name} not offered to {step.role}: {list(actions)}"
            action = actions[step.name]
            assert action["article"].startswith("Art "), action
            assert action["label"]["zh"] and action["label"]["en"]
            # The listing tells the caller every field to send, and which are required.
            assert set(payload) <= set(action["fields"]), (step.name, action["fields"])
            required = {n for n, f in action["fields"].items() if f["required"]}
            assert required <= set(payload), (step.name, required)
            answer = caller.post(
                f"{path}/actions/{step.name}",
                json={"payload": payload, "expected_version": version},
            )
            assert answer.status_code == 200, (step.name, answer.json)
            assert answer.json["version"] > version
        else:
            body = {"payload": payload, "expected_version": version}
            if step.signed:
                body["password"] = PASSWORD  # the expert and the legal officer sign (Art 20, 28)
            answer = caller.post(f"{path}/records/{step.name}", json=body)
            assert answer.status_code == 201, (step.name, answer.json)
            assert (answer.json["kind"], answer.json["decision_version"]) == (
                step.name,
                version + 1,
            )

    final = api[Role.STAFF].get(path).json
    assert (final["state"], final["final"]) == ("archived", True)
    assert api[Role.STAFF].get(f"{path}/actions").json == []  # nothing more to do

    trail = api[Role.SUPERVISOR].get(f"{path}/audit-events")
    assert trail.status_code == 200
    events = trail.json["items"]
    expected = ["create_decision"] + [
        s.name if s.kind == "fire" else f"record:{s.name}" for s in MAJOR_DECISION_PATH
    ]
    assert [e["action"] for e in events] == expected
    assert {e["outcome"] for e in events} == {"done"}
    assert events[-1]["state_after"] == "archived"
    assert [e["actor_username"] for e in events[1:]] == [
        f"{s.role.value}_a" for s in MAJOR_DECISION_PATH
    ]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and all(len(e["hash"]) == 64 for e in events)

    records = api[Role.STAFF].get(f"{path}/records").json["items"]
    assert [r["kind"] for r in records] == [s.name for s in MAJOR_DECISION_PATH]

    verified = api[Role.SUPERVISOR].post("/audit/verify")
    assert verified.status_code == 200
    assert verified.json["ok"] is True and verified.json["broken_at"] is None
    assert verified.json["events_checked"] >= len(events)


# -- refusals -----------------------------------------------------------------------------------


def test_a_move_from_the_wrong_stage_is_422_naming_the_rule_and_article(staff):
    """Submitting for argumentation while still a proposal: 422, rule `stage`, Art 12; nothing moves."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}"
    body = problem_of(staff.post(f"{path}/actions/submit_for_argumentation", json={}), 422)
    assert body["code"] == "rule_not_met"
    assert ("stage", "Art 12") in unmet(body)
    assert body["detail_zh"] and all(u["zh"] and u["en"] for u in body["unmet"])
    after = staff.get(path).json
    assert (after["state"], after["version"]) == ("proposed", decision["version"])
    events = staff.get(f"{path}/audit-events").json["items"]
    assert [(e["action"], e["outcome"]) for e in events][-1] == (
        "submit_for_argumentation",
        "rule_not_met",
    )
    assert "Art 12" in events[-1]["detail"]  # the audit keeps the article


def test_a_missing_record_is_422_naming_the_requirement_and_article(staff, login):
    """Starting the procedure before the proposal is on file: 422 naming requires:proposal, Art 10."""
    decision = new_decision(staff)
    chief = login("chief_executive_a")
    path = f"/decisions/{decision['id']}"
    listed = {a["trigger"]: a for a in chief.get(f"{path}/actions").json}
    # The listing warns beforehand of what the refusal will say.
    assert listed["start_procedure"]["ready"] is False
    assert ("requires:proposal", "Art 10") in unmet(listed["start_procedure"])
    body = problem_of(
        chief.post(f"{path}/actions/start_procedure", json={"payload": {"reasons": "列入目录"}}),
        422,
    )
    assert ("requires:proposal", "Art 10") in unmet(body)


def test_the_wrong_role_is_403_naming_the_article(staff):
    """A clerk cannot start the procedure (the chief executive decides, Art 10): 403."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}"
    staff.post(f"{path}/records/proposal", json={"payload": PROPOSAL})
    body = problem_of(
        staff.post(f"{path}/actions/start_procedure", json={"payload": {"reasons": "x"}}), 403
    )
    assert body["code"] == "not_permitted"
    assert ("role", "Art 10") in unmet(body)
    assert "start_procedure" not in {a["trigger"] for a in staff.get(f"{path}/actions").json}


def test_a_record_by_the_wrong_role_is_403(staff, login):
    """Only the expert adds an expert opinion; a clerk's attempt names the role rule."""
    decision = new_decision(staff)
    body = problem_of(
        staff.post(
            f"/decisions/{decision['id']}/records/expert_opinion",
            json={"payload": {"opinion": "同意", "signed": True}},
        ),
        403,
    )
    assert body["code"] == "not_permitted" and {r for r, _ in unmet(body)} == {"role"}


def test_another_departments_decision_is_out_of_reach(staff, login):
    """Department B's clerk can neither see, list, act on, add to nor attach to A's decision."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}"
    other = login("staff_b")
    for response in (
        other.get(path),
        other.get(f"{path}/actions"),
        other.get(f"{path}/records"),
        other.get(f"{path}/attachments"),
        other.get(f"{path}/audit-events"),
        other.post(f"{path}/records/proposal", json={"payload": PROPOSAL}),
        other.post(f"{path}/actions/decline_proposal", json={"payload": {}}),
        other.post(f"{path}/attachments", data={"file": (io.BytesIO(b"x"), "a.txt")}),
    ):
        assert response.status_code in (403, 404), response.request.path
        assert response.content_type == PROBLEM
    listing = other.get("/decisions").json
    assert listing["total"] == 0 and listing["items"] == []
    assert staff.get(path).json["version"] == decision["version"]  # nothing was added


def test_a_bad_payload_is_400_naming_each_field(staff):
    """Missing, unknown and ill-typed fields are each named in `fields`, in both languages."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}/records/proposal"
    body = problem_of(
        staff.post(path, json={"payload": {"source": "aliens", "colour": "red"}}), 400
    )
    assert body["code"] == "invalid_input"
    assert {"source", "colour", "problem", "reasons", "solution"} <= set(body["fields"])
    assert body["fields"]["problem"] == {"zh": "必须填写", "en": "is required"}
    assert "must be one of" in body["fields"]["source"]["en"]
    assert staff.get(f"/decisions/{decision['id']}/records").json["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payload": "source=department"}, "payload"),
        ({"payload": ["source"]}, "payload"),
        ({"payload": PROPOSAL, "expected_version": "1"}, "expected_version"),
        ({"payload": PROPOSAL, "expected_version": True}, "expected_version"),
        ({"payload": PROPOSAL, "expected_version": 1.5}, "expected_version"),
    ],
)
def test_an_ill_typed_move_is_400_not_ignored(staff, body, field):
    """A payload that is no object, or a version that is no whole number, is refused by name
    (a version silently ignored would let a stale view overwrite someone's work)."""
    decision = new_decision(staff)
    problem = problem_of(
        staff.post(f"/decisions/{decision['id']}/records/proposal", json=body), 400
    )
    assert set(problem["fields"]) == {field}
    assert staff.get(f"/decisions/{decision['id']}").json["version"] == decision["version"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"flags": "professional"}, "flags"),
        ({"flags": ["professional"]}, "flags"),
        ({"flags": {"professional": "yes"}}, "flags"),
        ({"flags": {"no_such_flag": True}}, "flags"),
        ({"co_units": "ecology"}, "co_units"),
        ({"co_units": [{"code": "ecology"}]}, "co_units"),
        ({"co_units": ["nowhere"]}, "co_units"),
        ({"title": 42}, "title"),
        ({"title": ""}, "title"),
        ({"category": "whim"}, "category"),
        ({"undertaking_unit": None}, "undertaking_unit"),
        ({"executing_unit": 7}, "executing_unit"),
        ({"executing_unit": "nowhere"}, "executing_unit"),
    ],
)
def test_a_bad_new_decision_is_400_naming_the_field(staff, changes, field):
    """Proposing a decision with a malformed member is refused naming it; nothing is created."""
    body = {
        "title": "t",
        "category": "public_policy",
        "undertaking_unit": "housing",
        **changes,
    }
    problem = problem_of(staff.post("/decisions", json=body), 400)
    assert field in problem["fields"]
    assert staff.get("/decisions").json["total"] == 0


def test_a_new_decision_may_name_its_co_units_and_executing_unit(staff, login):
    """co_units and executing_unit reach the service: the co-unit's clerk sees the decision."""
    decision = new_decision(staff, co_units=["ecology"], executing_unit="ecology")
    assert decision["executing_unit_id"] is not None
    assert login("staff_b").get(f"/decisions/{decision['id']}").status_code == 200


def test_a_stale_expected_version_is_409_and_changes_nothing(staff):
    """Acting on a view someone else has since changed is refused with 409."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}"
    fresh = staff.post(
        f"{path}/records/proposal",
        json={"payload": PROPOSAL, "expected_version": decision["version"]},
    )
    assert fresh.status_code == 201
    body = problem_of(
        staff.post(
            f"{path}/records/proposal",
            json={"payload": PROPOSAL, "expected_version": decision["version"]},
        ),
        409,
    )
    assert body["code"] == "conflict" and "reload" in body["detail"]
    assert len(staff.get(f"{path}/records").json["items"]) == 1


def test_a_stale_move_is_409(staff, login):
    """The chief executive acting on an old version of the decision gets 409, not a move."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}"
    staff.post(f"{path}/records/proposal", json={"payload": PROPOSAL})
    chief = login("chief_executive_a")
    body = problem_of(
        chief.post(
            f"{path}/actions/start_procedure",
            json={"payload": {"reasons": "x"}, "expected_version": decision["version"]},
        ),
        409,
    )
    assert body["code"] == "conflict"
    assert chief.get(path).json["state"] == "proposed"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("get", "/actions"),
        ("get", "/records"),
        ("get", "/attachments"),
        ("get", "/audit-events"),
        ("post", "/actions/start_procedure"),
        ("post", "/records/proposal"),
    ],
)
@pytest.mark.parametrize("number", [999, 0, 2**31, 2**63, 10**30])
def test_an_unknown_decision_is_404(staff, method, suffix, number):
    """A decision number that names nothing is 404 problem+json, however large."""
    kwargs = {"json": {"payload": {}}} if method == "post" else {}
    response = getattr(staff, method)(f"/decisions/{number}{suffix}", **kwargs)
    body = problem_of(response, 404)
    assert body["code"] == "not_found" and str(number) in body["detail"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "source=department", "content_type": "text/plain"},
        {"data": "{not json", "content_type": "application/json"},
        {"data": "[1, 2]", "content_type": "application/json"},
        {"data": '"text"', "content_type": "application/json"},
        {},
    ],
    ids=["text", "broken-json", "array", "string", "empty"],
)
def test_a_body_that_is_not_a_json_object_is_400(staff, kwargs):
    """A body that is not a JSON object is refused with 400 naming the body."""
    decision = new_decision(staff)
    for path in (
        "/decisions",
        f"/decisions/{decision['id']}/records/proposal",
        f"/decisions/{decision['id']}/actions/decline_proposal",
    ):
        body = problem_of(staff.post(path, **kwargs), 400)
        assert body["code"] == "invalid_input" and "JSON object" in body["detail"]
        assert "body" in body["fields"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            '{"title": "a\\u0000b", "category": "public_policy", "undertaking_unit": "housing"}',
            "title",
        ),
        (
            '{"title": "\\ud800", "category": "public_policy", "undertaking_unit": "housing"}',
            "title",
        ),
        ('{"title": "t", "co_units": ["\\u0000"], "undertaking_unit": "housing"}', "co_units"),
    ],
    ids=["nul", "lone-surrogate", "nested-nul"],
)
def test_text_no_database_can_keep_is_400_naming_the_field(staff, raw, field):
    """JSON escapes for NUL or a lone surrogate (which PostgreSQL or UTF-8 cannot keep) are
    refused naming the member, instead of failing in the database."""
    body = problem_of(staff.post("/decisions", data=raw, content_type="application/json"), 400)
    assert field in body["fields"]
    assert staff.get("/decisions").json["total"] == 0


def test_unkeepable_text_in_a_payload_names_the_payload_field(staff):
    """A NUL inside a record's field is refused naming that field; no record is kept."""
    decision = new_decision(staff)
    raw = '{"payload": {"source": "department", "problem": "a\\u0000", "reasons": "r", "solution": "s"}}'
    path = f"/decisions/{decision['id']}/records"
    body = problem_of(
        staff.post(f"{path}/proposal", data=raw, content_type="application/json"), 400
    )
    assert set(body["fields"]) == {"problem"}
    assert staff.get(path).json["items"] == []


def test_a_body_nested_beyond_reason_is_400(staff):
    """A JSON body nested ten thousand deep is refused as no JSON object, not a 500."""
    for raw in ("[" * 10_000 + "]" * 10_000, '{"a":' * 10_000 + "1" + "}" * 10_000):
        body = problem_of(staff.post("/decisions", data=raw, content_type="application/json"), 400)
        assert "body" in body["fields"]


def test_verifying_the_audit_chain_needs_a_supervisor_or_admin(staff, login):
    """A clerk may not verify the chain (403); a supervisor may."""
    body = problem_of(staff.post("/audit/verify"), 403)
    assert body["code"] == "not_permitted"
    assert login("supervisor_a").post("/audit/verify").json["ok"] is True


# -- lists and files ----------------------------------------------------------------------------


def test_the_decision_list_is_paginated_and_capped(staff, clock):
    """Cursors (next/previous) page the list; per_page is capped at 100; odd values fall back."""
    made = []
    for n in range(3):
        clock.advance(minutes=1)
        made.append(new_decision(staff, title=f"决策 {n}")["id"])
    first = staff.get("/decisions", query_string={"per_page": 2}).json
    assert (first["per_page"], first["total"], first["previous"]) == (2, 3, None)
    second = staff.get("/decisions", query_string={"per_page": 2, "cursor": first["next"]}).json
    assert len(second["items"]) == 1 and second["next"] is None
    # Newest activity first, and the two pages together are the three decisions, once each.
    assert [d["id"] for d in first["items"] + second["items"]] == made[::-1]
    # Back from the second page is the first page again.
    back = staff.get("/decisions", query_string={"per_page": 2, "cursor": second["previous"]})
    assert back.json["items"] == first["items"] and back.json["previous"] is None
    capped = staff.get("/decisions", query_string={"per_page": 1000}).json
    assert capped["per_page"] == 100 and capped["total"] == 3
    odd_values = (
        {"cursor": "0"},
        {"cursor": "not a cursor"},
        {"cursor": "W10"},
        {"per_page": "abc"},
    )
    for odd in odd_values:
        listing = staff.get("/decisions", query_string=odd)
        assert listing.status_code == 200, odd
        assert listing.json["previous"] is None and listing.json["total"] == 3
    assert staff.get("/decisions", query_string={"per_page": "0"}).json["per_page"] == 1
    found = staff.get("/decisions", query_string={"text": "决策 1"}).json
    assert [d["id"] for d in found["items"]] == [made[1]]
    assert staff.get("/decisions", query_string={"state": "archived"}).json["total"] == 0


def test_files_are_uploaded_as_multipart_and_listed_with_their_sha256(staff):
    """An upload answers with the file's SHA-256; the listing shows it; the audit keeps it."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}/attachments"
    content = "起草说明：征地补偿标准（草案）".encode()
    upload = staff.post(path, data={"file": (io.BytesIO(content), "说明.txt", "text/plain")})
    assert upload.status_code == 201, upload.json
    digest = hashlib.sha256(content).hexdigest()
    assert (upload.json["sha256"], upload.json["size"]) == (digest, len(content))
    listed = staff.get(path).json["items"]
    assert [(a["filename"], a["sha256"], a["content_type"]) for a in listed] == [
        ("说明.txt", digest, "text/plain")
    ]
    events = staff.get(f"/decisions/{decision['id']}/audit-events").json["items"]
    assert events[-1]["action"] == "attach_file" and events[-1]["outcome"] == "done"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "file"),
        ({"other": (io.BytesIO(b"x"), "a.txt")}, "file"),
        ({"file": (io.BytesIO(b""), "empty.txt")}, "file"),
        ({"file": (io.BytesIO(b"x" * (64 * 1024 + 1)), "big.pdf")}, "file"),
    ],
    ids=["nothing", "wrong-field", "empty", "over-limit"],
)
def test_a_bad_upload_is_400_naming_the_file(staff, data, field):
    """No file, an empty file or one over the limit is refused naming the field; none is kept."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}/attachments"
    body = problem_of(staff.post(path, data=data, content_type="multipart/form-data"), 400)
    assert field in body["fields"]
    assert staff.get(path).json["items"] == []


def test_a_body_beyond_the_upload_limit_is_413_problem(staff):
    """A request body far beyond any attachment's limit is cut off with a 413 problem."""
    decision = new_decision(staff)
    huge = {"file": (io.BytesIO(b"x" * (400 * 1024)), "huge.pdf")}
    problem_of(staff.post(f"/decisions/{decision['id']}/attachments", data=huge), 413)


# -- never a 500 ---------------------------------------------------------------------------------


def test_odd_requests_never_get_a_500(staff):
    """Whatever an integrator sends to the API's routes, the answer is a problem, never a 500."""
    decision = new_decision(staff)
    path = f"/decisions/{decision['id']}"
    odd: list[tuple[str, str, dict[str, Any]]] = [
        ("post", "/decisions", {"json": {"title": ["t"], "flags": 1, "co_units": {}}}),
        ("post", "/decisions", {"json": {"title": "t" * 10_000}}),
        ("post", "/decisions", {"json": {"title": "t", "category": {"a": 1}}}),
        ("post", f"{path}/records/proposal", {"json": {"payload": {"source": ["department"]}}}),
        ("post", f"{path}/records/proposal", {"json": {"payload": {"problem": "x" * 100_000}}}),
        ("post", f"{path}/records/proposal", {"json": {"payload": None, "expected_version": None}}),
        ("post", f"{path}/records/no_such_kind", {"json": {}}),
        ("post", f"{path}/actions/no_such_action", {"json": {}}),
        ("post", f"{path}/actions/start_procedure", {"json": {"payload": {"reasons": 5}}}),
        ("post", f"{path}/records/proposal", {"json": {"expected_version": 2**80}}),
        ("post", f"{path}/attachments", {"data": {"file": (io.BytesIO(b"x"), "../../etc")}}),
        ("post", f"{path}/attachments", {"data": {"file": (io.BytesIO(b"x"), "a\x00b.txt")}}),
        ("get", "/decisions", {"query_string": {"page": "1e9", "per_page": "-5", "text": "%_\\"}}),
        ("get", "/decisions", {"query_string": {"state": "x" * 5000}}),
    ]
    for method, url, kwargs in odd:
        response = getattr(staff, method)(url, **kwargs)
        assert response.status_code < 500, (url, kwargs, response.get_data(as_text=True)[:300])
        if response.status_code >= 400:
            assert response.content_type == PROBLEM, url
    assert staff.get(path).json["state"] == "proposed"


def test_an_unexpected_fault_is_a_500_problem_without_a_trace(web_parts, staff, monkeypatch):
    """Should a fault of ours happen, the API still answers a problem document, with no trace."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals at /srv/decisionflow")

    # A stand-in for a bug: the service itself is replaced, the database is not touched.
    monkeypatch.setattr(web_parts.decisions, "get", broken)
    response = staff.get("/decisions/1")
    body = problem_of(response, 500)
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Nothing was changed" in body["detail"] and body["detail_zh"]


# -- known faults outside the API's own files ----------------------------------------------------


def test_an_unknown_api_path_or_method_is_a_problem_document(staff):
    """A typo in an API path, or the wrong method, is answered as problem+json, not an HTML page
    (routing errors reach web/errors.py, which hands /api/ paths to the API's handlers)."""
    problem_of(staff.get("/no-such-thing"), 404)
    problem_of(staff.get("/decisions/abc"), 404)
    wrong_method = staff.client.delete(f"{BASE}/decisions", headers=staff.headers)
    problem_of(wrong_method, 405)
    assert "POST" in wrong_method.headers["Allow"]


def test_the_service_answers_not_found_for_an_id_beyond_any_integer(web_parts, web_people):
    """The engine itself refuses a decision number too large for the database as NotFound."""
    with pytest.raises(NotFound):
        web_parts.decisions.get(web_people[Role.STAFF], 2**63)


def test_the_engine_refuses_a_nul_in_text():
    """The service's own payload check refuses a NUL, whatever the front end or database."""
    spec = FieldSpec(type="text", label=Text(zh="问题", en="Problem"))
    with pytest.raises(InvalidInput):
        validate_payload({"problem": spec}, {"problem": "a\x00b"})
