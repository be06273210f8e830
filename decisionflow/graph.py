"""Draw a definition as a Mermaid state diagram, parallel branches as concurrent regions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from decisionflow.definitions import BranchSpec, Definition, StateSpec, Text, TransitionSpec

Language = Literal["zh", "en"]


def _say(text: Text, lang: Language) -> str:
    # Mermaid reads ':' and quotes as syntax; keep labels plain.
    return (text.zh if lang == "zh" else text.en).replace('"', "'").replace(":", " ")


def _state_lines(
    states: Sequence[StateSpec], prefix: str, lang: Language, indent: str
) -> list[str]:
    lines = []
    for state in states:
        sid = prefix + state.name
        lines.append(f'{indent}state "{_say(state.label, lang)}" as {sid}')
    return lines


def _edges(
    states: Sequence[StateSpec],
    transitions: Sequence[TransitionSpec],
    prefix: str,
    lang: Language,
    indent: str,
) -> list[str]:
    lines = [f"{indent}[*] --> {prefix}{next(s.name for s in states if s.initial)}"]
    for t in transitions:
        label = f"{_say(t.label, lang)} ({t.article})"
        lines += [f"{indent}{prefix}{source} --> {prefix}{t.dest}: {label}" for source in t.source]
    lines += [f"{indent}{prefix}{s.name} --> [*]" for s in states if s.final]
    return lines


def _branch_region(branch: BranchSpec, lang: Language, indent: str) -> list[str]:
    prefix = f"{branch.name}__"
    inner = indent + "    "
    lines = [f"{indent}state {branch.name} {{"]
    lines += _state_lines(branch.states, prefix, lang, inner)
    lines += _edges(branch.states, branch.transitions, prefix, lang, inner)
    lines.append(f"{indent}}}")
    when = ""
    if branch.when is not None:
        parts = [f"+{f}" for f in branch.when.flags] + [f"-{f}" for f in branch.when.not_flags]
        when = f" [{' '.join(parts)}]"
    lines.append(f"{indent}{branch.name}: {_say(branch.label, lang)}{when}")
    return lines


def mermaid(definition: Definition, *, lang: Language = "zh", current: Sequence[str] = ()) -> str:
    """The definition as Mermaid `stateDiagram-v2` text; `current` states are highlighted."""
    lines = ["stateDiagram-v2"]
    indent = "    "
    for state in definition.states:
        if not state.branches:
            lines.append(f'{indent}state "{_say(state.label, lang)}" as {state.name}')
            continue
        lines.append(f"{indent}state {state.name} {{")
        for i, branch in enumerate(state.branches):
            if i:
                lines.append(f"{indent}    --")
            lines += _branch_region(branch, lang, indent + "    ")
        lines.append(f"{indent}}}")
        lines.append(f"{indent}{state.name}: {_say(state.label, lang)}")
    lines += _edges(definition.states, definition.transitions, "", lang, indent)
    if current:
        lines.append(f"{indent}classDef current fill:#ffe08a,stroke:#b8860b,stroke-width:3px")
        lines += [f"{indent}class {name} current" for name in current]
    return "\n".join(lines) + "\n"
