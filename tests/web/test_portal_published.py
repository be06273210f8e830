"""The public reads published decisions with the account of how its opinions were adopted."""

from __future__ import annotations

from decisionflow.roles import Role
from tests.helpers import drive


def test_a_published_decision_shows_each_comment_and_what_was_done_with_it(
    client, web_parts, web_people, clock
):
    """After publication the portal shows the text, the adoption summary and every answered comment —
    never who commented or how to reach them."""
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
    web_parts.participation.dispose(
        web_people[Role.STAFF], comment.id, disposition="partly_adopted", reason="延长至六个月"
    )
    assert client.get(f"/public/decisions/{decision.id}").status_code == 404  # not published yet
    drive(
        web_parts,
        web_people,
        clock,
        decision_id=decision.id,
        start="hearing_participants",
        through="publish_decision",
    )
    listing = client.get("/public/decisions/").get_data(as_text=True)
    assert decision.title in listing
    page = client.get(f"/public/decisions/{decision.id}").get_data(as_text=True)
    assert "建议延长过渡期" in page and "部分采纳" in page and "延长至六个月" in page
    assert "13900000000" not in page and "村民张某" not in page
