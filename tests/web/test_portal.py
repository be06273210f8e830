"""The public portal: drafts open for comment, receipts, privacy of contact details, abuse limits."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from decisionflow import audit
from decisionflow.bootstrap import Parts
from decisionflow.demo import StepContext
from decisionflow.models import AuditEvent, PublicComment
from decisionflow.participation import COMMENTS_PER_HOUR
from decisionflow.roles import Role
from tests.conftest import Clock, People
from tests.helpers import drive, step_named
from tests.web.conftest import Auth, csrf_token

TITLE = "征地补偿标准调整"
CONTACT = "139-0000-7788 zhang.san@example.cn"


@pytest.fixture
def opened(web_parts: Parts, web_people: People, clock: Clock) -> int:
    """Department A's draft, open for public comment from today for 31 days."""
    return drive(web_parts, web_people, clock, through="open_consultation", title=TITLE).id


def _comment(client: FlaskClient, decision_id: int, **fields: str) -> Any:
    path = f"/public/consultations/{decision_id}"
    return client.post(path, data={**fields, "csrf_token": csrf_token(client, path)})


def _comments(parts: Parts) -> list[PublicComment]:
    with parts.sessions() as session:
        return list(session.scalars(select(PublicComment).order_by(PublicComment.id)))


def test_an_open_consultation_is_listed_with_its_deadline(
    client: FlaskClient, opened: int, clock: Clock
) -> None:
    """Anyone, signed out, finds the draft on the portal with the last day for comments."""
    deadline = (clock.today + timedelta(days=31)).isoformat()
    index = client.get("/public/").get_data(as_text=True)
    assert TITLE in index
    assert f'href="/public/consultations/{opened}"' in index
    assert f"意见截止：{deadline}" in index
    page = client.get(f"/public/consultations/{opened}").get_data(as_text=True)
    assert f"意见截止：{deadline}" in page
    assert "Art 15" in page
    draft = step_named("draft_version").payload(StepContext(clock.today, ()))["content"]
    assert html.escape(draft, quote=False) in page  # the draft itself, to comment on


def test_a_comment_gets_a_receipt_number_on_the_page(
    client: FlaskClient, opened: int, web_parts: Parts
) -> None:
    """A comment is taken and the page shows the receipt number it is kept under."""
    response = _comment(client, opened, text="建议延长过渡期", name="张三")
    assert response.status_code == 200
    (comment,) = _comments(web_parts)
    assert comment.text == "建议延长过渡期"
    assert comment.status == "received"
    page = response.get_data(as_text=True)
    assert f'<strong id="receipt">{comment.receipt}</strong>' in page
    assert "回执编号" in page
    assert "人工审核" not in page  # nothing held: no promise of a check


def test_contact_details_stay_private(
    app: Flask, client: FlaskClient, auth: Auth, opened: int, web_parts: Parts
) -> None:
    """A commenter's contact is kept for staff only: in no audit event, on no public page or log."""
    address = "10.9.8.7"
    commenter = app.test_client()
    commenter.environ_base["REMOTE_ADDR"] = address
    receipt_page = _comment(commenter, opened, text="支持", name="李四", contact=CONTACT)
    assert receipt_page.status_code == 200
    (comment,) = _comments(web_parts)
    assert comment.contact == CONTACT  # kept, for the staff who answer
    with web_parts.sessions() as session:
        events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "submit_comment"))
        )
    assert len(events) == 1
    (event,) = events
    for column in AuditEvent.__table__.columns:
        value = str(getattr(event, column.key))
        assert "139-0000" not in value and "zhang.san" not in value, column.key
        assert address not in value, column.key  # the address neither: only a keyed digest
    # What the audit digests is the comment, its name, and only *that* a contact was given.
    kept = {"text": "支持", "name": "李四", "contact_given": True}
    assert event.payload_digest == audit.digest(kept)
    public = [
        receipt_page.get_data(as_text=True),
        client.get("/public/").get_data(as_text=True),
        client.get(f"/public/consultations/{opened}").get_data(as_text=True),
    ]
    auth.login(Role.SUPERVISOR)
    public.append(client.get("/supervision/audit").get_data(as_text=True))
    public.append(client.get(f"/supervision/decisions/{opened}/trace").get_data(as_text=True))
    for page in public:
        assert "139-0000" not in page and "zhang.san" not in page


def test_a_filled_honeypot_holds_the_comment_for_a_person(
    client: FlaskClient, opened: int, web_parts: Parts
) -> None:
    """A form filled by software (the hidden field too) is held; the receipt says a person looks."""
    response = _comment(client, opened, text="好", website="http://spam.example")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "您的意见将经人工审核后纳入记录" in page
    (comment,) = _comments(web_parts)
    assert comment.status == "held"
    assert comment.receipt in page


def test_too_many_comments_from_one_address_are_refused_with_429(
    app: Flask, opened: int, web_parts: Parts
) -> None:
    """Past the hourly limit one address gets 429, "try later", text kept; others unaffected."""
    flood = app.test_client()
    flood.environ_base["REMOTE_ADDR"] = "10.0.0.66"
    for n in range(COMMENTS_PER_HOUR):
        assert _comment(flood, opened, text=f"意见{n}").status_code == 200
    refused = _comment(flood, opened, text="再提一条意见", name="王五")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "同一地址一小时内提交的意见过多，请稍后再试" in page
    assert "再提一条意见</textarea>" in page
    assert 'value="王五"' in page
    assert len(_comments(web_parts)) == COMMENTS_PER_HOUR
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.67"
    assert _comment(other, opened, text="我也有意见").status_code == 200


def test_a_refused_comment_keeps_what_was_typed(
    client: FlaskClient, opened: int, web_parts: Parts
) -> None:
    """An over-long comment is refused (400) beside its field with name, contact and text kept."""
    text = "很长的意见" * 1001  # 5005 characters
    response = _comment(client, opened, text=text, name="赵六", contact="信箱 88")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(r'class="field has-error">\s*<label for="text">', page)
    assert "不能超过 5000 字" in page
    assert f">{text}</textarea>" in page
    assert 'value="赵六"' in page and 'value="信箱 88"' in page
    assert _comments(web_parts) == []


def test_a_closed_or_unknown_consultation_is_not_found(
    client: FlaskClient, web_parts: Parts, web_people: People, clock: Clock
) -> None:
    """A closed or unknown consultation answers 404 to its page and its form, and is not listed."""
    closed = drive(web_parts, web_people, clock, through="close_consultation", title=TITLE).id
    for decision_id in (closed, 424242):
        path = f"/public/consultations/{decision_id}"
        assert client.get(path).status_code == 404
        token = csrf_token(client, "/public/")
        response = client.post(path, data={"text": "晚到的意见", "csrf_token": token})
        assert response.status_code == 404
        assert "该草案目前未公开征求意见" in response.get_data(as_text=True)
    assert TITLE not in client.get("/public/").get_data(as_text=True)
    assert _comments(web_parts) == []


def test_a_consultation_past_its_deadline_takes_no_comment(
    client: FlaskClient, opened: int, web_parts: Parts, clock: Clock
) -> None:
    """Once the deadline has passed, even before the clerk closes it, the draft is off the portal."""
    token = csrf_token(client, f"/public/consultations/{opened}")
    clock.advance(days=32)
    path = f"/public/consultations/{opened}"
    assert client.get(path).status_code == 404
    assert client.post(path, data={"text": "迟到", "csrf_token": token}).status_code == 404
    assert _comments(web_parts) == []


def test_a_comment_with_control_characters_is_refused_not_a_fault(
    client: FlaskClient, opened: int, web_parts: Parts
) -> None:
    """A NUL or control character in a comment is refused (400) by its field; line breaks pass."""
    response = _comment(client, opened, text="第一行\n第二行\x00", name="钱\x07七")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count("含有不可见的控制字符") == 2
    assert _comments(web_parts) == []
    assert _comment(client, opened, text="第一行\r\n第二行\t完").status_code == 200
