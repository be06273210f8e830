"""A year of decisions seeded through the service, whose true figures the tests know.

2025: one major decision proposed (outside the year counted).
2026, housing bureau: three major decisions walked together along the lawful path —
  D1 to the archive (four public comments: adopted, partly adopted, not adopted, and one
  moderated out; the second decision's one comment adopted), D2 approved by the chief against
  the members' majority (the reasons stated), D3 found unlawful and sent back to drafting;
  D4 declined; three normative documents walked together to publication — N1 filed after 5
  days (on time), N2 after 20 (late: the limit is 15), N3 not filed (overdue).
2026, ecology bureau: D5 proposed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from decisionflow.bootstrap import Parts
from decisionflow.demo import (
    MAJOR_DECISION_PATH,
    NORMATIVE_DOCUMENT_PATH,
    Step,
    take_step,
)
from decisionflow.roles import Role
from tests.conftest import PASSWORD, SHANGHAI, Clock, People
from tests.helpers import context, new_decision

YEAR = 2026


@dataclass(frozen=True)
class Seeded:
    """The ids of the seeded decisions, and the legal dates the test needs."""

    d0: int
    d1: int
    d2: int
    d3: int
    d4: int
    d5: int
    n1: int
    n2: int
    n3: int
    published_on: date
    n2_filed_on: date
    today: date


def _walk(
    parts: Parts,
    people: People,
    clock: Clock,
    path: tuple[Step, ...],
    plans: dict[int, int],
    *,
    first: int = 0,
    last: int | None = None,
    payloads: dict[tuple[int, int], dict[str, Any]] | None = None,
) -> None:
    """Take the path's steps first..last for several decisions together: each decision stops
    before its plan's step index; `payloads` replaces a step's payload for one decision."""
    payloads = payloads or {}
    for index in range(first, len(path) if last is None else last + 1):
        step = path[index]
        clock.advance(days=step.wait_days, minutes=5)
        for decision_id, stop in plans.items():
            if index >= stop:
                continue
            own = payloads.get((decision_id, index))
            taken = step if own is None else replace(step, payload=lambda ctx, own=own: dict(own))
            take_step(
                parts.decisions, taken, people[step.role], decision_id, context(people, clock)
            )


def _major(parts: Parts, people: People, title: str) -> int:
    return new_decision(parts, people, title=title).id


def _proposal(parts: Parts, actor: Any, decision_id: int) -> None:
    parts.decisions.add_record(
        actor,
        decision_id,
        "proposal",
        {"source": "department", "problem": "问题", "reasons": "理由", "solution": "方案"},
    )


def seed_year(parts: Parts, people: People, clock: Clock) -> Seeded:
    """Seed the year described above, through the service, and return what was made."""
    staff, legal, chief = (
        people[Role.STAFF],
        people[Role.LEGAL_OFFICER],
        people[Role.CHIEF_EXECUTIVE],
    )
    clock.now = datetime(2025, 12, 1, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    d0 = _major(parts, people, "上年度提出的决策")
    _proposal(parts, staff, d0)

    clock.now = datetime(YEAR, 1, 5, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    d1 = _major(parts, people, "征地补偿标准调整")
    d2 = _major(parts, people, "老旧小区改造计划")
    d3 = _major(parts, people, "停车收费办法")
    d4 = _major(parts, people, "不予启动的建议")
    _proposal(parts, staff, d4)
    parts.decisions.fire(chief, d4, "decline_proposal", {"reasons": "不属于重大行政决策事项"})
    d5 = parts.decisions.create_decision(
        people.staff_b,
        title="河道生态修复方案",
        category="resources",
        undertaking_unit="ecology",
        flags={},
    ).id
    _proposal(parts, people.staff_b, d5)

    path = MAJOR_DECISION_PATH
    index = {step.name: i for i, step in reversed(list(enumerate(path)))}
    # D2 stops before the meeting's opinions, D3 before the legality opinion
    plans = {d1: len(path), d2: index["member_opinion"], d3: index["legality_opinion"]}
    _walk(parts, people, clock, path, plans, last=index["open_consultation"])
    comments = parts.participation
    for text, name in (("建议提高标准", "甲"), ("建议分期兑付", "乙"), ("建议取消", "丙")):
        comments.submit_comment(d1, text=text, name=name, address="10.0.0.1")
    comments.submit_comment(
        d1, text="广告 http://spam.example", address="10.0.0.2", suspicious=True
    )
    comments.submit_comment(d2, text="建议优先改造加装电梯", address="10.0.0.3")
    with parts.sessions() as session:
        d1_comments = comments.comments(session, d1)
        d2_comments = comments.comments(session, d2)
    held = [c for c in d1_comments if c.status == "held"]
    answered = [c for c in d1_comments if c.status == "received"]
    assert len(held) == 1 and len(answered) == 3
    comments.moderate(staff, held[0].id, release=False, reason="广告")
    for comment, disposition in zip(
        answered, ("adopted", "partly_adopted", "not_adopted"), strict=True
    ):
        comments.dispose(staff, comment.id, disposition=disposition, reason="已研究")
    comments.dispose(staff, d2_comments[0].id, disposition="adopted", reason="采纳")
    _walk(
        parts,
        people,
        clock,
        path,
        plans,
        first=index["open_consultation"] + 1,
        last=index["schedule_meeting"],
    )
    # D3: the legality reviewer finds it unlawful; it goes back to drafting
    parts.decisions.add_record(
        legal,
        d3,
        "legality_opinion",
        {"outcome": "unlawful", "opinion": "收费依据不足"},
        password=PASSWORD,
    )
    parts.decisions.fire(legal, d3, "find_unlawful")
    # D2: both members disagree; the chief approves all the same, and says why (Art 30)
    first_opinion = index["member_opinion"]
    disagree = {"position": "disagree", "statement": "不同意"}
    _walk(
        parts,
        people,
        clock,
        path,
        {d1: len(path), d2: index["report_to_party_committee"]},
        first=first_opinion,
        last=index["approve_decision"],
        payloads={
            (d2, first_opinion): {"member": "副区长甲", **disagree},
            (d2, first_opinion + 1): {"member": "副区长乙", **disagree},
            (d2, index["approve_decision"]): {
                "decision": "approve",
                "chief_statement": "同意通过",
                "departure_reason": "改造资金已落实，群众诉求迫切",
                "executing_unit": "housing",
            },
        },
    )
    _walk(parts, people, clock, path, {d1: len(path)}, first=index["approve_decision"] + 1)

    # Three normative documents, drafted and published together
    documents = [
        parts.decisions.create_decision(
            staff,
            title=f"住房租赁补贴管理办法（{n}）",
            category="public_policy",
            undertaking_unit="housing",
            procedure="normative_document",
        ).id
        for n in (1, 2, 3)
    ]
    n1, n2, n3 = documents
    file_step = len(NORMATIVE_DOCUMENT_PATH) - 1
    _walk(
        parts,
        people,
        clock,
        NORMATIVE_DOCUMENT_PATH,
        dict.fromkeys(documents, file_step),
        last=file_step - 1,
    )
    published_on = clock.today
    _walk(parts, people, clock, NORMATIVE_DOCUMENT_PATH, {n1: file_step + 1}, first=file_step)
    clock.advance(days=15)  # 20 days after publication: 5 days late
    take_step(
        parts.decisions,
        NORMATIVE_DOCUMENT_PATH[file_step],
        people[Role.GOVERNMENT_OFFICE],
        n2,
        context(people, clock),
    )
    n2_filed_on = clock.today
    clock.advance(days=3)
    return Seeded(d0, d1, d2, d3, d4, d5, n1, n2, n3, published_on, n2_filed_on, clock.today)
