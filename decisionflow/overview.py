"""A decision's page, read in one transaction: where it stands, what may be done, its history."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from decisionflow import queries
from decisionflow.accounts import Actor
from decisionflow.deadlines import DueItem
from decisionflow.definitions import Definition
from decisionflow.facts import ReadRecordFacts, facts_of
from decisionflow.followups import FollowUps, FollowUpView
from decisionflow.models import Attachment, DraftVersion, PublicComment
from decisionflow.participation import PublicParticipation, handles_comments
from decisionflow.queries import Page, RecordLine
from decisionflow.roles import Permission, has_permission
from decisionflow.service import DecisionService
from decisionflow.sweep import Sweeper
from decisionflow.views import ActionView, DecisionView


@dataclass(frozen=True)
class DecisionOverview:
    """Everything a decision's page shows, as it stood at one moment."""

    decision: DecisionView
    definition: Definition
    #: the reader's moves now, each with what still stands in its way
    actions: list[ActionView]
    #: the deadlines running now (none once the decision is closed)
    deadlines: list[DueItem]
    follow_ups: list[FollowUpView]
    #: the states the decision has moved out of or acted in, for the procedure's diagram
    visited: set[str]
    #: a page of the timeline (the newest events unless a cursor asked for others)
    timeline: Page
    drafts: list[DraftVersion]
    attachments: list[Attachment]
    records: list[RecordLine]
    #: the names of the people the records name (an expert assigned, the members present)
    people: dict[int, str]
    #: the public comments, for those who handle them or may read every decision; else none
    comments: list[PublicComment]
    #: whether the reader handles the comments (and so sees contact details, disposes of them)
    handles_comments: bool


class Overviews:
    """Reads decision pages: one snapshot, so the moves offered are those of the state shown,
    and each part read once (the records serve the rules, the deadlines and the list)."""

    def __init__(
        self,
        readers: sessionmaker[Session],
        *,
        decisions: DecisionService,
        follow_ups: FollowUps,
        sweeper: Sweeper,
        participation: PublicParticipation,
    ) -> None:
        self.readers = readers
        self.decisions = decisions
        self.follow_ups = follow_ups
        self.sweeper = sweeper
        self.participation = participation

    def read(self, actor: Actor, decision_id: int, *, events: str = "") -> DecisionOverview:
        """A decision the actor may see, whole (NotFound, NotPermitted otherwise); `events`: a
        timeline cursor."""
        # one snapshot for every part: readers are REPEATABLE READ (db.make_session_factory)
        with self.readers() as session:
            decision, definition = self.decisions.visible(session, actor, decision_id)
            records = queries.records(session, decision.id)
            facts = facts_of(
                session,
                decision,
                ReadRecordFacts(session, decision.id, [r.fact for r in records]),
            )
            handler = handles_comments(actor, decision.undertaking_unit_id)
            reads_all = has_permission(actor.role, Permission.DECISION_READ_ALL)
            comments: list[PublicComment] = []
            if handler or reads_all:
                comments = self.participation.comments(session, decision.id)
            people = queries.people_in_records(definition, ((r.kind, r.data) for r in records))
            return DecisionOverview(
                decision=DecisionView.of(decision, definition),
                definition=definition,
                actions=self.decisions.moves(actor, decision, definition, facts),
                deadlines=self.sweeper.running(definition, facts),
                follow_ups=self.follow_ups.on_decision(session, actor, decision),
                visited=queries.visited_states(session, decision.id),
                timeline=queries.timeline_page(session, decision.id, cursor=events),
                drafts=queries.drafts(session, decision.id),
                attachments=queries.attachments(session, decision.id),
                records=records,
                people=queries.people_named(session, people),
                comments=comments,
                handles_comments=handler,
            )
