"""What each role's home page shows: what needs them today, each item linking to the page where
it is dealt with, with the same count as that page (the same query, or the same conditions).

Each home is a fixed number of queries, whatever the data: counts are computed in the database
(several at once as scalar subqueries), and lists are short (LIST_LIMIT rows, eager-loaded),
with the count and a link for the rest. Need to know is the pages' own: a SPoC sees their
agency's cases and referrals, a practitioner their own referrals and the cases where they are a
named worker, and nobody from an agency without a current ISA sees any record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from panel.actions import services as actions
from panel.actions.services import ActionFilters
from panel.agencies import absence
from panel.extensions import db
from panel.models import (
    OPEN_CASE_STATUSES,
    Agency,
    Attendance,
    AttendanceStatus,
    AttendeeResponse,
    Case,
    CaseStatus,
    Involvement,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    MeetingStatus,
    Referral,
    ReferralStatus,
    RiskLevel,
    Role,
    User,
)

LIST_LIMIT = 10       # rows of a list on a home page; the count and its link give the rest
CASES_LIMIT = 50      # a SPoC's and a named worker's cases (the pathway holds 15)


def _count(query: sa.Select) -> sa.ScalarSelect:
    """The number of rows of a query, as a scalar subquery to read with others in one statement."""
    return sa.select(sa.func.count()).select_from(query.order_by(None).subquery()).scalar_subquery()


def _counts(**queries: sa.Select) -> dict[str, int]:
    """Several counts in one statement."""
    names = list(queries)
    row = db.session.execute(sa.select(*[_count(queries[n]).label(n) for n in names])).one()
    return {n: int(row[i] or 0) for i, n in enumerate(names)}


def next_panel(now: datetime) -> Meeting | None:
    """The next monthly panel not yet over and not cancelled (as the meetings list says)."""
    return db.session.scalar(
        sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
                                 Meeting.ends_at >= now)
        .order_by(Meeting.starts_at, Meeting.id).limit(1))


# ---- the coordinator ---------------------------------------------------------------------------


@dataclass
class PanelPrep:
    """How far the next panel's preparation has got."""

    meeting: Meeting
    invited: int           # people sent a calendar invitation (still on the list)
    expected: int          # agencies expected (every agency with a SPoC)
    apologies: int         # agencies that sent apologies, with or without a written update
    written_updates: int   # of those, with a written update

    def cutoff_passed(self, today: date) -> bool:
        return self.meeting.cutoff_on is not None and self.meeting.cutoff_on < today


def panel_prep(meeting: Meeting | None) -> PanelPrep | None:
    """The next panel's invitations, expected agencies, apologies and written updates (one query)."""
    if meeting is None:
        return None
    apologies = (AttendanceStatus.APOLOGIES, AttendanceStatus.APOLOGIES_WITH_UPDATE)
    row = db.session.execute(sa.select(
        sa.select(sa.func.count(MeetingAttendee.id)).where(
            MeetingAttendee.meeting_id == meeting.id, MeetingAttendee.removed_at.is_(None)).scalar_subquery(),
        sa.select(sa.func.count(Agency.id)).where(Agency.spoc_id.is_not(None)).scalar_subquery(),
        sa.select(sa.func.count(Attendance.id)).where(
            Attendance.meeting_id == meeting.id, Attendance.status.in_(apologies)).scalar_subquery(),
        sa.select(sa.func.count(Attendance.id)).where(
            Attendance.meeting_id == meeting.id,
            Attendance.status == AttendanceStatus.APOLOGIES_WITH_UPDATE).scalar_subquery(),
    )).one()
    return PanelPrep(meeting, *(int(n or 0) for n in row))


@dataclass
class ReplyWait:
    """An MDT to come with people who have not replied to its invitation."""

    meeting: Meeting
    waiting: int


def mdt_replies_outstanding(now: datetime) -> list[ReplyWait]:
    """MDTs to come (not cancelled) with invitees who have not replied, soonest first (one query)."""
    waiting = (sa.select(MeetingAttendee.meeting_id, sa.func.count(MeetingAttendee.id).label("n"))
               .where(MeetingAttendee.removed_at.is_(None), MeetingAttendee.response == AttendeeResponse.NEEDS_ACTION)
               .group_by(MeetingAttendee.meeting_id).subquery())
    rows = db.session.execute(
        sa.select(Meeting, waiting.c.n).join(waiting, waiting.c.meeting_id == Meeting.id)
        .where(Meeting.kind == MeetingKind.MDT, Meeting.status == MeetingStatus.SCHEDULED, Meeting.ends_at >= now)
        .options(joinedload(Meeting.case)).order_by(Meeting.starts_at, Meeting.id).limit(LIST_LIMIT)).all()
    return [ReplyWait(meeting, int(n)) for meeting, n in rows]


@dataclass
class CoordinatorHome:
    to_triage: int
    escalated_today: int
    panel: PanelPrep | None
    replies: list[ReplyWait]
    overdue: int = 0


def coordinator_home(today: date, now: datetime) -> CoordinatorHome:
    """Referrals to triage (as the triage page's first list), actions escalated today and
    actions overdue (as the action log filtered so), the next panel's preparation, and MDT
    replies outstanding (the waiting list is the pathway's, counted by the page). Four queries."""
    counts = _counts(
        to_triage=sa.select(Referral.id).where(Referral.status == ReferralStatus.SUBMITTED),
        escalated_today=actions.action_query(ActionFilters(escalated_today=True), today),
        overdue=actions.action_query(ActionFilters(overdue=True), today))
    return CoordinatorHome(counts["to_triage"], counts["escalated_today"], panel_prep(next_panel(now)),
                           mdt_replies_outstanding(now), counts["overdue"])


# ---- the chair -------------------------------------------------------------------------------------


@dataclass
class ChairHome:
    awaiting_chair: int
    escalations: list                 # the first actions awaiting the chair, oldest due first
    closures: list[Case]
    panel: Meeting | None
    minutes_to_finalise: int
    unfinalised: list[Meeting]


def chair_home(today: date, now: datetime) -> ChairHome:
    """Actions escalated to the chair and not acknowledged (as the action log filtered so),
    cases proposed for closure, the next panel, and panels held whose minutes are not final.
    Four queries."""
    awaiting = actions.action_query(ActionFilters(awaiting_chair=True), today)
    held = (sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
                                     Meeting.starts_at <= now, Meeting.minutes_finalised_at.is_(None))
            .order_by(Meeting.starts_at.desc(), Meeting.id.desc()))
    counts = _counts(awaiting_chair=awaiting, minutes=held)
    closures = list(db.session.scalars(
        sa.select(Case).where(Case.status == CaseStatus.CLOSURE_PROPOSED)
        .options(joinedload(Case.person), joinedload(Case.lead_agency))
        .order_by(Case.closure_proposed_at, Case.reference).limit(CASES_LIMIT)))
    return ChairHome(counts["awaiting_chair"], list(db.session.scalars(awaiting.limit(LIST_LIMIT)).unique()),
                     closures, next_panel(now), counts["minutes"], list(db.session.scalars(held.limit(LIST_LIMIT))))


# ---- SPoCs and practitioners ----------------------------------------------------------------------


def _risk_first() -> sa.Case:
    """Highest risk first (critical, high, medium, low)."""
    return sa.case({level: level.rank for level in RiskLevel}, value=Case.risk_level, else_=len(RiskLevel))


def _referral_scope(user: User) -> sa.ColumnElement[bool]:
    """The referrals this user may see in the list (as the referral list's own scope)."""
    if user.role == Role.SPOC:
        return Referral.referring_agency_id == user.agency_id
    return Referral.created_by_id == user.id


def invitations_awaiting_reply(user: User, now: datetime) -> list[MeetingAttendee]:
    """The user's invitations to meetings to come that they have not answered (one query)."""
    return list(db.session.scalars(
        sa.select(MeetingAttendee).join(MeetingAttendee.meeting)
        .where(MeetingAttendee.user_id == user.id, MeetingAttendee.removed_at.is_(None),
               MeetingAttendee.response == AttendeeResponse.NEEDS_ACTION,
               Meeting.status == MeetingStatus.SCHEDULED, Meeting.ends_at > now)
        .options(sa.orm.contains_eager(MeetingAttendee.meeting).joinedload(Meeting.case))
        .order_by(Meeting.starts_at, Meeting.id).limit(LIST_LIMIT)))


@dataclass
class SpocHome:
    acting: bool
    cover: absence.Cover | None          # the SPoC's absences, to them or to their deputy
    cases: list[Case] = field(default_factory=list)
    case_count: int = 0
    overdue: int = 0
    due_this_week: int = 0
    info_requested: list[Referral] = field(default_factory=list)
    info_count: int = 0
    panel: Meeting | None = None
    attendance: Attendance | None = None
    invitations: list[MeetingAttendee] = field(default_factory=list)


def spoc_home(user: User, today: date, now: datetime, *, acting: bool, records: bool) -> SpocHome:
    """A SPoC (or the deputy acting for them): their agency's open cases with risk and lead
    agency; its actions overdue and due this week (as "our actions" filtered so: the agency's
    for the acting SPoC, else their own); the agency's referrals sent back for more information;
    the next panel with the agency's apologies; and their invitations awaiting a reply. Without
    `records` (no current ISA) only the panel and the invitations. Eight queries at most."""
    cover = absence.cover_of(user.agency, now) if user.agency.spoc_id and user.agency.deputy_spoc_id else None
    home = SpocHome(acting=acting, cover=cover if cover is not None and cover.absences else None)
    panel = next_panel(now)
    home.panel = panel
    if panel is not None:
        home.attendance = db.session.scalar(sa.select(Attendance).where(
            Attendance.meeting_id == panel.id, Attendance.agency_id == user.agency_id))
    home.invitations = invitations_awaiting_reply(user, now)
    if not records:
        return home
    ours = sa.select(Involvement.case_id).where(Involvement.agency_id == user.agency_id,
                                                Involvement.case_id.is_not(None))
    cases = sa.select(Case).where(Case.status.in_(OPEN_CASE_STATUSES), Case.id.in_(ours))
    info = sa.select(Referral).where(_referral_scope(user), Referral.status == ReferralStatus.INFO_REQUESTED)
    counts = _counts(cases=cases, info=info,
                     overdue=actions.our_actions_query(user, today, acting=acting, overdue=True),
                     due_this_week=actions.our_actions_query(user, today, acting=acting, due_this_week=True))
    home.case_count, home.info_count = counts["cases"], counts["info"]
    home.overdue, home.due_this_week = counts["overdue"], counts["due_this_week"]
    home.cases = list(db.session.scalars(
        cases.options(joinedload(Case.person), joinedload(Case.lead_agency))
        .order_by(_risk_first(), Case.reference).limit(CASES_LIMIT)))
    home.info_requested = list(db.session.scalars(
        info.options(joinedload(Referral.person)).order_by(Referral.submitted_at, Referral.id).limit(LIST_LIMIT)))
    return home


@dataclass
class PractitionerHome:
    referrals: list[Referral] = field(default_factory=list)
    referral_count: int = 0
    drafts: list[Referral] = field(default_factory=list)
    draft_count: int = 0
    cases: list[Case] = field(default_factory=list)
    case_count: int = 0
    overdue: int = 0
    due_this_week: int = 0
    invitations: list[MeetingAttendee] = field(default_factory=list)


def practitioner_home(user: User, today: date, now: datetime, *, records: bool) -> PractitionerHome:
    """A practitioner: their referrals with status (as their referral list), their drafts and
    referrals sent back to them (as their drafts page), the open cases where they are a named
    worker, their actions overdue and due this week, and their invitations awaiting a reply.
    Six queries at most."""
    home = PractitionerHome(invitations=invitations_awaiting_reply(user, now))
    if not records:
        return home
    referrals = sa.select(Referral).where(Referral.created_by_id == user.id, Referral.status != ReferralStatus.DRAFT)
    drafts = sa.select(Referral).where(Referral.created_by_id == user.id,
                                       Referral.status.in_((ReferralStatus.DRAFT, ReferralStatus.INFO_REQUESTED)))
    named = sa.select(Involvement.case_id).where(Involvement.worker_user_id == user.id,
                                                 Involvement.case_id.is_not(None))
    cases = sa.select(Case).where(Case.status.in_(OPEN_CASE_STATUSES), Case.id.in_(named))
    counts = _counts(referrals=referrals, drafts=drafts, cases=cases,
                     overdue=actions.our_actions_query(user, today, acting=False, overdue=True),
                     due_this_week=actions.our_actions_query(user, today, acting=False, due_this_week=True))
    home.referral_count, home.draft_count, home.case_count = counts["referrals"], counts["drafts"], counts["cases"]
    home.overdue, home.due_this_week = counts["overdue"], counts["due_this_week"]
    home.referrals = list(db.session.scalars(
        referrals.options(joinedload(Referral.person))
        .order_by(Referral.submitted_at.desc(), Referral.id.desc()).limit(LIST_LIMIT)))
    home.drafts = list(db.session.scalars(
        drafts.options(joinedload(Referral.person))
        .order_by(sa.func.coalesce(Referral.updated_at, Referral.created_at).desc(), Referral.id.desc())
        .limit(LIST_LIMIT)))
    home.cases = list(db.session.scalars(
        cases.options(joinedload(Case.person), joinedload(Case.lead_agency))
        .order_by(Case.reference).limit(CASES_LIMIT)))
    return home
