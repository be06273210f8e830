"""The procedure diagram, from the same definition the engine runs, as data for the template."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from threading import Lock

from flask import render_template
from markupsafe import Markup

from decisionflow.definitions import Definition, Text
from web.i18n import is_english


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


#: drawings made, by what they show: a definition version never changes, and decisions at the
#: same place of the same procedure share one drawing (an argumentation stage's lanes take
#: some 0.3 ms to render)
_DRAWN: OrderedDict[Hashable, Markup] = OrderedDict()
_DRAWN_MAX = 512
_LOCK = Lock()


def drawn(
    definition: Definition, state: str, branch_states: dict[str, str], visited: set[str]
) -> Markup:
    """The diagram as HTML in the page's language, drawn once for each place it shows."""
    key = (
        definition.key,
        definition.overlay,
        definition.digest,
        state,
        tuple(sorted(branch_states.items())),
        frozenset(visited),
        is_english(),
    )
    with _LOCK:
        found = _DRAWN.get(key)
        if found is not None:
            _DRAWN.move_to_end(key)
            return found
    html = Markup(
        render_template(
            "decisions/_diagram.html", boxes=diagram(definition, state, branch_states, visited)
        )
    )
    with _LOCK:
        _DRAWN[key] = html
        if len(_DRAWN) > _DRAWN_MAX:
            _DRAWN.popitem(last=False)
    return html
