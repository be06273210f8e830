"""A decision stays on the definition version it started with, whatever the folder holds later."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from config import REPO_ROOT
from decisionflow.bootstrap import build
from decisionflow.definitions import DefinitionError
from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, StepContext, take_step
from decisionflow.errors import RuleNotMet
from decisionflow.roles import Role
from tests.conftest import PASSWORD

SOURCE = (REPO_ROOT / "workflows" / "major_decision.yaml").read_text(encoding="utf-8")


def _folder(tmp_path, name, text):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "major_decision.yaml").write_text(text, encoding="utf-8")
    return folder


def _to_consultation(parts, people, clock, decision_id):
    """Walk a decision up to (not including) opening the consultation."""
    ctx = StepContext(today=clock.today, expert_ids=(people[Role.EXPERT].id,), password=PASSWORD)
    for step in MAJOR_DECISION_PATH:
        if step.name == "open_consultation":
            return
        take_step(parts.decisions, step, people[step.role], decision_id, ctx)


def test_old_decisions_keep_their_version_new_ones_take_the_new(parts, people, clock, tmp_path):
    """After a v2 raising the comment period to 45 days, v1 decisions still need only 30."""
    staff = people[Role.STAFF]
    old = parts.decisions.create_decision(
        staff,
        title="v1 matter",
        category="public_policy",
        undertaking_unit="housing",
        flags=FLAGS_FOR_PATH,
    )
    _to_consultation(parts, people, clock, old.id)

    v2_text = SOURCE.replace("version: 1\n", "version: 2\n", 1).replace(
        "    value: 30\n", "    value: 45\n", 1
    )
    v2_folder = _folder(tmp_path, "v2", v2_text)
    upgraded = build(replace(parts.settings, workflows_path=v2_folder), clock=clock)
    try:
        thirty_days = {
            "explanation": "e",
            "how_to_comment": "h",
            "deadline": (clock.today + timedelta(days=31)).isoformat(),
        }
        # the v1 decision runs on the v1 snapshot kept in the database: 31 days suffice
        moved = upgraded.decisions.fire(staff, old.id, "open_consultation", thirty_days)
        assert moved.definition_version == 1

        new = upgraded.decisions.create_decision(
            staff,
            title="v2 matter",
            category="public_policy",
            undertaking_unit="housing",
            flags=FLAGS_FOR_PATH,
        )
        assert new.definition_version == 2
        _to_consultation(upgraded, people, clock, new.id)
        with pytest.raises(RuleNotMet) as refused:
            upgraded.decisions.fire(staff, new.id, "open_consultation", thirty_days)
        assert "45" in str(refused.value) and "Art 15" in str(refused.value)
    finally:
        upgraded.dispose()


def test_a_version_edited_in_place_is_refused(parts, people, tmp_path, clock):
    """Changing v1's text after decisions started on it, without a new version number, is refused."""
    parts.decisions.create_decision(
        people[Role.STAFF], title="first", category="public_policy", undertaking_unit="housing"
    )
    edited = _folder(tmp_path, "edited", SOURCE.replace("    value: 30\n", "    value: 31\n", 1))
    tampered = build(replace(parts.settings, workflows_path=edited), clock=clock)
    try:
        with pytest.raises(
            DefinitionError, match="version 1 was changed after decisions started on it"
        ):
            tampered.decisions.create_decision(
                people[Role.STAFF],
                title="second",
                category="public_policy",
                undertaking_unit="housing",
            )
    finally:
        tampered.dispose()
