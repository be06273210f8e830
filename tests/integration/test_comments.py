"""Every public comment gets a disposition with its reason before participation closes (Art 15)."""

from __future__ import annotations

import pytest

from decisionflow.errors import InvalidInput, NotPermitted, RuleNotMet
from decisionflow.roles import Role
from tests.helpers import drive, take


@pytest.fixture
def consulting(parts, people, clock):
    """A decision whose public consultation is open."""
    return drive(parts, people, clock, through="open_consultation").id


def _comment(parts, decision_id, text="建议提高过渡期补偿", address="10.0.0.1", **kwargs):
    return parts.participation.submit_comment(decision_id, text=text, address=address, **kwargs)


def _comment_ids(parts, decision_id):
    with parts.sessions() as session:
        return [c.id for c in parts.participation.comments(session, decision_id)]


def _completion_refused(parts, people, clock, decision_id):
    """Drive the consultation to its summary: completing it is refused for one pending comment."""
    drive(
        parts,
        people,
        clock,
        decision_id=decision_id,
        start="hearing_participants",
        through="comment_adoption_summary",
    )
    with pytest.raises(RuleNotMet) as refused:
        take(parts, people, clock, decision_id, "complete_public_participation")
    [pending] = [u for u in refused.value.unmet if u.rule == "all_comments_disposed"]
    assert pending.article == "Art 15" and "1 public comment(s)" in pending.en


def test_participation_cannot_complete_until_every_comment_is_disposed(
    parts, people, clock, consulting
):
    """The stage is refused naming the pending comment; once disposed with a reason, it completes."""
    _comment(parts, consulting)
    _completion_refused(parts, people, clock, consulting)
    [comment_id] = _comment_ids(parts, consulting)
    parts.participation.dispose(
        people[Role.STAFF], comment_id, disposition="partly_adopted", reason="过渡期延长至六个月"
    )
    take(parts, people, clock, consulting, "complete_public_participation")


def test_a_disposition_needs_a_valid_kind_and_a_reason_and_never_changes(parts, people, consulting):
    """Invalid input names its fields; a second disposition of the same comment is refused."""
    _comment(parts, consulting)
    [comment_id] = _comment_ids(parts, consulting)
    with pytest.raises(InvalidInput) as invalid:
        parts.participation.dispose(
            people[Role.STAFF], comment_id, disposition="ignored", reason=" "
        )
    assert set(invalid.value.fields) == {"disposition", "reason"}
    parts.participation.dispose(
        people[Role.STAFF], comment_id, disposition="not_adopted", reason="与上位法不符"
    )
    with pytest.raises(RuleNotMet, match="cannot be changed") as twice:
        parts.participation.dispose(
            people[Role.STAFF], comment_id, disposition="adopted", reason="改为采纳"
        )
    assert twice.value.unmet[0].article == "Art 15"
    with parts.sessions() as session:
        [kept] = parts.participation.comments(session, consulting)
    assert (kept.disposition, kept.disposition_reason) == ("not_adopted", "与上位法不符")


def test_only_the_undertaking_unit_or_the_office_handles_comments(parts, people, consulting):
    """Another department's clerk and the legal officer are refused; nothing is recorded."""
    _comment(parts, consulting)
    [comment_id] = _comment_ids(parts, consulting)
    for outsider in (people.staff_b, people[Role.LEGAL_OFFICER]):
        with pytest.raises(NotPermitted):
            parts.participation.dispose(outsider, comment_id, disposition="adopted", reason="x")
    with parts.sessions() as session:
        [untouched] = parts.participation.comments(session, consulting)
    assert untouched.disposition is None
    parts.participation.dispose(
        people[Role.GOVERNMENT_OFFICE], comment_id, disposition="adopted", reason="已采纳"
    )


def test_a_held_comment_is_moderated_before_it_can_be_disposed(parts, people, consulting):
    """A comment that tripped a rule is out of the record until released; released, it needs a disposition."""
    receipt = _comment(parts, consulting, suspicious=True)
    assert receipt.held
    [comment_id] = _comment_ids(parts, consulting)
    with pytest.raises(RuleNotMet, match="not in the record"):
        parts.participation.dispose(
            people[Role.STAFF], comment_id, disposition="adopted", reason="x"
        )
    parts.participation.moderate(
        people[Role.STAFF], comment_id, release=True, reason="人工核实为真实意见"
    )
    parts.participation.dispose(
        people[Role.STAFF], comment_id, disposition="adopted", reason="已采纳"
    )
    verification = parts.verify_audit()
    assert verification.ok


def test_a_held_comment_keeps_participation_open_until_it_is_answered(
    parts, people, clock, consulting
):
    """A comment held for moderation still counts: it must be released and disposed, or rejected."""
    _comment(parts, consulting, suspicious=True)
    _completion_refused(parts, people, clock, consulting)
    [comment_id] = _comment_ids(parts, consulting)
    parts.participation.moderate(people[Role.STAFF], comment_id, release=False, reason="广告信息")
    take(parts, people, clock, consulting, "complete_public_participation")
    with pytest.raises(RuleNotMet, match="not awaiting moderation"):
        parts.participation.moderate(people[Role.STAFF], comment_id, release=True, reason="误判")


def test_a_disposition_raises_the_decisions_version(parts, people, consulting):
    """What the decision still owes the public changed: a page loaded before it is stale."""
    _comment(parts, consulting)
    [comment_id] = _comment_ids(parts, consulting)
    before = parts.decisions.get(people[Role.STAFF], consulting).version
    parts.participation.dispose(
        people[Role.STAFF], comment_id, disposition="adopted", reason="已采纳"
    )
    assert parts.decisions.get(people[Role.STAFF], consulting).version == before + 1


def test_a_late_comment_is_refused_citing_the_comment_article(parts, people, clock, consulting):
    """After the announced deadline the portal refuses the comment, naming Art 15."""
    clock.advance(days=40)
    with pytest.raises(RuleNotMet, match="comment period has ended") as late:
        _comment(parts, consulting)
    assert [(u.rule, u.article) for u in late.value.unmet] == [("comment_period", "Art 15")]
