"""The decision page as its reader sees it: the diagram follows the decision, names are names."""

from __future__ import annotations

import re

from decisionflow.roles import Role
from tests.helpers import drive, take
from tests.web.conftest import csrf_token


def current_box(html: str) -> str:
    """The label of the diagram's highlighted stage."""
    found = re.search(
        r'<li class="box[^"]*current[^"]*" aria-current="step">\s*<span>([^<]+)', html
    )
    assert found, "the diagram marks no stage as current"
    return found.group(1)


def test_the_diagram_marks_where_each_decision_stands_after_every_move(
    client, auth, web_parts, web_people, clock
):
    """Two decisions drawn alike share a drawing; a move redraws the one that moved, at once."""
    first = drive(web_parts, web_people, clock, through="start_procedure")
    second = drive(web_parts, web_people, clock, through="start_procedure")
    auth.login(Role.STAFF)
    drafting = current_box(client.get(f"/decisions/{first.id}").get_data(as_text=True))
    assert current_box(client.get(f"/decisions/{second.id}").get_data(as_text=True)) == drafting

    drive(
        web_parts,
        web_people,
        clock,
        decision_id=first.id,
        start="draft_version",
        before="open_consultation",
    )
    moved = client.get(f"/decisions/{first.id}").get_data(as_text=True)
    assert current_box(moved) != drafting
    assert 'class="box done' in moved  # the stage it left is drawn as done
    assert current_box(client.get(f"/decisions/{second.id}").get_data(as_text=True)) == drafting

    # the same drawing in English is drawn in English, not served from the Chinese one
    client.post(
        "/lang/en",
        data={"csrf_token": csrf_token(client, f"/decisions/{second.id}"), "next": "/"},
    )
    english = current_box(client.get(f"/decisions/{second.id}").get_data(as_text=True))
    assert english != drafting and english.isascii()


def test_decisions_that_differ_only_in_their_stage_are_drawn_apart(
    client, auth, web_parts, web_people, clock
):
    """Proposed, and taken up for drafting: the same stages done, no lanes; only where each
    stands tells their drawings apart, and each shows its own."""
    proposed = drive(web_parts, web_people, clock, through="proposal")
    drafting = drive(web_parts, web_people, clock, through="start_procedure")
    auth.login(Role.STAFF)
    first = current_box(client.get(f"/decisions/{proposed.id}").get_data(as_text=True))
    second = current_box(client.get(f"/decisions/{drafting.id}").get_data(as_text=True))
    assert first != second


def test_the_experts_a_record_names_are_shown_by_name(client, auth, web_parts, web_people, clock):
    """The expert assignment lists its experts by display name, not by account number."""
    view = drive(web_parts, web_people, clock, through="request_expert_opinions")
    take(web_parts, web_people, clock, view.id, "expert_opinion")
    auth.login(Role.STAFF)
    html = client.get(f"/decisions/{view.id}").get_data(as_text=True)
    expert = web_people[Role.EXPERT]
    records = html[html.index('id="records-h"') : html.index('id="timeline-h"')]
    assert f"<dd>{Role.EXPERT.value}</dd>" in records  # the expert's display name in this scene
    assert f"<dd>{expert.id}</dd>" not in records
