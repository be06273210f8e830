"""Routes of one trigger must allow the same roles: who may act cannot depend on the flags."""

from __future__ import annotations

import pytest

from config import REPO_ROOT
from decisionflow.definitions import DefinitionError, parse_definition

SOURCE = (REPO_ROOT / "workflows" / "major_decision.yaml").read_text(encoding="utf-8")


def test_routes_with_different_roles_are_refused():
    """The people's-congress route of the Party report may not admit another role than its twin."""
    marker = "    dest: people_congress\n    roles: [government_office]\n"
    assert marker in SOURCE
    text = SOURCE.replace(marker, "    dest: people_congress\n    roles: [chief_executive]\n")
    with pytest.raises(
        DefinitionError, match="routes of one trigger must allow the same roles"
    ) as err:
        parse_definition(text, file="major_decision.yaml")
    assert "report_to_party_committee" in str(err.value)


def test_the_shipped_definition_keeps_its_routes_consistent():
    """The real definition passes: both Party-report routes allow the government office."""
    assert parse_definition(SOURCE, file="major_decision.yaml").procedure == "major_decision"
