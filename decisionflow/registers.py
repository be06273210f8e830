"""The expert pool and the yearly decision catalogue, kept by administrators; every change audited."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from decisionflow.accounts import Actor, find_department, find_user
from decisionflow.admin import require_admin
from decisionflow.errors import InvalidInput, NotFound, RuleNotMet
from decisionflow.models import CatalogueEntry, Department, ExpertProfile, User, utcnow
from decisionflow.roles import Role
from decisionflow.uow import Attempt, Door

EXPERT_STATUSES = ("active", "suspended", "removed")


@dataclass(frozen=True)
class Standing:
    """Whether an expert may be asked about a decision, and if not, why (Art 20-21)."""

    user_id: int
    name: str
    eligible: bool
    reason_zh: str = ""
    reason_en: str = ""


def expert_standing(session: Session, user_ids: Sequence[int], unit_code: str) -> list[Standing]:
    """Each expert's standing for a decision of this undertaking unit."""
    rows = session.execute(
        select(User, ExpertProfile)
        .outerjoin(ExpertProfile, ExpertProfile.user_id == User.id)
        .where(User.id.in_(list(user_ids)))
    ).all()
    found = {user.id: (user, profile) for user, profile in rows}
    out = []
    for user_id in user_ids:
        user, profile = found.get(user_id, (None, None))
        name = user.display_name if user else str(user_id)
        if profile is None:
            out.append(Standing(user_id, name, False, "不在专家库中", "is not in the expert pool"))
        elif profile.status != "active":
            out.append(
                Standing(
                    user_id,
                    name,
                    False,
                    f"在专家库中的状态为“{profile.status}”",
                    f"has status '{profile.status}' in the expert pool",
                )
            )
        elif unit_code in (profile.declared_interests or []):
            out.append(
                Standing(
                    user_id,
                    name,
                    False,
                    "已声明与承办单位存在直接利害关系",
                    "has declared a direct interest in the undertaking unit's matters",
                )
            )
        else:
            out.append(Standing(user_id, name, True))
    return out


def check_experts(session: Session, user_ids: Sequence[int], unit_code: str, *, field: str) -> None:
    """Refuse experts not in the pool, not active, or with a declared interest (Art 20)."""
    refused = [s for s in expert_standing(session, user_ids, unit_code) if not s.eligible]
    if refused:
        from decisionflow.errors import Unmet

        raise RuleNotMet(
            zh="所选专家不符合条件",
            en="Some chosen experts may not be asked",
            unmet=[
                Unmet(
                    f"expert_eligibility:{field}",
                    "Art 20",
                    f"{s.name}：{s.reason_zh}",
                    f"{s.name} {s.reason_en}",
                )
                for s in refused
            ],
        )


class Registers:
    """Keep the expert pool and the decision catalogue."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.door = Door(sessions, clock)

    def enrol_expert(
        self,
        actor: Actor,
        *,
        username: str,
        fields: str,
        status: str = "active",
        declared_interests: Sequence[str] = (),
    ) -> None:
        """Put an expert account in the pool, or update its entry."""
        attempt = Attempt(
            actor,
            "enrol_expert",
            payload={
                "username": username,
                "fields": fields,
                "status": status,
                "declared_interests": list(declared_interests),
            },
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            require_admin(actor)
            user = find_user(session, username)
            errors: dict[str, tuple[str, str]] = {}
            if user is None or user.role != Role.EXPERT:
                errors["username"] = ("不是专家账号", "is not an expert account")
            if status not in EXPERT_STATUSES:
                errors["status"] = ("状态无效", f"must be one of {', '.join(EXPERT_STATUSES)}")
            if not fields.strip():
                errors["fields"] = ("必须填写", "is required")
            unknown = [
                code for code in declared_interests if find_department(session, code) is None
            ]
            if unknown:
                errors["declared_interests"] = (
                    f"没有此单位：{', '.join(unknown)}",
                    f"no such department: {', '.join(unknown)}",
                )
            if errors:
                raise InvalidInput(zh="专家信息有误", en="Invalid expert entry", fields=errors)
            assert user is not None
            profile = session.get(ExpertProfile, user.id) or ExpertProfile(user_id=user.id)
            profile.fields = fields.strip()
            profile.status = status
            profile.declared_interests = sorted(set(declared_interests))
            session.add(profile)
            attempt.detail = {"user_id": user.id}

        self.door.run(attempt, work)

    def add_catalogue_entry(
        self,
        actor: Actor,
        *,
        year: int,
        matter: str,
        undertaking_unit: str,
        planned_timing: str,
        published: bool = False,
    ) -> int:
        """Add a matter to a year's decision catalogue (决策事项目录, Art 10)."""
        attempt = Attempt(
            actor,
            "add_catalogue_entry",
            payload={
                "year": year,
                "matter": matter,
                "undertaking_unit": undertaking_unit,
                "planned_timing": planned_timing,
                "published": published,
            },
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> int:
            require_admin(actor)
            unit = find_department(session, undertaking_unit)
            errors: dict[str, tuple[str, str]] = {}
            if not 2000 <= year <= 2100:
                errors["year"] = ("年份无效", "is not a valid year")
            if not matter.strip():
                errors["matter"] = ("必须填写", "is required")
            if unit is None:
                errors["undertaking_unit"] = ("没有此单位", "no such department")
            if errors:
                raise InvalidInput(zh="目录事项有误", en="Invalid catalogue entry", fields=errors)
            assert unit is not None
            entry = CatalogueEntry(
                year=year,
                matter=matter.strip(),
                undertaking_unit_id=unit.id,
                planned_timing=planned_timing.strip(),
                published=published,
            )
            session.add(entry)
            session.flush()
            attempt.detail = {"catalogue_entry_id": entry.id}
            return entry.id

        return self.door.run(attempt, work)

    def experts(self) -> list[tuple[User, ExpertProfile]]:
        """The expert pool, by name."""
        with self.sessions() as session:
            return list(
                session.execute(
                    select(User, ExpertProfile)
                    .join(ExpertProfile, ExpertProfile.user_id == User.id)
                    .order_by(User.display_name)
                ).all()
            )

    def catalogue(self, year: int) -> list[tuple[CatalogueEntry, Department]]:
        """A year's catalogue, in the order entered."""
        with self.sessions() as session:
            return list(
                session.execute(
                    select(CatalogueEntry, Department)
                    .join(Department, Department.id == CatalogueEntry.undertaking_unit_id)
                    .where(CatalogueEntry.year == year)
                    .order_by(CatalogueEntry.id)
                ).all()
            )

    def entry(self, session: Session, entry_id: int) -> CatalogueEntry:
        """One catalogue entry; NotFound if there is none."""
        found = session.get(CatalogueEntry, entry_id)
        if found is None:
            raise NotFound(zh="没有此目录事项", en="No such catalogue entry")
        return found
