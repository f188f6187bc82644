"""Demo data: a year of closed and declined history, so every Board report has figures, some of
them suppressed (issue 13). Everything is invented.

Beside the demo's own referrals (panel.demo), eighty referrals arrive over the twelve months to
three weeks ago, from agencies of every kind but housing (so the housing SPoC's own list stays as
the demo makes it): declined at triage or at panel (with the
kind of reason, signposted or not), withdrawn, sent back for more information, or accepted and
later closed (the risk lowered, actions agreed and done or not, rungs of the escalation ladder
taken, Making Safeguarding Personal outcomes reviewed). Six people are referred three times in
the year. The pathway's cap holds throughout: a day is played at a time against the places the
demo's own referrals and cases use, so a referral that finds the pathway full waits, and is
promoted when a place frees or withdrawn after six weeks. Everything is settled two weeks before
today, so the demo's pathway today is as panel.demo makes it. The panels of the year are held
with attendance recorded and their minutes finalised by the chair (panel.meetings.minutes).

Built relative to `today` from the models (quicker than the services for so many, and it lets
each row carry the date it happened); the minutes are finalised through panel.meetings.minutes.
The random draws come from a fixed seed, so the history has the same shape whenever it is loaded.
Called once from panel.demo.load(); adds nothing a second time.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from panel import pathway
from panel.dates import LONDON, add_working_days, govuk_date, london_to_utc
from panel.extensions import db
from panel.meetings import minutes, schedule
from panel.models import (
    OPEN_REFERRAL_STATUSES,
    Action,
    ActionStatus,
    ActionUpdate,
    AgeBand,
    Agency,
    AttendanceStatus,
    Case,
    CaseEvent,
    CaseStatus,
    DeclineReason,
    Disability,
    Escalation,
    Involvement,
    LadderStep,
    Meeting,
    MeetingKind,
    MeetingStatus,
    OutcomeReview,
    Person,
    PersonalOutcome,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    User,
    utcnow,
)

SEED = 13
FIRST_DAYS_AGO = 364      # the first history referral arrives
LAST_DAYS_AGO = 21        # the last arrives
SETTLED_DAYS_AGO = 14     # everything is decided, closed or withdrawn by then
ARRIVALS = 80
REPEAT_PEOPLE = 6         # referred three times each in the year
LONGEST_WAIT = 42         # days on the waiting list before the referral is withdrawn

GIVEN = ["Avery", "Blake", "Cameron", "Dana", "Emery", "Finley", "Gale", "Hayden", "Indigo", "Jamie", "Kendall",
         "Logan", "Marlow", "Noel", "Oakley", "Peyton", "Quinn", "Remy", "Sasha", "Tatum"]
FAMILIES = ["Archive", "Lastyear", "Backlog", "Formerly", "Pastcase", "Ledger", "Yesteryear", "Bygone", "Oldfile",
            "Prior"]
REFERRERS = [("police", 6), ("asc", 5), ("mental-health", 4), ("health", 3), ("primary-care", 2),
             ("drug-alcohol", 3), ("probation", 3), ("fire", 1), ("voluntary", 2)]
LEADS = ["police", "asc", "housing", "mental-health", "drug-alcohol", "probation"]
GENDERS = [("Female", 9), ("Male", 10), ("Non-binary", 1), ("", 2)]
ETHNICITIES = [("White British", 12), ("White Irish", 1), ("Black Caribbean", 2), ("Black African", 1),
               ("Asian British - Pakistani", 2), ("Indian", 1), ("Mixed White and Black Caribbean", 1), ("Arab", 1),
               ("Gypsy or Irish Traveller", 1), ("", 3)]
LANGUAGES = [("English", 16), ("Polish", 1), ("Urdu", 1), ("Bengali", 1), ("Portuguese", 1), ("", 1)]
DISABILITY = [(Disability.YES, 6), (Disability.NO, 7), (Disability.NOT_SAID, 1), (None, 6)]
NEEDS = ["dual_diagnosis", "offending", "mental_health", "self_neglect", "housing", "social_exclusion",
         "poorly_managed_health", "victimisation", "antisocial_behaviour", "unable_to_protect_self",
         "unhelpful_thinking", "poor_engagement"]
# what happens to an admitted referral, and how often
PLANS = [("declined", 28), ("declined_at_panel", 10), ("withdrawn", 8), ("info_then_declined", 6), ("case", 30)]
ACTION_ENDS = [("on_time", 55), ("late", 20), (ActionStatus.NOT_POSSIBLE, 9), (ActionStatus.NOT_DONE, 9),
               (ActionStatus.CANCELLED, 7)]
MSP_REVIEWS = [(OutcomeReview.ACHIEVED, 5), (OutcomeReview.PARTLY_ACHIEVED, 3), (OutcomeReview.NOT_ACHIEVED, 2)]
OUTCOME_WORDS = ["To keep my flat", "To see my grandchildren again", "Fewer visits from the police",
                 "To get off the streets", "To feel safe at home", "To sort out my benefits", "To stop drinking"]
ACTION_WORDS = ["Joint home visit with the housing officer", "Refer to the community mental health team",
                "Arrange a benefits check", "Book a GP health check", "Share the safety plan with partners",
                "Offer a place at the recovery service", "Review the tenancy support plan"]


def _pick(rng: random.Random, weighted: list[tuple]) -> object:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


@dataclass
class _Referral:
    """One history referral as the simulation plays it out (days are London dates)."""

    n: int
    arrives: date
    agency: str
    person: int               # index into the people made
    risk: RiskLevel
    plan: str
    steps: list[tuple[str, str, str, date]] = field(default_factory=list)  # (outcome, from, to, day)
    case: tuple[date, date] | None = None  # (accepted, closed)
    reason_kind: DeclineReason | None = None
    signposted: bool = False


@dataclass
class _Pathway:
    """Places used each day by the demo's own records and by the history, against the cap."""

    first: date
    last: date
    cap: int
    used: dict[date, int]

    def room(self, start: date, end: date) -> bool:
        """A place free at the end of every day from start up to (not including) end."""
        day = start
        while day < end and day <= self.last:
            if self.used.get(day, 0) >= self.cap:
                return False
            day += timedelta(days=1)
        return True

    def hold(self, start: date, end: date) -> None:
        day = start
        while day < end and day <= self.last:
            self.used[day] = self.used.get(day, 0) + 1
            day += timedelta(days=1)


def _london(day: date, hour: int, minute: int = 0) -> datetime:
    return london_to_utc(day, time(hour, minute))


def _places_already_used(first: date, last: date) -> dict[date, int]:
    """Places the demo's own referrals and cases use at the end of each day (from their decisions)."""
    open_ = {s.value for s in OPEN_REFERRAL_STATUSES}
    change: dict[date, int] = defaultdict(int)
    for before, after, at in db.session.execute(
            sa.select(ReferralDecision.from_status, ReferralDecision.to_status, ReferralDecision.at)):
        change[at.astimezone(LONDON).date()] += (after in open_) - (before in open_)
    for accepted_on, closed_on in db.session.execute(sa.select(Case.accepted_on, Case.closed_on)):
        change[accepted_on] += 1
        if closed_on is not None:
            change[closed_on] -= 1
    used = sum(n for day, n in change.items() if day < first)
    out = {}
    day = first
    while day <= last:
        used += change.get(day, 0)
        out[day] = used
        day += timedelta(days=1)
    return out


def load(*, today: date) -> int:
    """Add the year of history (flushes, does not commit); returns how many referrals it made."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.family_name.in_(FAMILIES))):
        return 0
    users = {u.email: u for u in db.session.scalars(sa.select(User))}
    agencies = {a.code: a for a in db.session.scalars(sa.select(Agency))}
    coordinator, chair = users.get("coordinator@demo.invalid"), users.get("chair@demo.invalid")
    if coordinator is None or chair is None or any(code not in agencies for code, _ in REFERRERS):
        return 0
    # bandit B311: repeatable demo data, not security
    rng = random.Random(SEED)  # nosec B311
    panels = _hold_panels(today, coordinator, chair, rng)
    panel_days = sorted({p.starts_at.astimezone(LONDON).date() for p in panels})
    referrals = _play(today, rng, panel_days)
    _write(referrals, today, rng, users, agencies, coordinator, chair)
    db.session.flush()
    return len(referrals)


# ---- the panels of the year ---------------------------------------------------------------------

# how often each agency comes: present, apologies with an update, apologies, absent (weights)
_ATTENDS = {"police": (9, 1, 0, 0), "asc": (8, 1, 1, 0), "housing": (7, 2, 1, 0), "mental-health": (6, 2, 1, 1),
            "health": (5, 2, 2, 1), "primary-care": (3, 2, 3, 2), "drug-alcohol": (7, 1, 1, 1),
            "probation": (6, 2, 1, 1), "fire": (3, 1, 3, 3), "voluntary": (2, 1, 3, 4)}
_STATUSES = (AttendanceStatus.PRESENT, AttendanceStatus.APOLOGIES_WITH_UPDATE, AttendanceStatus.APOLOGIES,
             AttendanceStatus.ABSENT)


def _hold_panels(today: date, coordinator: User, chair: User, rng: random.Random) -> list[Meeting]:
    """The monthly panels of the year before the demo's own: attendance recorded and minutes
    finalised by the chair through the meeting services (the attendance set on its rows directly)."""
    schedule.ensure_panels(today - timedelta(days=FIRST_DAYS_AGO + 6))
    now = utcnow()
    panels = list(db.session.scalars(sa.select(Meeting).where(
        Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
        Meeting.starts_at < now).order_by(Meeting.starts_at)))
    for panel in panels:
        if panel.finalised or panel.ends_at > now - timedelta(days=3):
            continue
        minutes.ensure_attendance_rows(panel, by=coordinator)
        for row in minutes.attendance_rows(panel):
            agency = row.agency
            weights = _ATTENDS.get(agency.code, (5, 2, 2, 1))
            status = rng.choices(_STATUSES, weights=weights)[0]
            present = status == AttendanceStatus.PRESENT
            # as minutes.record_attendance() records it (set here directly: a year of panels, quickly)
            row.status, row.recorded_at, row.recorded_by_id = status, panel.starts_at, coordinator.id
            row.attendee_name = (agency.spoc.name if agency.spoc else "A deputy (demo)") if present else ""
            row.confidentiality_acknowledged = present
            row.written_update = ("Our actions are on track (demo)."
                                  if status == AttendanceStatus.APOLOGIES_WITH_UPDATE else "")
        minutes.finalise(panel, by=chair, now=panel.ends_at + timedelta(days=2))
    return panels


# ---- playing the year out --------------------------------------------------------------------------


def _arrivals(today: date, rng: random.Random) -> list[tuple[date, int, bool]]:
    """(day, person, another referral of theirs follows) for each referral: most people are
    referred once, six of them three times, a month or more apart, within 300 days."""
    first, last = today - timedelta(days=FIRST_DAYS_AGO), today - timedelta(days=LAST_DAYS_AGO)
    span = (last - first).days
    days = sorted(first + timedelta(days=rng.randrange(span + 1)) for _ in range(ARRIVALS))
    people = list(range(ARRIVALS))
    followed = [False] * ARRIVALS
    for _ in range(REPEAT_PEOPLE):
        free = [i for i in range(ARRIVALS) if people[i] == i and not followed[i]]
        slot = rng.choice(free[: len(free) // 2])
        seconds = [i for i in free if 30 <= (days[i] - days[slot]).days <= 150]
        if not seconds:
            continue
        second = rng.choice(seconds)
        thirds = [i for i in free if i != second and (days[i] - days[second]).days >= 30
                  and (days[i] - days[slot]).days <= 300]
        if not thirds:
            continue
        third = rng.choice(thirds)
        people[second] = people[third] = people[slot]
        followed[slot] = followed[second] = True
    return list(zip(days, people, followed, strict=True))


def _next_panel(panel_days: list[date], after: date) -> date | None:
    return next((d for d in panel_days if d > after), None)


def _plan_steps(r: _Referral, start: date, rng: random.Random, panel_days: list[date], settled: date
                ) -> tuple[list[tuple[str, str, str, date]], date, tuple[date, date] | None] | None:
    """The decisions after the referral takes a place on `start`: (steps, the day the place
    frees, the case's dates). None when its plan cannot finish by `settled`."""
    status = "submitted"
    steps: list[tuple[str, str, str, date]] = []

    def step(outcome: str, to: str, day: date) -> None:
        nonlocal status
        steps.append((outcome, status, to, day))
        status = to

    plan = r.plan
    if plan == "declined":
        day = start + timedelta(days=rng.randint(2, 12))
        step("declined", "declined", day)
        return (steps, day, None) if day <= settled else None
    if plan == "withdrawn":
        day = start + timedelta(days=rng.randint(4, 24))
        step("withdrawn", "withdrawn", day)
        return (steps, day, None) if day <= settled else None
    if plan == "info_then_declined":
        asked = start + timedelta(days=rng.randint(2, 6))
        step("info_requested", "info_requested", asked)
        back = asked + timedelta(days=rng.randint(3, 10))
        step("resubmitted", "submitted", back)
        day = back + timedelta(days=rng.randint(2, 8))
        step("declined", "declined", day)
        return (steps, day, None) if day <= settled else None
    triaged = start + timedelta(days=rng.randint(1, 6))
    panel = _next_panel(panel_days, triaged)
    if panel is None or panel > settled:
        return None
    step("to_panel", "awaiting_panel", triaged)
    if plan == "declined_at_panel":
        step("declined_at_panel", "declined", panel)
        return steps, panel, None
    step("accepted", "accepted", panel)
    wanted = panel + timedelta(days=rng.randint(50, 170))
    closes = _next_panel(panel_days, wanted - timedelta(days=1)) or panel_days[-1]
    if closes > settled:
        closes = max((d for d in panel_days if d <= settled), default=panel)
    if (closes - panel).days < 28:
        return None
    return steps, closes, (panel, closes)


def _play(today: date, rng: random.Random, panel_days: list[date]) -> list[_Referral]:
    """Each day of the year in turn: waiting referrals promoted when a place is free for all of
    their time in the pathway, new ones admitted or put on the waiting list, long waits withdrawn."""
    first, settled = today - timedelta(days=FIRST_DAYS_AGO), today - timedelta(days=SETTLED_DAYS_AGO)
    places = _Pathway(first=first, last=settled, cap=pathway.cap(), used=_places_already_used(first, settled))
    referrals = []
    for n, (day, person, followed) in enumerate(_arrivals(today, rng)):
        # a case could not run its course before the end; nor is someone referred again while one is open
        short = (settled - day).days < 120 or followed
        plans = [p for p in PLANS if not (short and p[0] in ("case", "declined_at_panel"))]
        referrals.append(_Referral(n=n, arrives=day, agency=str(_pick(rng, REFERRERS)), person=person,
                                   risk=RiskLevel.CRITICAL if rng.random() < 0.45 else RiskLevel.HIGH,
                                   plan=str(_pick(rng, plans))))
    by_day: dict[date, list[_Referral]] = defaultdict(list)
    for r in referrals:
        by_day[r.arrives].append(r)
    waiting: list[tuple[_Referral, date]] = []
    day = first
    while day <= settled:
        still: list[tuple[_Referral, date]] = []
        for r, since in waiting:
            if not _admit(r, day, rng, panel_days, settled, places, promoted=True):
                if (day - since).days >= LONGEST_WAIT or day == settled:
                    r.steps.append(("withdrawn", "waiting", "withdrawn", day))
                else:
                    still.append((r, since))
        waiting = still
        for r in by_day.get(day, []):
            if _admit(r, day, rng, panel_days, settled, places, promoted=False):
                continue
            r.steps.append(("submitted", "draft", "waiting", day))
            waiting.append((r, day))
        day += timedelta(days=1)
    return referrals


def _admit(r: _Referral, day: date, rng: random.Random, panel_days: list[date], settled: date, places: _Pathway,
           *, promoted: bool) -> bool:
    """Take a place for the referral's whole time in the pathway, if there is one."""
    for attempt in range(3):  # a shorter plan fits where the planned one would not
        planned = _plan_steps(r, day, rng, panel_days, settled)
        if planned is not None and places.room(day, planned[1]):
            steps, frees, case = planned
            if promoted:
                r.steps.append(("promoted", "waiting", "submitted", day))
            else:
                r.steps.append(("submitted", "draft", "submitted", day))
            r.steps.extend(steps)
            r.case = case
            places.hold(day, frees)
            if any(s[0].startswith("declined") for s in steps):
                r.reason_kind = _pick(rng, [(k, w) for k, w in zip(DeclineReason, (5, 4, 2, 3, 1), strict=True)])
                r.signposted = rng.random() < 0.7
            return True
        if attempt == 0 and r.plan == "case":
            r.plan = "declined_at_panel"
        elif attempt == 1:
            r.plan = "declined"
    return False


# ---- writing the rows -------------------------------------------------------------------------------


def _people(numbers: list[int], today: date, rng: random.Random) -> dict[int, Person]:
    """The people referred, by their number (invented names, ages 19 to 88, equality answers)."""
    out = {}
    for n in numbers:
        age = rng.randint(19, 88)
        born = today - timedelta(days=365 * age + rng.randrange(365))
        language = str(_pick(rng, LANGUAGES))
        out[n] = Person(
            given_name=GIVEN[n % len(GIVEN)], family_name=FAMILIES[(n // len(GIVEN) + n) % len(FAMILIES)],
            date_of_birth=born, gender=str(_pick(rng, GENDERS)), ethnicity=str(_pick(rng, ETHNICITIES)),
            first_language=language, interpreter_needed=(language not in ("English", "")) and rng.random() < 0.8
            if language else None, disability=_pick(rng, DISABILITY),
            address=f"{n + 1} History Row, Demo Town", postcode=f"LU{1 + n % 4} {n % 9}HX")
    return out


def _write(referrals: list[_Referral], today: date, rng: random.Random, users: dict[str, User],
           agencies: dict[str, Agency], coordinator: User, chair: User) -> None:
    people = _people(sorted({r.person for r in referrals}), today, rng)
    db.session.add_all(people.values())
    db.session.flush()
    row = pathway.lock()
    taken = set(db.session.scalars(sa.select(Case.reference)))
    numbers: dict[int, int] = defaultdict(lambda: 500)
    for r in sorted(referrals, key=lambda r: r.arrives):
        referrer = agencies[r.agency]
        by = users.get(f"worker.{r.agency.replace('-', '')}@demo.invalid") or coordinator
        person = people[r.person]
        final = r.steps[-1]
        referral = Referral(
            reference=pathway.next_referral_reference(row, r.arrives), status=ReferralStatus(final[2]), source="form",
            person=person, referring_agency_id=referrer.id, created_by=by, referrer_name=by.name,
            referrer_email=by.email, referrer_phone="01632 960000", manager_name="Demo Team Manager",
            lives_in_area=True, single_agency_tried=True, needs=rng.sample(NEEDS, 2), risk_level=r.risk,
            risk_summary="Fictional demo risk summary (history).", risk_assessment="Agency assessment (demo).",
            tried_already="Fictional: outreach and a support plan (demo).", rapport="The outreach worker (demo).",
            persons_views="“I want things to settle down.” (demo)", desired_outcomes=["Somewhere safe to live"],
            capacity="No concerns recorded (demo).", consent_given=True,
            submitted_at=_london(r.arrives, 9, 30), age_band=AgeBand.on(person.date_of_birth, r.arrives),
            created_at=_london(r.arrives, 9))
        if final[2] in ("accepted", "declined", "withdrawn"):
            referral.decided_at = _london(final[3], 11 if final[0] in ("accepted", "declined_at_panel") else 15)
        db.session.add(referral)
        others = [code for code in ("housing", "mental-health", "asc", "police") if code != r.agency]
        for i, code in enumerate([r.agency, others[r.n % len(others)]]):
            db.session.add(Involvement(referral=referral, agency_id=agencies[code].id, named_worker=f"History Worker {r.n}-{i}",
                                       has_rapport=i == 0))
        for outcome, before, after, day in r.steps:
            at_panel = outcome in ("accepted", "declined_at_panel")
            who = by if outcome in ("submitted", "resubmitted", "withdrawn") and before != "waiting" else (
                chair if at_panel else coordinator)
            declined = after == "declined"
            db.session.add(ReferralDecision(
                referral=referral, outcome=outcome, from_status=before, to_status=after, by=who,
                at=_london(day, 9, 30) if outcome == "submitted" else _london(day, 11 if at_panel else 15),
                reason=("Declined (demo): see the kind of reason." if declined else
                        f"Lead agency: {agencies[LEADS[r.n % len(LEADS)]].name}" if outcome == "accepted" else ""),
                signposting="Community services (demo)." if declined and r.signposted else "",
                signposted=declined and r.signposted, reason_kind=r.reason_kind if declined else None))
        if r.case is not None:
            numbers[r.case[0].year] += 1
            while f"CASPA-{r.case[0].year}-{numbers[r.case[0].year]:03d}" in taken:
                numbers[r.case[0].year] += 1
            reference = f"CASPA-{r.case[0].year}-{numbers[r.case[0].year]:03d}"
            taken.add(reference)
            _case(referral, reference, r, rng, agencies, users, coordinator, chair)


def _case(referral: Referral, reference: str, r: _Referral, rng: random.Random, agencies: dict[str, Agency],
          users: dict[str, User], coordinator: User, chair: User) -> None:
    """A closed case: its risk lowered, its actions, the ladder's rungs, its outcomes reviewed."""
    accepted, closed = r.case  # type: ignore[misc]
    lead = agencies[LEADS[r.n % len(LEADS)]]
    non_engagement = rng.random() < 0.25
    closing_risk = RiskLevel.LOW if rng.random() < 0.4 else RiskLevel.MEDIUM
    case = Case(
        reference=reference, person_id=referral.person.id, referral=referral, status=CaseStatus.CLOSED,
        lead_agency=lead, risk_level=closing_risk, accepted_on=accepted, accepted_by_id=chair.id, closed_on=closed,
        created_at=_london(accepted, 11), risk_summary="Risk reduced over the time in the pathway (demo).",
        contingency_plan="Step-down agency to call the coordinator if things worsen (demo).",
        closure_rationale="Risk reduced and stable; the step-down agency has taken over (demo).",
        closure_for_non_engagement=non_engagement, closure_proposed_at=_london(closed - timedelta(days=7), 10),
        closure_proposed_by_id=coordinator.id, step_down_agency_id=agencies["asc"].id,
        step_down_accepted_by="Demo Team Manager", step_down_accepted_on=closed - timedelta(days=9),
        closure_approved_by_id=chair.id, closure_panel_date=closed)
    db.session.add(case)
    involved = {lead.id, referral.referring_agency_id, agencies["housing"].id}
    for agency_id in sorted(involved):
        db.session.add(Involvement(case=case, agency_id=agency_id, created_at=_london(accepted, 11)))
    db.session.flush()
    lowered = accepted + timedelta(days=(closed - accepted).days * 2 // 3)
    db.session.add(RiskChange(case_id=case.id, from_level=r.risk, to_level=closing_risk, by_id=chair.id,
                              reason="Lowered at panel (demo).", at=_london(lowered, 11)))
    events = [("risk", f"Risk changed from {r.risk.label} to {closing_risk.label}", lowered),
              ("closure", "Closure proposed", closed - timedelta(days=7)),
              ("closure", "Closure approved at panel; case closed", closed)]
    for i in range(rng.randint(1, 3)):
        review = _pick(rng, MSP_REVIEWS)
        reviewed = closed - timedelta(days=rng.randint(0, 12))
        db.session.add(PersonalOutcome(case_id=case.id, words=OUTCOME_WORDS[(r.n + i) % len(OUTCOME_WORDS)],
                                       review=review, reviewed_on=reviewed, reviewed_by_id=coordinator.id,
                                       created_at=_london(accepted, 12)))
        events.append(("outcome", f"Desired outcome reviewed: {review.label.lower()}", reviewed))
    for i in range(rng.randint(2, 5)):
        events += _action(case, i, sorted(involved), accepted, closed, rng, users, coordinator)
    for kind, summary, day in events:
        db.session.add(CaseEvent(case_id=case.id, kind=kind, summary=summary, at=_london(day, 12),
                                 by_id=coordinator.id))


def _acknowledged(step: LadderStep, to: User | None, day: date, rng: random.Random) -> dict:
    """Most escalations to an agency's escalation contact were acknowledged the same afternoon."""
    if step != LadderStep.AGENCY or to is None or rng.random() >= 0.6:
        return {}
    return {"acknowledged_at": _london(day, 15), "acknowledged_by_id": to.id,
            "acknowledgement": "Seen; the team is on it (demo)."}


def _action(case: Case, i: int, agency_ids: list[int], accepted: date, closed: date, rng: random.Random,
            users: dict[str, User], coordinator: User) -> list[tuple[str, str, date]]:
    """An action agreed on the case, what became of it, and the rungs of the ladder it reached."""
    agreed = accepted + timedelta(days=rng.randint(0, max(1, (closed - accepted).days - 45)))
    due = min(agreed + timedelta(days=rng.randint(10, 30)), closed - timedelta(days=12))
    if due <= agreed:
        due = agreed + timedelta(days=5)
    end = _pick(rng, ACTION_ENDS)
    late = end in ("late", ActionStatus.NOT_DONE)
    finished = due - timedelta(days=rng.randint(0, 4)) if end in ("on_time", ActionStatus.NOT_POSSIBLE,
                                                                    ActionStatus.CANCELLED) else \
        min(add_working_days(due, rng.randint(2, 14)), closed - timedelta(days=1))
    finished = max(finished, agreed)
    status = ActionStatus.DONE if end in ("on_time", "late") else ActionStatus(end)
    agency_id = agency_ids[i % len(agency_ids)]
    action = Action(case_id=case.id, description=ACTION_WORDS[(case.id + i) % len(ACTION_WORDS)],
                    agency_id=agency_id, due_on=due, status=status, created_at=_london(agreed, 12),
                    created_by_id=coordinator.id, closed_at=_london(finished, 16))
    db.session.add(action)
    db.session.flush()
    db.session.add(ActionUpdate(action_id=action.id, at=action.closed_at, by_id=coordinator.id,
                                note="Recorded by the coordinator (demo).", old_status=ActionStatus.OPEN,
                                new_status=status))
    rungs = [(LadderStep.REMINDER, add_working_days(due, -3))]
    if late:
        rungs += [(LadderStep.OVERDUE, add_working_days(due, 1)), (LadderStep.AGENCY, add_working_days(due, 5)),
                  (LadderStep.CHAIR, add_working_days(due, 10))]
    agency = db.session.get(Agency, agency_id)
    spoc = agency.acting_spoc if agency else None
    contact = agency.escalation_contact if agency else None
    chair = users.get("chair@demo.invalid")
    events = [("action", f"Action {action.id} agreed for {agency.name if agency else 'an agency'}, due "
                         f"{govuk_date(due)}", agreed)]
    for step, day in rungs:
        if not (agreed < day < finished):
            continue
        to = contact if step == LadderStep.AGENCY else chair if step == LadderStep.CHAIR else spoc
        db.session.add(Escalation(
            action_id=action.id, step=step, round=1, due_for=day, at=_london(day, 7), by_id=None,
            told=f"{to.name} <{to.email}>" if to else "", contact_id=to.id if to and step.is_escalation else None,
            **_acknowledged(step, to, day, rng)))
        if step == LadderStep.CHAIR:
            action.escalated_to_chair_at = _london(day, 7)
        events.append(("escalation", f"Action {action.id}: {step.label.lower()}", day))
    events.append(("action", f"Action {action.id}: {status.label.lower()}", finished))
    return events
