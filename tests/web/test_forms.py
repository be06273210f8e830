"""The decision forms: refusals shown beside the form with the input kept, and the whole
procedure carried out through the pages alone."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from decisionflow.bootstrap import Parts
from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, StepContext
from decisionflow.models import Decision, StepRecord
from decisionflow.roles import Role
from tests.conftest import PASSWORD, Clock, People
from tests.helpers import audit_events_after, drive, snapshot
from tests.web.conftest import Auth

# -- reading forms as a browser does ---------------------------------------------------------


@dataclass
class Form:
    """A form on a page: where it posts and what a browser would send unchanged."""

    action: str
    values: dict[str, list[str]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    html: str = ""


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: dict[str, Form] = {}
        self.current: Form | None = None
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.current = Form(action=a.get("action", ""))
            self.forms[a.get("id", f"form-{len(self.forms)}")] = self.current
            return
        form = self.current
        if form is None:
            return
        name = a.get("name", "")
        if tag == "input" and name:
            form.names.add(name)
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind != "file":
                form.values.setdefault(name, []).append(a.get("value", ""))
        elif tag == "select" and name:
            form.names.add(name)
            self.select = name
            form.values.setdefault(name, [])
        elif tag == "option" and self.select and "selected" in a:
            form.values[self.select].append(a.get("value", ""))
        elif tag == "textarea" and name:
            form.names.add(name)
            self.textarea = name
            form.values[name] = [""]

    def handle_data(self, data: str) -> None:
        if self.current is not None and self.textarea:
            self.current.values[self.textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def forms_of(page: str) -> dict[str, Form]:
    """The page's forms by id, with each form's HTML for checks of what it shows."""
    parser = _Forms()
    parser.feed(page)
    for form_id, form in parser.forms.items():
        found = re.search(rf'<form[^>]*id="{re.escape(form_id)}".*?</form>', page, re.S)
        form.html = unescape(found.group(0)) if found else ""
    return parser.forms


def _as_form_values(payload: dict[str, Any]) -> dict[str, list[str]]:
    """A payload as a browser sends it: checkboxes as "true", numbers and ids as text."""
    sent: dict[str, list[str]] = {}
    for name, value in payload.items():
        if isinstance(value, bool):
            if value:
                sent[name] = ["true"]
        elif isinstance(value, (list, tuple)):
            sent[name] = [str(v) for v in value]
        else:
            sent[name] = [str(value)]
    return sent


def submit(
    client: FlaskClient, page: str, form_id: str, typed: dict[str, Any], url: str = ""
) -> Any:
    """Fill a form of the page (found at `url`) with `typed` over what it holds, and send it."""
    forms = forms_of(page)
    assert form_id in forms, f"the page offers no form {form_id!r}: {sorted(forms)}"
    form = forms[form_id]
    missing = set(typed) - form.names
    assert not missing, f"form {form_id!r} has no field for {missing}"
    data = {**form.values, **_as_form_values(typed)}
    return client.post(form.action or url, data=data)  # no action: back to the page itself


def flashes(page: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="flash"[^>]*>(.*?)</p>', page, re.S)]


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def drafted(web_parts: Parts, web_people: People, clock: Clock) -> int:
    """Department A's decision submitted for participation and argumentation."""
    return drive(web_parts, web_people, clock, through="submit_for_argumentation").id


def _page(client: FlaskClient, decision_id: int) -> str:
    response = client.get(f"/decisions/{decision_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# -- refusals beside the form ----------------------------------------------------------------


def test_a_deadline_too_soon_is_refused_beside_the_form_with_the_input_kept(
    client: FlaskClient, auth: Auth, web_parts: Parts, drafted: int, clock: Clock
) -> None:
    """A too-short comment period is refused (422) in its form, citing Art 15, input kept."""
    auth.login(Role.STAFF)
    before = snapshot(web_parts, drafted)
    soon = (clock.today + timedelta(days=10)).isoformat()
    typed = {
        "explanation": "起草说明：补偿标准测算依据",
        "how_to_comment": "信函",
        "deadline": soon,
    }
    response = submit(client, _page(client, drafted), "open_consultation", typed)
    assert response.status_code == 422
    form = forms_of(response.get_data(as_text=True))["open_consultation"]
    assert "Art 15" in form.html
    assert "须距今至少 30 日" in form.html
    assert form.values["explanation"] == ["起草说明：补偿标准测算依据"]
    assert form.values["how_to_comment"] == ["信函"]
    assert form.values["deadline"] == [soon]
    after = snapshot(web_parts, drafted)
    assert after.decision == before.decision


def test_a_missing_field_is_named_next_to_it(
    client: FlaskClient, auth: Auth, drafted: int, clock: Clock
) -> None:
    """A required field left empty gets 400 and its message under that field; other input kept."""
    auth.login(Role.STAFF)
    deadline = (clock.today + timedelta(days=40)).isoformat()
    typed = {"explanation": "", "how_to_comment": "信函", "deadline": deadline}
    response = submit(client, _page(client, drafted), "open_consultation", typed)
    assert response.status_code == 400
    form = forms_of(response.get_data(as_text=True))["open_consultation"]
    field_html = re.search(
        r'<div class="field has-error">\s*<label for="open_consultation-explanation">.*?</div>',
        form.html,
        re.S,
    )
    assert field_html, "the explanation field is marked as faulty"
    assert "必须填写" in field_html.group(0)
    assert form.values["how_to_comment"] == ["信函"]
    assert form.values["deadline"] == [deadline]


def test_a_stale_page_gets_the_conflict_message(
    client: FlaskClient, auth: Auth, web_parts: Parts, web_people: People, drafted: int
) -> None:
    """A form from a page changed since gets 409 and a plain "reload" message; nothing done."""
    auth.login(Role.STAFF)
    page = _page(client, drafted)
    # A colleague starts the risk assessment meanwhile.
    web_parts.decisions.fire(web_people[Role.STAFF], drafted, "start_risk_assessment", {})
    before = snapshot(web_parts, drafted)
    response = submit(
        client, page, "request_expert_opinions", {"experts": [web_people[Role.EXPERT].id]}
    )
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "已被他人修改" in text
    assert "刷新" in text
    assert "Traceback" not in text and "Conflict(" not in text
    assert snapshot(web_parts, drafted).decision == before.decision


def test_a_lawful_action_redirects_and_says_the_new_stage(
    client: FlaskClient, auth: Auth, web_parts: Parts, web_people: People, clock: Clock
) -> None:
    """A lawful action redirects to the decision, whose flash names the stage it now stands at."""
    decision_id = drive(web_parts, web_people, clock, through="proposal").id
    auth.login(Role.CHIEF_EXECUTIVE)
    response = submit(
        client, _page(client, decision_id), "start_procedure", {"reasons": "列入目录"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/decisions/{decision_id}"
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已办理。决策现处于：起草" in flashes(shown)


def test_a_refused_new_decision_keeps_what_was_typed(
    client: FlaskClient, auth: Auth, web_parts: Parts
) -> None:
    """Proposing without a category is refused beside the field; title, co-unit and flags stay."""
    auth.login(Role.STAFF)
    page = client.get("/decisions/new").get_data(as_text=True)
    forms = forms_of(page)
    (form_id,) = [k for k, f in forms.items() if "title" in f.names]
    typed = {
        "title": "老旧小区改造方案",
        "category": "",
        "co_units": ["ecology"],
        "flags": ["professional"],
    }
    response = submit(client, page, form_id, typed, "/decisions/new")
    assert response.status_code == 400
    shown = response.get_data(as_text=True)
    form = forms_of(shown)[form_id]
    assert form.values["title"] == ["老旧小区改造方案"]
    assert form.values["co_units"] == ["ecology"]
    assert form.values["flags"] == ["professional"]
    assert "应为条例第三条所列类别之一" in shown
    with web_parts.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 0


# -- the whole procedure through the pages ---------------------------------------------------


def test_the_whole_procedure_through_the_web_forms(
    client: FlaskClient, auth: Auth, web_parts: Parts, web_people: People, clock: Clock
) -> None:
    """Each role in turn, by its pages' forms alone, takes a decision to the archive; chain ok."""
    auth.login(Role.STAFF)
    page = client.get("/decisions/new").get_data(as_text=True)
    (form_id,) = [k for k, f in forms_of(page).items() if "title" in f.names]
    typed = {
        "title": "征地补偿标准调整",
        "category": "public_policy",
        "flags": [name for name, on in FLAGS_FOR_PATH.items() if on],
    }
    created = submit(client, page, form_id, typed, "/decisions/new")
    assert created.status_code == 302
    decision_id = int(created.headers["Location"].rsplit("/", 1)[1])
    signed_in: Role | None = Role.STAFF
    for step in MAJOR_DECISION_PATH:
        clock.advance(days=step.wait_days, minutes=5)
        if step.role is not signed_in:
            auth.logout()
            assert auth.login(step.role).status_code == 302
            signed_in = step.role
        ctx = StepContext(
            today=clock.today, expert_ids=(web_people[Role.EXPERT].id,), password=PASSWORD
        )
        form_id = step.name if step.kind == "fire" else f"record-{step.name}"
        typed = step.payload(ctx)
        if step.signed:  # the signer re-enters the password in the form's own field
            typed["password"] = PASSWORD
        response = submit(client, _page(client, decision_id), form_id, typed)
        assert response.status_code == 302, (
            f"{step.name} by {step.role}: {response.status_code}\n"
            + "\n".join(
                re.findall(r'<div class="refusal".*?</div>', response.get_data(as_text=True), re.S)
            )
        )
        shown = client.get(response.headers["Location"]).get_data(as_text=True)
        expected = "已办理。决策现处于：" if step.kind == "fire" else "记录已添加。"
        assert any(m.startswith(expected) for m in flashes(shown)), (step.name, flashes(shown))
    final = web_parts.decisions.get(web_people[Role.SUPERVISOR], decision_id)
    assert final.state == "archived"
    assert "已办理。决策现处于：已归档" in flashes(shown)
    done = [e for e in audit_events_after(web_parts, 0) if e.decision_id == decision_id]
    assert all(e.outcome == "done" for e in done), "the web path made no refused attempt"
    assert all(e.origin.startswith("web ") for e in done)
    assert web_parts.verify_audit().ok


# -- signed records --------------------------------------------------------------------------


@pytest.fixture
def consulting(web_parts: Parts, web_people: People, clock: Clock) -> int:
    """Department A's decision whose expert has been asked for a signed opinion."""
    return drive(web_parts, web_people, clock, through="request_expert_opinions").id


def _opinion_form(client: FlaskClient, decision_id: int) -> tuple[str, str]:
    """The decision page and the name of its signed opinion form, which asks for the password."""
    page = _page(client, decision_id)
    assert 'name="password" type="password"' in forms_of(page)["record-expert_opinion"].html
    return page, "record-expert_opinion"


def test_signing_without_the_password_is_refused_beside_it(
    client: FlaskClient, auth: Auth, web_parts: Parts, consulting: int
) -> None:
    """An opinion sent without the signing password gets 400 under the password field, text kept."""
    auth.login(Role.EXPERT)
    before = snapshot(web_parts, consulting)
    page, form_id = _opinion_form(client, consulting)
    response = submit(client, page, form_id, {"opinion": "测算方法科学"})
    assert response.status_code == 400
    form = forms_of(response.get_data(as_text=True))[form_id]
    assert re.search(r'has-error">\s*<label for="record-expert_opinion-password">', form.html)
    assert "请重新输入您的密码以签署" in form.html
    assert form.values["opinion"] == ["测算方法科学"]
    assert snapshot(web_parts, consulting).counts == before.counts


def test_a_wrong_signing_password_is_refused_beside_the_form_and_never_shown(
    client: FlaskClient, auth: Auth, web_parts: Parts, consulting: int
) -> None:
    """A wrong password signs nothing (403), said beside the form; opinion kept, password not."""
    auth.login(Role.EXPERT)
    page, form_id = _opinion_form(client, consulting)
    wrong = "not-my-password-1234"
    response = submit(client, page, form_id, {"opinion": "测算方法科学", "password": wrong})
    assert response.status_code == 403
    shown = response.get_data(as_text=True)
    form = forms_of(shown)[form_id]
    assert "密码不正确，未签署" in form.html
    assert form.values["opinion"] == ["测算方法科学"]
    assert wrong not in shown


def test_a_signed_opinion_keeps_no_password(
    client: FlaskClient, auth: Auth, web_parts: Parts, consulting: int
) -> None:
    """A signed opinion is recorded with its signature; the password is in no record or event."""
    auth.login(Role.EXPERT)
    head = snapshot(web_parts, consulting).audit_seq
    page, form_id = _opinion_form(client, consulting)
    response = submit(client, page, form_id, {"opinion": "测算方法科学", "password": PASSWORD})
    assert response.status_code == 302
    events = audit_events_after(web_parts, head)
    assert [e.outcome for e in events] == ["done"]
    with web_parts.sessions() as session:
        (record,) = session.scalars(select(StepRecord).where(StepRecord.kind == "expert_opinion"))
    assert record.data["opinion"] == "测算方法科学"
    assert "signature" in record.data
    assert "password" not in record.data
    for kept in (str(record.data), *(str(vars(e)) for e in events)):
        assert PASSWORD not in kept
