"""Fictional demo data for the case record: on each demo case, an engagement history of dozens
of attempts across agencies, methods, days and hours (some out of hours, small steps, kinds of
non-engagement), insight versions, the person's outcomes (some reviewed), a risk history and
plan; one hostile-contact staff-safety flag; and one case ready for closure (proposed, with its
checklist met). Everything is invented.

Everything goes through panel.cases.services, so the chronology, notices and audit trail are
real; only the times of the chronology entries are moved back afterwards so the history reads
as it would have happened. Called once from panel.demo.load(); adds nothing a second time.

The demo referrals (panel.demo) make the cases. If there are none, this makes three of its own
through the referral services (draft, submit, put to panel, accept).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from panel.cases import services
from panel.dates import SkippedTime, london_to_utc
from panel.extensions import db
from panel.models import (
    Agency,
    Case,
    CaseEvent,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod as M,
    EngagementOutcome as O,
    NonEngagementKind as K,
    OutcomeReview,
    RiskLevel,
    Role,
    StaffSafetyFlag,
    StaffSafetyKind,
    User,
    utcnow,
)
from panel.referrals import services as referrals

# How each case's person is best reached (days: 0 Monday ... 6 Sunday; local hours [from, to)).
PROFILES = [
    {"days": (0, 1, 2, 3, 4), "hours": (13, 17), "words": "afternoons"},
    {"days": (0, 1, 2, 3, 4, 5, 6), "hours": (17, 21), "words": "early evenings"},
    {"days": (5, 6), "hours": (10, 16), "words": "weekends"},
    {"days": (1, 3), "hours": (9, 12), "words": "Tuesday and Thursday mornings"},
    {"days": (0, 1, 2, 3, 4), "hours": (11, 14), "words": "around midday"},
    {"days": (4, 5), "hours": (15, 20), "words": "Friday and Saturday afternoons"},
]
METHODS = [M.PHONE] * 7 + [M.TEXT] * 3 + [M.LETTER] * 2 + [M.EMAIL] + [M.HOME_VISIT] * 3 + [M.JOINT_VISIT] \
    + [M.UNANNOUNCED_VISIT] * 2 + [M.OFFICE_APPOINTMENT]
FAILED = {
    M.PHONE: [O.NO_ANSWER, O.NO_ANSWER, O.DECLINED],
    M.TEXT: [O.NO_ANSWER],
    M.EMAIL: [O.NO_ANSWER],
    M.LETTER: [O.NO_ANSWER],
    M.HOME_VISIT: [O.NOT_IN, O.DECLINED, O.CANCELLED_BY_PERSON],
    M.JOINT_VISIT: [O.NOT_IN, O.DECLINED],
    M.UNANNOUNCED_VISIT: [O.NOT_IN, O.DECLINED],
    M.OFFICE_APPOINTMENT: [O.MISSED_APPOINTMENT, O.CANCELLED_BY_PERSON],
}
WORDS_WORKED = [
    "I’ll talk to you, but not for long.",
    "Come back Thursday, after my programme finishes.",
    "I want the flat sorted before anything else.",
    "You’re the only one who actually listens.",
    "I don’t want to go back to hospital.",
    "The dog needs to see the vet more than I need a doctor.",
    "Maybe I’ll come to the drop-in if you’re there.",
]
WORDS_REFUSED = [
    "Leave me alone today.",
    "I’ve told you lot everything already.",
    "Not now, I’ve got people round.",
    "Put it in a letter, I’m not talking on the phone.",
    "Why does everyone keep knocking?",
]
VIEW_WORKED = [
    "Calmer than last week; the kitchen was clearer (demo).",
    "Talked for twenty minutes at the door and agreed to a GP appointment (demo).",
    "Engaged well once the radio was off; tired but clear (demo).",
    "Spoke about the tenancy for the first time; brighter mood (demo).",
    "Short call but warm; asked for the support worker by name (demo).",
]
VIEW_FAILED = [
    "Curtains drawn and television on; no answer after three knocks (demo).",
    "Phone rang out; voicemail full (demo).",
    "Letter hand-delivered; a neighbour said the person was in (demo).",
    "Person shouted through the door to go away (demo).",
    "Appointment not kept; no contact since the weekend (demo).",
]
SMALL_STEPS = [
    ("Opened the door today.", "First time the door has opened since the last panel (demo)."),
    ("I read your letter.", "Mentioned the letter unprompted: a small step (demo)."),
    ("Alright, I’ll have a cup of tea with you.", "Let the worker in for the first time (demo)."),
    ("Text me before you come.", "Replied to a text for the first time (demo)."),
]
INSIGHT = [
    {
        "most_settled": "Mid-afternoon, after a late breakfast, with the radio on (demo).",
        "upsets": "Unannounced knocks and uniforms at the door; being asked about money (demo).",
        "responds_to": "Plain speaking, a text before a visit, and being offered a choice (demo).",
        "engages_best_with": "The outreach worker they know, at the café round the corner rather than at home (demo).",
        "matters_and_trust": "Their dog matters most; broken promises about call-backs break trust (demo).",
    },
    {
        "most_settled": "Early evening, once the neighbours are quiet (demo).",
        "upsets": "Letters in brown envelopes; talk of moving out of the area (demo).",
        "responds_to": "Humour, patience and workers who remember what they said last time (demo).",
        "engages_best_with": "A worker of the same gender, in the doorway with the door open (demo).",
        "matters_and_trust": "Keeping the flat; being talked about behind their back breaks trust (demo).",
    },
]
OUTCOMES = [
    "I want to stay in my flat.",
    "I want to see my sister again.",
    "Fewer people knocking on my door.",
    "To feel safe when I go to the shop.",
]
HOSTILE = "Threatened a worker with a bat at the door at the last visit (demo). Visit in pairs; meet outside."


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    try:
        return london_to_utc(day, time(hour, minute))
    except SkippedTime:
        return london_to_utc(day, time(hour + 1, minute))


def _stamp_new_events(case_id: int, after_id: int, when: datetime, started: datetime) -> None:
    """Move the chronology entries a service has just written (stamped now) back to `when`."""
    for event in db.session.execute(sa.select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.id > after_id, CaseEvent.at >= started)).scalars():
        event.at = when


def _last_event_id(case_id: int) -> int:
    return db.session.execute(sa.select(sa.func.coalesce(sa.func.max(CaseEvent.id), 0))
                              .where(CaseEvent.case_id == case_id)).scalar_one()


class _Loader:
    def __init__(self, today: date) -> None:
        self.today = today
        self.started = utcnow() - timedelta(seconds=1)
        self.coordinator = db.session.execute(sa.select(User).where(
            User.role == Role.COORDINATOR, User.active.is_(True)).order_by(User.id)).scalars().first()
        people = db.session.execute(sa.select(User).where(
            User.active.is_(True), User.role.in_((Role.PRACTITIONER, Role.SPOC))).order_by(User.role, User.id)).scalars()
        self.worker: dict[int, User] = {}
        for user in people:  # a practitioner where the agency has one, else a SPoC
            self.worker.setdefault(user.agency_id, user)

    def at(self, case: Case, days_after: int, hour: int = 11) -> datetime:
        day = min(case.accepted_on + timedelta(days=days_after), self.today - timedelta(days=1))
        return _at(day, hour)

    def stamped(self, case: Case, when: datetime, call: Callable, /, *args: Any, **kwargs: Any) -> Any:
        """Run a service call with its arguments, then date the chronology entries it wrote at
        `when`. The arguments are passed, not captured in a lambda, so each loop round uses its own."""
        before = _last_event_id(case.id)
        result = call(*args, **kwargs)
        db.session.flush()
        _stamp_new_events(case.id, before, when, self.started)
        return result

    # ---- the parts of a case record ----

    def engagement(self, case: Case, n: int, rng: random.Random, *, hostile: bool, improving: bool) -> None:
        profile = PROFILES[n % len(PROFILES)]
        agencies = [inv.agency for inv in case.involvements]
        rapport = next((inv.agency for inv in case.involvements if inv.has_rapport), case.lead_agency)
        span = max((self.today - case.accepted_on).days - 1, 7)
        count = 24 + (n * 7) % 25
        moments = []
        for _ in range(count):
            days_after = rng.randint(1, span)
            in_window = rng.random() < 0.45
            if in_window:
                day = case.accepted_on + timedelta(days=days_after)
                while day.weekday() not in profile["days"]:
                    day += timedelta(days=1)
                hour = rng.randint(profile["hours"][0], profile["hours"][1] - 1)
            else:
                day = case.accepted_on + timedelta(days=days_after)
                hour = rng.choice([8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21])
            if day >= self.today:
                day = self.today - timedelta(days=1 + rng.randint(0, 3))
            moments.append((day, hour, rng.randint(0, 11) * 5, in_window))
        moments.sort()
        any_small = any_kind = False
        for i, (day, hour, minute, in_window) in enumerate(moments):
            agency = rapport if rng.random() < 0.4 else rng.choice(agencies)
            method = rng.choice(METHODS)
            chance = (0.7 if in_window else 0.2) + (0.25 * i / count if improving else 0) \
                + (0.1 if agency.id == rapport.id else 0)
            # the draws depend on the date (the seed has the case reference, the span today), so
            # the last attempt makes sure every record shows a small step and a non-engagement
            last = i == len(moments) - 1
            need_small, need_kind = last and not any_small, last and not any_kind
            worked = rng.random() < chance or need_small
            words = view = ""
            kind = None
            small = False
            if worked:
                outcome = O.ENGAGED if rng.random() < 0.6 else O.PARTLY_ENGAGED
                if need_kind:
                    outcome = O.PARTLY_ENGAGED
                if rng.random() < 0.25 or need_small:
                    small = True
                    words, view = rng.choice(SMALL_STEPS)
                else:
                    words = rng.choice(WORDS_WORKED) if rng.random() < 0.6 else ""
                    view = rng.choice(VIEW_WORKED)
                if outcome == O.PARTLY_ENGAGED and (rng.random() < 0.4 or need_kind):
                    kind = rng.choice([K.AMBIVALENCE, K.DISGUISED_COMPLIANCE])
            else:
                outcome = rng.choice(FAILED[method])
                view = rng.choice(VIEW_FAILED)
                if outcome in (O.DECLINED, O.CANCELLED_BY_PERSON) or rng.random() < 0.3 or need_kind:
                    words = rng.choice(WORDS_REFUSED) if outcome == O.DECLINED else ""
                    kinds = [K.AVOIDANCE, K.AMBIVALENCE, K.NON_COMPLIANCE]
                    if hostile:
                        kinds += [K.HOSTILITY, K.CONFRONTATION, K.HOSTILITY]
                    kind = rng.choice(kinds)
            any_small, any_kind = any_small or small, any_kind or kind is not None
            when = _at(day, hour, minute)
            by = self.worker.get(agency.id) or self.coordinator
            self.stamped(case, when + timedelta(minutes=2), services.record_attempt,
                         case, agency=agency, method=method, occurred_at=when, outcome=outcome, by=by,
                         planned=method == M.PHONE and rng.random() < 0.3, persons_words=words, worker_view=view,
                         non_engagement=kind, small_step=small)

    def risk(self, case: Case, n: int, *, ready: bool) -> None:
        by = self.coordinator
        steps: list[tuple[RiskLevel, str, int]]
        if ready:
            steps = [(RiskLevel.HIGH, "Engaging with the mental health team; fewer crisis calls (demo).", 40),
                     (RiskLevel.MEDIUM, "Housing stable for three months; attending appointments (demo).", 120)]
        elif n % 3 == 0:
            steps = [(RiskLevel.HIGH, "Accepted support with the tenancy; no police call-outs this month (demo).", 30),
                     (RiskLevel.CRITICAL, "Relapse after a bereavement; two ambulance call-outs (demo).", 60)]
        elif n % 3 == 1:
            steps = [(RiskLevel.CRITICAL, "Eviction notice served; threats of self-harm (demo).", 15),
                     (RiskLevel.HIGH, "Eviction paused; daily contact from the outreach team (demo).", 45)]
        else:
            steps = [(RiskLevel.CRITICAL, "Visitors have taken over the flat; injuries seen (demo).", 20),
                     (RiskLevel.HIGH, "Visitors moved on after a closure order; support accepted (demo).", 50)]
        for level, reason, days in steps:
            if level == case.risk_level:
                continue
            when = self.at(case, days, 15)
            change = self.stamped(case, when, services.change_risk, case, level=level, reason=reason, by=by)
            if change is not None:
                change.at = when
        self.stamped(
            case, self.at(case, 3, 16), services.update_risk_plan, case, by=by,
            summary="Fictional: self-neglect and a cold flat in winter; exploitation by visitors; falls (demo).",
            contingency_plan="If no contact for 7 days: welfare check by the lead agency with police; "
                             "out of hours: the duty team has the key-safe code (demo).")

    def insight(self, case: Case, n: int) -> None:
        by = self.worker.get(case.lead_agency_id) or self.coordinator
        for version, days in ((0, 20), (1, 70)):
            when = self.at(case, days + n, 14)
            answers = INSIGHT[(n + version) % len(INSIGHT)]
            written = self.stamped(case, when, services.record_insight, case, answers=answers, by=by)
            written.written_at = when
            if (self.today - case.accepted_on).days < 80:
                break

    def outcomes(self, case: Case, n: int, *, all_reviewed: bool) -> None:
        by = self.coordinator
        reviews = [OutcomeReview.ACHIEVED, OutcomeReview.PARTLY_ACHIEVED, OutcomeReview.NOT_ACHIEVED]
        for i in range(2 + n % 2):
            words = OUTCOMES[(n + i) % len(OUTCOMES)]
            expressed = not (i == 2)
            outcome = self.stamped(
                case, self.at(case, 2, 12), services.add_outcome,
                case, words=words if expressed else "Asked at the first visit; did not want to say (demo).",
                asked=True, expressed=expressed, by=by)
            if all_reviewed or i == 0 and n % 2 == 0:
                on = min(self.at(case, 90 + 10 * i, 12).date(), self.today)
                review = OutcomeReview.ACHIEVED if all_reviewed and i == 0 else reviews[(n + i) % 3]
                self.stamped(case, _at(on, 12), services.review_outcome,
                             outcome, case, review=review, on=on, by=by)

    def hostile_flag(self, case: Case) -> None:
        by = self.worker.get(case.lead_agency_id) or self.coordinator
        when = self.at(case, 12, 17)
        flag = self.stamped(case, when, services.set_staff_safety_flag,
                            case, kind=StaffSafetyKind.HOSTILITY, details=HOSTILE, by=by)
        flag.set_at = when


def _own_cases(today: date) -> list[Case]:
    """Three accepted cases of our own, through the referral services, when panel.demo made none."""
    agencies = {a.code: a for a in db.session.execute(sa.select(Agency)).scalars()}
    users = {u.email: u for u in db.session.execute(sa.select(User)).scalars()}
    coordinator = users.get("coordinator@demo.invalid")
    chair = users.get("chair@demo.invalid")
    if coordinator is None or chair is None:
        return []
    made = []
    for n, (given, family, lead, others, days) in enumerate((
            ("Avery", "Demo-Case", "police", ("housing", "mental-health"), 160),
            ("Blake", "Demo-Case", "housing", ("asc", "police"), 120),
            ("Corey", "Demo-Case", "mental-health", ("asc", "housing"), 90))):
        by = agencies[lead].spoc or coordinator
        referral = referrals.start_draft(by=by)
        referrals.update_answers(
            referral, by=by,
            person={"given_name": given, "family_name": family, "date_of_birth": date(1970 + 5 * n, 3, 3),
                    "address": f"{n + 1} Example Row, Demo Town", "postcode": "LU1 1DX"},
            answers={"manager_name": "Demo Team Manager", "lives_in_area": True, "single_agency_tried": True,
                     "needs": ["self_neglect", "housing"], "risk_level": RiskLevel.CRITICAL,
                     "risk_summary": "Fictional demo risk summary.", "tried_already": "Fictional: outreach (demo).",
                     "desired_outcomes": ["Somewhere safe to live"], "consent_given": True},
            involvements=[{"agency_id": agencies[code].id, "named_worker": f"Demo Worker {n}-{i}",
                           "has_rapport": i == 0} for i, code in enumerate(others)])
        if referrals.submit(referral, by=by, today=today - timedelta(days=days)) != "submitted":
            continue
        referrals.put_to_panel(referral, by=coordinator)
        made.append(referrals.accept(referral, by=chair, lead_agency=agencies[lead],
                                     today=today - timedelta(days=days - 7)))
    db.session.flush()
    return made


def load(*, today: date | None = None) -> int:
    """Add the case record demo data, once (flushes, does not commit). Returns the cases enriched."""
    today = today or date.today()
    if db.session.execute(sa.select(sa.func.count(EngagementAttempt.id))).scalar_one():
        return 0  # already there: --force adds nothing twice
    loader = _Loader(today)
    if loader.coordinator is None:
        return 0
    cases = list(db.session.execute(sa.select(Case).where(Case.status != CaseStatus.CLOSED)
                                    .order_by(Case.accepted_on, Case.id)).scalars())
    if not cases:
        cases = _own_cases(today)
    if not cases:
        return 0
    ready = next((c for c in cases if c.status == CaseStatus.CLOSURE_PROPOSED), cases[-1])
    hostile = next((c for c in cases if c is not ready), ready)
    has_hostility = db.session.execute(sa.select(StaffSafetyFlag.id).where(
        StaffSafetyFlag.kind == StaffSafetyKind.HOSTILITY, StaffSafetyFlag.cleared_at.is_(None))).first()
    for n, case in enumerate(cases):
        # bandit B311: repeatable demo data, not security
        rng = random.Random(f"panel-demo-{case.reference}")  # nosec B311
        if case is hostile and not has_hostility:
            loader.hostile_flag(case)
        loader.engagement(case, n, rng, hostile=case is hostile, improving=case is ready)
        loader.risk(case, n, ready=case is ready)
        loader.insight(case, n)
        loader.outcomes(case, n, all_reviewed=case is ready)
    if ready.status == CaseStatus.ACTIVE:
        step_down = next((a for a in db.session.execute(sa.select(Agency).order_by(Agency.name)).scalars()
                          if a.id not in {inv.agency_id for inv in ready.involvements}), ready.lead_agency)
        services.propose_closure(
            ready, rationale="Risk reduced to medium; housing stable for three months; the person agrees (demo).",
            for_non_engagement=False, step_down_agency=step_down, accepted_by="Demo Team Manager",
            accepted_on=today - timedelta(days=7), by=loader.coordinator)
    elif not ready.closure_rationale.strip():  # pragma: no cover - the demo referrals write one
        ready.closure_rationale = "Risk reduced to medium; housing stable for three months (demo)."
    db.session.flush()
    assert_ready = services.closure_check(ready)
    if not assert_ready.ready:  # pragma: no cover - a demo that contradicts itself should fail loudly
        raise RuntimeError("demo case not ready for closure: " + "; ".join(assert_ready.unmet))
    return len(cases)

