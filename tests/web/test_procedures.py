"""Both procedures are offered when proposing: a major decision and a normative document."""

from __future__ import annotations

from decisionflow.roles import Role
from tests.web.conftest import csrf_token


def test_a_clerk_opens_a_normative_document_from_the_page(client, auth, web_parts, web_people):
    """Choosing the normative-document procedure opens it at drafting, with no decision flags asked."""
    auth.login(Role.STAFF)
    page = client.get("/decisions/new?procedure=normative_document").get_data(as_text=True)
    assert "行政规范性文件" in page and 'value="normative_document"' in page
    assert "举行听证" not in page  # the major decision's flags are not offered here
    answer = client.post(
        "/decisions/new",
        data={
            "csrf_token": csrf_token(client, "/decisions/new"),
            "procedure": "normative_document",
            "title": "住房租赁补贴管理办法",
            "category": "public_policy",
            "undertaking_unit": "housing",
        },
    )
    assert answer.status_code == 302
    decision_id = int(answer.headers["Location"].rstrip("/").split("/")[-1])
    view = web_parts.decisions.get(web_people[Role.STAFF], decision_id)
    assert (view.procedure, view.state) == ("normative_document", "drafting")


def test_an_unknown_procedure_falls_back_to_the_major_decision(client, auth):
    """A made-up procedure name in the address shows the major-decision form, never an error."""
    auth.login(Role.STAFF)
    page = client.get("/decisions/new?procedure=../../etc").get_data(as_text=True)
    assert 'value="major_decision"' in page


def test_my_work_offers_only_the_moves_a_decisions_flags_allow(web_parts):
    """A confidential normative draft offers its clerk no comment window (the flag switches it off),
    while an ordinary one does."""
    from decisionflow.checklist import moves_for

    definition = web_parts.registry.current("normative_document")
    window = next(t for t in definition.transitions if t.trigger == "open_comment")
    ordinary = moves_for(definition, "drafting", {}, Role.STAFF, {})
    confidential = moves_for(definition, "drafting", {}, Role.STAFF, {"not_disclosed": True})
    assert window.label in ordinary
    assert window.label not in confidential
