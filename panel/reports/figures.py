"""The figures behind the Board's reports, for one period: every one a SQL aggregate (GROUP BY,
COUNT, SUM, window functions), never a row per referral or case loaded into Python, and a fixed
number of queries whatever the size of the database (one per report, eleven in all).

What each figure counts (London dates; a period includes both its days):
- occupancy: at the end of each week, the places used (open referrals and open cases, as the
  cap counts them) and the waiting list, rebuilt from the dated referral decisions and the
  cases' acceptance and closure dates;
- referrals: those submitted in the period, by referring agency, with their outcome as it stood
  at the end of the period (the last decision made by then); declined ones by the kind of reason
  and whether signposting was given;
- time to decision: referrals accepted or declined in the period, days from submission to the
  decision; time in the pathway: cases closed in the period, days from acceptance to closure;
  each with the median (portable: ROW_NUMBER and COUNT over a window), shortest and longest;
- risk: cases closed in the period, the level they were referred at against the level at closure;
- repeat referrals: people referred in the period, and those referred three or more times in
  the twelve months (365 days) up to one of those referrals;
- actions due in the period, by owning agency: done by the due date, done late, closed without
  being done (each reason), or still open, as at the end of the period;
- escalations: every rung of the ladder taken in the period, by the action's agency;
- Making Safeguarding Personal: outcomes reviewed in the period, by the review;
- attendance: at panels held in the period whose minutes are finalised, from the signed-off
  record of those minutes (minutes_snapshots), by agency;
- equality: referrals submitted in the period, by the age band kept at submission and, as the
  referrer described the person, gender, ethnicity, first language, interpreter need and
  disability (where recorded). Free-text answers are put into fixed groups in SQL; no text a
  person typed ever reaches a report.

Day counts are London calendar days. SQLite has no time zone data, so there the London date of
a time is worked out by a deterministic SQL function registered on the connection (as the
pattern view does); PostgreSQL uses its own time zone data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from panel.dates import LONDON
from panel.extensions import db
from panel.models import (
    OPEN_REFERRAL_STATUSES,
    Action,
    ActionStatus,
    Agency,
    Case,
    CaseStatus,
    Escalation,
    Meeting,
    MeetingKind,
    MeetingStatus,
    MinutesSnapshot,
    OutcomeReview,
    Person,
    PersonalOutcome,
    Referral,
    ReferralDecision,
    ReferralStatus,
)
from panel.reports.periods import Period

SQLITE_TIME_DAY = "panel_london_day"
SQLITE_DATE_DAY = "panel_day_number"
REPEAT_DAYS = 365
REPEAT_TIMES = 3
QUERIES = 11  # the number of SQL statements compute() runs, whatever the data

# fixed groups for what referrers type (lower case, trimmed)
FEMALE = ("female", "woman", "f", "cis woman", "cisgender woman")
MALE = ("male", "man", "m", "cis man", "cisgender man")
NON_BINARY = ("non-binary", "nonbinary", "non binary", "enby")
ENGLISH = ("english", "english (uk)", "british english", "en", "en-gb")
DECIDED = ("accepted", "declined", "declined_at_panel")
SAFE_CONSTANT = re.compile(r"[A-Za-z0-9_$.]+")


# ---- London days in SQL --------------------------------------------------------------------


def _sqlite_time_day(value) -> int | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=timezone.utc).astimezone(LONDON).date().toordinal()


def _sqlite_date_day(value) -> int | None:
    if value is None:
        return None
    return date.fromisoformat(str(value)[:10]).toordinal()


class Days:
    """SQL for the London day number (date.toordinal()) of a time or a date column."""

    def __init__(self) -> None:
        connection = db.session.connection()
        self.postgres = connection.dialect.name == "postgresql"
        if connection.dialect.name == "sqlite":
            raw = connection.connection.dbapi_connection
            raw.create_function(SQLITE_TIME_DAY, 1, _sqlite_time_day, deterministic=True)
            raw.create_function(SQLITE_DATE_DAY, 1, _sqlite_date_day, deterministic=True)
        elif not self.postgres:  # pragma: no cover
            raise RuntimeError(f"Panel supports SQLite and PostgreSQL, not {connection.dialect.name}")

    def _from_date(self, day: sa.ColumnElement) -> sa.ColumnElement[int]:
        return sa.type_coerce(sa.cast(day, sa.Date) - sa.cast(sa.literal(date(1, 1, 1)), sa.Date) + 1, sa.Integer)

    def of_time(self, column: sa.ColumnElement) -> sa.ColumnElement[int]:
        if self.postgres:
            return self._from_date(sa.func.timezone(LONDON.key, sa.func.timezone("UTC", column)))
        return sa.type_coerce(getattr(sa.func, SQLITE_TIME_DAY)(column), sa.Integer)

    def of_date(self, column: sa.ColumnElement) -> sa.ColumnElement[int]:
        if self.postgres:
            return self._from_date(column)
        return sa.type_coerce(getattr(sa.func, SQLITE_DATE_DAY)(column), sa.Integer)


def _const(value: str | int) -> sa.ColumnElement:
    """A constant written into the SQL (the names of groups are ours, never typed by anyone):
    PostgreSQL cannot tell the type of a bare parameter in a UNION's select list."""
    if isinstance(value, int):
        return sa.literal_column(str(int(value)), sa.Integer)
    assert SAFE_CONSTANT.fullmatch(value), value
    return sa.literal_column(f"'{value}'", sa.String)


# ---- what compute() gives ------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    start: date
    end: date
    places: int
    waiting: int


@dataclass(frozen=True)
class Stats:
    """Days: how many, the median (a half when the middle two differ), shortest and longest."""

    number: int = 0
    median: float | None = None
    shortest: int | None = None
    longest: int | None = None


@dataclass
class Figures:
    period: Period
    weeks: list[Week] = field(default_factory=list)
    # (agency id, agency name, status, signposted, reason kind) -> referrals
    outcomes: dict[tuple[int, str, str, bool, str | None], int] = field(default_factory=dict)
    decision_days: dict[str, Stats] = field(default_factory=dict)     # accepted, declined, all
    pathway_days: dict[str, Stats] = field(default_factory=dict)      # risk_reduced, non_engagement, all
    risk: dict[tuple[str | None, str], int] = field(default_factory=dict)  # (at referral, at closure)
    repeat_people: int = 0
    other_people: int = 0
    actions: dict[tuple[int, str, str], int] = field(default_factory=dict)      # (agency id, name, outcome)
    escalations: dict[tuple[int, str, str], int] = field(default_factory=dict)  # (agency id, name, step)
    msp: dict[str, int] = field(default_factory=dict)
    attendance: dict[tuple[int, str, str | None], int] = field(default_factory=dict)  # (agency id, name, status)
    equality: dict[tuple[str, str], int] = field(default_factory=dict)  # (heading, group)


def compute(period: Period) -> Figures:
    """Every figure for the period, in QUERIES statements."""
    days = Days()
    figures = Figures(period=period)
    figures.weeks = occupancy(period, days)
    figures.outcomes = referral_outcomes(period)
    figures.decision_days = decision_days(period, days)
    figures.pathway_days = pathway_days(period, days)
    figures.risk = risk_at_entry_and_closure(period)
    figures.repeat_people, figures.other_people = repeat_referrals(period, days)
    figures.actions = actions_due(period, days)
    figures.escalations = escalations(period)
    figures.msp = msp_outcomes(period)
    figures.attendance = attendance(period)
    figures.equality = equality(period)
    return figures


# ---- the queries ---------------------------------------------------------------------------


def occupancy(period: Period, days: Days) -> list[Week]:
    """Places used and the waiting list at the end of each week (one query): each referral
    decision and each case's acceptance and closure is a change of +1 or -1, put in the week it
    happened (before the period: the starting level), and the changes are added up in order."""
    first = period.start.toordinal()
    open_ = [s.value for s in OPEN_REFERRAL_STATUSES]
    waiting = ReferralStatus.WAITING.value

    def flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.case((condition, _const(1)), else_=_const(0))

    def week_of(day: sa.ColumnElement[int], before: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.case((before, _const(-1)), else_=(day - first) // 7)

    d = ReferralDecision
    decisions = sa.select(
        week_of(days.of_time(d.at), d.at < period.start_utc).label("week"),
        (flag(d.to_status.in_(open_)) - flag(d.from_status.in_(open_))).label("places"),
        (flag(d.to_status == waiting) - flag(d.from_status == waiting)).label("waiting"),
    ).where(d.at < period.end_utc)
    accepted = sa.select(
        week_of(days.of_date(Case.accepted_on), Case.accepted_on < period.start).label("week"),
        _const(1).label("places"), _const(0).label("waiting"),
    ).where(Case.accepted_on <= period.end)
    closed = sa.select(
        week_of(days.of_date(Case.closed_on), Case.closed_on < period.start).label("week"),
        _const(-1).label("places"), _const(0).label("waiting"),
    ).where(Case.closed_on <= period.end)
    changes = sa.union_all(decisions, accepted, closed).subquery()
    rows = db.session.execute(
        sa.select(changes.c.week, sa.func.sum(changes.c.places), sa.func.sum(changes.c.waiting))
        .group_by(changes.c.week)).all()
    by_week = {int(week): (int(places or 0), int(wait or 0)) for week, places, wait in rows}
    places, wait = by_week.get(-1, (0, 0))
    out = []
    for index, (start, end) in enumerate(period.weeks()):
        more_places, more_waiting = by_week.get(index, (0, 0))
        places, wait = places + more_places, wait + more_waiting
        out.append(Week(start=start, end=end, places=max(places, 0), waiting=max(wait, 0)))
    return out


def _in_period(column: sa.ColumnElement, period: Period) -> sa.ColumnElement[bool]:
    return sa.and_(column >= period.start_utc, column < period.end_utc)


def referral_outcomes(period: Period) -> dict[tuple[int, str, str, bool, str | None], int]:
    """Referrals submitted in the period by agency and their outcome at the end of it (one
    query): the last decision made by then (a referral with no decision recorded: its status)."""
    d = ReferralDecision
    last = (
        sa.select(d.referral_id, d.to_status, d.signposted, d.reason_kind,
                  sa.func.row_number().over(partition_by=d.referral_id, order_by=(d.at.desc(), d.id.desc()))
                  .label("n"))
        .join(Referral, Referral.id == d.referral_id)
        .where(d.at < period.end_utc, _in_period(Referral.submitted_at, period))
    ).subquery()
    status = sa.func.coalesce(last.c.to_status, sa.cast(Referral.status, sa.String(20)))
    signposted = sa.func.coalesce(last.c.signposted, sa.false())
    rows = db.session.execute(
        sa.select(Agency.id, Agency.name, status, signposted, last.c.reason_kind, sa.func.count())
        .select_from(Referral).join(Agency, Agency.id == Referral.referring_agency_id)
        .outerjoin(last, sa.and_(last.c.referral_id == Referral.id, last.c.n == 1))
        .where(_in_period(Referral.submitted_at, period))
        .group_by(Agency.id, Agency.name, status, signposted, last.c.reason_kind)).all()
    return {(agency_id, name, str(s), bool(sign), str(kind) if kind else None): n
            for agency_id, name, s, sign, kind, n in rows}


def _stats(values: sa.Select) -> dict[str, Stats]:
    """Count, median, shortest and longest of `values` (columns grp and days) for each group and
    for "all" (one query: ROW_NUMBER and COUNT over a window, which SQLite and PostgreSQL share)."""
    base = values.cte("base")
    both = sa.union_all(sa.select(base.c.grp, base.c.days),
                        sa.select(_const("all").label("grp"), base.c.days)).subquery()
    ranked = sa.select(
        both.c.grp, both.c.days,
        sa.func.row_number().over(partition_by=both.c.grp, order_by=both.c.days).label("n"),
        sa.func.count().over(partition_by=both.c.grp).label("size"),
    ).subquery()
    middle = sa.or_(ranked.c.n == (ranked.c.size + 1) // 2, ranked.c.n == (ranked.c.size + 2) // 2)
    rows = db.session.execute(
        sa.select(ranked.c.grp, sa.func.max(ranked.c.size), sa.func.avg(sa.case((middle, ranked.c.days))),
                  sa.func.min(ranked.c.days), sa.func.max(ranked.c.days))
        .group_by(ranked.c.grp)).all()
    return {grp: Stats(number=int(size), median=float(median) if median is not None else None,
                       shortest=int(low), longest=int(high))
            for grp, size, median, low, high in rows}


def decision_days(period: Period, days: Days) -> dict[str, Stats]:
    """Referrals accepted or declined in the period: days from submission to the decision."""
    d = ReferralDecision
    group = sa.case((d.outcome == "accepted", _const("accepted")), else_=_const("declined"))
    return _stats(
        sa.select(group.label("grp"), (days.of_time(d.at) - days.of_time(Referral.submitted_at)).label("days"))
        .join(Referral, Referral.id == d.referral_id)
        .where(d.outcome.in_(DECIDED), _in_period(d.at, period), Referral.submitted_at.is_not(None)))


def pathway_days(period: Period, days: Days) -> dict[str, Stats]:
    """Cases closed in the period: days from acceptance to closure."""
    group = sa.case((Case.closure_for_non_engagement.is_(True), _const("non_engagement")),
                    else_=_const("risk_reduced"))
    return _stats(
        sa.select(group.label("grp"), (days.of_date(Case.closed_on) - days.of_date(Case.accepted_on)).label("days"))
        .where(Case.status == CaseStatus.CLOSED, Case.closed_on >= period.start, Case.closed_on <= period.end))


def risk_at_entry_and_closure(period: Period) -> dict[tuple[str | None, str], int]:
    """Cases closed in the period: the risk level they were referred at against the level at closure."""
    rows = db.session.execute(
        sa.select(Referral.risk_level, Case.risk_level, sa.func.count())
        .select_from(Case).join(Referral, Referral.id == Case.referral_id)
        .where(Case.status == CaseStatus.CLOSED, Case.closed_on >= period.start, Case.closed_on <= period.end)
        .group_by(Referral.risk_level, Case.risk_level)).all()
    return {(str(entry) if entry else None, str(closure)): n for entry, closure, n in rows}


def repeat_referrals(period: Period, days: Days) -> tuple[int, int]:
    """People referred in the period: (referred three or more times in the 365 days up to one of
    those referrals, the others). One query: a self-join on the person, grouped twice."""
    mine = (sa.select(Referral.id, Referral.person_id, days.of_time(Referral.submitted_at).label("day"))
            .where(_in_period(Referral.submitted_at, period))).cte("mine")
    other = aliased(Referral)
    other_day = days.of_time(other.submitted_at)
    per_referral = (
        sa.select(mine.c.person_id, mine.c.id, sa.func.count(other.id).label("times"))
        .select_from(mine)
        .join(other, sa.and_(other.person_id == mine.c.person_id, other.submitted_at.is_not(None),
                             other_day <= mine.c.day, other_day > mine.c.day - REPEAT_DAYS))
        .group_by(mine.c.person_id, mine.c.id)).subquery()
    people = (sa.select(per_referral.c.person_id, sa.func.max(per_referral.c.times).label("most"))
              .group_by(per_referral.c.person_id)).subquery()
    row = db.session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(sa.case((people.c.most >= REPEAT_TIMES, _const(1)), else_=_const(0))), 0),
        sa.func.count())).one()
    return int(row[0]), int(row[1]) - int(row[0])


def actions_due(period: Period, days: Days) -> dict[tuple[int, str, str], int]:
    """Actions due in the period by owning agency and what had become of them by its end."""
    closed = sa.and_(Action.status != ActionStatus.OPEN,
                     sa.or_(Action.closed_at.is_(None), Action.closed_at < period.end_utc))
    on_time = sa.and_(Action.closed_at.is_not(None), days.of_time(Action.closed_at) <= days.of_date(Action.due_on))
    outcome = sa.case(
        (sa.and_(closed, Action.status == ActionStatus.DONE, on_time), _const("on_time")),
        (sa.and_(closed, Action.status == ActionStatus.DONE), _const("late")),
        (closed, sa.cast(Action.status, sa.String(20))),
        else_=_const("open"))
    # grouped outside: PostgreSQL does not match a GROUP BY expression holding parameters
    due = (sa.select(Action.agency_id, outcome.label("outcome"))
           .where(Action.due_on >= period.start, Action.due_on <= period.end)).subquery()
    rows = db.session.execute(
        sa.select(Agency.id, Agency.name, due.c.outcome, sa.func.count())
        .select_from(due).join(Agency, Agency.id == due.c.agency_id)
        .group_by(Agency.id, Agency.name, due.c.outcome)).all()
    return {(agency_id, name, str(what)): n for agency_id, name, what, n in rows}


def escalations(period: Period) -> dict[tuple[int, str, str], int]:
    """Rungs of the escalation ladder taken in the period, by the action's agency and the rung."""
    rows = db.session.execute(
        sa.select(Agency.id, Agency.name, Escalation.step, sa.func.count())
        .select_from(Escalation).join(Action, Action.id == Escalation.action_id)
        .join(Agency, Agency.id == Action.agency_id)
        .where(_in_period(Escalation.at, period))
        .group_by(Agency.id, Agency.name, Escalation.step)).all()
    return {(agency_id, name, str(step)): n for agency_id, name, step, n in rows}


def msp_outcomes(period: Period) -> dict[str, int]:
    """Making Safeguarding Personal outcomes reviewed in the period, by the review."""
    rows = db.session.execute(
        sa.select(PersonalOutcome.review, sa.func.count())
        .where(PersonalOutcome.reviewed_on >= period.start, PersonalOutcome.reviewed_on <= period.end,
               PersonalOutcome.review != OutcomeReview.OPEN)
        .group_by(PersonalOutcome.review)).all()
    return {str(review): n for review, n in rows}


def attendance(period: Period) -> dict[tuple[int, str, str | None], int]:
    """Each agency's attendance at the panels held in the period, as their finalised minutes
    record it (the attendance in each minutes snapshot, unpacked in SQL)."""
    postgres = db.session.connection().dialect.name == "postgresql"
    if postgres:
        entry = sa.func.json_array_elements(MinutesSnapshot.document.op("->")(_const("attendance"))) \
            .table_valued("value").alias("entry")

        def item(key: str) -> sa.ColumnElement:
            return entry.c.value.op("->>")(_const(key))
    else:
        entry = sa.func.json_each(MinutesSnapshot.document, _const("$.attendance")).table_valued("value") \
            .alias("entry")

        def item(key: str) -> sa.ColumnElement:
            return sa.func.json_extract(entry.c.value, _const(f"$.{key}"))
    recorded = (
        sa.select(sa.cast(item("agency_id"), sa.Integer).label("agency_id"),
                  sa.cast(item("agency"), sa.String(120)).label("agency"),
                  sa.cast(item("status"), sa.String(40)).label("status"))
        .select_from(MinutesSnapshot).join(Meeting, Meeting.id == MinutesSnapshot.meeting_id)
        .join(entry, sa.true())
        .where(Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
               _in_period(Meeting.starts_at, period))).subquery()
    rows = db.session.execute(
        sa.select(recorded.c.agency_id, sa.func.max(recorded.c.agency), recorded.c.status, sa.func.count())
        .group_by(recorded.c.agency_id, recorded.c.status)).all()
    return {(int(a), str(name), str(s) if s else None): n for a, name, s, n in rows}


def _lower(column: sa.ColumnElement) -> sa.ColumnElement[str]:
    return sa.func.lower(sa.func.trim(sa.func.coalesce(column, "")))


def _any(column: sa.ColumnElement, *words: str) -> sa.ColumnElement[bool]:
    return sa.or_(*(column.contains(word, autoescape=True) for word in words))


def equality_groups(person: type[Person] | Person, referral: type[Referral] = Referral) -> dict[str, sa.ColumnElement]:
    """Each equality heading's group, as SQL over the referral and the person as referred."""
    gender, ethnicity, language = _lower(person.gender), _lower(person.ethnicity), _lower(person.first_language)
    mixed = sa.or_(_any(ethnicity, "mixed", "multiple", "dual heritage"),
                   sa.and_(_any(ethnicity, "white"), _any(ethnicity, "black", "asian", "african", "caribbean")))
    return {
        "age": sa.func.coalesce(sa.cast(referral.age_band, sa.String(16)), _const("not_recorded")),
        "gender": sa.case((gender == "", _const("not_recorded")), (gender.in_(FEMALE), _const("female")),
                          (gender.in_(MALE), _const("male")), (gender.in_(NON_BINARY), _const("non_binary")),
                          else_=_const("other")),
        "ethnicity": sa.case(
            (ethnicity == "", _const("not_recorded")), (mixed, _const("mixed")),
            (_any(ethnicity, "white", "irish", "gypsy", "traveller", "roma"), _const("white")),
            (_any(ethnicity, "asian", "indian", "pakistani", "bangladeshi", "chinese"), _const("asian")),
            (_any(ethnicity, "black", "african", "caribbean"), _const("black")),
            else_=_const("other")),
        "language": sa.case((language == "", _const("not_recorded")), (language.in_(ENGLISH), _const("english")),
                            else_=_const("other")),
        "interpreter": sa.case((person.interpreter_needed.is_(True), _const("needed")),
                               (person.interpreter_needed.is_(False), _const("not_needed")),
                               else_=_const("not_recorded")),
        "disability": sa.func.coalesce(sa.cast(person.disability, sa.String(16)), _const("not_recorded")),
    }


def equality(period: Period) -> dict[tuple[str, str], int]:
    """Referrals submitted in the period under each equality heading (one query, a UNION ALL)."""
    person = aliased(Person)
    groups = equality_groups(person)
    grouped = (
        sa.select(*(group.label(heading) for heading, group in groups.items()))
        .select_from(Referral)
        .join(person, person.id == sa.func.coalesce(Referral.referred_person_id, Referral.person_id))
        .where(_in_period(Referral.submitted_at, period))).cte("grouped")
    selects = [
        sa.select(_const(heading).label("heading"), grouped.c[heading].label("grp"), sa.func.count().label("n"))
        .group_by(grouped.c[heading])
        for heading in groups
    ]
    rows = db.session.execute(sa.union_all(*selects)).all()
    return {(heading, str(grp)): n for heading, grp, n in rows}
