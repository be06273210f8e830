"""Who may open which page: every route of the app × every role, and no guessing of ids."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient

from decisionflow.bootstrap import Parts
from decisionflow.demo import StepContext
from decisionflow.roles import ACCOUNT_ROLES, Role
from tests.conftest import Clock, People
from tests.helpers import snapshot, step_named
from tests.web.conftest import TITLE, Auth, csrf_token, open_for_comment
from tests.web.conftest import OpenForComment as Scene

EVERYONE = frozenset(ACCOUNT_ROLES)
ADMIN = frozenset({Role.ADMIN})
#: the roles that read the statistics (a clerk: the own department's)
STATISTICS = frozenset({Role.SUPERVISOR, Role.CHIEF_EXECUTIVE, Role.GOVERNMENT_OFFICE, Role.STAFF})
#: the roles that take part in the procedure and so may file papers (not admin nor supervisor)
FILERS = frozenset(
    {
        Role.STAFF,
        Role.GOVERNMENT_OFFICE,
        Role.LEGAL_OFFICER,
        Role.EXPERT,
        Role.CHIEF_EXECUTIVE,
        Role.EXECUTOR,
    }
)


@dataclass(frozen=True)
class Route:
    """One route as a user reaches it, who may, and what they get."""

    endpoint: str
    method: str
    path: str  # {d}: department A's decision, {a}: its attachment
    allowed: frozenset[Role]
    status: int  # what an allowed role gets
    public: bool = False  # reachable signed out, with the same status
    data: Mapping[str, Any] = field(default_factory=dict)
    shows_title: bool = False  # an allowed page that must show the decision's title


# The matrix. An allowed POST is still refused by the law where it would change something
# (a deadline not reached, a field missing), so that the walk leaves the decision as it was.
ROUTES: tuple[Route, ...] = (
    Route("auth.login", "GET", "/login", EVERYONE, 200, public=True),
    Route("auth.login", "POST", "/login", EVERYONE, 401, public=True, data={"username": "nobody", "password": "x"}),
    Route("work.home", "GET", "/", EVERYONE, 302, public=True),
    Route("work.index", "GET", "/work", EVERYONE, 200),
    Route("decisions.index", "GET", "/decisions/", EVERYONE, 200, shows_title=True),
    Route("decisions.new", "GET", "/decisions/new", frozenset({Role.STAFF, Role.GOVERNMENT_OFFICE}), 200),
    Route("decisions.new", "POST", "/decisions/new", frozenset({Role.STAFF, Role.GOVERNMENT_OFFICE}), 400),
    Route("decisions.show", "GET", "/decisions/{d}", EVERYONE, 200, shows_title=True),
    Route("decisions.fire", "POST", "/decisions/{d}/actions/close_consultation", frozenset({Role.STAFF}), 422, shows_title=True),
    Route("decisions.add_record", "POST", "/decisions/{d}/records/expert_opinion", frozenset({Role.EXPERT}), 400, shows_title=True),
    Route("decisions.attach", "POST", "/decisions/{d}/attachments", FILERS, 400, shows_title=True),
    Route("decisions.download", "GET", "/decisions/{d}/attachments/{a}", EVERYONE, 200),
    # Allowed handlers are still refused by the law: a disposition needs its reason (Art 15).
    Route("decisions.dispose", "POST", "/decisions/{d}/comments/{c}/disposition", frozenset({Role.STAFF, Role.GOVERNMENT_OFFICE}), 400, shows_title=True, data={"disposition": "adopted", "reason": ""}),
    Route("decisions.moderate", "POST", "/decisions/{d}/comments/{c}/moderation", frozenset({Role.STAFF, Role.GOVERNMENT_OFFICE}), 422, shows_title=True, data={"release": "yes", "reason": "x"}),
    Route("decisions.diff", "GET", "/decisions/{d}/drafts/diff", EVERYONE, 200),
    Route("supervision.audit_log", "GET", "/supervision/audit", frozenset({Role.SUPERVISOR, Role.ADMIN}), 200),
    Route("supervision.verify", "POST", "/supervision/audit/verify", frozenset({Role.SUPERVISOR, Role.ADMIN}), 200),
    Route("supervision.trace", "GET", "/supervision/decisions/{d}/trace", EVERYONE, 200, shows_title=True),
    Route("supervision.dossier", "GET", "/supervision/decisions/{d}/dossier.zip", EVERYONE, 200),
    # the figures: every department for leaders and supervisors, a clerk's own department only
    Route("statistics.index", "GET", "/supervision/statistics", STATISTICS, 200),
    Route("statistics.figure_csv", "GET", "/supervision/statistics/comments.csv", STATISTICS, 200),
    Route("statistics.yearly", "GET", "/supervision/report/2026", STATISTICS, 200),
    Route("portal.index", "GET", "/public/", EVERYONE, 200, public=True, shows_title=True),
    Route("portal.published", "GET", "/public/decisions/", EVERYONE, 200, public=True),
    # not published: the public learns nothing of a decision in progress
    Route("portal.published_decision", "GET", "/public/decisions/{d}", EVERYONE, 404, public=True),
    Route("portal.consultation", "GET", "/public/consultations/{d}", EVERYONE, 200, public=True, shows_title=True),
    Route("portal.consultation", "POST", "/public/consultations/{d}", EVERYONE, 400, public=True, data={"text": ""}),
    Route("admin.users", "GET", "/admin/users", ADMIN, 200),
    Route("admin.users", "POST", "/admin/users", ADMIN, 400),
    Route("admin.departments", "GET", "/admin/departments", ADMIN, 200),
    Route("admin.departments", "POST", "/admin/departments", ADMIN, 400),
    Route("admin.experts", "GET", "/admin/experts", ADMIN, 200),
    Route("admin.experts", "POST", "/admin/experts", ADMIN, 400),
    Route("admin.catalogue", "GET", "/admin/catalogue", ADMIN, 200),
    Route("admin.catalogue", "POST", "/admin/catalogue", ADMIN, 400),
    Route("admin.calendar", "GET", "/admin/calendar", ADMIN, 200),
    Route("admin.check_calendar", "POST", "/admin/calendar/check", ADMIN, 400, data={"text": "years: ["}),
    Route("admin.save_calendar", "POST", "/admin/calendar/save", ADMIN, 400, data={"text": "years: ["}),
    Route("admin.update_user", "POST", "/admin/users/nobody", ADMIN, 404, data={"active": "yes"}),
    Route("auth.choose_language", "POST", "/lang/zh", EVERYONE, 302, public=True, data={"next": "/work"}),
    # A wrong current password refuses the change (and a refusal changes nothing).
    Route("auth.change_password", "GET", "/account/password", EVERYONE, 200),
    Route("auth.change_password", "POST", "/account/password", EVERYONE, 400, data={"current_password": "wrong", "new_password": "x", "confirm_password": "x"}),
    Route("admin.set_email", "POST", "/admin/users/nobody/email", ADMIN, 404, data={"email": "a@b.cn"}),
    Route("inbox.index", "GET", "/inbox/", EVERYONE, 200),
    Route("inbox.mark_read", "POST", "/inbox/999999/read", EVERYONE, 404),
    Route("inbox.mark_all_read", "POST", "/inbox/read-all", EVERYONE, 302),
    Route("followups.index", "GET", "/supervision/follow-ups/", frozenset({Role.SUPERVISOR, Role.STAFF, Role.EXECUTOR}), 200),
    Route("followups.new", "GET", "/supervision/follow-ups/new/{d}", frozenset({Role.SUPERVISOR}), 200, shows_title=True),
    # refused for want of instructions and a date: nothing is opened
    Route("followups.new", "POST", "/supervision/follow-ups/new/{d}", frozenset({Role.SUPERVISOR}), 400, shows_title=True),
    Route("followups.show", "GET", "/supervision/follow-ups/999999", frozenset({Role.SUPERVISOR, Role.STAFF, Role.EXECUTOR}), 404),
    Route("followups.answer", "POST", "/supervision/follow-ups/999999/answer", frozenset({Role.STAFF, Role.EXECUTOR}), 404, data={"answer": "x"}),
    Route("followups.close", "POST", "/supervision/follow-ups/999999/close", frozenset({Role.SUPERVISOR}), 404),
    # Last: it ends the session the walk runs in.
    Route("auth.logout", "POST", "/logout", EVERYONE, 302),
)  # fmt: skip


@pytest.fixture
def scene(web_parts: Parts, web_people: People, clock: Clock) -> Scene:
    """A decision every account role can reach: executed by A, its expert named, a file on it."""
    return open_for_comment(web_parts, web_people, clock)


def test_the_matrix_covers_every_route(app: Flask) -> None:
    """The table names every page and form of the app (the API is tested on its own)."""
    served = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not rule.rule.startswith("/api/")
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    assert served == {(r.endpoint, r.method) for r in ROUTES}


def _request(client: FlaskClient, route: Route, scene: Scene, token: str) -> Any:
    path = route.path.format(d=scene.decision_id, a=scene.attachment_id, c=scene.comment_id)
    if route.method == "GET":
        return client.get(path)
    return client.post(path, data={**route.data, "csrf_token": token})


def _signed_out_to_login(response: Any) -> bool:
    return response.status_code == 302 and urlparse(response.headers["Location"]).path == "/login"


@pytest.mark.parametrize("role", [*ACCOUNT_ROLES, None], ids=[*ACCOUNT_ROLES, "anonymous"])
def test_every_route_for_every_role(
    role: Role | None,
    client: FlaskClient,
    auth: Auth,
    scene: Scene,
    web_parts: Parts,
    web_people: People,
) -> None:
    """Each role gets what the matrix allows, elsewhere 403 without the decision's data; no 500."""
    if role is not None:
        assert auth.login(role).status_code == 302
    token = csrf_token(client, "/login")
    wrong = []
    for route in ROUTES:
        response = _request(client, route, scene, token)
        page = response.data.decode("utf-8", "replace")  # the dossier is a ZIP
        got = response.status_code
        where = f"{route.method} {route.path} as {role or 'anonymous'}: {got}"
        if got >= 500:
            wrong.append(f"{where} (a server error)")
        elif role is None and not route.public:
            if not _signed_out_to_login(response):
                wrong.append(f"{where}, expected a redirect to /login")
        elif role is None or role in route.allowed:
            if got != route.status:
                wrong.append(f"{where}, expected {route.status}")
            elif route.shows_title and TITLE not in page:
                wrong.append(f"{where}: the decision's title is missing")
        elif got != 403:
            wrong.append(f"{where}, expected 403")
        elif TITLE in page:
            wrong.append(f"{where}: a refusal shows the decision's title")
    assert not wrong, "\n".join(wrong)
    after = web_parts.decisions.get(web_people[Role.SUPERVISOR], scene.decision_id)
    assert after.version == scene.version, "walking the matrix changed the decision"


@pytest.mark.parametrize("username", ["staff_b", "executor_b"])
def test_department_b_cannot_reach_department_a_by_guessing_ids(
    username: str,
    client: FlaskClient,
    auth: Auth,
    scene: Scene,
    web_parts: Parts,
    web_people: People,
    clock: Clock,
) -> None:
    """Department B can neither read nor change A's decision by its ids: 403/404, none kept."""
    auth.login(username)
    token = csrf_token(client, "/work")
    d, a = scene.decision_id, scene.attachment_id
    before = snapshot(web_parts, d)
    reads = [
        f"/decisions/{d}",
        f"/decisions/{d}/attachments/{a}",
        f"/decisions/{d}/drafts/diff",
        f"/supervision/decisions/{d}/trace",
        f"/supervision/decisions/{d}/dossier.zip",
    ]
    for path in reads:
        response = client.get(path)
        assert response.status_code in (403, 404), path
        assert TITLE not in response.data.decode("utf-8", "replace"), path
    adoption = step_named("expert_adoption").payload(StepContext(clock.today, ()))

    def writes() -> list[tuple[str, dict[str, Any]]]:
        return [
            (f"/decisions/{d}/actions/start_risk_assessment", {"_version": str(scene.version)}),
            (f"/decisions/{d}/records/expert_adoption", adoption),
            (f"/decisions/{d}/attachments", {"file": (io.BytesIO(b"forged"), "note.txt")}),
        ]

    for path, data in writes():
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code in (403, 404), path
        assert TITLE not in response.get_data(as_text=True), path
    listed = client.get("/decisions/?text=旧城").get_data(as_text=True)
    assert TITLE not in listed
    after = snapshot(web_parts, d)
    assert web_parts.decisions.get(web_people[Role.SUPERVISOR], d).version == scene.version
    assert after.decision == before.decision, "a forbidden request changed the decision"
    assert after.counts == before.counts, "a forbidden request left a record or a file"
    # The very same requests from department A's clerk go through: only the department differed.
    auth.logout()
    auth.login(Role.STAFF)
    token = csrf_token(client, "/work")
    for path, data in writes():
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 302, path


def test_an_attachment_id_of_another_decision_is_not_found(
    client: FlaskClient, auth: Auth, scene: Scene, web_parts: Parts, web_people: People
) -> None:
    """B's clerk asking for A's file under B's own decision gets 404, not A's file."""
    own = web_parts.decisions.create_decision(
        web_people.staff_b,
        title="乙局大气治理方案",
        category="public_policy",
        undertaking_unit="ecology",
    )
    auth.login("staff_b")
    response = client.get(f"/decisions/{own.id}/attachments/{scene.attachment_id}")
    assert response.status_code == 404
    assert "区片" not in response.get_data(as_text=True)


MISSING = 987654
HUGE = 2**64


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.STAFF])
def test_a_missing_decision_is_a_not_found_page(
    role: Role, client: FlaskClient, auth: Auth, scene: Scene
) -> None:
    """Every page and form of a decision that does not exist answers 404 with a page, never 500."""
    auth.login(role)
    token = csrf_token(client, "/work")
    gets = [
        f"/decisions/{MISSING}",
        f"/decisions/{MISSING}/attachments/{scene.attachment_id}",
        f"/decisions/{MISSING}/drafts/diff",
        f"/supervision/decisions/{MISSING}/trace",
        f"/supervision/decisions/{MISSING}/dossier.zip",
        f"/public/consultations/{MISSING}",
        "/decisions/not-a-number",
        # beyond any row id (and any database integer): still just "not found"
        f"/decisions/{HUGE}",
        f"/decisions/{scene.decision_id}/attachments/{HUGE}",
        f"/supervision/decisions/{HUGE}/trace",
        f"/public/consultations/{HUGE}",
    ]
    posts = [
        f"/decisions/{MISSING}/actions/close_consultation",
        f"/decisions/{MISSING}/records/expert_adoption",
        f"/decisions/{MISSING}/attachments",
        f"/public/consultations/{MISSING}",
        f"/decisions/{HUGE}/actions/close_consultation",
    ]
    responses = [(p, client.get(p)) for p in gets]
    responses += [(p, client.post(p, data={"csrf_token": token})) for p in posts]
    for path, response in responses:
        assert response.status_code == 404, path
        page = response.get_data(as_text=True)
        assert "Traceback" not in page
        # The page says so in the user's language.
        assert "未找到" in page or "没有编号为" in page or "未公开征求意见" in page, path


@pytest.mark.parametrize(
    "query",
    [
        f"/decisions/?page={HUGE}",
        "/decisions/?page=-3&state=nowhere&category=x&unit=%25&text=%25_%5C",
        f"/supervision/audit?decision={HUGE}&page={HUGE}",
        "/supervision/audit?decision=-1&since=2026-13-45&until=yesterday&actor=%25",
        f"/decisions/{{d}}/drafts/diff?a={HUGE}&b=-1",
    ],
)
def test_odd_list_parameters_never_break_a_page(
    query: str, client: FlaskClient, auth: Auth, scene: Scene
) -> None:
    """Page numbers and filters typed by hand, however odd, give a page (or 404), never 500."""
    auth.login(Role.SUPERVISOR)
    response = client.get(query.format(d=scene.decision_id))
    assert response.status_code in (200, 404)
    assert "<html" in response.get_data(as_text=True)


def _links(page: str) -> set[str]:
    return {
        href
        for href in re.findall(r'href="([^"]+)"', page)
        if href.startswith("/") and not href.startswith("/static/")
    }


@pytest.mark.parametrize("role", ACCOUNT_ROLES)
def test_no_page_offers_a_link_its_reader_is_refused(
    role: Role, client: FlaskClient, auth: Auth, scene: Scene
) -> None:
    """Every link on a role's pages opens for that role: no menu entry leads to a 403."""
    auth.login(role)
    pages = ["/work", "/decisions/", f"/decisions/{scene.decision_id}"]
    links = set().union(*(_links(client.get(p).get_data(as_text=True)) for p in pages))
    refused = {link: client.get(link).status_code for link in sorted(links)}
    assert {link: s for link, s in refused.items() if s >= 400} == {}


def test_an_administrator_verifies_the_chain_without_reading_the_log(
    client: FlaskClient, auth: Auth, scene: Scene
) -> None:
    """An administrator may verify the audit chain but not browse it (that is supervision's)."""
    auth.login(Role.ADMIN)
    offered = client.get("/supervision/audit").get_data(as_text=True)
    assert 'id="verify-chain"' in offered
    response = client.post("/supervision/audit/verify", data={"csrf_token": csrf_token(client)})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "审计链完整" in page
    # The log's rows name who did what: none of them may show, before or after verifying.
    for shown in (offered, page):
        assert "staff_a" not in shown
        assert "request_expert_opinions" not in shown


def test_a_supervisor_reads_the_log(client: FlaskClient, auth: Auth, scene: Scene) -> None:
    """A supervisor sees who did what on the audit log page."""
    auth.login(Role.SUPERVISOR)
    page = client.get(f"/supervision/audit?decision={scene.decision_id}").get_data(as_text=True)
    assert "staff_a" in page
    assert "request_expert_opinions" in page


def test_opening_a_form_address_in_the_browser_is_a_page_not_a_fault(
    client: FlaskClient, auth: Auth, scene: Scene
) -> None:
    """A form's POST-only address opened in a browser gets a Chinese 405 page, not a 500."""
    auth.login(Role.STAFF)
    for path in ("/logout", f"/decisions/{scene.decision_id}/actions/close_consultation"):
        response = client.get(path)
        assert response.status_code == 405, path
        assert "POST" in response.headers["Allow"]
        assert "此地址不接受这种请求" in response.get_data(as_text=True)
