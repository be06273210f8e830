"""Records and attachments: draft versions with their hashes, files kept by SHA-256, stages."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from decisionflow.errors import Conflict, InvalidInput, RuleNotMet
from decisionflow.models import Attachment, DraftVersion, StepRecord
from decisionflow.roles import Role
from tests.conftest import PASSWORD
from tests.helpers import drive, new_decision, refused

LIMIT = 64 * 1024  # max_attachment_bytes in the test settings


def _attach(parts, people, decision_id, data: bytes, filename: str = "意见汇总.pdf"):
    return parts.decisions.attach_file(
        people[Role.STAFF],
        decision_id,
        filename=filename,
        content_type="application/pdf",
        data=data,
    )


def test_draft_versions_are_numbered_and_hashed(parts, people, clock):
    """Each draft version gets the next number and the SHA-256 of its text is kept with it."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="start_procedure")
    texts = ["第一稿：补偿标准上调 10%", "第二稿：补偿标准上调 12%", "第三稿：分两年上调"]
    views = []
    for n, text in enumerate(texts, start=1):
        clock.advance(hours=1)
        views.append(
            service.add_record(
                staff,
                decision.id,
                "draft_version",
                {
                    "content": text,
                    "cause": "initial" if n == 1 else "other",
                    "change_note": f"第{n}稿",
                },
            )
        )
    assert [v.data["number"] for v in views] == [1, 2, 3]
    with parts.sessions() as session:
        rows = session.scalars(
            select(DraftVersion)
            .where(DraftVersion.decision_id == decision.id)
            .order_by(DraftVersion.number)
        ).all()
    assert [r.number for r in rows] == [1, 2, 3]
    for row, text, view in zip(rows, texts, views, strict=True):
        assert row.content == text
        assert row.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest() == view.data["sha256"]
        assert row.created_by == staff.id
    # the step record points at the version; the text itself is kept once, in the draft table
    assert "content" not in views[0].data


def test_drafts_of_two_decisions_are_numbered_apart(parts, people, clock):
    """Version numbers count per decision, not across the database."""
    first = drive(parts, people, clock, through="draft_version")
    second = drive(parts, people, clock, through="draft_version", title="另一项决策")
    again = parts.decisions.add_record(
        people[Role.STAFF],
        first.id,
        "draft_version",
        {"content": "二稿", "cause": "other", "change_note": "改"},
    )
    assert again.data["number"] == 2
    with parts.sessions() as session:
        numbers = session.scalars(
            select(DraftVersion.number).where(DraftVersion.decision_id == second.id)
        ).all()
    assert numbers == [1]


def test_a_draft_longer_than_allowed_is_refused(parts, people, clock):
    """A draft text over 200,000 characters is refused beside its field."""
    decision = drive(parts, people, clock, through="start_procedure")
    with refused(parts, decision.id, InvalidInput) as info:
        parts.decisions.add_record(
            people[Role.STAFF],
            decision.id,
            "draft_version",
            {"content": "字" * 200_001, "cause": "initial", "change_note": "过长"},
        )
    assert info.value.fields["content"][1] == "must be at most 200000 characters"


def test_every_record_raises_the_decision_version(parts, people, clock):
    """Each record raises the version, even in the same instant, so a stale page is refused."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="start_procedure")
    # the clock does not move between these two records
    first = service.add_record(staff, decision.id, "legal_basis", {"laws": "《土地管理法》"})
    second = service.add_record(staff, decision.id, "legal_basis", {"laws": "《物权法》"})
    assert decision.version < first.decision_version < second.decision_version
    with refused(parts, decision.id, Conflict) as info:
        service.add_record(
            staff,
            decision.id,
            "legal_basis",
            {"laws": "旧页面"},
            expected_version=first.decision_version,
        )
    assert "reload" in info.value.en
    attached = _attach(parts, people, decision.id, b"%PDF-1.7")
    assert service.get(staff, decision.id).version == second.decision_version + 1
    assert attached.size == 8


def test_attachment_is_stored_on_disk_under_its_sha256(parts, people):
    """A file is kept once under its SHA-256, whatever name each upload gives it."""
    decision = new_decision(parts, people)
    data = b"%PDF-1.7\n" + bytes(range(256)) * 10
    digest = hashlib.sha256(data).hexdigest()
    first = _attach(parts, people, decision.id, data)
    second = _attach(parts, people, decision.id, data, filename="同一文件.pdf")
    assert first.sha256 == second.sha256 == digest
    assert first.id != second.id
    folder = parts.settings.resolved_attachments_path
    path = folder / digest[:2] / digest
    assert path.read_bytes() == data
    assert [p for p in folder.rglob("*") if p.is_file()] == [path]  # kept once
    with parts.sessions() as session:
        row = session.get(Attachment, first.id)
        assert (row.filename, row.size, row.storage) == ("意见汇总.pdf", len(data), "disk")


def test_attachment_up_to_the_limit_is_accepted_and_one_byte_more_refused(parts, people):
    """The size limit (64 KB in tests) is inclusive; above it, InvalidInput names the limit."""
    decision = new_decision(parts, people)
    assert _attach(parts, people, decision.id, b"a" * LIMIT).size == LIMIT
    with refused(parts, decision.id, InvalidInput) as info:
        _attach(parts, people, decision.id, b"b" * (LIMIT + 1))
    assert info.value.fields == {"file": ("超过 64 KB 上限", "exceeds the 64 KB limit")}
    oversized = hashlib.sha256(b"b" * (LIMIT + 1)).hexdigest()
    assert not (parts.settings.resolved_attachments_path / oversized[:2] / oversized).exists()


def test_empty_attachment_is_refused(parts, people):
    """An empty file is no attachment."""
    decision = new_decision(parts, people)
    with refused(parts, decision.id, InvalidInput) as info:
        _attach(parts, people, decision.id, b"")
    assert info.value.fields == {"file": ("文件为空", "is empty")}


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd",
        "附件/意见.pdf",
        "C:\\temp\\x.pdf",
        "C:x.pdf",
        "..",
        "  ",
        "a\x00.pdf",
        "x" * 256,
    ],
)
def test_path_like_or_bad_filenames_are_refused(parts, people, filename):
    """A file name with a folder, a drive, a control character, or none at all is refused."""
    decision = new_decision(parts, people)
    with refused(parts, decision.id, InvalidInput) as info:
        _attach(parts, people, decision.id, b"%PDF", filename=filename)
    assert info.value.fields == {"filename": ("文件名无效", "is not a valid file name")}
    assert not parts.settings.resolved_attachments_path.exists()


#: where the decision stands when a record is tried: its expert branch consulting (so the
#: expert is assigned), nothing else under way; or already in legality review
CONSULTING, IN_REVIEW = "request_expert_opinions", "submit_legality_review"
ARGUMENTATION = "Participation, hearing, expert argumentation and risk assessment"


@pytest.mark.parametrize(
    ("kind", "role", "payload", "article", "place", "through"),
    [
        (
            "proposal",
            Role.STAFF,
            {"source": "leader", "problem": "p", "reasons": "r", "solution": "s"},
            "Art 10",
            "Proposed",
            CONSULTING,
        ),
        # once submitted for legality review, the draft under review cannot change (Art 12)
        (
            "draft_version",
            Role.STAFF,
            {"content": "稿", "cause": "other", "change_note": "n"},
            "Art 12",
            f"Drafting; {ARGUMENTATION}",
            IN_REVIEW,
        ),
        ("legal_basis", Role.STAFF, {"laws": "法"}, "Art 12", "Drafting", CONSULTING),
        (
            "comment_adoption_summary",
            Role.STAFF,
            {"received": 1, "summary": "s"},
            "Art 15",
            "Public participation: Consultation closed",
            CONSULTING,
        ),
        (
            "hearing_record",
            Role.STAFF,
            {"record": "笔录", "participants_confirmed": "yes"},
            "Art 16",
            "Hearing: Held",
            CONSULTING,
        ),
        (
            "expert_opinion",
            Role.EXPERT,
            {"opinion": "o"},
            "Art 20",
            "Expert argumentation: Consulting experts",
            CONSULTING,
        ),
        (
            "expert_adoption",
            Role.STAFF,
            {"organiser": "o", "summary": "s"},
            "Art 21",
            "Expert argumentation: Consulting experts",
            CONSULTING,
        ),
        (
            "risk_report",
            Role.STAFF,
            {
                "assessor": "a",
                "risk_points": "r",
                "measures": "m",
                "response_plan": "p",
                "departments_consulted": "d",
                "risk_level": "low",
                "conclusion": "controllable",
            },
            "Art 23",
            "Risk assessment: Assessing",
            CONSULTING,
        ),
        (
            "legality_opinion",
            Role.LEGAL_OFFICER,
            {"outcome": "lawful", "opinion": "合法"},
            "Art 28",
            "Legality review",
            CONSULTING,
        ),
        (
            "member_opinion",
            Role.GOVERNMENT_OFFICE,
            {"member": "副区长甲", "position": "agree", "statement": "同意"},
            "Art 30",
            "Collective discussion",
            IN_REVIEW,
        ),
        (
            "meeting_minutes",
            Role.GOVERNMENT_OFFICE,
            {"attendees": "区长等", "minutes": "同意"},
            "Art 30",
            "Collective discussion",
            CONSULTING,
        ),
    ],
)
def test_records_are_accepted_only_in_their_stages(
    parts, people, clock, kind, role, payload, article, place, through
):
    """A record outside the stage(s) the definition allows is refused: rule "stage", its article."""
    decision = drive(parts, people, clock, through=through)
    if kind in ("expert_opinion", "expert_adoption"):
        decision = drive(
            parts,
            people,
            clock,
            decision_id=decision.id,
            start="expert_opinion",
            through="complete_expert_argumentation",
        )
    with refused(parts, decision.id, RuleNotMet, rule="stage", article=article) as info:
        parts.decisions.add_record(people[role], decision.id, kind, payload, password=PASSWORD)
    assert info.value.unmet[0].en == f"Possible only at: {place}"


def test_records_keep_their_typed_values_and_author(parts, people, clock):
    """A record is stored as validated: numbers as numbers, the author and the stage noted."""
    decision = drive(parts, people, clock, through="close_consultation")
    view = parts.decisions.add_record(
        people[Role.STAFF],
        decision.id,
        "comment_adoption_summary",
        {"received": "37", "summary": " 采纳 12 条 "},
    )
    assert view.data == {"received": 37, "summary": "采纳 12 条"}
    with parts.sessions() as session:
        row = session.get(StepRecord, view.id)
        assert (row.kind, row.state, row.created_by) == (
            "comment_adoption_summary",
            "argumentation",
            people[Role.STAFF].id,
        )
        assert row.data == {"received": 37, "summary": "采纳 12 条"}
