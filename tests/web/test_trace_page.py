"""The accountability trace page: per step, the responsible persons and what each signed, said
or decided, with hashes and the chain's check; one step alone with ?step=."""

from __future__ import annotations

import re

from sqlalchemy import select

from decisionflow.models import DraftVersion
from decisionflow.roles import Role
from tests.helpers import drive, take
from tests.yearbook import seed_year


def test_the_trace_shows_who_signed_said_and_decided_what_at_each_step(
    client, auth, web_parts, web_people, clock
):
    """The meeting's dissents and the chief's reasons, the signed opinion's draft hash, the check."""
    year = seed_year(web_parts, web_people, clock)
    auth.login(Role.SUPERVISOR)
    response = client.get(f"/supervision/decisions/{year.d2}/trace")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "审计链已核验" in page and 'class="verification ok"' in page
    assert page.count('class="card trace-step"') >= 6
    meeting = page[page.index('data-step="collective_discussion"') :]
    meeting = meeting[: meeting.index("</section>")]
    assert "责任人员" in meeting and "chief_executive (chief_executive_a)" in meeting
    assert meeting.count("记录在案的不同意见") == 2
    assert "与多数意见不一致的理由" in meeting and "改造资金已落实，群众诉求迫切" in meeting
    with web_parts.readers() as session:
        draft = session.scalars(
            select(DraftVersion)
            .where(DraftVersion.decision_id == year.d2)
            .order_by(DraftVersion.number.desc())
        ).first()
    review = page[page.index('data-step="legality_review"') :]
    review = review[: review.index("</section>")]
    assert f"<code>{draft.sha256}</code>" in review  # the signed opinion's draft, in full
    assert re.search(r"<code>[0-9a-f]{64}</code>", review)  # each event's hash

    one = client.get(f"/supervision/decisions/{year.d2}/trace?step=collective_discussion")
    steps = re.findall(r'data-step="([a-z_]+)"', one.get_data(as_text=True))
    assert steps == ["collective_discussion"]


def test_another_department_may_not_read_the_trace(client, auth, web_parts, web_people, clock):
    """The ecology clerk is refused the housing bureau's trace."""
    year = seed_year(web_parts, web_people, clock)
    auth.login("staff_b")
    assert client.get(f"/supervision/decisions/{year.d2}/trace").status_code == 403
    auth.login(Role.SUPERVISOR)
    assert client.get("/supervision/decisions/999999/trace").status_code == 404


def test_a_second_look_says_what_an_earlier_walk_verified_and_offers_a_full_check(
    client, auth, web_parts, web_people, clock
):
    """The banner never passes a remembered walk off as a check made now; ?full=1 walks it all."""
    year = seed_year(web_parts, web_people, clock)
    auth.login(Role.SUPERVISOR)
    path = f"/supervision/decisions/{year.d2}/trace"
    assert "此刻从第一条事件核验" in client.get(path).get_data(as_text=True)
    again = client.get(path).get_data(as_text=True)
    assert "由本服务器于" in again and 'id="full-check"' in again
    full = client.get(f"{path}?full=1").get_data(as_text=True)
    assert "此刻从第一条事件核验" in full and 'class="verification ok"' in full


def test_only_those_who_may_verify_the_chain_may_walk_it_all_again(
    client, auth, web_parts, web_people, clock
):
    """The clerk reads the trace of the own decision, but neither sees nor may use the full walk."""
    year = seed_year(web_parts, web_people, clock)
    path = f"/supervision/decisions/{year.d2}/trace"
    auth.login(Role.SUPERVISOR)
    client.get(path)  # a walk this server then remembers
    assert 'id="full-check"' in client.get(path).get_data(as_text=True)
    auth.login(Role.STAFF)
    page = client.get(path)
    assert page.status_code == 200 and 'id="full-check"' not in page.get_data(as_text=True)
    refused = client.get(f"{path}?full=1")
    assert refused.status_code == 403
    assert "您的角色不能核验审计链" in refused.get_data(as_text=True)


def test_the_trace_names_the_experts_a_record_assigns(client, auth, web_parts, web_people, clock):
    """The expert assignment's experts show by display name in the trace, as on the decision
    page: read with the trace, never looked up field by field."""
    view = drive(web_parts, web_people, clock, through="request_expert_opinions")
    take(web_parts, web_people, clock, view.id, "expert_opinion")
    expert = web_people[Role.EXPERT]
    auth.login(Role.SUPERVISOR)
    page = client.get(f"/supervision/decisions/{view.id}/trace").get_data(as_text=True)
    step = page[page.index('data-action="request_expert_opinions"') :]
    fields = dict(re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", step[: step.index("</tr>")]))
    named = [value for value in fields.values() if Role.EXPERT.value in value.split("、")]
    assert named, fields  # the expert's display name in this scene, in the assignment's field
    assert str(expert.id) not in fields.values()
