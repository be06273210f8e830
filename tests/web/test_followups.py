"""Follow-up pages: a supervisor opens one from the decision page, the unit answers, the supervisor closes."""

from __future__ import annotations

import re
from datetime import timedelta

from decisionflow import queries
from decisionflow.roles import Role
from tests.web.conftest import csrf_token


def new_decision(web_parts, web_people) -> int:
    """A decision of department A."""
    return web_parts.decisions.create_decision(
        web_people[Role.STAFF],
        title="公共停车场建设",
        category="public_policy",
        undertaking_unit="housing",
    ).id


def test_supervisor_opens_unit_answers_supervisor_closes(
    client, auth, web_parts, web_people, clock
):
    """The whole follow-up through the pages, each step shown to the next person."""
    decision_id = new_decision(web_parts, web_people)
    auth.login(Role.SUPERVISOR)
    page = client.get(f"/decisions/{decision_id}").get_data(as_text=True)
    assert f'href="/supervision/follow-ups/new/{decision_id}"' in page
    token = csrf_token(client, f"/supervision/follow-ups/new/{decision_id}")
    due = (clock.today + timedelta(days=5)).isoformat()
    opened = client.post(
        f"/supervision/follow-ups/new/{decision_id}",
        data={"csrf_token": token, "instructions": "说明选址论证情况", "due": due},
    )
    assert opened.status_code == 302
    follow_up_path = opened.headers["Location"]
    assert re.fullmatch(r"/supervision/follow-ups/\d+", follow_up_path)
    auth.logout()

    auth.login(Role.STAFF)
    listed = client.get("/supervision/follow-ups/").get_data(as_text=True)
    assert "公共停车场建设" in listed and due in listed
    work = client.get("/work").get_data(as_text=True)
    assert "待答复的督办" in work and f'href="{follow_up_path}"' in work
    token = csrf_token(client, follow_up_path)
    answered = client.post(
        f"{follow_up_path}/answer",
        data={"csrf_token": token, "answer": "已完成三处备选地块比选"},
        follow_redirects=True,
    )
    assert answered.status_code == 200
    assert "已完成三处备选地块比选" in answered.get_data(as_text=True)
    assert 'id="close-follow-up"' not in answered.get_data(as_text=True)  # units never close
    auth.logout()

    auth.login(Role.SUPERVISOR)
    token = csrf_token(client, follow_up_path)
    closed = client.post(
        f"{follow_up_path}/close",
        data={"csrf_token": token, "note": "办结"},
        follow_redirects=True,
    )
    text = closed.get_data(as_text=True)
    assert closed.status_code == 200 and "已办结" in text
    decision_page = client.get(f"/decisions/{decision_id}").get_data(as_text=True)
    assert follow_up_path in decision_page
    # the decision's timeline names each step of the follow-up in the page's language
    for step in ("列入督办", "答复督办", "办结督办"):
        assert step in decision_page
    assert "open_follow_up" not in decision_page


def test_a_faulty_form_keeps_what_was_typed(client, auth, web_parts, web_people, clock):
    """A date in the past is named beside its field; the instructions typed stay."""
    decision_id = new_decision(web_parts, web_people)
    auth.login(Role.SUPERVISOR)
    token = csrf_token(client, f"/supervision/follow-ups/new/{decision_id}")
    yesterday = (clock.today - timedelta(days=1)).isoformat()
    response = client.post(
        f"/supervision/follow-ups/new/{decision_id}",
        data={"csrf_token": token, "instructions": "说明资金来源", "due": yesterday},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "不能早于今天" in page
    assert "说明资金来源</textarea>" in page and f'value="{yesterday}"' in page


def test_only_supervisors_reach_the_opening_form(client, auth, web_parts, web_people):
    """A clerk sees no link and is refused the form."""
    decision_id = new_decision(web_parts, web_people)
    auth.login(Role.STAFF)
    page = client.get(f"/decisions/{decision_id}").get_data(as_text=True)
    assert "/supervision/follow-ups/new/" not in page
    assert client.get(f"/supervision/follow-ups/new/{decision_id}").status_code == 403


def test_another_unit_is_refused_the_answer_with_the_reason(
    client, auth, web_parts, web_people, clock
):
    """Department B's clerk cannot open or answer department A's follow-up."""
    decision_id = new_decision(web_parts, web_people)
    follow_up_id = web_parts.follow_ups.open(
        web_people[Role.SUPERVISOR], decision_id, instructions="x", due=clock.today.isoformat()
    )
    auth.login("staff_b")
    assert client.get(f"/supervision/follow-ups/{follow_up_id}").status_code == 403
    token = csrf_token(client, "/inbox/")
    refused = client.post(
        f"/supervision/follow-ups/{follow_up_id}/answer", data={"csrf_token": token, "answer": "y"}
    )
    assert refused.status_code == 403
    assert '<span class="article">Art 34, Art 38</span>' in refused.get_data(as_text=True)
    assert web_parts.follow_ups.get(web_people[Role.SUPERVISOR], follow_up_id).status == "open"


def test_a_clerk_sending_the_supervisors_forms_is_refused_by_the_rule_and_on_record(
    client, auth, web_parts, web_people, clock
):
    """Opening or closing a follow-up by a clerk: 403 naming the rule's article, nothing
    opened or closed, and each refused attempt in the audit log."""
    decision_id = new_decision(web_parts, web_people)
    follow_up_id = web_parts.follow_ups.open(
        web_people[Role.SUPERVISOR], decision_id, instructions="x", due=clock.today.isoformat()
    )
    auth.login(Role.STAFF)
    token = csrf_token(client, "/inbox/")
    sent = {
        "open_follow_up": client.post(
            f"/supervision/follow-ups/new/{decision_id}",
            data={"csrf_token": token, "instructions": "y", "due": clock.today.isoformat()},
        ),
        "close_follow_up": client.post(
            f"/supervision/follow-ups/{follow_up_id}/close",
            data={"csrf_token": token, "note": "办结"},
        ),
    }
    for response in sent.values():
        assert response.status_code == 403
        page = response.get_data(as_text=True)
        assert "只有监督人员可以" in page
        assert '<span class="article">Art 34, Art 38</span>' in page
    supervisor = web_people[Role.SUPERVISOR]
    listed = web_parts.follow_ups.listing(supervisor, decision_id=decision_id)
    assert [(f.id, f.status) for f in listed] == [(follow_up_id, "open")]
    with web_parts.readers() as db:
        events = queries.audit_page(db, actor="staff_a", per_page=10).items
    assert {(e.action, e.outcome) for e in events} >= {
        ("open_follow_up", "not_permitted"),
        ("close_follow_up", "not_permitted"),
    }


def test_overdue_follow_ups_are_highlighted_in_the_supervisors_list(
    client, auth, web_parts, web_people, clock
):
    """A follow-up past its date is marked overdue, listed first."""
    decision_id = new_decision(web_parts, web_people)
    web_parts.follow_ups.open(
        web_people[Role.SUPERVISOR], decision_id, instructions="x", due=clock.today.isoformat()
    )
    clock.advance(days=3)
    auth.login(Role.SUPERVISOR)
    page = client.get("/supervision/follow-ups/").get_data(as_text=True)
    assert re.search(r'<tr class="overdue" id="follow-up-\d+">', page)
    assert "已逾期" in page


def test_the_decision_page_shows_a_running_deadline_and_when_it_is_late(
    client, auth, web_parts, web_people, clock
):
    """A published normative document shows its filing deadline, marked overdue after it."""
    from tests.integration.test_normative_document import drive, new_document

    document = new_document(web_parts, web_people)
    drive(web_parts, web_people, clock, document.id, before="file_with_authority")
    due = (clock.today + timedelta(days=15)).isoformat()
    auth.login(Role.SUPERVISOR)
    page = client.get(f"/decisions/{document.id}").get_data(as_text=True)
    assert f"{due} 到期" in page and "GOV-2018-37 §3(8)" in page
    assert '<li class="overdue">' not in page
    clock.advance(days=16)
    late = client.get(f"/decisions/{document.id}").get_data(as_text=True)
    assert '<li class="overdue">报送备案' in late


def test_a_refused_answer_keeps_what_the_clerk_wrote(client, auth, web_parts, web_people, clock):
    """An answer over the length limit is refused beside its form, the text kept to shorten."""
    decision_id = new_decision(web_parts, web_people)
    follow_up_id = web_parts.follow_ups.open(
        web_people[Role.SUPERVISOR], decision_id, instructions="x", due=clock.today.isoformat()
    )
    auth.login(Role.STAFF)
    path = f"/supervision/follow-ups/{follow_up_id}"
    long_answer = "进度说明" * 1300  # 5200 characters
    refused = client.post(
        f"{path}/answer", data={"csrf_token": csrf_token(client, path), "answer": long_answer}
    )
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "不超过 5000 字" in page and f"{long_answer}</textarea>" in page
    assert web_parts.follow_ups.get(web_people[Role.SUPERVISOR], follow_up_id).status == "open"


def test_an_answer_sent_after_a_colleagues_is_refused_visibly_and_keeps_its_text(
    client, auth, web_parts, web_people, clock
):
    """Two clerks had the follow-up open; the second to send sees why, and their text."""
    decision_id = new_decision(web_parts, web_people)
    follow_up_id = web_parts.follow_ups.open(
        web_people[Role.SUPERVISOR], decision_id, instructions="x", due=clock.today.isoformat()
    )
    auth.login(Role.STAFF)
    path = f"/supervision/follow-ups/{follow_up_id}"
    token = csrf_token(client, path)
    # a colleague of the same unit answers first, while this clerk's form is still open
    web_parts.follow_ups.answer(web_people[Role.STAFF], follow_up_id, answer="已完成第一阶段。")
    late = "第二份说明：整改将于下月完成。"
    refused = client.post(f"{path}/answer", data={"csrf_token": token, "answer": late})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert '<div class="refusal" role="alert">' in page  # the reason, with its article
    assert "该督办已答复或已办结，不能再答复" in page
    assert '<span class="article">Art 34, Art 38</span>' in page
    assert 'id="answer-follow-up"' not in page  # no form to answer again
    assert late in page  # what was typed is shown, not lost
    kept = web_parts.follow_ups.get(web_people[Role.SUPERVISOR], follow_up_id)
    assert kept.answer == "已完成第一阶段。"
