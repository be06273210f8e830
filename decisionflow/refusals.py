"""The wording of refusals that are not a guard's: wrong role, wrong stage, stale page."""

from __future__ import annotations

from collections.abc import Sequence

from decisionflow.definitions import BranchSpec, Definition, Text, TransitionSpec
from decisionflow.errors import Conflict, RuleNotMet, Unmet
from decisionflow.roles import ROLE_LABELS, Role


def role_label(role: Role) -> tuple[str, str]:
    """A role's name in Chinese and English."""
    return ROLE_LABELS[role]


def _roles(roles: Sequence[Role]) -> tuple[str, str]:
    return "、".join(ROLE_LABELS[r][0] for r in roles), ", ".join(ROLE_LABELS[r][1] for r in roles)


def wrong_role(article: str, roles: Sequence[Role]) -> Unmet:
    """Only other roles may do this."""
    zh, en = _roles(roles)
    return Unmet("role", article, f"此操作仅限{zh}办理", f"Only {en} may do this")


def _place_label(definition: Definition, place: str) -> Text:
    if "." in place:
        branch_name, state_name = place.split(".", 1)
        branch = definition.branch(branch_name)
        state = next(s for s in branch.states if s.name == state_name)
        return Text(
            zh=f"{branch.label.zh}·{state.label.zh}", en=f"{branch.label.en}: {state.label.en}"
        )
    return definition.state(place).label


def wrong_stage(
    definition: Definition, transition: TransitionSpec, branch: BranchSpec | None
) -> Unmet:
    """The move belongs to another stage."""
    places = [f"{branch.name}.{s}" if branch else s for s in transition.source]
    return wrong_place(definition, transition.article, places)


def wrong_place(definition: Definition, article: str, places: Sequence[str]) -> Unmet:
    """The action is possible only at these stages."""
    labels = [_place_label(definition, p) for p in places]
    return Unmet(
        "stage",
        article,
        "只能在以下阶段办理：" + "、".join(t.zh for t in labels),
        "Possible only at: " + "; ".join(t.en for t in labels),
    )


def closed(definition: Definition, state: str) -> RuleNotMet:
    """The decision has reached a final state: its file is closed and read-only."""
    label = definition.state(state).label
    return RuleNotMet(
        zh=f"该决策已办结（{label.zh}），其记录和附件只读",
        en=f"This decision is closed ({label.en}); its records and attachments are read-only",
        unmet=[
            Unmet(
                "closed",
                definition.filing_article,
                "已办结的决策案卷已归档，不得再添加记录或附件",
                "A closed decision's file is archived; no record or attachment may be added",
            )
        ],
    )


def stale() -> Conflict:
    """Someone else changed the decision since the caller last saw it."""
    return Conflict(
        zh="该决策已被他人修改，您看到的不是最新内容，请刷新后重试",
        en="Someone else has changed this decision since you loaded it; reload and try again",
    )


def not_routed(definition: Definition, candidates: Sequence[TransitionSpec]) -> RuleNotMet:
    """The decision's attributes switch this move off (e.g. no public comment when not disclosed)."""
    first = candidates[0]
    conditions = [t.when for t in candidates if t.when is not None]
    named_zh, named_en = [], []
    for condition in conditions:
        for flag in condition.flags:
            label = definition.flags[flag].label
            named_zh.append(f"须为“{label.zh}”")
            named_en.append(f"requires '{label.en}'")
        for flag in condition.not_flags:
            label = definition.flags[flag].label
            named_zh.append(f"不适用于“{label.zh}”")
            named_en.append(f"not for '{label.en}'")
    return RuleNotMet(
        zh=f"本决策的情形不适用“{first.label.zh}”",
        en=f"'{first.label.en}' does not apply to this decision",
        unmet=[Unmet("when", first.article, "；".join(named_zh), "; ".join(named_en))],
    )
