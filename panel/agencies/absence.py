"""A SPoC's absence: recorded by the SPoC on their account page, or by a coordinator (or an
admin) for any SPoC; the deputy acts for those dates by themselves, and the SPoC is back when
the last day ends.

The rule lives in the data: an absence (SpocAbsence) runs from the start of its first London
day to the start of the day after its last (`starts_at`, `ends_at`), and Agency.spoc_absent is
true while one of its SPoC's covers now. Everything that asks who acts for an agency reads
Agency.acting_spoc (the digests, the action log, invitations, apologies), so nothing needs a
job to start or end an absence. Services flush but never commit; each change is audited with
ids, dates and field names, and the SPoC and the deputy are emailed a link (nothing else: not
the note, not who).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Iterable

import sqlalchemy as sa
from flask import current_app

from panel import audit, notify
from panel.dates import govuk_date, london_to_utc, london_today
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.forms.text import one_line
from panel.models import Agency, AuditAction, Role, SpocAbsence, User, utcnow

NOTE_MAX = 200
LONGEST_DAYS = 366            # an absence is a year at most
BACKDATE_DAYS = 30            # its first day may be this many days ago (recorded on their return)
MANAGERS = (Role.COORDINATOR, Role.ADMIN)   # who may record or end any SPoC's absence


def is_agency_spoc(user: User) -> bool:
    """True for the user their agency names as its SPoC (the one whose absences count)."""
    return user.role == Role.SPOC and user.agency.spoc_id == user.id


def may_manage(by: User, spoc: User) -> bool:
    """The SPoC records and ends their own absences; coordinators and admins anyone's."""
    return by.role in MANAGERS or (by.id == spoc.id and is_agency_spoc(spoc))


def _start(day: date) -> datetime:
    return london_to_utc(day, time(0))


def not_over(now: datetime) -> sa.ColumnElement[bool]:
    """Absences that cover now or are still to come."""
    return sa.or_(SpocAbsence.ends_at.is_(None), SpocAbsence.ends_at > now)


def covers(absence: SpocAbsence, now: datetime) -> bool:
    return absence.starts_at <= now and (absence.ends_at is None or absence.ends_at > now)


def absences_of(user_ids: Iterable[int], now: datetime | None = None) -> dict[int, list[SpocAbsence]]:
    """Each user's absences now and to come, soonest first (one query, whatever the number)."""
    ids = sorted(set(user_ids))
    found: dict[int, list[SpocAbsence]] = {i: [] for i in ids}
    if not ids:
        return found
    for absence in db.session.scalars(
            sa.select(SpocAbsence).where(SpocAbsence.user_id.in_(ids), not_over(now or utcnow()))
            .order_by(SpocAbsence.starts_at, SpocAbsence.id)):
        found[absence.user_id].append(absence)
    return found


@dataclass
class Cover:
    """An agency's SPoC, deputy, who acts now, and the SPoC's absences now and to come."""

    agency: Agency
    absences: list[SpocAbsence] = field(default_factory=list)

    @property
    def acting(self) -> User | None:
        return self.agency.acting_spoc

    def current(self, now: datetime) -> SpocAbsence | None:
        return next((a for a in self.absences if covers(a, now)), None)


def cover_of(agency: Agency, now: datetime | None = None) -> Cover:
    """One agency's cover (one query)."""
    ids = [agency.spoc_id] if agency.spoc_id else []
    return Cover(agency, absences_of(ids, now).get(agency.spoc_id or 0, []))


def cover_for_all(agencies: list[Agency], now: datetime | None = None) -> list[Cover]:
    """Cover for the agencies given (one query for all their SPoCs' absences)."""
    absences = absences_of([a.spoc_id for a in agencies if a.spoc_id], now)
    return [Cover(a, absences.get(a.spoc_id or 0, [])) for a in agencies]


def agencies_with_spocs() -> list[Agency]:
    """Every agency with a SPoC, by name, its SPoC and deputy loaded in the same query."""
    return list(db.session.scalars(
        sa.select(Agency).where(Agency.spoc_id.is_not(None))
        .options(sa.orm.joinedload(Agency.spoc), sa.orm.joinedload(Agency.deputy_spoc)).order_by(Agency.name)))


def deputy_covering(user: User, now: datetime | None = None) -> Cover | None:
    """For an agency's deputy SPoC: the SPoC's absences they cover, now and to come; else None."""
    agency = user.agency
    if user.role != Role.SPOC or agency.deputy_spoc_id != user.id or agency.spoc_id in (None, user.id):
        return None
    return cover_of(agency, now)


def find(absence_id: int) -> SpocAbsence | None:
    return db.session.get(SpocAbsence, absence_id) if 0 < absence_id <= 2**31 - 1 else None


# ---- recording and ending ---------------------------------------------------------------------


def recorded_words(record: SpocAbsence, *, you: bool = False) -> str:
    """The banner after an absence is recorded (`you`: on the SPoC's own account page)."""
    agency = record.user.agency
    deputy = agency.deputy_spoc.name if agency.deputy_spoc else "The deputy"
    who = "You are" if you else f"{record.user.name} is"
    return (f"Absence recorded: {who} away {_when(record)}. {deputy} acts as "
            f"{agency.name}’s SPoC on those days. Both have been emailed.")


def ended_words(outcome: str, spoc: User, *, you: bool = False) -> str:
    """The banner after an absence is ended or cancelled."""
    who, told = ("You", "You and the deputy have") if you else (spoc.name, "They and the deputy have")
    if outcome == "cancelled":
        return f"The absence has been cancelled. {who} {'act' if you else 'acts'} as SPoC. {told} been emailed."
    return f"The absence has ended: {who} {'act' if you else 'acts'} as SPoC again from now. {told} been emailed."


def _check_dates(starts_on: date, ends_on: date, today: date) -> None:
    if ends_on < starts_on:
        raise ServiceError("The last day away must be the same as or after the first day away", field="ends_on")
    if ends_on < today:
        raise ServiceError("The last day away must be today or in the future", field="ends_on")
    if starts_on < today - timedelta(days=BACKDATE_DAYS):
        raise ServiceError(f"The first day away must be no more than {BACKDATE_DAYS} days ago", field="starts_on")
    if (ends_on - starts_on).days >= LONGEST_DAYS:
        raise ServiceError("An absence can be a year long at most. Record a shorter one, and another later",
                           field="ends_on")


def _overlapping(spoc: User, starts_on: date, ends_on: date | None) -> SpocAbsence | None:
    later = sa.true() if ends_on is None else SpocAbsence.starts_on <= ends_on
    return db.session.scalar(
        sa.select(SpocAbsence).where(SpocAbsence.user_id == spoc.id, later,
                                     sa.or_(SpocAbsence.ends_on.is_(None), SpocAbsence.ends_on >= starts_on))
        .order_by(SpocAbsence.starts_on).limit(1))


def _when(absence: SpocAbsence) -> str:
    if absence.ends_on is None:
        return f"from {govuk_date(absence.starts_on)} until further notice"
    return f"from {govuk_date(absence.starts_on)} to {govuk_date(absence.ends_on)}"


def _deputy(agency: Agency, spoc: User) -> User:
    deputy = agency.deputy_spoc
    if deputy is None or not deputy.active or deputy.id == spoc.id:
        raise ServiceError(f"{agency.name} has no deputy SPoC to act while its SPoC is away. Ask the Panel "
                           "administrator to name one first", field="starts_on")
    return deputy


def _tell(agency: Agency, people: list[User | None], what: str) -> int:
    """Email the SPoC and the deputy a link to their account page, and nothing personal."""
    service = current_app.config["SERVICE_NAME"]
    link = f"{current_app.config['PUBLIC_URL']}/account#absence"
    sent = 0
    for person in {p.id: p for p in people if p is not None and p.active}.values():
        notify.queue_email(
            to=person.email, subject=f"{service}: {agency.name} SPoC cover",
            body=(f"{what}\n\nWhile the SPoC is away, the deputy SPoC acts for {agency.name}: the daily digest, "
                  f"its actions, meeting invitations and panel apologies are theirs.\n\n"
                  f"Sign in to see the dates: {link}\n"))
        sent += 1
    return sent


def record_absence(*, spoc: User, starts_on: date | None, ends_on: date | None, note: str = "", by: User,
                   today: date | None = None) -> SpocAbsence:
    """Record that the agency's SPoC is away from `starts_on` to `ends_on` (both included).

    Refused (ServiceError naming the field) unless `by` may manage this SPoC, `spoc` is their
    agency's SPoC and it has an active deputy, the dates are in order, end today or later, start
    no more than 30 days ago, last a year at most, and overlap none of the SPoC's absences.
    Audits CREATE and emails the SPoC and the deputy a link."""
    today = today or london_today()
    agency = spoc.agency
    if not may_manage(by, spoc) or not is_agency_spoc(spoc):
        raise ServiceError(f"Only {agency.name}’s SPoC, a coordinator or an administrator records its SPoC’s "
                           "absence", field="starts_on")
    if starts_on is None:
        raise ServiceError("Enter the first day away", field="starts_on")
    if ends_on is None:
        raise ServiceError("Enter the last day away", field="ends_on")
    _check_dates(starts_on, ends_on, today)
    note = one_line(note)
    if len(note) > NOTE_MAX:
        raise ServiceError(f"The note must be {NOTE_MAX} characters or fewer", field="note")
    deputy = _deputy(agency, spoc)
    clash = _overlapping(spoc, starts_on, ends_on)
    if clash is not None:
        raise ServiceError(f"These dates overlap the absence already recorded {_when(clash)}. Change the dates, "
                           "or end that absence first", field="starts_on")
    absence = SpocAbsence(user_id=spoc.id, starts_on=starts_on, ends_on=ends_on, starts_at=_start(starts_on),
                          ends_at=_start(ends_on + timedelta(days=1)), note=note, recorded_by_id=by.id)
    db.session.add(absence)
    db.session.flush()
    db.session.expire(agency, ["spoc_absent"])
    audit.record(AuditAction.CREATE, "spoc_absence", absence.id, user=by, summary={
        "agency": agency.code, "spoc": spoc.id, "deputy": deputy.id, "starts_on": starts_on.isoformat(),
        "ends_on": ends_on.isoformat(), "fields": ["note"] if note else []})
    _tell(agency, [spoc, deputy], f"An absence of {agency.name}’s SPoC has been recorded in "
                                  f"{current_app.config['SERVICE_NAME']}.")
    return absence


def end_absence(absence: SpocAbsence, *, by: User, today: date | None = None, now: datetime | None = None) -> str:
    """End an absence now: one still to come (or begun today) is cancelled and removed; one
    under way ends with yesterday, and the SPoC acts again from now. Returns "cancelled" or
    "ended". Refused when `by` may not manage the SPoC, or the absence is already over.
    Audits (DELETE or UPDATE) and emails the SPoC and the deputy a link."""
    now = now or utcnow()
    today = today or london_today(now)
    spoc = absence.user
    agency = spoc.agency
    if not may_manage(by, spoc):
        raise ServiceError("You cannot change this absence")
    if absence.ends_at is not None and absence.ends_at <= now:
        raise ServiceError("This absence is already over")
    summary = {"agency": agency.code, "spoc": spoc.id, "starts_on": absence.starts_on.isoformat(),
               "ends_on": absence.ends_on.isoformat() if absence.ends_on else None}
    if absence.starts_on >= today:
        db.session.delete(absence)
        outcome, action = "cancelled", AuditAction.DELETE
    else:
        absence.ends_on, absence.ends_at = today - timedelta(days=1), now
        outcome, action = "ended", AuditAction.UPDATE
        summary["fields"] = ["ends_on"]
    db.session.flush()
    db.session.expire(agency, ["spoc_absent"])
    audit.record(action, "spoc_absence", absence.id, user=by, summary={**summary, "outcome": outcome})
    _tell(agency, [spoc, agency.deputy_spoc],
          f"An absence of {agency.name}’s SPoC recorded in {current_app.config['SERVICE_NAME']} has been {outcome}: "
          "the SPoC acts for the agency again from now, unless another absence has begun.")
    return outcome


def set_absent_now(agency: Agency, absent: bool, *, by: User, today: date | None = None,
                   now: datetime | None = None) -> bool:
    """The administrator's tick box on the agency form: ticked, the SPoC is away from today
    until further notice (or until the next absence recorded for them begins); unticked, the
    absence under way ends now. Returns True when anything changed (audited and emailed as
    record_absence and end_absence are)."""
    now = now or utcnow()
    today = today or london_today(now)
    spoc = agency.spoc
    if spoc is None or bool(agency.spoc_absent) == absent:
        return False
    current = db.session.scalar(sa.select(SpocAbsence).where(
        SpocAbsence.user_id == spoc.id, SpocAbsence.starts_at <= now, not_over(now)).limit(1))
    if not absent:
        if current is None:
            return False
        end_absence(current, by=by, today=today, now=now)
        return True
    deputy = _deputy(agency, spoc)
    nxt = db.session.scalar(sa.select(SpocAbsence).where(SpocAbsence.user_id == spoc.id, SpocAbsence.starts_at > now)
                            .order_by(SpocAbsence.starts_at).limit(1))
    ends_on = nxt.starts_on - timedelta(days=1) if nxt is not None else None
    absence = SpocAbsence(user_id=spoc.id, starts_on=today, ends_on=ends_on, starts_at=now,
                          ends_at=_start(ends_on + timedelta(days=1)) if ends_on else None, recorded_by_id=by.id)
    db.session.add(absence)
    db.session.flush()
    db.session.expire(agency, ["spoc_absent"])
    audit.record(AuditAction.CREATE, "spoc_absence", absence.id, user=by, summary={
        "agency": agency.code, "spoc": spoc.id, "deputy": deputy.id, "starts_on": today.isoformat(),
        "ends_on": ends_on.isoformat() if ends_on else None, "fields": []})
    _tell(agency, [spoc, deputy], f"{agency.name}’s SPoC has been marked absent in "
                                  f"{current_app.config['SERVICE_NAME']} until further notice.")
    return True
