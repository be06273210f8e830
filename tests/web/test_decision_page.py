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


def test_the_page_frees_what_it_read_as_soon_as_it_is_sent(
    client, auth, web_parts, web_people, clock, monkeypatch
):
    """Nothing the page read is kept alive by a reference cycle once it is answered: a worker
    that left each page to the garbage collector paused for tens of milliseconds every few
    hundred pages to free them."""
    import gc
    import weakref

    view = drive(web_parts, web_people, clock, through="request_expert_opinions")
    take(web_parts, web_people, clock, view.id, "expert_opinion")
    read, kept = web_parts.overviews.read, []

    def remembered(*args, **kwargs):
        overview = read(*args, **kwargs)
        kept.append(weakref.ref(overview.records[0]))
        return overview

    monkeypatch.setattr(
        type(web_parts.overviews), "read", lambda self, *a, **k: remembered(*a, **k)
    )
    auth.login(Role.STAFF)
    gc.collect()
    gc.disable()
    try:
        page = client.get(f"/decisions/{view.id}")
        assert page.status_code == 200 and 'id="records-h"' in page.get_data(as_text=True)
        assert kept and kept[0]() is None, "the page's records outlived the request"
    finally:
        gc.enable()


def test_the_forms_speak_the_language_each_page_is_shown_in(
    client, auth, web_parts, web_people, clock
):
    """The form macros are made once for the whole app; their words still follow each page's
    language, in turn."""
    view = drive(web_parts, web_people, clock, through="proposal")
    auth.login(Role.STAFF)
    chinese = client.get(f"/decisions/{view.id}").get_data(as_text=True)
    assert 'title="必填"' in chinese and 'title="required"' not in chinese
    client.post(
        "/lang/en",
        data={"csrf_token": csrf_token(client, f"/decisions/{view.id}"), "next": "/"},
    )
    english = client.get(f"/decisions/{view.id}").get_data(as_text=True)
    assert 'title="required"' in english and 'title="必填"' not in english
