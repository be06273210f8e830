"""The single door through which every change to a decision passes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from decisionflow import refusals
from decisionflow.accounts import Actor, find_department
from decisionflow.attachments import AttachmentStore
from decisionflow.calendar import LegalCalendar
from decisionflow.definitions import BranchSpec, Definition, TransitionSpec
from decisionflow.errors import InvalidInput, NotFound, NotPermitted, RuleNotMet
from decisionflow.facts import branch_entry, branch_positions, facts_of
from decisionflow.guards import GuardContext
from decisionflow.machine import Position
from decisionflow.models import (
    Attachment,
    Category,
    Decision,
    DecisionAssignment,
    DecisionCoUnit,
    DraftVersion,
    StepRecord,
    utcnow,
)
from decisionflow.payload import to_json, validate_payload
from decisionflow.registry import DefinitionRegistry
from decisionflow.roles import ROLE_SCOPES, Permission, Scope, has_permission
from decisionflow.rules import Move, flags_route, state_of, unmet_for
from decisionflow.uow import Attempt, Door
from decisionflow.views import ActionView, AttachmentView, DecisionView, RecordView, position_text

READ_ONLY = RuleNotMet(
    zh="该决策已办结归档，记录只读",
    en="This decision is closed and archived; its record is read-only",
)


class DecisionService:
    """Create decisions, move them, and add their records — checked, applied and audited."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        registry: DefinitionRegistry,
        calendar: LegalCalendar,
        attachments: AttachmentStore,
        clock: Callable[[], datetime] = utcnow,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.calendar = calendar
        self.attachments = attachments
        self.timezone = ZoneInfo(timezone)
        self.door = Door(sessions, clock)

    # -- changes ---------------------------------------------------------------------------
    def create_decision(
        self,
        actor: Actor,
        *,
        title: str,
        category: str,
        undertaking_unit: str,
        procedure: str = "major_decision",
        flags: Mapping[str, bool] | None = None,
        co_units: Sequence[str] = (),
        origin: str = "",
    ) -> DecisionView:
        """Open a new decision at its procedure's first stage."""
        flags = dict(flags or {})
        attempt = Attempt(
            actor,
            "create_decision",
            payload={
                "title": title,
                "category": category,
                "procedure": procedure,
                "undertaking_unit": undertaking_unit,
                "flags": flags,
                "co_units": list(co_units),
            },
            origin=origin,
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> DecisionView:
            if not has_permission(actor.role, Permission.DECISION_CREATE):
                raise NotPermitted(
                    zh="您的角色不能提出决策建议", en="Your role cannot propose decisions"
                )
            try:
                definition = self.registry.current(procedure)
            except KeyError:
                raise InvalidInput(
                    zh=f"没有名为“{procedure}”的程序",
                    en=f"No procedure named '{procedure}'",
                    fields={"procedure": ("没有此程序", "no such procedure")},
                ) from None
            errors: dict[str, tuple[str, str]] = {}
            if not title.strip() or len(title) > 300:
                errors["title"] = (
                    "必须填写，且不超过 300 字",
                    "is required, at most 300 characters",
                )
            if category not in {c.value for c in Category}:
                errors["category"] = (
                    "应为条例第三条所列类别之一",
                    "must be one of the kinds of Art 3",
                )
            unknown = sorted(set(flags) - set(definition.flags))
            if unknown:
                errors["flags"] = (
                    f"未知的标记：{', '.join(unknown)}",
                    f"unknown flags: {', '.join(unknown)}",
                )
            unit = find_department(session, undertaking_unit)
            if unit is None:
                errors["undertaking_unit"] = ("没有此单位", "no such department")
            co = [find_department(session, code) for code in co_units]
            if any(d is None for d in co):
                errors["co_units"] = ("没有此单位", "no such department")
            if errors:
                raise InvalidInput(zh="填写内容有误", en="Invalid input", fields=errors)
            assert unit is not None
            if ROLE_SCOPES[actor.role] is Scope.UNDERTAKING_UNIT and unit.id != actor.department_id:
                raise NotPermitted(
                    zh="只能为本单位提出决策建议",
                    en="You can only propose decisions for your own department",
                )
            self.registry.ensure_snapshot(session, definition)
            initial = definition.initial_state
            decision = Decision(
                title=title.strip(),
                category=category,
                procedure=definition.procedure,
                definition_version=definition.version,
                undertaking_unit_id=unit.id,
                flags={name: bool(flags.get(name, False)) for name in definition.flags},
                state=initial.name,
                state_entered_at=now,
                branch_states={},
                created_by=actor.id,
                created_at=now,
                updated_at=now,
            )
            decision.branch_states = self._enter_branches(definition, decision, initial.name, now)
            session.add(decision)
            session.flush()
            session.add_all(
                DecisionCoUnit(decision_id=decision.id, department_id=d.id) for d in co if d
            )
            attempt.decision_id = decision.id
            attempt.state_after = decision.state
            return DecisionView.of(decision, definition)

        return self.door.run(attempt, work)

    def fire(
        self,
        actor: Actor,
        decision_id: int,
        trigger: str,
        payload: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        origin: str = "",
    ) -> DecisionView:
        """Move a decision by a trigger, if the actor may and the law's conditions hold."""
        attempt = Attempt(actor, trigger, decision_id, dict(payload or {}), origin)

        def work(session: Session, attempt: Attempt, now: datetime) -> DecisionView:
            decision, definition = self._load(
                session, actor, decision_id, attempt, expected_version
            )
            branch = definition.branch_of_trigger(trigger)
            if trigger not in definition.triggers:
                raise InvalidInput(
                    zh=f"没有名为“{trigger}”的操作", en=f"No action named '{trigger}'"
                )
            branches, _ = branch_positions(decision)
            source = branches.get(branch.name) if branch else decision.state
            candidates = self._candidates(definition, trigger, source, branch)
            if actor.role not in {role for t in candidates for role in t.roles}:
                raise NotPermitted(
                    zh=f"您的角色不能执行“{candidates[0].label.zh}”",
                    en=f"Your role may not '{candidates[0].label.en}'",
                    unmet=[refusals.wrong_role(candidates[0].article, candidates[0].roles)],
                )
            facts = facts_of(session, decision)
            route = next((t for t in candidates if flags_route(t, facts.flags)), candidates[0])
            clean = validate_payload(route.fields, payload)
            move = self._move(definition, facts, clean, now, trigger, branch)
            position = Position(source or "")
            if not self.registry.machine(definition).fire(trigger, position, move, branch):
                raise RuleNotMet(
                    zh=f"尚不能“{route.label.zh}”",
                    en=f"Cannot '{route.label.en}' yet",
                    unmet=move.unmet,
                )
            main_state = decision.state
            self._apply(definition, decision, branch, position.state, now)
            record = StepRecord(
                decision_id=decision.id,
                kind=trigger,
                data=to_json(clean),
                state=main_state,
                branch=branch.name if branch else None,
                created_by=actor.id,
                created_at=now,
            )
            session.add(record)
            self._assign(session, decision.id, route.fields, clean)
            session.flush()
            states, _ = branch_positions(decision)
            attempt.state_after = position_text(
                decision.state, states, branch.name if branch and branch.name in states else None
            )
            attempt.detail = {"record_id": record.id, "version": decision.version}
            return DecisionView.of(decision, definition)

        return self.door.run(attempt, work)

    def add_record(
        self,
        actor: Actor,
        decision_id: int,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        origin: str = "",
    ) -> RecordView:
        """Add a record the procedure keeps (a draft version, an opinion, a report)."""
        attempt = Attempt(actor, f"record:{kind}", decision_id, dict(payload or {}), origin)

        def work(session: Session, attempt: Attempt, now: datetime) -> RecordView:
            decision, definition = self._load(
                session, actor, decision_id, attempt, expected_version
            )
            spec = definition.records.get(kind)
            if spec is None:
                raise InvalidInput(zh=f"没有名为“{kind}”的记录", en=f"No record kind '{kind}'")
            if definition.state(decision.state).final:
                raise READ_ONLY
            if actor.role not in spec.roles:
                raise NotPermitted(
                    zh=f"您的角色不能添加“{spec.label.zh}”",
                    en=f"Your role may not add '{spec.label.en}'",
                    unmet=[refusals.wrong_role(spec.article, spec.roles)],
                )
            branches, _ = branch_positions(decision)
            places = {decision.state} | {f"{b}.{s}" for b, s in branches.items()}
            if spec.allowed_in and not places.intersection(spec.allowed_in):
                raise RuleNotMet(
                    zh=f"现阶段不能添加“{spec.label.zh}”",
                    en=f"'{spec.label.en}' cannot be added at this stage",
                    unmet=[refusals.wrong_place(definition, spec.article, spec.allowed_in)],
                )
            clean = to_json(validate_payload(spec.fields, payload))
            if spec.storage == "draft":
                clean = self._store_draft(session, decision.id, clean, actor, now)
            record = StepRecord(
                decision_id=decision.id,
                kind=kind,
                data=clean,
                state=decision.state,
                branch=None,
                created_by=actor.id,
                created_at=now,
            )
            session.add(record)
            decision.updated_at = now  # a new record changes the decision: raise its version
            session.flush()
            attempt.detail = {"record_id": record.id, "version": decision.version}
            return RecordView(record.id, decision.id, kind, clean, now, decision.version)

        return self.door.run(attempt, work)

    def attach_file(
        self,
        actor: Actor,
        decision_id: int,
        *,
        filename: str,
        content_type: str,
        data: bytes,
        origin: str = "",
    ) -> AttachmentView:
        """Attach a file to a decision, kept under its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        attempt = Attempt(
            actor,
            "attach_file",
            decision_id,
            {
                "filename": filename,
                "content_type": content_type,
                "size": len(data),
                "sha256": sha256,
            },
            origin,
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> AttachmentView:
            decision, definition = self._load(session, actor, decision_id, attempt, None)
            if definition.state(decision.state).final:
                raise READ_ONLY
            self.attachments.check(filename, data)
            storage = self.attachments.save(sha256, data)
            row = Attachment(
                decision_id=decision.id,
                filename=filename,
                content_type=content_type,
                size=len(data),
                sha256=sha256,
                storage=storage,
                created_by=actor.id,
                created_at=now,
            )
            session.add(row)
            decision.updated_at = now
            session.flush()
            attempt.detail = {"attachment_id": row.id, "version": decision.version}
            return AttachmentView(row.id, decision.id, filename, content_type, len(data), sha256)

        return self.door.run(attempt, work)

    # -- reads -----------------------------------------------------------------------------
    def get(self, actor: Actor, decision_id: int) -> DecisionView:
        """A decision the actor may see."""
        with self.sessions() as session:
            decision, definition = self._load(session, actor, decision_id, None, None)
            return DecisionView.of(decision, definition)

    def actions(self, actor: Actor, decision_id: int) -> list[ActionView]:
        """The moves the actor's role may make now, each with what still stands in its way."""
        with self.sessions() as session:
            decision, definition = self._load(session, actor, decision_id, None, None)
            facts = facts_of(session, decision)
            move_now = utcnow()
            out: list[ActionView] = []
            branches, _ = branch_positions(decision)
            scopes: list[tuple[BranchSpec | None, str]] = [(None, decision.state)]
            scopes += [(definition.branch(b), s) for b, s in branches.items()]
            for branch, state in scopes:
                declared = definition.transitions if branch is None else branch.transitions
                seen: set[str] = set()
                for t in declared:
                    if state not in t.source or t.trigger in seen or actor.role not in t.roles:
                        continue
                    if not flags_route(t, facts.flags):
                        continue
                    seen.add(t.trigger)
                    move = self._move(definition, facts, {}, move_now, t.trigger, branch)
                    unmet = unmet_for(
                        move, t, state_of(definition, branch.name if branch else None, state)
                    )
                    out.append(
                        ActionView(
                            t.trigger,
                            t.label,
                            t.article,
                            branch.name if branch else None,
                            dict(t.fields),
                            tuple(unmet),
                        )
                    )
            return out

    # -- helpers ---------------------------------------------------------------------------
    def _load(
        self,
        session: Session,
        actor: Actor,
        decision_id: int,
        attempt: Attempt | None,
        expected_version: int | None,
    ) -> tuple[Decision, Definition]:
        decision = session.get(Decision, decision_id)
        if decision is None:
            raise NotFound(
                zh=f"没有编号为 {decision_id} 的决策", en=f"No decision number {decision_id}"
            )
        definition = self.registry.get(decision.procedure, decision.definition_version, session)
        if attempt is not None:
            attempt.state_before = decision.state
        self._check_scope(session, actor, decision)
        if expected_version is not None and expected_version != decision.version:
            raise refusals.stale()
        return decision, definition

    def _check_scope(self, session: Session, actor: Actor, decision: Decision) -> None:
        scope = ROLE_SCOPES[actor.role]
        if scope is Scope.GOVERNMENT:
            return
        if scope is Scope.UNDERTAKING_UNIT:
            units = {decision.undertaking_unit_id}
            units |= set(
                session.scalars(
                    select(DecisionCoUnit.department_id).where(
                        DecisionCoUnit.decision_id == decision.id
                    )
                )
            )
            if actor.department_id in units:
                return
        elif scope is Scope.EXECUTING_UNIT:
            if (
                actor.department_id is not None
                and actor.department_id == decision.executing_unit_id
            ):
                return
        elif scope is Scope.ASSIGNED and session.get(
            DecisionAssignment, (decision.id, actor.id, str(actor.role))
        ):
            return
        raise NotPermitted(
            zh="这不是您所在单位经办的决策", en="This decision is not one your department handles"
        )

    def _candidates(
        self, definition: Definition, trigger: str, source: str | None, branch: BranchSpec | None
    ) -> list[TransitionSpec]:
        machine = self.registry.machine(definition)
        declared = [
            t
            for t in (branch.transitions if branch else definition.transitions)
            if t.trigger == trigger
        ]
        candidates = machine.transitions_from(trigger, source, branch) if source else []
        if not candidates:
            spec = declared[0]
            where = branch.label if branch else None
            raise RuleNotMet(
                zh=f"现阶段不能“{spec.label.zh}”"
                + (f"（“{where.zh}”未在进行）" if branch and not source else ""),
                en=f"'{spec.label.en}' is not possible at this stage"
                + (f" ('{where.en}' is not under way)" if where and not source else ""),
                unmet=[refusals.wrong_stage(definition, spec, branch)],
            )
        return candidates

    def _move(
        self,
        definition: Definition,
        facts: Any,
        payload: Mapping[str, Any],
        now: datetime,
        trigger: str,
        branch: BranchSpec | None,
    ) -> Move:
        context = GuardContext(
            definition=definition,
            payload=payload,
            now=now,
            today=now.astimezone(self.timezone).date(),
            calendar=self.calendar,
        )
        return Move(
            facts, context, self.timezone, trigger=trigger, branch=branch.name if branch else None
        )

    def _apply(
        self,
        definition: Definition,
        decision: Decision,
        branch: BranchSpec | None,
        new_state: str,
        now: datetime,
    ) -> None:
        if branch is not None:
            states = dict(decision.branch_states)
            states[branch.name] = branch_entry(new_state, now)
            decision.branch_states = states
        elif new_state != decision.state or definition.state(new_state).branches:
            decision.state = new_state
            decision.state_entered_at = now
            decision.branch_states = self._enter_branches(definition, decision, new_state, now)
        decision.updated_at = now

    @staticmethod
    def _enter_branches(
        definition: Definition, decision: Decision, state: str, now: datetime
    ) -> dict[str, Any]:
        flags = dict(decision.flags or {})
        return {
            b.name: branch_entry(next(s.name for s in b.states if s.initial), now)
            for b in definition.branches_in(state)
            if b.when is None or b.when.holds(flags)
        }

    @staticmethod
    def _assign(
        session: Session, decision_id: int, fields: Mapping[str, Any], clean: Mapping[str, Any]
    ) -> None:
        for name, spec in fields.items():
            if spec.assigns is not None:
                for user_id in clean.get(name) or []:
                    session.merge(
                        DecisionAssignment(
                            decision_id=decision_id, user_id=user_id, role=str(spec.assigns)
                        )
                    )

    @staticmethod
    def _store_draft(
        session: Session, decision_id: int, data: dict[str, Any], actor: Actor, now: datetime
    ) -> dict[str, Any]:
        number = (
            session.scalar(
                select(func.max(DraftVersion.number)).where(DraftVersion.decision_id == decision_id)
            )
            or 0
        ) + 1
        content = data["content"]
        sha256 = hashlib.sha256(content.encode("utf-8")).hexdigest()
        session.add(
            DraftVersion(
                decision_id=decision_id,
                number=number,
                content=content,
                sha256=sha256,
                change_note=data.get("change_note", ""),
                created_by=actor.id,
                created_at=now,
            )
        )
        return {"number": number, "sha256": sha256, "change_note": data.get("change_note", "")}
