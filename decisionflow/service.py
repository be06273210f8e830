"""The single door through which every change to a decision passes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from decisionflow import effects, positions, refusals
from decisionflow.accounts import Actor
from decisionflow.attachments import AttachmentStore
from decisionflow.calendar import LegalCalendar
from decisionflow.definitions import BranchSpec, Definition, TransitionSpec
from decisionflow.errors import InvalidInput, NotFound, NotPermitted, RuleNotMet
from decisionflow.facts import DecisionFacts, branch_positions
from decisionflow.guards import GuardContext
from decisionflow.machine import Position
from decisionflow.models import Attachment, Decision, DecisionCoUnit, utcnow
from decisionflow.payload import to_json, validate_payload
from decisionflow.queries import MAX_ID
from decisionflow.registry import DefinitionRegistry
from decisionflow.roles import ROLE_SCOPES, Permission, Scope, has_permission
from decisionflow.rules import Move, flags_route, state_of, unmet_for
from decisionflow.uow import Attempt, Door
from decisionflow.views import ActionView, AttachmentView, DecisionView, RecordView, position_text


class DecisionService:
    """Create decisions, move them, and add their records — checked, applied and audited."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        readers: sessionmaker[Session] | None = None,
        registry: DefinitionRegistry,
        calendar: LegalCalendar,
        attachments: AttachmentStore,
        clock: Callable[[], datetime] = utcnow,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.sessions = sessions
        # Reads take no write lock: on SQLite a writer's session begins IMMEDIATE, which would
        # queue every page view behind every change (and each other) for nothing.
        self.readers = readers or sessions
        self.registry = registry
        self.calendar = calendar
        self.attachments = attachments
        self.clock = clock
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
        executing_unit: str | None = None,
        origin: str = "",
        overlay: str | None = None,
    ) -> DecisionView:
        """Open a new decision at its procedure's first stage (under local rules, if named)."""
        flags = dict(flags or {})
        payload: dict[str, Any] = {"title": title, "category": category, "flags": flags}
        payload |= {"procedure": procedure, "undertaking_unit": undertaking_unit}
        payload |= {"co_units": list(co_units), "executing_unit": executing_unit}
        if overlay is not None:
            payload["overlay"] = overlay
        attempt = Attempt(actor, "create_decision", payload=payload, origin=origin)

        def work(session: Session, attempt: Attempt, now: datetime) -> DecisionView:
            if not has_permission(actor.role, Permission.DECISION_CREATE):
                raise NotPermitted(
                    zh="您的角色不能提出决策建议", en="Your role cannot propose decisions"
                )
            definition = positions.in_force(self.registry, procedure)
            if overlay is not None:
                try:  # the newest version of the local rules, kept with the decision from now on
                    definition = self.registry.current(procedure, overlay=overlay)
                except KeyError:
                    raise InvalidInput(
                        zh=f"没有适用于“{procedure}”的地方规定“{overlay}”",
                        en=f"No local rules '{overlay}' for '{procedure}'",
                        fields={"overlay": ("没有此地方规定", "no such local rules")},
                    ) from None
            unit, co, executor = positions.check_new_decision(
                session,
                definition,
                title=title,
                category=category,
                flags=flags,
                undertaking_unit=undertaking_unit,
                co_units=co_units,
                executing_unit=executing_unit,
            )
            if ROLE_SCOPES[actor.role] is Scope.UNDERTAKING_UNIT and unit.id != actor.department_id:
                raise NotPermitted(
                    zh="只能为本单位提出决策建议",
                    en="You can only propose decisions for your own department",
                )
            positions.keep_snapshot(session, self.registry, definition)
            initial = definition.initial_state
            decision = Decision(
                title=title.strip(),
                category=category,
                procedure=definition.procedure,
                definition_version=definition.version,
                undertaking_unit_id=unit.id,
                executing_unit_id=executor.id if executor else None,
                flags={name: bool(flags.get(name, False)) for name in definition.flags},
                state=initial.name,
                state_entered_at=now,
                branch_states={},
                created_by=actor.id,
                created_at=now,
                updated_at=now,
                overlay=definition.overlay,
            )
            decision.branch_states = positions.enter_branches(
                definition, decision, initial.name, now
            )
            session.add(decision)
            session.flush()
            session.add_all(DecisionCoUnit(decision_id=decision.id, department_id=d.id) for d in co)
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
        password: str | None = None,
    ) -> DecisionView:
        """Move a decision by a trigger, if the actor may and the law's conditions hold.

        A move the definition has signed takes the actor's `password`, never kept or audited.
        """
        attempt = Attempt(actor, trigger, decision_id, dict(payload or {}), origin)

        def work(session: Session, attempt: Attempt, now: datetime) -> DecisionView:
            decision, definition = self._load(
                session, actor, decision_id, attempt, expected_version
            )
            machine = self.registry.machine(definition)
            branch, declared = positions.declared(machine, trigger)
            # Who may act is asked before where the decision stands: a role that never may
            # is told so, not that the stage is wrong.
            positions.check_role(actor, declared)
            branches, _ = branch_positions(decision)
            source = branches.get(branch.name) if branch else decision.state
            candidates = positions.check_stage(definition, declared, source, branch)
            facts = positions.facts_for_move(session, decision)
            route = next((t for t in candidates if flags_route(t, facts.flags)), None)
            if route is None:
                raise refusals.not_routed(definition, candidates)
            clean = validate_payload(route.fields, payload)
            move = self._move(definition, facts, clean, now, trigger, branch)
            position = Position(source or "")
            if not machine.fire(trigger, position, move, branch):
                raise RuleNotMet(
                    zh=f"尚不能“{route.label.zh}”",
                    en=f"Cannot '{route.label.en}' yet",
                    unmet=move.unmet,
                )
            data = self._effects(session, actor, decision, route, clean, password, now)
            main_state = decision.state
            completed = (
                positions.completed_branches(session, definition, decision, position.state)
                if branch is None
                else set()
            )
            positions.apply_move(definition, decision, branch, position.state, now, completed)
            if route.opens_successor:
                successor = effects.open_successor(
                    session, decision, definition.initial_state.name, now, opened_by=actor.id
                )
                successor.branch_states = positions.enter_branches(
                    definition, successor, successor.state, now
                )
                data["successor_id"] = successor.id
            record_id = positions.insert_record(
                session,
                decision_id=decision.id,
                kind=trigger,
                data=data,
                state=main_state,
                branch=branch.name if branch else None,
                created_by=actor.id,
                created_at=now,
            )
            positions.assign_people(session, decision, route.fields, clean)
            positions.save(session, decision, now)
            states, _ = branch_positions(decision)
            moved = branch.name if branch and branch.name in states else None
            attempt.state_after = position_text(decision.state, states, moved)
            attempt.detail = {"record_id": record_id, "version": decision.version}
            if "successor_id" in data:
                # the chain itself links a major adjustment to the decision that re-runs it
                attempt.detail["successor_id"] = data["successor_id"]
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
        password: str | None = None,
    ) -> RecordView:
        """Add a record the procedure keeps (a draft version, an opinion, a report).

        A record the definition has signed takes the author's `password`, never kept or audited.
        """
        attempt = Attempt(actor, f"record:{kind}", decision_id, dict(payload or {}), origin)

        def work(session: Session, attempt: Attempt, now: datetime) -> RecordView:
            decision, definition = self._load(
                session, actor, decision_id, attempt, expected_version
            )
            spec = definition.records.get(kind)
            if spec is None:
                raise InvalidInput(
                    zh=f"没有名为“{kind}”的记录",
                    en=f"No record kind '{kind}'",
                    fields={"kind": ("没有此记录种类", "no such kind of record")},
                )
            if definition.state(decision.state).final:
                raise refusals.closed(definition, decision.state)
            if actor.role not in spec.roles:
                raise NotPermitted(
                    zh=f"您的角色不能添加“{spec.label.zh}”",
                    en=f"Your role may not add '{spec.label.en}'",
                    unmet=[refusals.wrong_role(spec.article, spec.roles)],
                )
            if spec.allowed_in and not positions.places(decision).intersection(spec.allowed_in):
                raise RuleNotMet(
                    zh=f"现阶段不能添加“{spec.label.zh}”",
                    en=f"'{spec.label.en}' cannot be added at this stage",
                    unmet=[refusals.wrong_place(definition, spec.article, spec.allowed_in)],
                )
            clean = to_json(validate_payload(spec.fields, payload))
            if spec.storage == "draft":
                clean = positions.store_draft(session, decision.id, clean, actor, now)
            if spec.signature is not None:
                clean["signature"] = effects.sign(
                    session,
                    actor,
                    password,
                    decision_id=decision.id,
                    spec=spec.signature,
                    content=clean,
                    now=now,
                )
            record_id = positions.insert_record(
                session,
                decision_id=decision.id,
                kind=kind,
                data=clean,
                state=decision.state,
                branch=positions.branch_of_record(decision, spec.allowed_in),
                created_by=actor.id,
                created_at=now,
            )
            positions.save(session, decision, now)  # a new record changes the decision
            attempt.detail = {"record_id": record_id, "version": decision.version}
            return RecordView(record_id, decision.id, kind, clean, now, decision.version)

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
        details = {"filename": filename, "content_type": content_type, "size": len(data)}
        attempt = Attempt(actor, "attach_file", decision_id, {**details, "sha256": sha256}, origin)

        def work(session: Session, attempt: Attempt, now: datetime) -> AttachmentView:
            decision, definition = self._load(session, actor, decision_id, attempt, None)
            if definition.state(decision.state).final:
                raise refusals.closed(definition, decision.state)
            positions.check_may_attach(actor, definition)
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
            session.flush()
            positions.save(session, decision, now)
            attempt.detail = {"attachment_id": row.id, "version": decision.version}
            return AttachmentView(row.id, decision.id, filename, content_type, len(data), sha256)

        return self.door.run(attempt, work)

    # -- reads -----------------------------------------------------------------------------
    def get(self, actor: Actor, decision_id: int) -> DecisionView:
        """A decision the actor may see."""
        with self.readers() as session:
            decision, definition = self._load(session, actor, decision_id, None, None)
            return DecisionView.of(decision, definition)

    def actions(self, actor: Actor, decision_id: int) -> list[ActionView]:
        """The moves the actor's role may make now, each with what still stands in its way."""
        with self.readers() as session:
            decision, definition = self._load(session, actor, decision_id, None, None)
            facts = positions.facts_for_move(session, decision)
            return self.moves(actor, decision, definition, facts)

    def visible(
        self, session: Session, actor: Actor, decision_id: int
    ) -> tuple[Decision, Definition]:
        """A decision the actor may see and its definition, read in the caller's session
        (NotFound, NotPermitted otherwise): for a read made of several parts."""
        return self._load(session, actor, decision_id, None, None)

    def moves(
        self, actor: Actor, decision: Decision, definition: Definition, facts: DecisionFacts
    ) -> list[ActionView]:
        """The actor's moves on a decision (read by `visible`), judged on the facts given."""
        # The service's clock, not the wall clock: the list must agree with what `fire`
        # would answer at the same moment (and with a test's hand-moved clock).
        now = self.clock()
        out: list[ActionView] = []
        for branch, state, t in positions.open_moves(definition, decision, actor.role):
            move = self._move(definition, facts, {}, now, t.trigger, branch)
            name = branch.name if branch else None
            unmet = unmet_for(move, t, state_of(definition, name, state))
            out.append(
                ActionView(
                    t.trigger,
                    t.label,
                    t.article,
                    name,
                    dict(t.fields),
                    tuple(unmet),
                    signature=t.signature,
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
        # A number beyond the id column's range names no decision (and would overflow SQLite).
        decision = positions.load(session, decision_id) if 1 <= decision_id <= MAX_ID else None
        if decision is None:
            raise NotFound(
                zh=f"没有编号为 {decision_id} 的决策", en=f"No decision number {decision_id}"
            )
        definition = self.registry.get(
            decision.procedure, decision.definition_version, session, overlay=decision.overlay
        )
        if attempt is not None:
            attempt.state_before = decision.state
        positions.check_scope(session, actor, decision)
        if expected_version is not None and expected_version != decision.version:
            raise refusals.stale()
        return decision, definition

    def _effects(
        self,
        session: Session,
        actor: Actor,
        decision: Decision,
        route: TransitionSpec,
        clean: Mapping[str, Any],
        password: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """The move's record: its payload, plus what the move itself issues or signs."""
        data = to_json(clean)
        effects.set_units(session, decision, route.fields, clean)
        if route.numbering is not None:
            year = now.astimezone(self.timezone).year
            data[route.numbering.field] = effects.issue_number(
                session, decision.procedure, route.numbering, year
            )
        if route.attach_account:
            data["procedure_account"] = effects.procedure_account(session, decision.id)
        if route.signature is not None:
            data["signature"] = effects.sign(
                session,
                actor,
                password,
                decision_id=decision.id,
                spec=route.signature,
                content=data,
                now=now,
            )
        return data

    def _move(
        self,
        definition: Definition,
        facts: DecisionFacts,
        payload: Mapping[str, Any],
        now: datetime,
        trigger: str,
        branch: BranchSpec | None,
    ) -> Move:
        today = now.astimezone(self.timezone).date()
        context = GuardContext(definition, payload, now, today, self.calendar)
        name = branch.name if branch else None
        return Move(facts, context, self.timezone, trigger=trigger, branch=name)
