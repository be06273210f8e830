"""Named guards and time rules, on plain facts: what a clerk is told when the law says "not yet"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from decisionflow.calendar import load_calendar
from decisionflow.definitions import TransitionSpec, load_definition
from decisionflow.errors import Unmet
from decisionflow.guards import REGISTRY, DecisionFacts, GuardContext, RecordFact
from decisionflow.rules import (
    Move,
    guards_unmet,
    requirements_unmet,
    state_of,
    time_rules_unmet,
    unmet_for,
)

MAJOR = load_definition(Path(__file__).resolve().parents[2] / "workflows" / "major_decision.yaml")
CALENDAR = load_calendar()
BEIJING = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10) -> datetime:
    """A moment in Beijing time on an ISO day."""
    return datetime.combine(date.fromisoformat(day), time(hour), tzinfo=BEIJING)


@dataclass
class FakeRecords:
    """An in-memory RecordFacts: the records, oldest first."""

    facts: list[RecordFact] = field(default_factory=list)

    def add(self, kind: str, when: datetime, **data: Any) -> FakeRecords:
        """Keep one more record."""
        self.facts.append(RecordFact(kind, data, when))
        return self

    def count(self, kind: str, *, since: datetime | None = None) -> int:
        """How many records of a kind (made at or after `since`)."""
        return sum(
            1 for f in self.facts if f.kind == kind and (since is None or f.created_at >= since)
        )

    def latest(self, kind: str) -> RecordFact | None:
        """The newest record of a kind."""
        return next((f for f in reversed(self.facts) if f.kind == kind), None)

    def every(self, kind: str, *, since: datetime | None = None) -> list[RecordFact]:
        """Every record of a kind (made at or after `since`), oldest first."""
        return [
            f for f in self.facts if f.kind == kind and (since is None or f.created_at >= since)
        ]

    def undisposed_comments(self) -> int:
        """Comments awaiting a disposition: kept as records of kind `comment` without one."""
        return sum(1 for f in self.facts if f.kind == "comment" and not f.data.get("disposition"))


def decision(
    state: str = "argumentation",
    *,
    flags: Mapping[str, bool] | None = None,
    branches: Mapping[str, str] | None = None,
    entered: datetime | None = None,
    branch_entered: Mapping[str, datetime] | None = None,
    records: FakeRecords | None = None,
) -> DecisionFacts:
    """A decision's facts, as plain values."""
    return DecisionFacts(
        state=state,
        flags=dict(flags or {}),
        branch_states=dict(branches or {}),
        entered_at=entered or at("2026-03-01"),
        branch_entered_at=dict(branch_entered or {}),
        records=records or FakeRecords(),
    )


def context(
    *, today: str = "2026-03-02", payload: Mapping[str, Any] | None = None, **params: Any
) -> GuardContext:
    """The guard context on a given legal date, with the guard's own parameters."""
    return GuardContext(
        definition=MAJOR,
        payload=dict(payload or {}),
        now=at(today),
        today=date.fromisoformat(today),
        calendar=CALENDAR,
        params=params,
    )


def move(
    facts: DecisionFacts,
    *,
    today: str = "2026-03-02",
    payload: Mapping[str, Any] | None = None,
    trigger: str = "",
    branch: str | None = None,
) -> Move:
    """One attempted move on the real Decree 713 definition."""
    return Move(facts, context(today=today, payload=payload), BEIJING, trigger, branch)


def main_transition(trigger: str) -> TransitionSpec:
    """The main-line transition of that trigger."""
    return next(t for t in MAJOR.transitions if t.trigger == trigger)


def branch_transition(branch: str, trigger: str) -> TransitionSpec:
    """The transition of that trigger inside a branch."""
    return next(t for t in MAJOR.branch(branch).transitions if t.trigger == trigger)


def holds(name: str, facts: DecisionFacts, ctx: GuardContext) -> bool:
    """Whether a registered guard holds."""
    return REGISTRY[name].function(facts, ctx)


def test_the_registry_holds_exactly_the_tested_guards() -> None:
    """A new guard must get tests here before a definition can rely on it."""
    assert sorted(REGISTRY) == [
        "all_comments_disposed",
        "departure_explained",
        "differs_from_records",
        "payload_date_not_past",
        "reassessed_after_adjustment",
        "record_date_reached",
        "record_field_equals",
        "record_field_not_equals",
        "required_branches_complete",
        "signature_covers_current_draft",
        "value_needs_flag",
    ]
    assert REGISTRY["record_field_equals"].params == {"record", "field", "value"}
    assert REGISTRY["payload_date_not_past"].field_type == "date"


def test_registering_a_name_twice_is_refused() -> None:
    """Two guards cannot share a name: a definition's reference must be unambiguous."""
    from decisionflow.guards import guard

    with pytest.raises(ValueError, match="'record_field_equals' registered twice"):
        guard("record_field_equals", zh="重复", en="duplicate")(lambda d, c: True)
    assert REGISTRY["record_field_equals"].function.__name__ == "record_field_equals"


# -- required_branches_complete (Art 25) ---------------------------------------------------


def test_branches_complete_when_only_participation_is_required_and_done() -> None:
    """No flags: only public participation is required, and once done the stage may end."""
    facts = decision(branches={"public_participation": "done"})
    assert holds("required_branches_complete", facts, context())


def test_branches_incomplete_while_participation_is_open() -> None:
    """A consultation still open keeps the decision from legality review."""
    facts = decision(branches={"public_participation": "consultation_open"})
    assert not holds("required_branches_complete", facts, context())
    zh, en = REGISTRY["required_branches_complete"].message(facts, context())
    assert zh == "本阶段要求的各项程序尚未全部完成：公众参与"
    assert en == "Not every procedure this stage requires is complete: Public participation"


def test_flags_add_branches_and_the_message_lists_each_pending_one() -> None:
    """Professional and social-risk decisions also need experts and a risk assessment."""
    facts = decision(
        flags={"professional": True, "social_risk": True},
        branches={
            "public_participation": "consultation_closed",
            "expert_argumentation": "done",
            "risk_assessment": "assessing",
        },
    )
    assert not holds("required_branches_complete", facts, context())
    zh, en = REGISTRY["required_branches_complete"].message(facts, context())
    assert zh == "本阶段要求的各项程序尚未全部完成：公众参与、风险评估"
    assert en == (
        "Not every procedure this stage requires is complete: Public participation, Risk assessment"
    )


def test_a_required_branch_never_started_is_pending() -> None:
    """A branch the flags require but with no recorded position still blocks the stage."""
    facts = decision(flags={"professional": True}, branches={"public_participation": "done"})
    assert not holds("required_branches_complete", facts, context())
    assert (
        REGISTRY["required_branches_complete"]
        .message(facts, context())[1]
        .endswith(": Expert argumentation")
    )


def test_a_not_disclosed_decision_skips_public_participation() -> None:
    """Art 14: a decision not to be disclosed needs no public consultation."""
    facts = decision(flags={"not_disclosed": True})
    assert holds("required_branches_complete", facts, context())


def test_guards_unmet_cites_the_article_of_the_definition() -> None:
    """Through the rules, the unmet guard carries the article the definition names (Art 25)."""
    facts = decision(branches={"public_participation": "pending"})
    unmet = guards_unmet(move(facts), main_transition("submit_legality_review"))
    assert unmet == [
        Unmet(
            rule="required_branches_complete",
            article="Art 25",
            zh="本阶段要求的各项程序尚未全部完成：公众参与",
            en="Not every procedure this stage requires is complete: Public participation",
        )
    ]
    done = decision(branches={"public_participation": "done"})
    assert guards_unmet(move(done), main_transition("submit_legality_review")) == []


# -- record_field_equals / record_field_not_equals (Art 24) ---------------------------------

RISK = {"record": "risk_report", "field": "conclusion", "value": "controllable"}


def test_record_field_equals_holds_on_a_controllable_risk() -> None:
    """A risk report concluding "controllable" lets the assessment complete."""
    records = FakeRecords().add("risk_report", at("2026-03-02"), conclusion="controllable")
    assert holds("record_field_equals", decision(records=records), context(**RISK))


def test_record_field_equals_fails_without_a_report_or_on_another_value() -> None:
    """No report, or one saying "not controllable", refuses; the message uses the labels."""
    ctx = context(**RISK)
    assert not holds("record_field_equals", decision(), ctx)
    records = FakeRecords().add("risk_report", at("2026-03-02"), conclusion="not_controllable")
    assert not holds("record_field_equals", decision(records=records), ctx)
    zh, en = REGISTRY["record_field_equals"].message(decision(records=records), ctx)
    assert zh == "最新的“风险评估报告”中“评估结论”应为“controllable”"
    assert en == "The latest 'Risk assessment report' record must have conclusion = 'controllable'"


def test_record_field_equals_reads_only_the_newest_record() -> None:
    """A later report that finds the risk uncontrollable outweighs an earlier favourable one."""
    records = (
        FakeRecords()
        .add("risk_report", at("2026-03-02"), conclusion="controllable")
        .add("risk_report", at("2026-03-05"), conclusion="not_controllable")
    )
    assert not holds("record_field_equals", decision(records=records), context(**RISK))
    records.add("risk_report", at("2026-03-09"), conclusion="controllable")
    assert holds("record_field_equals", decision(records=records), context(**RISK))


def test_record_field_equals_on_a_move_names_the_move() -> None:
    """A move's payload is a record of its trigger: the message names the move and its field."""
    ctx = context(record="schedule_meeting", field="meeting_kind", value="plenary")
    records = FakeRecords().add("schedule_meeting", at("2026-03-02"), meeting_kind="executive")
    assert not holds("record_field_equals", decision(records=records), ctx)
    zh, en = REGISTRY["record_field_equals"].message(decision(records=records), ctx)
    assert zh == "最新的“提请会议讨论”中“会议类型”应为“plenary”"
    assert en == (
        "The latest 'Put it on the meeting's agenda' record must have meeting_kind = 'plenary'"
    )


def test_record_field_not_equals() -> None:
    """Holds only when the newest record exists and differs; refusal names the value found."""
    ctx = context(record="risk_report", field="conclusion", value="not_controllable")
    assert not holds("record_field_not_equals", decision(), ctx)  # no report: cannot go on
    bad = FakeRecords().add("risk_report", at("2026-03-02"), conclusion="not_controllable")
    assert not holds("record_field_not_equals", decision(records=bad), ctx)
    good = FakeRecords().add("risk_report", at("2026-03-02"), conclusion="controllable")
    assert holds("record_field_not_equals", decision(records=good), ctx)
    zh, en = REGISTRY["record_field_not_equals"].message(decision(records=bad), ctx)
    assert zh == "最新的“风险评估报告”中“评估结论”为“not_controllable”，不得继续"
    assert en == (
        "The latest 'Risk assessment report' record has conclusion = 'not_controllable'; "
        "the procedure cannot go on"
    )


# -- payload_date_not_past (Art 15) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "ok"),
    [("2026-03-01", False), ("2026-03-02", True), ("2026-03-03", True), (None, True)],
    ids=["yesterday", "today", "tomorrow", "not given"],
)
def test_payload_date_not_past(deadline: str | None, ok: bool) -> None:
    """A consultation deadline may be today or later; a missing one is the validator's refusal."""
    payload = {"deadline": date.fromisoformat(deadline)} if deadline else {}
    ctx = context(today="2026-03-02", payload=payload, field="deadline")
    assert holds("payload_date_not_past", decision(), ctx) is ok


def test_payload_date_not_past_message_uses_the_field_label() -> None:
    """The clerk reads the field as the form shows it: 截止日期 / Deadline."""
    ctx = context(payload={"deadline": date(2026, 3, 1)}, field="deadline")
    assert REGISTRY["payload_date_not_past"].message(decision(), ctx) == (
        "“截止日期”不能是过去的日期",
        "'Deadline' cannot be a date in the past",
    )


# -- requirements (records a state needs before it may be left) ------------------------------


def test_a_proposal_is_required_before_the_procedure_starts() -> None:
    """Art 10: leaving `proposed` needs the proposal record; the refusal counts what is on file."""
    facts = decision("proposed")
    assert requirements_unmet(move(facts), MAJOR.state("proposed")) == [
        Unmet(
            rule="requires:proposal",
            article="Art 10",
            zh="缺少“决策建议”：需要 1 份，现有 0 份",
            en="Missing 'Decision proposal': 1 required, 0 on file",
        )
    ]
    facts = decision("proposed", records=FakeRecords().add("proposal", at("2026-03-01")))
    assert requirements_unmet(move(facts), MAJOR.state("proposed")) == []


def test_decline_skips_the_requirements_but_start_does_not() -> None:
    """Declining a proposal needs no proposal on file; starting the procedure does."""
    facts = decision("proposed")
    proposed = MAJOR.state("proposed")
    assert unmet_for(move(facts), main_transition("decline_proposal"), proposed) == []
    rules = [u.rule for u in unmet_for(move(facts), main_transition("start_procedure"), proposed)]
    assert rules == ["requires:proposal"]


def test_a_new_draft_is_required_after_returning_to_drafting() -> None:
    """since_entry: a draft made before the return does not count; the legal basis and the
    departments' consultation still do."""
    returned = at("2026-04-01")
    records = (
        FakeRecords()
        .add("draft_version", at("2026-03-10"))
        .add("legal_basis", at("2026-03-10"))
        .add("department_consultation", at("2026-03-10"))
    )
    facts = decision("drafting", entered=returned, records=records)
    assert requirements_unmet(move(facts), MAJOR.state("drafting")) == [
        Unmet(
            rule="requires:draft_version",
            article="Art 12",
            zh="缺少“决策草案”（须在本阶段内形成）：需要 1 份，现有 0 份",
            en="Missing 'Draft' (made in this stage): 1 required, 0 on file",
        )
    ]
    records.add("draft_version", at("2026-04-02"))
    assert requirements_unmet(move(facts), MAJOR.state("drafting")) == []


def test_branch_requirements_need_both_expert_records() -> None:
    """Art 20/21: consulting experts needs their opinion and the account of its adoption."""
    records = FakeRecords().add("expert_opinion", at("2026-03-05"), signed=True)
    facts = decision(branches={"expert_argumentation": "consulting"}, records=records)
    consulting = state_of(MAJOR, "expert_argumentation", "consulting")
    unmet = requirements_unmet(move(facts, branch="expert_argumentation"), consulting)
    assert [(u.rule, u.article) for u in unmet] == [("requires:expert_adoption", "Art 21")]
    assert unmet[0].en == "Missing 'How expert opinions were adopted': 1 required, 0 on file"


# -- time rules -----------------------------------------------------------------------------

CLOSE = branch_transition("public_participation", "close_consultation")
OPEN = branch_transition("public_participation", "open_consultation")


def consultation_opened(when: datetime, reason: str = "") -> DecisionFacts:
    """A decision whose public consultation was opened at `when`."""
    records = FakeRecords().add(
        "open_consultation", when, deadline="2026-04-30", shortening_reason=reason
    )
    return decision(branches={"public_participation": "consultation_open"}, records=records)


def close(facts: DecisionFacts, today: str) -> list[Unmet]:
    """What stops the consultation from closing on that day."""
    return time_rules_unmet(
        move(facts, today=today, trigger="close_consultation", branch="public_participation"),
        CLOSE,
    )


def test_comment_period_counts_30_calendar_days() -> None:
    """Art 15: opened on 1 March, the consultation may close on 31 March, not on the 30th."""
    facts = consultation_opened(at("2026-03-01"))
    assert close(facts, "2026-03-30") == [
        Unmet(
            rule="min_elapsed:open_consultation",
            article="Art 15",
            zh="自 2026-03-01 起须满 30 日，目前仅 29 日",
            en="At least 30 calendar days must pass from 2026-03-01; only 29 have",
        )
    ]
    assert close(facts, "2026-03-31") == []


def test_the_period_starts_on_the_beijing_date() -> None:
    """Opened at 01:00 Beijing time (17:00 UTC the day before), the count starts that Beijing day."""
    opened_utc = datetime(2026, 3, 1, 17, 0, tzinfo=ZoneInfo("UTC"))  # 2 March, 01:00 Beijing
    facts = consultation_opened(opened_utc)
    [unmet] = close(facts, "2026-03-31")
    assert unmet.en == "At least 30 calendar days must pass from 2026-03-02; only 29 have"
    assert close(facts, "2026-04-01") == []


def test_a_reason_recorded_when_opening_waives_the_wait() -> None:
    """A shortening reason given when the consultation opened lets it close early."""
    assert close(consultation_opened(at("2026-03-01"), reason="汛期前须出台"), "2026-03-11") == []
    # a blank reason is no reason
    assert len(close(consultation_opened(at("2026-03-01"), reason="   "), "2026-03-11")) == 1


def test_no_open_record_means_no_time_refusal() -> None:
    """Without the record the wait counts from, the wait itself is not what is missing."""
    facts = decision(branches={"public_participation": "consultation_open"})
    assert close(facts, "2026-03-02") == []


def open_consultation(deadline: str, **extra: Any) -> list[Unmet]:
    """What stops opening the consultation on 1 March 2026 with that deadline."""
    payload = {"deadline": date.fromisoformat(deadline), **extra}
    return time_rules_unmet(
        move(
            decision(branches={"public_participation": "pending"}),
            today="2026-03-01",
            payload=payload,
            trigger="open_consultation",
            branch="public_participation",
        ),
        OPEN,
    )


def test_deadline_must_leave_30_days() -> None:
    """Art 15: a deadline 29 days ahead is refused, 30 days ahead is enough."""
    assert open_consultation("2026-03-30") == [
        Unmet(
            rule="field_min_ahead:deadline",
            article="Art 15",
            zh="“截止日期”须距今至少 30 日（2026-03-30 仅 29 日）",
            en="'Deadline' must leave at least 30 calendar days (2026-03-30 leaves 29)",
        )
    ]
    assert open_consultation("2026-03-31") == []


def test_a_reason_given_with_the_move_waives_the_lead_time() -> None:
    """The waiver may be given in the very payload that opens the consultation."""
    assert open_consultation("2026-03-11", shortening_reason="汛期前须出台") == []
    assert len(open_consultation("2026-03-11", shortening_reason="  ")) == 1


def test_a_missing_deadline_is_left_to_the_payload_validator() -> None:
    """No date in the payload: the time rule says nothing (the validator says "required")."""
    unmet = time_rules_unmet(
        move(decision(), payload={}, trigger="open_consultation", branch="public_participation"),
        OPEN,
    )
    assert unmet == []


def review_request(today: str, requested: str) -> list[Unmet]:
    """What stops submitting for legality review with that requested completion date."""
    payload = {"requested_completion_date": date.fromisoformat(requested)}
    facts = decision(branches={"public_participation": "done"})
    return time_rules_unmet(
        move(facts, today=today, payload=payload, trigger="submit_legality_review"),
        main_transition("submit_legality_review"),
    )


def test_review_needs_7_working_days_across_national_day() -> None:
    """Art 27: from 30 Sep 2026, 7 working days end on 15 Oct (1-7 Oct off, Sat 10 Oct worked)."""
    [unmet] = review_request("2026-09-30", "2026-10-14")  # 14 calendar days, 6 working days
    assert unmet == Unmet(
        rule="field_min_ahead:requested_completion_date",
        article="Art 27",
        zh="“要求完成审查日期”须距今至少 7 个工作日（2026-10-14 仅 6 个工作日）",
        en="'Requested completion date' must leave at least 7 working days (2026-10-14 leaves 6)",
    )
    assert review_request("2026-09-30", "2026-10-15") == []


def test_min_elapsed_in_working_days_across_national_day() -> None:
    """A wait of 7 working days from 30 Sep 2026 is met on 15 Oct, not on 14 Oct."""
    wait = TransitionSpec.model_validate(
        {
            "trigger": "find_lawful",
            "label": {"zh": "出具意见", "en": "Issue the opinion"},
            "source": "legality_review",
            "dest": "collective_discussion",
            "roles": ["legal_officer"],
            "article": "Art 27",
            "time_rules": [
                {
                    "kind": "min_elapsed",
                    "days": "review_working_days",
                    "unit": "working_days",
                    "article": "Art 27",
                }
            ],
        }
    )
    facts = decision("legality_review", entered=at("2026-09-30", hour=16))
    [unmet] = time_rules_unmet(move(facts, today="2026-10-14"), wait)
    assert unmet == Unmet(
        rule="min_elapsed:state_entry",
        article="Art 27",
        zh="自 2026-09-30 起须满 7 个工作日，目前仅 6 个工作日",
        en="At least 7 working days must pass from 2026-09-30; only 6 have",
    )
    assert time_rules_unmet(move(facts, today="2026-10-15"), wait) == []
    # the make-up Saturday counts: by Sat 10 Oct three working days have passed
    [unmet] = time_rules_unmet(move(facts, today="2026-10-10"), wait)
    assert unmet.en.endswith("only 3 have")


def test_min_elapsed_since_entry_counts_from_the_branch_entry() -> None:
    """Inside a branch, "since state entry" is the branch's own entry, not the main line's."""
    wait = TransitionSpec.model_validate(
        {
            "trigger": "complete_risk_assessment",
            "label": {"zh": "完成", "en": "Complete"},
            "source": "assessing",
            "dest": "done",
            "roles": ["staff"],
            "article": "Art 24",
            "time_rules": [{"kind": "min_elapsed", "days": 5, "article": "Art 24"}],
        }
    )
    facts = decision(
        entered=at("2026-03-01"),
        branches={"risk_assessment": "assessing"},
        branch_entered={"risk_assessment": at("2026-03-10")},
    )
    [unmet] = time_rules_unmet(move(facts, today="2026-03-12", branch="risk_assessment"), wait)
    assert unmet.en == "At least 5 calendar days must pass from 2026-03-10; only 2 have"
    assert time_rules_unmet(move(facts, today="2026-03-15", branch="risk_assessment"), wait) == []


def test_a_deadline_rule_never_refuses() -> None:
    """max_elapsed is reported elsewhere; overrunning it must not block the procedure."""
    late = TransitionSpec.model_validate(
        {
            "trigger": "archive_decision",
            "label": {"zh": "归档", "en": "Archive"},
            "source": "execution",
            "dest": "archived",
            "roles": ["government_office"],
            "article": "Art 33",
            "time_rules": [{"kind": "max_elapsed", "days": 1, "article": "Art 33"}],
        }
    )
    facts = decision("execution", entered=at("2026-01-01"))
    assert time_rules_unmet(move(facts, today="2026-12-31"), late) == []


def test_every_rule_is_reported_together() -> None:
    """An unmet guard and a too-short lead time are listed together in one refusal."""
    facts = decision(branches={"public_participation": "consultation_open"})
    payload = {"requested_completion_date": date(2026, 3, 3)}
    unmet = unmet_for(
        move(facts, payload=payload, trigger="submit_legality_review"),
        main_transition("submit_legality_review"),
        MAJOR.state("argumentation"),
    )
    assert [(u.rule, u.article) for u in unmet] == [
        ("required_branches_complete", "Art 25"),
        ("field_min_ahead:requested_completion_date", "Art 27"),
    ]


# -- the guards of the complete procedure -------------------------------------------------


def test_a_legality_opinion_counts_only_over_the_draft_in_force():
    """An opinion signed over v1 no longer covers the decision once v2 exists (Art 28)."""
    signed_v1 = {"draft_number": 1, "draft_sha256": "a" * 64}
    records = (
        FakeRecords()
        .add("draft_version", at("2026-03-01"), number=1, sha256="a" * 64)
        .add("legality_opinion", at("2026-03-05"), signature=signed_v1)
    )
    ctx = context(record="legality_opinion")
    assert holds("signature_covers_current_draft", decision(records=records), ctx)
    records.add("draft_version", at("2026-03-06"), number=2, sha256="b" * 64)
    facts = decision(records=records)
    assert not holds("signature_covers_current_draft", facts, ctx)
    zh, en = REGISTRY["signature_covers_current_draft"].message(facts, ctx)
    assert "第 1 版" in zh and "第 2 版" in zh
    assert "signed over draft v1; the draft is now v2" in en


def test_an_unsigned_opinion_never_covers_the_draft():
    """No signature, no draft hash: the guard cannot hold."""
    records = FakeRecords().add("draft_version", at("2026-03-01"), number=1, sha256="a" * 64)
    records.add("legality_opinion", at("2026-03-02"), opinion="ok")
    assert not holds(
        "signature_covers_current_draft",
        decision(records=records),
        context(record="legality_opinion"),
    )


def _meeting(*positions: str) -> DecisionFacts:
    records = FakeRecords()
    for i, position in enumerate(positions):
        records.add("member_opinion", at("2026-03-10", 9 + i), position=position)
    return decision("collective_discussion", entered=at("2026-03-09"), records=records)


@pytest.mark.parametrize(
    ("positions", "expects", "reason", "ok"),
    [
        (("agree", "agree", "disagree"), "agree", "", True),  # with the majority: no reason needed
        (("disagree", "disagree", "agree"), "agree", "", False),  # against it, silent: refused
        (("disagree", "disagree", "agree"), "agree", "急需实施", True),  # against it, reasons given
        (("agree", "disagree"), "agree", "", True),  # a tie is no majority to depart from
        (("abstain", "abstain", "disagree"), "agree", "", False),  # abstentions do not count
    ],
)
def test_the_chief_departing_from_the_majority_must_give_reasons(positions, expects, reason, ok):
    """Art 30: a decision against the members' majority needs its reasons on record."""
    ctx = context(
        record="member_opinion",
        field="position",
        expects=expects,
        reason_field="departure_reason",
        payload={"departure_reason": reason},
    )
    assert holds("departure_explained", _meeting(*positions), ctx) is ok


def test_opinions_from_an_earlier_meeting_do_not_count():
    """Only this stage's opinions form the majority: a deferred matter's old meeting is past."""
    records = FakeRecords().add("member_opinion", at("2026-02-01"), position="disagree")
    records.add("member_opinion", at("2026-03-10"), position="agree")
    facts = decision("collective_discussion", entered=at("2026-03-09"), records=records)
    ctx = context(
        record="member_opinion", field="position", expects="agree", reason_field="departure_reason"
    )
    assert holds("departure_explained", facts, ctx)


def test_every_comment_needs_its_disposition():
    """Art 15: the stage cannot close while a received comment has no disposition."""
    records = FakeRecords().add("comment", at("2026-03-03"), disposition="adopted")
    records.add("comment", at("2026-03-04"))
    facts = decision(records=records)
    assert not holds("all_comments_disposed", facts, context())
    zh, en = REGISTRY["all_comments_disposed"].message(facts, context())
    assert "尚有 1 条公众意见" in zh and en.startswith("1 public comment(s)")
    records.facts[-1] = RecordFact("comment", {"disposition": "not_adopted"}, at("2026-03-04"))
    assert holds("all_comments_disposed", decision(records=records), context())


def test_the_evaluator_may_not_be_a_unit_that_assessed_before():
    """Art 36: the post-decision evaluator differs from the units that argued or assessed."""
    records = FakeRecords().add("risk_report", at("2026-03-03"), assessor="市社会稳定风险评估中心")
    records.add("expert_adoption", at("2026-03-04"), organiser="区发展研究中心")
    refs = [
        {"record": "risk_report", "field": "assessor"},
        {"record": "expert_adoption", "field": "organiser"},
    ]
    facts = decision("execution", records=records)
    same = context(
        field="evaluator", records=refs, payload={"evaluator": " 市社会稳定风险 评估中心"}
    )
    assert not holds("differs_from_records", facts, same)
    zh, en = REGISTRY["differs_from_records"].message(facts, same)
    assert "市社会稳定风险评估中心" in zh and "区发展研究中心" in en
    other = context(field="evaluator", records=refs, payload={"evaluator": "省行政学院评估中心"})
    assert holds("differs_from_records", facts, other)


# -- reassessed_after_adjustment (Art 24) --------------------------------------------------

REASSESSED = {"record": "risk_report", "field": "conclusion", "value": "not_controllable"}
COMPLETE_RISK = branch_transition("risk_assessment", "complete_risk_assessment")


def test_a_risk_never_found_uncontrollable_needs_no_reassessment():
    """A first report finding the risk controllable lets the assessment complete at once."""
    records = FakeRecords().add("draft_version", at("2026-03-01"), number=1)
    records.add("risk_report", at("2026-03-05"), conclusion="controllable")
    assert holds("reassessed_after_adjustment", decision(records=records), context(**REASSESSED))


def test_an_uncontrollable_risk_needs_an_adjusted_draft_then_a_new_assessment():
    """Art 24: after "not controllable", a new report over the same draft does not count; a new
    draft alone does not either; only a report made after the adjusted draft does."""
    ctx = context(**REASSESSED)
    records = FakeRecords().add("draft_version", at("2026-03-01"), number=1)
    records.add("risk_report", at("2026-03-05"), conclusion="not_controllable")
    assert not holds("reassessed_after_adjustment", decision(records=records), ctx)
    # the same draft re-assessed more kindly: the draft was never adjusted
    records.add("risk_report", at("2026-03-06"), conclusion="controllable")
    assert not holds("reassessed_after_adjustment", decision(records=records), ctx)
    # the draft adjusted, but not yet assessed again
    records.add("draft_version", at("2026-03-10"), number=2)
    facts = decision(records=records)
    assert not holds("reassessed_after_adjustment", facts, ctx)
    zh, en = REGISTRY["reassessed_after_adjustment"].message(facts, ctx)
    assert zh == "“风险评估报告”曾得出“not_controllable”的结论：须先修改草案，再重新评估"
    assert en == (
        "The 'Risk assessment report' once concluded 'not_controllable': "
        "the draft must be adjusted and then re-assessed"
    )
    records.add("risk_report", at("2026-03-12"), conclusion="controllable")
    assert holds("reassessed_after_adjustment", decision(records=records), ctx)


def test_completing_the_risk_assessment_cites_art_24_for_the_missing_reassessment():
    """Through the rules: a controllable report over the unadjusted draft is refused under Art 24."""
    records = FakeRecords().add("draft_version", at("2026-03-01"), number=1)
    records.add("risk_report", at("2026-03-05"), conclusion="not_controllable")
    records.add("risk_report", at("2026-03-06"), conclusion="controllable")
    facts = decision(branches={"risk_assessment": "assessing"}, records=records)
    unmet = guards_unmet(move(facts, branch="risk_assessment"), COMPLETE_RISK)
    assert [(u.rule, u.article) for u in unmet] == [("reassessed_after_adjustment", "Art 24")]
    records.add("draft_version", at("2026-03-10"), number=2)
    records.add("risk_report", at("2026-03-12"), conclusion="controllable")
    assert guards_unmet(move(facts, branch="risk_assessment"), COMPLETE_RISK) == []


# -- value_needs_flag (Art 28) -------------------------------------------------------------

EXPLORATORY = {
    "record": "legality_opinion",
    "field": "outcome",
    "value": "legal_risk_stated",
    "flag": "exploratory_reform",
}


@pytest.mark.parametrize(
    ("outcome", "flags", "ok"),
    [
        ("legal_risk_stated", {}, False),  # a stated legal risk on an ordinary matter: refused
        ("legal_risk_stated", {"exploratory_reform": False}, False),
        ("legal_risk_stated", {"exploratory_reform": True}, True),  # the reform it is meant for
        ("lawful", {}, True),  # any other finding needs no flag
        (None, {}, True),  # no opinion yet: other guards say so
    ],
)
def test_a_stated_legal_risk_is_a_finding_for_exploratory_reform_only(outcome, flags, ok):
    """Art 28: "lawful, legal risk stated" serves only a reform the law does not yet settle."""
    records = FakeRecords()
    if outcome is not None:
        records.add("legality_opinion", at("2026-03-05"), outcome=outcome)
    facts = decision("legality_review", flags=flags, records=records)
    assert holds("value_needs_flag", facts, context(**EXPLORATORY)) is ok


def test_the_stated_risk_refusal_names_the_record_the_finding_and_the_flag():
    """The legal officer reads which finding is reserved and for what kind of matter."""
    records = FakeRecords().add("legality_opinion", at("2026-03-05"), outcome="legal_risk_stated")
    facts = decision("legality_review", records=records)
    zh, en = REGISTRY["value_needs_flag"].message(facts, context(**EXPLORATORY))
    assert zh == (
        "“合法性审查意见（签署）”的结论“legal_risk_stated”只适用于"
        "“国家尚无明确规定的探索性改革事项”的事项"
    )
    assert en == (
        "The 'Legality opinion (signed)' finding 'legal_risk_stated' applies only to matters "
        "flagged 'Exploratory reform the law does not yet settle'"
    )


def test_concluding_the_review_on_a_stated_risk_cites_art_28():
    """Through the rules: find_lawful on a stated risk of an ordinary matter is refused (Art 28)."""
    signed = {"draft_number": 1, "draft_sha256": "a" * 64}
    records = FakeRecords().add("draft_version", at("2026-03-01"), number=1, sha256="a" * 64)
    records.add("legality_opinion", at("2026-03-05"), outcome="legal_risk_stated", signature=signed)
    find_lawful = main_transition("find_lawful")
    ordinary = decision("legality_review", records=records)
    unmet = guards_unmet(move(ordinary), find_lawful)
    assert [(u.rule, u.article) for u in unmet] == [("value_needs_flag", "Art 28")]
    reform = decision("legality_review", flags={"exploratory_reform": True}, records=records)
    assert guards_unmet(move(reform), find_lawful) == []


# -- record_date_reached (Art 15, Art 16) ----------------------------------------------------

DEADLINE = {"record": "open_consultation", "field": "deadline"}


@pytest.mark.parametrize(
    ("today", "ok"),
    [("2026-03-30", False), ("2026-03-31", True), ("2026-04-01", True)],
    ids=["the day before", "the day itself", "the day after"],
)
def test_the_consultation_stays_open_until_the_announced_deadline(today: str, ok: bool) -> None:
    """Art 15: the public was told 31 March; the window closes on that day, not before."""
    records = FakeRecords().add("open_consultation", at("2026-03-01"), deadline="2026-03-31")
    facts = decision(branches={"public_participation": "consultation_open"}, records=records)
    assert holds("record_date_reached", facts, context(today=today, **DEADLINE)) is ok


def test_no_announced_date_never_counts_as_reached() -> None:
    """Without the record that announced the date there is no date to have come."""
    facts = decision(branches={"public_participation": "consultation_open"})
    assert not holds("record_date_reached", facts, context(**DEADLINE))
    blank = FakeRecords().add("open_consultation", at("2026-03-01"), deadline="")
    assert not holds("record_date_reached", decision(records=blank), context(**DEADLINE))


def test_the_date_refusal_names_the_field_and_the_date_announced() -> None:
    """The clerk reads which announced date must come: 截止日期 (2026-03-31) / Deadline."""
    records = FakeRecords().add("open_consultation", at("2026-03-01"), deadline="2026-03-31")
    ctx = context(today="2026-03-30", **DEADLINE)
    assert REGISTRY["record_date_reached"].message(decision(records=records), ctx) == (
        "须待“截止日期”（2026-03-31）届至",
        "Not before 'Deadline' (2026-03-31)",
    )


def test_the_hearing_is_held_on_its_announced_day_citing_art_16() -> None:
    """Through the rules: holding the hearing before the announced day is refused (Art 16)."""
    records = FakeRecords().add("announce_hearing", at("2026-03-02"), hearing_date="2026-03-16")
    facts = decision(branches={"hearing": "announced"}, records=records)
    hold = branch_transition("hearing", "hold_hearing")
    [unmet] = guards_unmet(move(facts, today="2026-03-15", branch="hearing"), hold)
    assert (unmet.rule, unmet.article) == ("record_date_reached", "Art 16")
    assert unmet.en == "Not before 'Hearing date' (2026-03-16)"
    assert guards_unmet(move(facts, today="2026-03-16", branch="hearing"), hold) == []
