"""Decisions under local rules: the overlay's numbers and extra records are enforced, cited, and
kept with the decision whatever the overlay file says later."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config import REPO_ROOT
from decisionflow.bootstrap import Parts, build
from decisionflow.definitions import DefinitionError
from decisionflow.errors import InvalidInput, RuleNotMet
from decisionflow.models import Decision, ProcedureDefinition
from decisionflow.roles import Role
from tests.conftest import PASSWORD
from tests.helpers import drive, new_decision, refused, unmet_rules

WORKFLOWS = REPO_ROOT / "workflows"
LIAONING = (WORKFLOWS / "overlays" / "liaoning.yaml").read_text(encoding="utf-8")
REVIEW_ARTICLE = "Art 27; Liaoning Decree 346 Art 27"


def submit_review(parts: Parts, people, clock, decision_id: int, working_days: int):
    """Ask for the legality review with that many working days for the reviewer."""
    due = parts.calendar.add_working_days(clock.today, working_days)
    return parts.decisions.fire(
        people[Role.STAFF],
        decision_id,
        "submit_legality_review",
        {"requested_completion_date": due.isoformat(), "legal_basis_summary": "《土地管理法》"},
    )


def stored_overlay(parts: Parts, decision_id: int) -> str | None:
    """The overlay the decision's row names."""
    with parts.sessions() as session:
        decision = session.get(Decision, decision_id)
        assert decision is not None
        return decision.overlay


def workflows_with(tmp_path: Path, liaoning: str) -> Path:
    """A workflows folder with the shipped procedures and another Liaoning overlay text."""
    folder = tmp_path / "workflows"
    (folder / "overlays").mkdir(parents=True)
    for path in WORKFLOWS.glob("*.yaml"):
        shutil.copyfile(path, folder / path.name)
    (folder / "overlays" / "liaoning.yaml").write_text(liaoning, encoding="utf-8")
    return folder


def test_a_decision_records_the_overlay_it_runs_under(parts, people, clock):
    """The decision, its creation's audit event and the database snapshots name liaoning v1."""
    decision = new_decision(parts, people, overlay="liaoning")
    assert stored_overlay(parts, decision.id) == "liaoning@1"
    national = new_decision(parts, people, title="全国规则下的决策")
    assert stored_overlay(parts, national.id) is None
    with parts.sessions() as session:
        snapshots = {
            (row.procedure, row.version): row.source
            for row in session.scalars(select(ProcedureDefinition))
        }
    # the overlay's own text is kept beside the national one, so it can be replayed later
    assert snapshots[("overlay:liaoning", 1)] == LIAONING
    assert ("major_decision", 1) in snapshots
    assert parts.verify_audit().ok


def test_the_local_review_period_is_enforced_and_cited(parts, people, clock):
    """Under Liaoning rules nine working days are refused citing both articles; ten suffice."""
    decision = drive(parts, people, clock, before="submit_legality_review", overlay="liaoning")
    clock.advance(days=1)
    with refused(
        parts,
        decision.id,
        RuleNotMet,
        rule="field_min_ahead:requested_completion_date",
        article=REVIEW_ARTICLE,
    ) as info:
        submit_review(parts, people, clock, decision.id, 9)
    assert "at least 10 working days" in str(info.value)
    assert submit_review(parts, people, clock, decision.id, 10).state == "legality_review"


def test_national_decisions_keep_the_national_period_beside_local_ones(parts, people, clock):
    """A decision without an overlay still needs only Art 27's seven working days."""
    local = drive(parts, people, clock, before="submit_legality_review", overlay="liaoning")
    national = drive(parts, people, clock, before="submit_legality_review", title="全国规则")
    clock.advance(days=1)
    with pytest.raises(RuleNotMet):
        submit_review(parts, people, clock, local.id, 7)
    assert submit_review(parts, people, clock, national.id, 7).state == "legality_review"


def test_the_extra_local_record_is_required_citing_the_local_article(parts, people, clock):
    """The review cannot conclude on the signed legality opinion alone: a legal adviser's opinion
    is required too (Liaoning Decree 346 Art 28)."""
    decision = drive(parts, people, clock, before="submit_legality_review", overlay="liaoning")
    clock.advance(days=1)
    submit_review(parts, people, clock, decision.id, 10)
    officer = people[Role.LEGAL_OFFICER]
    parts.decisions.add_record(
        officer,
        decision.id,
        "legality_opinion",
        {"opinion": "主体、程序、内容合法", "outcome": "lawful"},
        password=PASSWORD,
    )
    with refused(
        parts,
        decision.id,
        RuleNotMet,
        rule="requires:legal_adviser_opinion",
        article="Liaoning Decree 346 Art 28",
    ) as info:
        parts.decisions.fire(officer, decision.id, "find_lawful")
    # the national opinion is on file and signed over the draft: only the local record is missing
    assert unmet_rules(info.value) == {
        ("requires:legal_adviser_opinion", "Liaoning Decree 346 Art 28")
    }
    assert "法律顾问或公职律师意见" in info.value.unmet[0].zh
    parts.decisions.add_record(
        officer,
        decision.id,
        "legal_adviser_opinion",
        {"adviser": "公职律师 王某", "opinion": "同意，建议补充过渡条款"},
    )
    moved = parts.decisions.fire(officer, decision.id, "find_lawful")
    assert moved.state == "meeting_preparation"


def test_a_decision_keeps_its_overlay_version_after_the_file_changes(
    parts, people, clock, tmp_path
):
    """Liaoning v2 asks twelve working days: v1 decisions still need ten, new ones twelve."""
    old = drive(parts, people, clock, before="submit_legality_review", overlay="liaoning")
    v2 = LIAONING.replace("version: 1\n", "version: 2\n", 1).replace("value: 10,", "value: 12,", 1)
    upgraded = build(
        replace(parts.settings, workflows_path=workflows_with(tmp_path, v2)), clock=clock
    )
    try:
        new = drive(upgraded, people, clock, before="submit_legality_review", overlay="liaoning")
        assert stored_overlay(upgraded, new.id) == "liaoning@2"
        clock.advance(days=1)
        # the v1 decision runs on the v1 overlay text kept in the database
        assert submit_review(upgraded, people, clock, old.id, 10).state == "legality_review"
        assert stored_overlay(upgraded, old.id) == "liaoning@1"
        with pytest.raises(RuleNotMet) as info:
            submit_review(upgraded, people, clock, new.id, 10)
        assert "at least 12 working days" in str(info.value)
        assert submit_review(upgraded, people, clock, new.id, 12).state == "legality_review"
    finally:
        upgraded.dispose()


def test_an_overlay_edited_in_place_is_refused(parts, people, clock, tmp_path):
    """Changing liaoning v1's text after decisions started on it, without a new version, is refused."""
    new_decision(parts, people, overlay="liaoning")
    edited = LIAONING.replace("value: 10,", "value: 11,", 1)
    tampered = build(
        replace(parts.settings, workflows_path=workflows_with(tmp_path, edited)), clock=clock
    )
    try:
        with pytest.raises(DefinitionError) as info:
            new_decision(tampered, people, overlay="liaoning")
        assert info.value.file == "overlays/liaoning.yaml"
        assert "version 1 was changed after decisions started on it" in info.value.problem
        # national decisions are not held up by the local file
        assert new_decision(tampered, people).state == "proposed"
    finally:
        tampered.dispose()


@pytest.mark.parametrize("overlay", ["guangdong", "liaoning_normative", "liaoning@9"])
def test_unknown_or_foreign_local_rules_are_refused(parts, people, overlay):
    """No such overlay, another procedure's overlay, or no such version: the field is named."""
    with refused(parts, None, InvalidInput) as info:
        new_decision(parts, people, overlay=overlay)
    assert "overlay" in info.value.fields


def test_dalian_requires_a_catalogue_entry_before_the_procedure_starts(parts, people, clock):
    """Under Dalian rules the chief cannot start a matter the yearly catalogue does not list."""
    decision = new_decision(parts, people, overlay="dalian")
    staff, chief = people[Role.STAFF], people[Role.CHIEF_EXECUTIVE]
    parts.decisions.add_record(
        staff,
        decision.id,
        "proposal",
        {"source": "department", "problem": "p", "reasons": "r", "solution": "s"},
    )
    with refused(
        parts,
        decision.id,
        RuleNotMet,
        rule="requires:catalogue_listing",
        article="Dalian Decree 171 Art 9",
    ):
        parts.decisions.fire(chief, decision.id, "start_procedure", {"reasons": "r"})
    parts.decisions.add_record(
        staff,
        decision.id,
        "catalogue_listing",
        {"year": 2026, "matter": "征地补偿标准调整", "planned_timing": "2026年第三季度"},
    )
    started = parts.decisions.fire(chief, decision.id, "start_procedure", {"reasons": "r"})
    assert started.state == "drafting"


def test_liaoning_filing_needs_the_filing_report_with_the_official_text(parts, people, clock):
    """A Liaoning normative document is filed only with a filing report enclosing the official text."""
    from tests.integration.test_normative_document import deadlines, new_document
    from tests.integration.test_normative_document import drive as drive_document

    document = new_document(parts, people, overlay="liaoning_normative")
    drive_document(parts, people, clock, document.id, before="file_with_authority")
    # the filing deadline runs under the merged rules and cites the local article too
    [due] = deadlines(parts, clock, document.id)
    assert due.article == "GOV-2018-37 §3(8); Liaoning Decree 346 Art 26"
    assert due.due == clock.today + timedelta(days=15)
    office = people[Role.GOVERNMENT_OFFICE]
    filing = {
        "filing_body": "市人民政府",
        "filed_on": clock.today.isoformat(),
        "receipt_number": "备2026-100",
    }
    with refused(
        parts,
        document.id,
        RuleNotMet,
        rule="requires:filing_report",
        article="Liaoning Decree 346 Art 26",
    ):
        parts.decisions.fire(office, document.id, "file_with_authority", filing)
    report = {"official_text": False, "drafting_explanation": True, "report": "报送备案"}
    parts.decisions.add_record(office, document.id, "filing_report", report)
    with refused(
        parts,
        document.id,
        RuleNotMet,
        rule="record_field_equals",
        article="Liaoning Decree 346 Art 26",
    ):
        parts.decisions.fire(office, document.id, "file_with_authority", filing)
    parts.decisions.add_record(
        office, document.id, "filing_report", report | {"official_text": True}
    )
    assert parts.decisions.fire(office, document.id, "file_with_authority", filing).state == "filed"
