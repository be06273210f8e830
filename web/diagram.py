"""The procedure diagram, from the same definition the engine runs, as data for the template."""

from __future__ import annotations

from dataclasses import dataclass, field

from decisionflow.definitions import Definition, Text


@dataclass
class Box:
    """A stage drawn as a box; `current` marks where the decision stands."""

    name: str
    label: Text
    current: bool = False
    final: bool = False
    done: bool = False
    branches: list[Lane] = field(default_factory=list)


@dataclass
class Lane:
    """A parallel branch drawn as a lane of boxes inside its stage."""

    name: str
    label: Text
    boxes: list[Box]
    active: bool


def diagram(
    definition: Definition, state: str, branch_states: dict[str, str], visited: set[str]
) -> list[Box]:
    """The main line as boxes (final outcomes other than the current one left out)."""
    boxes = []
    for spec in definition.states:
        if spec.final and spec.name != state and spec.name != "archived":
            continue
        box = Box(
            spec.name,
            spec.label,
            current=spec.name == state,
            final=spec.final,
            done=spec.name in visited and spec.name != state,
        )
        for branch in spec.branches:
            here = branch_states.get(branch.name)
            lane_boxes = [
                Box(s.name, s.label, current=(s.name == here and spec.name == state), final=s.final)
                for s in branch.states
            ]
            box.branches.append(
                Lane(branch.name, branch.label, lane_boxes, active=here is not None)
            )
        boxes.append(box)
    return boxes
