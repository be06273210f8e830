"""Typed refusals the service layer raises; the web maps them to HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Unmet:
    """One rule that refused a move: its name, the article it enforces, and why (zh/en)."""

    rule: str
    article: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        """Plain values for audit details and API problem documents."""
        return {"rule": self.rule, "article": self.article, "zh": self.zh, "en": self.en}


@dataclass
class DecisionFlowError(Exception):
    """Base of every refusal: a bilingual message and, where a rule refused, the rules."""

    zh: str
    en: str
    unmet: list[Unmet] = field(default_factory=list)
    #: the error kind, stable for audit entries and API clients
    code: str = "error"

    def __post_init__(self) -> None:
        super().__init__(self.en)

    def __str__(self) -> str:
        lines = [f"{self.zh} / {self.en}"]
        for item in self.unmet:
            lines.append(f"  - [{item.rule}, {item.article}] {item.zh} / {item.en}")
        return "\n".join(lines)


@dataclass
class NotPermitted(DecisionFlowError):
    """The actor's role or department may not do this (HTTP 403)."""

    code: str = "not_permitted"


@dataclass
class RuleNotMet(DecisionFlowError):
    """A statutory condition or required record is missing (HTTP 422)."""

    code: str = "rule_not_met"


@dataclass
class NotFound(DecisionFlowError):
    """No such decision, record or user (HTTP 404)."""

    code: str = "not_found"


@dataclass
class Conflict(DecisionFlowError):
    """Someone else changed the decision first (HTTP 409)."""

    code: str = "conflict"


@dataclass
class InvalidInput(DecisionFlowError):
    """The payload is malformed: a field is missing, of the wrong type or too long (HTTP 400)."""

    code: str = "invalid_input"
    #: field name -> (zh, en) message, so a form can show each error beside its field
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [super().__str__()]
        lines += [f"  - {name}: {zh} / {en}" for name, (zh, en) in self.fields.items()]
        return "\n".join(lines)


@dataclass
class RateLimited(DecisionFlowError):
    """Too many requests from one address: no rule of law, a guard of the service (HTTP 429)."""

    code: str = "rate_limited"
