"""Retention (UK GDPR article 5(1)(e)): records kept no longer than needed, then anonymised.

The rule. RETENTION_YEARS (default 6) after a case closed (Case.closed_on), or after a referral
was declined or withdrawn (Referral.decided_at, as a London date), the records are anonymised.
A person's records go together, and only when every one of them has run its time: a person with
any record still open (a draft, a referral in triage or waiting, an open case) or within its
years, or with an open subject-access request, is not touched. People linked through a referral
(its person record, the referrer's own copy of the person, its case's person) count as one: the
same adult. A legal hold (an ongoing Safeguarding Adults Review, a court case, another legal
reason) on any of them stops it until a coordinator lifts the hold.

What goes and what stays. ERASED below is the one table of what is erased: every free-text
column about the adult, and their identifiers. KEPT lists every other text column in the models
and why it stays (tests/reports/test_retention_rules.py fails when a model gains a text column
that is in neither, so a new column is decided, not forgotten). The person's date of birth stays
only as an age band (at their latest referral) and their address as the postcode district
("LU1"). Counts, dates, kinds, statuses, agencies, outcomes, gender, ethnicity, first language
and interpreter need stay, so the Board's reports for past years come out the same. No row is
deleted: every count is unchanged.

Finalised minutes. Minutes are kept as the snapshot taken when the chair finalised them
(panel.meetings.record), and a finalised record is never changed, with one exception, this one:
the law requires the erasure, so the person's parts of each snapshot (their items' notes and
decisions, initials, the text of their actions and action notes) are erased in the stored copy
too. Everything else in the snapshot (other people's items, attendance, references, dates) is
left exactly as it was. The audit trail is never touched: it holds ids and field names, never
personal data, so it stays whole and `flask --app wsgi panel audit-verify` still passes.

Each anonymisation is recorded (an Anonymisation row: the rule, the dates, by whom, and which
tables, columns and record ids) and audited (ids and names only). The daily job `retention`
(`flask --app wsgi panel run-job retention`) is idempotent: an anonymised person is never
picked again. It works in batches of BATCH people, each a fixed number of statements (one UPDATE
per table, whatever the rows) plus the audit entries, one per person; each batch is committed.
`flask --app wsgi panel retention --dry-run` lists what would go (ids, references and the rule,
no names).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from panel import audit
from panel.dates import LONDON, london_to_utc, london_today
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.forms.text import clean_text
from panel.models import (
    Action,
    ActionUpdate,
    AgendaItem,
    Anonymisation,
    AuditAction,
    Case,
    CaseEvent,
    CaseStatus,
    EngagementAttempt,
    Escalation,
    InsightVersion,
    Involvement,
    LegalHold,
    LegalHoldKind,
    Meeting,
    MeetingKind,
    MeetingStatus,
    MinutesAmendment,
    MinutesSnapshot,
    Person,
    PersonalOutcome,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RetentionRule,
    RiskChange,
    StaffSafetyFlag,
    SubjectAccessRequest,
    SubjectAccessStatus,
    SubjectAccessWithholding,
    User,
    utcnow,
)
from panel.reports import remembered

log = logging.getLogger(__name__)

NOTICE_DAYS = 30          # the coordinator's list: due in the next 30 days (and any overdue)
BATCH = 50                # people anonymised per transaction by the job
DETAILS_MAX = 1000        # a legal hold's details, and the reason for lifting it
AUDIT_SUMMARY_MAX = 2000  # what panel.audit keeps of a summary
PG_RETENTION_LOCK = 726_104  # advisory lock (panel.audit 726_101, the scheduler 726_102, the sweep 726_103)
# Age bands for the date of birth: the same values as the Board's equality monitoring uses for
# the age at referral (models.AgeBand), kept here so retention does not depend on that feature.
AGE_BANDS = ((18, "18_24"), (25, "25_34"), (35, "35_44"), (45, "45_54"), (55, "55_64"), (65, "65_74"),
             (75, "75_84"), (85, "85_plus"))
_OUTWARD = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")


# ---- what is erased, and what is kept ---------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """The free-text columns of one table erased for the person, and whose rows they are:
    "person" (the person's own rows), "referral", "case" or "referral_or_case" (rows of their
    referrals or cases), "action" (updates and escalations of their cases' actions),
    "agenda_item" (amendments to minutes of their agenda items) and "subject_access" (what was
    withheld from their subject-access releases)."""

    model: type
    columns: tuple[str, ...]
    scope: str

    @property
    def table(self) -> str:
        return self.model.__tablename__


ERASED: tuple[Erasure, ...] = (
    # the adult: names, date of birth (kept as an age band), address (kept as the postcode
    # district, in `postcode`), NHS number, other identifiers, communication needs
    Erasure(Person, ("given_name", "family_name", "other_names", "date_of_birth", "communication_needs", "address",
                     "nhs_number", "other_identifiers"), "person"),
    Erasure(Referral, ("referrer_name", "referrer_email", "referrer_phone", "manager_name", "risk_summary",
                       "risk_assessment", "tried_already", "rapport", "persons_views", "desired_outcomes", "capacity",
                       "consent_reason", "staff_safety_details", "info_requested", "idempotency_key",
                       "idempotency_body_hash"), "referral"),
    Erasure(ReferralDecision, ("reason", "signposting"), "referral"),
    Erasure(Involvement, ("named_worker",), "referral_or_case"),
    Erasure(Case, ("risk_summary", "contingency_plan", "closure_rationale", "step_down_accepted_by"), "case"),
    Erasure(RiskChange, ("reason",), "case"),
    Erasure(StaffSafetyFlag, ("details",), "case"),
    Erasure(EngagementAttempt, ("persons_words", "worker_view"), "case"),
    Erasure(InsightVersion, ("most_settled", "upsets", "responds_to", "engages_best_with", "matters_and_trust"), "case"),
    Erasure(PersonalOutcome, ("words",), "case"),
    Erasure(CaseEvent, ("summary",), "case"),
    Erasure(Action, ("description",), "case"),
    Erasure(ActionUpdate, ("note", "due_change_reason"), "action"),
    Erasure(Escalation, ("reason", "acknowledgement"), "action"),
    # the case's MDTs (a panel has no case_id, so no panel is touched)
    Erasure(Meeting, ("location", "online_url", "purpose", "moved_reason", "cancelled_reason"), "case"),
    # minutes of their items at panels and MDTs; their parts of finalised minutes' snapshots too
    Erasure(AgendaItem, ("notes", "decision"), "referral_or_case"),
    Erasure(MinutesAmendment, ("reason", "text"), "agenda_item"),  # an amendment to the whole minutes stays
    Erasure(LegalHold, ("details", "lift_reason"), "person"),
    Erasure(SubjectAccessRequest, ("release_document",), "person"),
    Erasure(SubjectAccessWithholding, ("passage", "note"), "subject_access"),
)

STAFF = "staff accounts, not the adult"
# Every other text (and JSON) column in the models, and why it stays.
KEPT: dict[str, str] = {
    "persons.gender": "equality monitoring for the Board",
    "persons.ethnicity": "equality monitoring for the Board",
    "persons.first_language": "equality monitoring for the Board",
    "persons.postcode": "cut to the postcode district (LU1), which the Board's reports may group by",
    "persons.age_band": "the date of birth as an age band, for equality monitoring",
    "referrals.reference": "the service's own reference, no personal data",
    "referrals.source": "a kind (form or api)",
    "referrals.needs": "a list of kinds of need",
    "referral_decisions.outcome": "a kind",
    "referral_decisions.from_status": "a kind",
    "referral_decisions.to_status": "a kind",
    "cases.reference": "the service's own reference, no personal data",
    "report_data_version.token": "a random token that changes with the reports' tables, no personal data",
    "case_events.kind": "a kind",
    "case_events.ref_type": "a kind",
    "case_notices.kind": "a kind",
    "escalations.told": "who among the staff was told, not about the adult",
    "meetings.series_key": "an id",
    "meetings.ical_uid": "an id",
    "agenda_items.title": "the heading the agenda gives a case or referral item (with its reference), or the "
                          "coordinator's own item, which is not about one person",
    "attendance.attendee_name": "staff",
    "attendance.deputised_by": "staff",
    "attendance.written_update": "an agency's update to a whole panel, not one person's record",
    "minutes_snapshots.source": "a kind",
    "minutes_snapshots.document": "the person's parts are erased in place (see the module's notes)",
    "meeting_attendees.name": "professionals invited",
    "meeting_attendees.agency_name": "professionals invited",
    "meeting_attendees.email": "professionals invited",
    "meeting_attendees.role": "a kind",
    "users.email": STAFF,
    "users.name": STAFF,
    "users.password_hash": STAFF,
    "users.session_token": STAFF,
    "users.totp_secret": STAFF,
    "spoc_absences.note": "a SPoC's own note on their absence: staff, not the adult",
    "agencies.name": "agencies",
    "agencies.code": "agencies",
    "api_tokens.token_hash": "integrations",
    "api_tokens.prefix": "integrations",
    "api_tokens.label": "integrations",
    "calendar_feeds.token_hash": "staff calendar feeds",
    "audit_events.user_email": "append-only and hash-chained; it holds ids and field names, never the adult's data",
    "audit_events.object_type": "append-only (as above)",
    "audit_events.object_id": "append-only (as above)",
    "audit_events.summary": "append-only (as above)",
    "audit_events.ip": "append-only (as above)",
    "audit_events.user_agent": "append-only (as above)",
    "audit_events.prev_hash": "append-only (as above)",
    "audit_events.hash": "append-only (as above)",
    "audit_events.seal": "append-only (as above)",
    "outbox_messages.to_addr": "emails never carry the adult's personal data (a house rule)",
    "outbox_messages.subject": "emails never carry the adult's personal data (a house rule)",
    "outbox_messages.body_text": "emails never carry the adult's personal data (a house rule)",
    "outbox_messages.calendar": "invitations carry a reference, a time and a place, never the adult's data",
    "outbox_messages.calendar_method": "a kind",
    "outbox_messages.last_error": "delivery errors",
    "scheduler_state.name": "the scheduler",
    "scheduler_state.holder": "the scheduler",
    "subject_access_withholdings.entry": "ids and field names",
    "anonymisations.what": "table names, column names and ids",
    "calendar_replies.message_id": "an email's id",
    "invitation_reply_links.token_hash": "a hashed token",
    "kept_forms.claim_hash": "a hashed cookie",
    "kept_forms.endpoint": "a page's name",
    "kept_forms.return_path": "a page's address (ids and references, no personal data)",
    "kept_forms.sealed": "a form typed after a session expired: encrypted, and gone within a day",
}


def erased_columns() -> dict[str, list[str]]:
    """{table: [columns]} erased for a person, as recorded with each anonymisation."""
    return {e.table: list(e.columns) for e in ERASED}


# ---- the rule ----------------------------------------------------------------------------------


def retention_years() -> int:
    years = int(current_app.config.get("RETENTION_YEARS", 6))
    if years < 1:
        raise ValueError(f"RETENTION_YEARS must be 1 or more, not {years}")
    return years


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 1 March (the full period has run)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def age_band(born: date | None, on: date) -> str:
    """The age band on a date ("35_44"), or "" when the date of birth is not known."""
    if born is None:
        return ""
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    band = ""
    for start, label in AGE_BANDS:
        if age >= start:
            band = label
    return band or "under_18"


def postcode_district(postcode: str) -> str:
    """The outward code of a UK postcode ("LU1 2AB" gives "LU1"), or "" when it is not one."""
    text = re.sub(r"\s+", "", postcode or "").upper()
    outward = text[:-3] if len(text) >= 5 else text
    return outward if _OUTWARD.fullmatch(outward) else ""


@dataclass(frozen=True)
class Record:
    """One referral of the person (with its case, if it became one), and when it ended."""

    referral_id: int
    referral_reference: str
    case_id: int | None
    case_reference: str | None
    ended_on: date | None           # None: still open
    rule: RetentionRule | None


@dataclass
class Due:
    """One adult's records (their person records, linked through referrals) and when they go."""

    person_id: int                          # the person record of their latest referral
    person_ids: tuple[int, ...]
    initials: str
    records: list[Record]
    ended_on: date | None = None            # the latest end; None while a record is still open
    rule: RetentionRule | None = None
    due_on: date | None = None
    hold: LegalHold | None = None           # an active hold on any of their person records
    latest_referral_on: date | None = None  # for the age band

    @property
    def referral_ids(self) -> list[int]:
        return [r.referral_id for r in self.records]

    @property
    def case_ids(self) -> list[int]:
        return [r.case_id for r in self.records if r.case_id is not None]

    @property
    def references(self) -> list[str]:
        out = []
        for r in self.records:
            if r.case_reference:
                out.append(r.case_reference)
            if r.referral_reference:
                out.append(r.referral_reference)
        return out


def _london_date(moment: datetime | None) -> date | None:
    return moment.astimezone(LONDON).date() if moment is not None else None


def _end(row: Any) -> tuple[date | None, RetentionRule | None]:
    """When a record ended and by which rule; (None, None) while it is open."""
    if row.case_id is not None:
        if row.case_status == CaseStatus.CLOSED and row.closed_on is not None:
            return row.closed_on, RetentionRule.CASE_CLOSED
        return None, None
    if row.status in (ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN):
        ended = _london_date(row.decided_at or row.submitted_at or row.created_at)
        rule = RetentionRule.REFERRAL_DECLINED if row.status == ReferralStatus.DECLINED else RetentionRule.REFERRAL_WITHDRAWN
        return ended, rule
    return None, None


class _Groups:
    """Person ids joined into one adult when a referral names them together (union-find)."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, ids: Iterable[int | None]) -> int:
        ids = [i for i in ids if i is not None]
        root = self.find(ids[0])
        for other in ids[1:]:
            self.parent[self.find(other)] = root
        return self.find(root)


def _initials(given: str | None, family: str | None) -> str:
    return "".join(p[0].upper() for p in (given, family) if p)


def _live_rows(*where: sa.ColumnElement[bool]) -> sa.Select:
    """Referrals of people not yet anonymised (with their case, if any, and the person's
    name), oldest first, narrowed by `where`."""
    return (sa.select(Referral.id, Referral.reference, Referral.status, Referral.person_id, Referral.referred_person_id,
                      Referral.decided_at, Referral.submitted_at, Referral.created_at,
                      Case.id.label("case_id"), Case.reference.label("case_reference"),
                      Case.status.label("case_status"), Case.closed_on, Case.person_id.label("case_person_id"),
                      Person.given_name, Person.family_name)
            .join(Person, Person.id == Referral.person_id).outerjoin(Case, Case.referral_id == Referral.id)
            .where(Person.anonymised_at.is_(None), *where).order_by(Referral.id))


def _standing_holds() -> list[LegalHold]:
    return list(db.session.scalars(sa.select(LegalHold).where(LegalHold.lifted_at.is_(None)).order_by(LegalHold.id)))


def _asked() -> set[int]:
    """The person records with an open subject-access request."""
    return set(db.session.scalars(sa.select(SubjectAccessRequest.person_id).where(
        SubjectAccessRequest.status == SubjectAccessStatus.OPEN)))


def _adults(rows: Sequence[Any], holds: Sequence[LegalHold], asked: set[int], years: int) -> list[Due]:
    """The adults these referral rows (_live_rows) make, with when each is due. Every row of an
    adult must be among them."""
    groups = _Groups()
    for row in rows:
        groups.join((row.person_id, row.referred_person_id, row.case_person_id))
    adults: dict[int, Due] = {}
    latest: dict[int, tuple[datetime, int]] = {}
    for row in rows:
        root = groups.find(row.person_id)
        ended, rule = _end(row)
        adult = adults.setdefault(root, Due(person_id=row.person_id, person_ids=(), initials="", records=[]))
        adult.records.append(Record(row.id, row.reference or "", row.case_id, row.case_reference, ended, rule))
        when = row.submitted_at or row.created_at
        if root not in latest or (when, row.id) >= latest[root]:
            latest[root] = (when, row.id)
            adult.person_id, adult.initials = row.person_id, _initials(row.given_name, row.family_name)
            adult.latest_referral_on = _london_date(when)
    members: dict[int, list[int]] = {}
    for person_id in groups.parent:
        members.setdefault(groups.find(person_id), []).append(person_id)
    held = {h.person_id: h for h in holds}
    for root, adult in adults.items():
        ids = members.get(root, [adult.person_id])
        adult.person_ids = tuple([adult.person_id] + sorted(i for i in ids if i != adult.person_id))
        adult.hold = next((held[i] for i in adult.person_ids if i in held), None)
        if any(r.ended_on is None for r in adult.records) or asked & set(adult.person_ids):
            continue
        last = max(adult.records, key=lambda r: (r.ended_on, r.rule == RetentionRule.CASE_CLOSED))
        adult.ended_on, adult.rule = last.ended_on, last.rule
        adult.due_on = add_years(last.ended_on, years)
    return list(adults.values())


def people(years: int | None = None) -> list[Due]:
    """Every adult with records not yet anonymised: their records, when they ended and when they
    are due (None while one is open or a subject-access request is open), with any active legal
    hold. Three queries, whatever the number of people (the daily job's list: every referral is
    read; the pages read only the adults they show, see overview and adult)."""
    years = years or retention_years()
    rows = db.session.execute(_live_rows()).all()
    return _adults(rows, _standing_holds(), _asked(), years)


def due(today: date, *, within_days: int = 0, years: int | None = None) -> list[Due]:
    """The adults whose records are due for anonymisation by `today` + `within_days` (overdue
    ones too), held or not, soonest first."""
    until = today + timedelta(days=within_days)
    found = [a for a in people(years) if a.due_on is not None and a.due_on <= until]
    return sorted(found, key=lambda a: (a.due_on, a.person_id))


# ---- the pages: only the adults shown are read whole ------------------------------------------
#
# The coordinator's list is worked out in SQL, so a page reads its hundred adults whatever the
# number due: the adults (person records linked through a referral, as _Groups joins them) are
# labelled in SQL by the smallest id among their records, and those whose every record ended
# long enough ago are listed soonest first, by label after that; then only the shown adults'
# referrals are read and made into Due as people() makes them. Finding those due reads every
# referral of a person not anonymised, so the list (with the linked records) is remembered for
# one state of the records (_due_labels); a page then reads only the referrals it shows.

DUE_PAGE = 50         # adults on a page of the list (as the action log)
DUE_CAP = 10_000      # the list counts this far: beyond it, "more than 10,000"
_ENDED = (ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN)


@functools.cache
def _linked() -> sa.CTE:
    """The person records linked to another through a referral of someone not anonymised (its
    referrer's copy of the person, its case's person record), each with its adult's label: the
    smallest id among the adult's records (recursive, so a chain of links is one adult). Any
    record not here is an adult of its own, labelled by its own id. Linked records are few, so
    this reads the referrals with a copy (along their index: "> 0", a range SQLite reads by
    index where it would scan for "IS NOT NULL" without statistics) and the cases. Built once:
    it has no parameters."""
    alive = Person.anonymised_at.is_(None)
    edges = sa.union_all(
        sa.select(Referral.person_id.label("a"), Referral.referred_person_id.label("b"))
        .join(Person, Person.id == Referral.person_id)
        .where(alive, Referral.referred_person_id > 0, Referral.referred_person_id != Referral.person_id),
        sa.select(Referral.person_id.label("a"), Case.person_id.label("b")).select_from(Case)
        .join(Referral, Referral.id == Case.referral_id).join(Person, Person.id == Referral.person_id)
        .where(alive, Case.person_id != Referral.person_id),
    ).cte("retention_edges")
    pairs = sa.union(sa.select(edges.c.a, edges.c.b),
                     sa.select(edges.c.b.label("a"), edges.c.a.label("b"))).cte("retention_pairs")
    reach = sa.select(pairs.c.a.label("node"), pairs.c.a.label("other")).cte("retention_reach", recursive=True)
    reach = reach.union(sa.select(reach.c.node, pairs.c.b).join(pairs, pairs.c.a == reach.c.other))
    return (sa.select(reach.c.node, sa.func.min(reach.c.other).label("label")).group_by(reach.c.node)
            .cte("retention_linked"))


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _london_day(moment: sa.ColumnElement) -> sa.ColumnElement:
    """SQL for the London date of a UTC time (for the list's order only: which adults are due
    is decided on UTC bounds). SQLite has no time zones: British Summer Time runs from 01:00 UTC
    on the last Sunday of March to 01:00 UTC on the last Sunday of October (the rule since 1996)."""
    if _postgres():
        return sa.cast(sa.func.timezone(LONDON.key, sa.func.timezone("UTC", moment)), sa.Date)
    year = sa.type_coerce(sa.func.strftime("%Y", moment), sa.String)
    summer = sa.and_(moment >= sa.func.datetime(year + "-04-01", "weekday 0", "-7 days", "+1 hours"),
                     moment < sa.func.datetime(year + "-11-01", "weekday 0", "-7 days", "+1 hours"))
    # The London day is the UTC day but in the last hour of a UTC day in summer. So the summer
    # test (four date calculations, the time of a list of two thousand adults at ten years) runs
    # only for a moment in the hour from 23:00 (SQLite works an AND out from the left), and any
    # other moment's day is the first ten characters of its text ("2027-01-14 23:05:09.000000").
    late = sa.type_coerce(sa.func.substr(moment, 12, 2), sa.String) == "23"
    return sa.case((sa.and_(late, summer), sa.func.date(moment, "+1 hours")), else_=sa.func.substr(moment, 1, 10))


def _later(first: sa.ColumnElement, second: sa.ColumnElement) -> sa.ColumnElement:
    """The later of two dates, either of which may be NULL."""
    if _postgres():
        return sa.func.greatest(first, second)
    return sa.func.max(sa.func.coalesce(first, ""), sa.func.coalesce(second, ""))


def last_ended_day(until: date, years: int) -> date:
    """The last day a record may have ended on and be due by `until` (add_years takes 29
    February to 1 March, so this is not always `until` less the years)."""
    day = add_years(until, -years)
    while add_years(day, years) > until:
        day -= timedelta(days=1)
    while add_years(day + timedelta(days=1), years) <= until:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class _Due:
    """What the list works out from the referrals, the cases and the people (see _due_labels)."""

    labels: tuple[int, ...]            # the adults due, soonest first; at most DUE_CAP + 1
    linked: dict[int, int]             # each linked person record's adult's label (_linked)
    members: dict[int, tuple[int, ...]]  # each linked adult's records, by label


def _due_labels(until: date, years: int, asked: set[int]) -> _Due:
    """The labels of the adults due by `until` (every record ended by last_ended_day, none
    open, no open subject-access request: `asked`, as _asked() gives them), soonest first, then
    by label, at most DUE_CAP + 1; and the linked person records with their labels.

    At ten years this reads every referral of a person not anonymised (six thousand, most of the
    page's time), so it is remembered for one state of the records (panel.reports.remembered: the
    token the database changes on any write to the referrals, the cases or the people, the tables
    it reads, as tests/reports/test_retention_list.py checks) with the day, the years, the cap and
    the open requests, which the token does not follow. Two queries when worked out, none when
    remembered."""
    last_day = last_ended_day(until, years)
    bound = london_to_utc(last_day + timedelta(days=1), time(0))

    def work_out() -> _Due:
        labels = tuple(db.session.scalars(_due_labels_query(_postgres()), {"last_day": last_day, "bound": bound}))
        linked = dict(db.session.execute(_linked_query()).all())
        members: dict[int, list[int]] = {}
        for node, label in linked.items():
            members.setdefault(label, []).append(node)
        return _Due(labels, linked, {label: tuple(nodes) for label, nodes in members.items()})

    return remembered.remember(("retention_due", last_day, years, DUE_CAP, tuple(sorted(asked))), work_out)


@functools.cache
def _linked_query() -> sa.Select:
    linked = _linked()
    return sa.select(linked.c.node, linked.c.label)


@functools.cache
def _due_labels_query(postgres: bool) -> sa.Select:
    """_due_labels' query, built once (for each kind of database: the London day is worked out
    differently), with the last day a record may have ended on (last_day) and its UTC bound
    (bound) as parameters. At ten years it reads every referral of a person not anonymised
    (six thousand): a person is left out by the few anonymised ids, not joined to read their
    anonymised_at."""
    linked = _linked()
    last_day = sa.bindparam("last_day", type_=Case.closed_on.type)
    bound = sa.bindparam("bound", type_=Referral.decided_at.type)
    label = sa.func.coalesce(linked.c.label, Referral.person_id)
    ended_at = sa.func.coalesce(Referral.decided_at, Referral.submitted_at, Referral.created_at)
    # 1 for a record still open or ended too recently: one such record keeps the adult's records
    keeps = sa.case(
        (Case.id.is_not(None), sa.case((sa.and_(Case.status == CaseStatus.CLOSED, Case.closed_on <= last_day), 0),
                                       else_=1)),
        (sa.and_(Referral.status.in_(_ENDED), ended_at < bound), 0),
        else_=1)
    anonymised = sa.select(Person.id).where(Person.anonymised_at.is_not(None))
    adults = (sa.select(label.label("label"), sa.func.max(sa.case((Case.id.is_(None), ended_at))).label("last_at"),
                        sa.func.max(Case.closed_on).label("last_closed"))
              .select_from(Referral)
              .outerjoin(Case, Case.referral_id == Referral.id).outerjoin(linked, linked.c.node == Referral.person_id)
              .where(Referral.person_id.not_in(anonymised))
              .group_by(label).having(sa.func.max(keeps) == 0).subquery("retention_due"))
    asked = (sa.select(sa.func.coalesce(linked.c.label, SubjectAccessRequest.person_id))
             .outerjoin(linked, linked.c.node == SubjectAccessRequest.person_id)
             .where(SubjectAccessRequest.status == SubjectAccessStatus.OPEN))
    return (sa.select(adults.c.label).where(adults.c.label.not_in(asked))
            .order_by(_later(_london_day(adults.c.last_at), adults.c.last_closed), adults.c.label)
            .limit(DUE_CAP + 1))


def _rows_of(linked: sa.CTE, *labels: Sequence[int] | sa.Select) -> list[Any]:
    """Every referral (_live_rows) of the adults with these labels (lists of them, or queries
    giving them), in one query."""
    return list(db.session.execute(_live_rows(_of_labels(linked, *labels))).all())


@functools.cache
def _overview_rows_query() -> sa.Select:
    """The referrals (_live_rows) of the person records "person_ids" (a page of the list's
    adults, and those under a legal hold): built once."""
    return _live_rows(Referral.person_id.in_(sa.bindparam("person_ids", expanding=True)))


def _of_labels(linked: sa.CTE, *labels: Any) -> sa.ColumnElement[bool]:
    return sa.or_(*(sa.or_(Referral.person_id.in_(some),
                           Referral.person_id.in_(sa.select(linked.c.node).where(linked.c.label.in_(some))))
                    for some in labels))


def _label_of(linked: sa.CTE, person_id: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.select(linked.c.label).where(linked.c.node == person_id).scalar_subquery(), person_id)


@dataclass
class Overview:
    """The coordinator's page: due in the next NOTICE_DAYS days (or overdue), a page of them,
    and every hold."""

    today: date
    due: list[Due]
    held: list[Due]
    total: int = 0          # adults due, counted to DUE_CAP
    more: bool = False      # more than DUE_CAP are due
    page: int = 1
    pages: int = 1

    @property
    def first(self) -> int:
        return (self.page - 1) * DUE_PAGE + 1


def overview(today: date, *, page_of: Callable[[int], int] = lambda pages: 1) -> Overview:
    """What the retention page shows: one page of DUE_PAGE adults due in the next NOTICE_DAYS
    days (or overdue), soonest first, and every adult under a legal hold. `page_of(pages)` gives
    the page shown. Six queries, whatever the number of people or of those due (four while the
    list of those due is remembered, see _due_labels); audited as a view of the list."""
    years = retention_years()
    asked = _asked()
    found = _due_labels(today + timedelta(days=NOTICE_DAYS), years, asked)
    labels, more = found.labels[:DUE_CAP], len(found.labels) > DUE_CAP
    total = len(labels)
    pages = max(1, -(-total // DUE_PAGE))
    page = page_of(pages)
    shown = labels[(page - 1) * DUE_PAGE:page * DUE_PAGE]
    holds = _standing_holds()
    # the person records of the adults shown and of those under a hold, linked ones and all
    wanted = set(shown) | {found.linked.get(h.person_id, h.person_id) for h in holds}
    person_ids = sorted({i for label in wanted for i in (label, *found.members.get(label, ()))})
    rows = list(db.session.execute(_overview_rows_query(), {"person_ids": person_ids}).all())
    adults = {min(a.person_ids): a for a in _adults(rows, holds, asked, years)}
    soon = [adults[label] for label in shown if label in adults]
    held = sorted((a for a in adults.values() if a.hold is not None), key=lambda a: (a.hold.placed_at, a.person_id))
    audit.record(AuditAction.VIEW, "retention", "", summary={"due": total, "held": len(held), "page": page,
                                                              "persons": [a.person_id for a in soon][:100]})
    return Overview(today=today, due=soon, held=held, total=total, more=more, page=page, pages=pages)


def adult(person_id: int) -> Due | None:
    """The adult one of whose person records this is, or None (no referral, or anonymised).
    Reads only that adult's referrals (three queries)."""
    linked = _linked()
    rows = _rows_of(linked, sa.select(_label_of(linked, sa.literal(person_id, sa.Integer))))
    return next((a for a in _adults(rows, _standing_holds(), _asked(), retention_years())
                 if person_id in a.person_ids), None)


# ---- legal holds -----------------------------------------------------------------------------


def _reason(text: str, *, what: str, field: str, required: bool) -> str:
    text = clean_text(text, multiline=True)
    if required and not text:
        raise ServiceError(f"Enter {what}", field=field)
    if len(text) > DETAILS_MAX:
        raise ServiceError(f"{what[0].upper()}{what[1:]} must be {DETAILS_MAX:,} characters or fewer", field=field)
    return text


def place_hold(held: Due, *, kind: LegalHoldKind, details: str, by: User, now: datetime | None = None) -> tuple[LegalHold, bool]:
    """Put the adult's records under a legal hold: retention leaves them alone until it is
    lifted. Returns the hold and True, or the hold already standing and False (a double submit).
    Audited (the kind, never the details). Raises ServiceError for missing or long details."""
    details = _reason(details, what="the legal reason for the hold", field="details",
                      required=kind == LegalHoldKind.OTHER)
    if held.hold is not None:
        return held.hold, False
    hold = LegalHold(person_id=held.person_id, kind=kind, details=details, placed_at=now or utcnow(), placed_by_id=by.id)
    db.session.add(hold)
    db.session.flush()
    audit.record(AuditAction.CREATE, "legal_hold", hold.id, summary={"person": held.person_id, "kind": str(kind),
                                                                     "details": bool(details)}, user=by)
    return hold, True


def lift_hold(hold: LegalHold, *, reason: str, by: User, now: datetime | None = None) -> bool:
    """Lift a legal hold, with the reason: retention may then anonymise the records when due.
    False when it was already lifted. Audited (never the reason's text)."""
    reason = _reason(reason, what="why the hold is being lifted", field="reason", required=True)
    if hold.lifted_at is not None:
        return False
    hold.lifted_at, hold.lifted_by_id, hold.lift_reason = now or utcnow(), by.id, reason
    db.session.flush()
    audit.record(AuditAction.UPDATE, "legal_hold", hold.id, summary={"person": hold.person_id, "lifted": True},
                 user=by)
    return True


# ---- anonymising -------------------------------------------------------------------------------


@dataclass
class _Ids:
    persons: list[int] = field(default_factory=list)
    referrals: list[int] = field(default_factory=list)
    cases: list[int] = field(default_factory=list)


def _scope(erasure: Erasure, ids: _Ids) -> sa.ColumnElement[bool]:
    m = erasure.model
    if erasure.scope == "person":
        return (m.id if m is Person else m.person_id).in_(ids.persons)
    if erasure.scope == "referral":
        return (m.id if m is Referral else m.referral_id).in_(ids.referrals)
    if erasure.scope == "case":
        return (m.id if m is Case else m.case_id).in_(ids.cases)
    if erasure.scope == "referral_or_case":
        return sa.or_(m.referral_id.in_(ids.referrals), m.case_id.in_(ids.cases))
    if erasure.scope == "action":
        return m.action_id.in_(sa.select(Action.id).where(Action.case_id.in_(ids.cases)))
    if erasure.scope == "agenda_item":
        return m.agenda_item_id.in_(sa.select(AgendaItem.id).where(
            sa.or_(AgendaItem.referral_id.in_(ids.referrals), AgendaItem.case_id.in_(ids.cases))))
    if erasure.scope == "subject_access":
        return m.request_id.in_(sa.select(SubjectAccessRequest.id).where(SubjectAccessRequest.person_id.in_(ids.persons)))
    raise ValueError(f"unknown scope {erasure.scope!r}")


def _blank(model: type, name: str) -> Any:
    """What an erased column holds: "" for text, [] for a list, None where it may be empty."""
    column = model.__table__.c[name]
    if isinstance(column.type, sa.JSON):
        return None if column.nullable else []
    if isinstance(column.type, sa.String) and not column.nullable:
        return ""
    return None


def _erase_rows(ids: _Ids) -> dict[str, int]:
    """One UPDATE per table of ERASED (people apart), whatever the number of rows."""
    counts = {}
    for erasure in ERASED:
        if erasure.model is Person:
            continue
        values = {name: _blank(erasure.model, name) for name in erasure.columns}
        result = db.session.execute(sa.update(erasure.model).where(_scope(erasure, ids)).values(**values)
                                    .execution_options(synchronize_session=False))
        counts[erasure.table] = result.rowcount
    return counts


def _erase_people(adults: Sequence[Due], now: datetime) -> tuple[int, set[int]]:
    """The person records: identifiers erased, the age band and postcode district kept, the time
    of anonymisation set (one SELECT, one UPDATE for them all). Returns the count and the ids
    that had been anonymised before (through a link made since)."""
    erasure = next(e for e in ERASED if e.model is Person)
    blanks = {name: _blank(Person, name) for name in erasure.columns}
    ids = [i for a in adults for i in a.person_ids]
    found = {row.id: row for row in db.session.execute(
        sa.select(Person.id, Person.date_of_birth, Person.postcode, Person.age_band, Person.anonymised_at)
        .where(Person.id.in_(ids)))}
    before = {i for i, row in found.items() if row.anonymised_at is not None}
    values = []
    for a in adults:
        on = a.latest_referral_on or a.ended_on
        for person_id in a.person_ids:
            row = found.get(person_id)
            if row is None or person_id in before:
                continue
            values.append({"id": person_id, **blanks, "postcode": postcode_district(row.postcode),
                           "age_band": age_band(row.date_of_birth, on) if row.date_of_birth else row.age_band,
                           "anonymised_at": now})
    if values:
        db.session.execute(sa.update(Person).execution_options(synchronize_session=False), values)
    return len(values), before


def _next_panels(meeting_ids: set[int]) -> set[int]:
    """The panel after each of these meetings: its minutes review the actions agreed at them."""
    if not meeting_ids:
        return set()
    panels = db.session.execute(
        sa.select(Meeting.id, Meeting.starts_at).where(Meeting.kind == MeetingKind.PANEL,
                                                       Meeting.status == MeetingStatus.SCHEDULED)
        .order_by(Meeting.starts_at, Meeting.id)).all()
    starts = {p.id: p.starts_at for p in panels}
    starts.update(db.session.execute(sa.select(Meeting.id, Meeting.starts_at).where(Meeting.id.in_(meeting_ids))).all())
    out = set()
    for meeting_id in meeting_ids:
        after = next((p.id for p in panels if p.starts_at > starts[meeting_id]), None)
        if after is not None:
            out.add(after)
    return out


def scrub_minutes_document(document: dict[str, Any], *, cases: set[int], referrals: set[int]) -> dict[str, Any]:
    """A copy of a finalised minutes record with these cases' and referrals' parts erased: their
    items' notes, decisions and initials, and the text of their actions and action notes."""
    out = copy.deepcopy(document)
    for item in out.get("agenda", []):
        case, referral = item.get("case"), item.get("referral")
        if (case and case["id"] in cases) or (referral and referral["id"] in referrals):
            item["notes"], item["decisions"] = "", []
            for part in (case, referral):
                if part:
                    part["initials"] = ""
        for action in item.get("actions", []):
            if action["case_id"] in cases:
                action["description"] = ""
    for action in out.get("last_actions", []):
        if action["case_id"] in cases:
            action["description"], action["note"] = "", ""
    return out


def _erase_snapshots(ids: _Ids) -> list[int]:
    """The person's parts of finalised minutes, in the stored snapshots (a fixed number of
    queries and one UPDATE for them all). Returns the meetings whose snapshot changed."""
    about = sa.or_(AgendaItem.case_id.in_(ids.cases), AgendaItem.referral_id.in_(ids.referrals))
    meetings = set(db.session.scalars(sa.select(AgendaItem.meeting_id).where(about)))
    agreed = set(db.session.scalars(sa.select(Action.meeting_id).where(
        Action.case_id.in_(ids.cases), Action.meeting_id.is_not(None))))
    meetings |= agreed | _next_panels(agreed)
    if not meetings:
        return []
    cases, referrals = set(ids.cases), set(ids.referrals)
    changed, values = [], []
    for snapshot_id, meeting_id, document in db.session.execute(
            sa.select(MinutesSnapshot.id, MinutesSnapshot.meeting_id, MinutesSnapshot.document)
            .where(MinutesSnapshot.meeting_id.in_(meetings)).order_by(MinutesSnapshot.id)):
        scrubbed = scrub_minutes_document(document, cases=cases, referrals=referrals)
        if scrubbed != document:
            values.append({"id": snapshot_id, "document": scrubbed})
            changed.append(meeting_id)
    if values:
        db.session.execute(sa.update(MinutesSnapshot).execution_options(synchronize_session=False), values)
    return changed


def anonymise(adults: Sequence[Due], *, today: date, by: User | None = None,
              now: datetime | None = None) -> list[Anonymisation]:
    """Anonymise these adults' records now (flushes, never commits): the ERASED columns of all
    their rows, their parts of finalised minutes, their person records kept as age band and
    postcode district. Adults under a legal hold, not yet due, or with a record still open are
    left alone. Records each anonymisation and audits it (ids, kinds and names only)."""
    now = now or utcnow()
    years = retention_years()
    adults = [a for a in adults if a.hold is None and a.due_on is not None and a.due_on <= today]
    if not adults:
        return []
    ids = _Ids(persons=[i for a in adults for i in a.person_ids],
               referrals=[i for a in adults for i in a.referral_ids], cases=[i for a in adults for i in a.case_ids])
    rows = _erase_rows(ids)
    rows["persons"], before = _erase_people(adults, now)
    snapshots = _erase_snapshots(ids)
    rows["minutes_snapshots"] = len(snapshots)
    columns = erased_columns()
    values = []
    for a in adults:
        what = {"persons": list(a.person_ids), "referrals": a.referral_ids, "cases": a.case_ids,
                "columns": columns, "minutes_snapshots": "the person's items, actions and initials"}
        values += [{"person_id": person_id, "rule": a.rule, "ended_on": a.ended_on, "due_on": a.due_on,
                    "retention_years": years, "anonymised_at": now, "by_id": by.id if by else None, "what": what}
                   for person_id in a.person_ids if person_id not in before]
    if not values:
        return []
    db.session.execute(sa.insert(Anonymisation), values)  # one statement for them all
    made = list(db.session.scalars(sa.select(Anonymisation).where(
        Anonymisation.person_id.in_([v["person_id"] for v in values])).order_by(Anonymisation.id)))
    for record in made:
        summary = {"anonymised": True, "rule": str(record.rule), "retention_years": years, "anonymisation": record.id,
                   "referrals": record.what["referrals"], "cases": record.what["cases"], "fields": columns}
        if len(json.dumps(summary)) > AUDIT_SUMMARY_MAX:  # many records: the tables only (the record has the rest)
            summary["fields"] = sorted(columns)
        audit.record(AuditAction.UPDATE, "person", record.person_id, user=by, summary=summary)
    db.session.expire_all()  # the UPDATEs bypassed the session: read the rows afresh
    log.info("retention: anonymised %d people (rows: %s; minutes snapshots: %d)", len(made),
             ", ".join(f"{t} {n}" for t, n in rows.items()), len(snapshots))
    return made


def _lock() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_RETENTION_LOCK})


def run_retention(today: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """Job (daily, and `flask --app wsgi panel run-job retention`): anonymise every adult whose
    records are past RETENTION_YEARS and not under a legal hold, BATCH at a time, committing
    each batch. Idempotent: an anonymised person is never picked again, so a second run (or one
    waiting on the lock while the first ran) finds nothing. Returns how many people it
    anonymised and how many due were left alone under a legal hold."""
    today = today or london_today()
    anonymised = held = 0
    seen: set[int] = set()
    while True:
        _lock()
        found = due(today)
        held = sum(1 for a in found if a.hold is not None)
        batch = [a for a in found if a.hold is None and not seen & set(a.person_ids)][:BATCH]
        if not batch:
            db.session.commit()
            break
        seen.update(i for a in batch for i in a.person_ids)
        anonymise(batch, today=today, now=now)
        anonymised += len(batch)
        db.session.commit()
    return {"anonymised": anonymised, "held": held}
