"""Staff dispose of public comments on the decision page; contact details stay with them."""

from __future__ import annotations

import pytest

from decisionflow.roles import Role
from tests.helpers import drive
from tests.web.conftest import csrf_token


@pytest.fixture
def commented(web_parts, web_people, clock):
    """A decision under consultation with one comment that left a contact."""
    decision = drive(web_parts, web_people, clock, through="open_consultation")
    web_parts.participation.submit_comment(
        decision.id,
        text="建议延长过渡期",
        name="村民张某",
        contact="13900000000",
        address="10.0.0.9",
    )
    with web_parts.sessions() as session:
        [comment] = web_parts.participation.comments(session, decision.id)
    return decision.id, comment.id


def test_the_clerk_sees_the_contact_and_records_a_disposition(client, auth, commented, web_parts):
    """The undertaking unit's clerk sees the private contact and disposes through the form."""
    decision_id, comment_id = commented
    auth.login(Role.STAFF)
    page = client.get(f"/decisions/{decision_id}").get_data(as_text=True)
    assert "13900000000" in page and f'id="dispose-{comment_id}"' in page
    token = csrf_token(client, f"/decisions/{decision_id}")
    refused = client.post(
        f"/decisions/{decision_id}/comments/{comment_id}/disposition",
        data={"csrf_token": token, "disposition": "not_adopted", "reason": ""},
    )
    assert refused.status_code == 400
    assert "须说明采纳或不采纳的理由" in refused.get_data(as_text=True)
    done = client.post(
        f"/decisions/{decision_id}/comments/{comment_id}/disposition",
        data={"csrf_token": token, "disposition": "partly_adopted", "reason": "过渡期延长至六个月"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    text = done.get_data(as_text=True)
    assert "部分采纳" in text and "过渡期延长至六个月" in text


def test_a_supervisor_reads_the_comments_without_the_contact(client, auth, commented):
    """Supervisors read every comment and its disposition, never the private contact."""
    decision_id, _ = commented
    auth.login(Role.SUPERVISOR)
    page = client.get(f"/decisions/{decision_id}").get_data(as_text=True)
    assert "建议延长过渡期" in page
    assert "13900000000" not in page
    assert "dispose-" not in page


def test_another_department_cannot_dispose(client, auth, commented, web_parts):
    """Department B's clerk gets 403 and the comment keeps no disposition."""
    decision_id, comment_id = commented
    auth.login("staff_b")
    token = csrf_token(client, "/work")
    answer = client.post(
        f"/decisions/{decision_id}/comments/{comment_id}/disposition",
        data={"csrf_token": token, "disposition": "adopted", "reason": "x"},
    )
    assert answer.status_code == 403
    with web_parts.sessions() as session:
        [comment] = web_parts.participation.comments(session, decision_id)
    assert comment.disposition is None
