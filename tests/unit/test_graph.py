"""The Mermaid diagram draws the whole procedure from the same definition the engine runs."""

from __future__ import annotations

from config import REPO_ROOT
from decisionflow.definitions import load_definition
from decisionflow.graph import mermaid

DEFINITION = load_definition(REPO_ROOT / "workflows" / "major_decision.yaml")


def test_every_state_and_transition_is_drawn():
    """Each main-line state is declared with its label and each transition is an edge citing its article."""
    text = mermaid(DEFINITION, lang="zh")
    assert text.startswith("stateDiagram-v2\n")
    for state in DEFINITION.states:
        if not state.branches:
            assert f'state "{state.label.zh}" as {state.name}' in text
    for t in DEFINITION.transitions:
        for source in t.source:
            assert f"{source} --> {t.dest}: {t.label.zh} ({t.article})" in text
    assert "[*] --> proposed" in text
    assert "archived --> [*]" in text


def test_parallel_branches_are_concurrent_regions_with_their_conditions():
    """Participation, hearing, experts and risk run side by side, each marked with its flag."""
    text = mermaid(DEFINITION, lang="en")
    block = text[text.index("state argumentation {") :]
    assert block.count("\n        --\n") == 3  # four regions, three separators
    assert "public_participation: Public participation [-not_disclosed]" in text
    assert "hearing: Hearing [+vital_interests]" in text
    assert "expert_argumentation: Expert argumentation [+professional]" in text
    assert (
        "risk_assessment__pending --> risk_assessment__assessing: Start the risk assessment (Art 22)"
        in text
    )


def test_current_position_is_highlighted():
    """The decision's current state gets the highlight class."""
    text = mermaid(DEFINITION, current=["legality_review"])
    assert "class legality_review current" in text
    assert "classDef current" in text


def test_labels_never_break_mermaid_syntax():
    """Colons and quotes in labels are neutralised so the diagram still parses."""
    text = mermaid(DEFINITION, lang="en")
    for line in text.splitlines():
        if line.strip().startswith('state "'):
            label = line.split('"')[1]
            assert ":" not in label
