"""Builders for the subject-access tests: two people discussed at the same panel, each with
every kind of record (referral and its decision, case, risk history, staff-safety warning,
engagement, insight, outcome, chronology, action with an update and an escalation, minutes
notes and an amendment on their own agenda item, an MDT for the first, audit entries). Every
free text carries the person's tag, so a test can tell whose words reached a release."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from panel import audit
from panel.extensions import db
from panel.meetings.record import take_snapshot
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Agency,
    AgencyKind,
    AgendaItem,
    AgendaItemKind,
    AuditAction,
    Case,
    CaseEvent,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    Escalation,
    InsightVersion,
    Involvement,
    LadderStep,
    Meeting,
    MeetingKind,
    MinutesAmendment,
    Person,
    PersonalOutcome,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    Role,
    StaffSafetyFlag,
    StaffSafetyKind,
    User,
    utcnow,
)
from tests import factories

# Whose words are whose: every free text of a person carries their tag.
TAGS = ("Aardvarkian", "Bumblewick")


@dataclass
class Subject:
    tag: str
    person: Person
    referral: Referral
    case: Case
    action: Action
    item: AgendaItem
    texts: list[str] = field(default_factory=list)   # every free text written about them

    @property
    def identifiers(self) -> list[str]:
        """What must never appear in someone else's release."""
        p = self.person
        nhs = p.nhs_number
        return [p.given_name, p.family_name, p.other_names, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", p.address,
                self.referral.reference, self.case.reference, self.tag]


@dataclass
class World:
    host: Agency
    police: Agency
    housing: Agency
    coordinator: User
    chair: User
    panel: Meeting
    mdt: Meeting
    a: Subject
    b: Subject
    numbers: dict[str, int] = field(default_factory=dict)


def _text(subject_texts: list[str], tag: str, what: str) -> str:
    text = f"{tag} {what}"
    subject_texts.append(text)
    return text


def subject(n: int, *, given: str, family: str, nhs: str, born: date, police: Agency, housing: Agency,
            coordinator: User, chair: User, panel: Meeting, tag: str, when: datetime) -> Subject:
    texts: list[str] = []

    def t(what: str) -> str:
        return _text(texts, tag, what)

    person = Person(given_name=given, family_name=family, other_names=f"{given[:3]}ie {family}", date_of_birth=born,
                    nhs_number=nhs, address=f"{n} {family} Close, Testtown", postcode=f"LU{n} 1AB", gender="Female")
    referral = Referral(reference=f"R-2027-9{n:04d}", status=ReferralStatus.ACCEPTED, person=person,
                        referring_agency_id=police.id, referrer_name="Robin Referrer", manager_name="Morgan Manager",
                        needs=["housing"], risk_level=RiskLevel.HIGH, desired_outcomes=[t("wants a warm home")],
                        risk_summary=t("referral risk summary"), risk_assessment=t("referral risk assessment"),
                        tried_already=t("tried already"), rapport=t("rapport"), persons_views=t("persons views"),
                        capacity=t("capacity"), consent_given=True, staff_safety_details=t("staff safety details"),
                        submitted_at=when - timedelta(days=40))
    db.session.add_all([person, referral])
    db.session.flush()
    db.session.add(Involvement(referral_id=referral.id, agency_id=police.id, named_worker="Wendy Worker"))
    db.session.add(ReferralDecision(referral_id=referral.id, outcome="accepted", from_status="awaiting_panel",
                                    to_status="accepted", by_id=chair.id, at=when - timedelta(days=30),
                                    reason=t("decision reason")))
    case = Case(reference=f"CASPA-2027-9{n:02d}", person=person, referral=referral, status=CaseStatus.ACTIVE,
                lead_agency_id=police.id, risk_level=RiskLevel.HIGH, accepted_on=(when - timedelta(days=30)).date(),
                risk_summary=t("case risk summary"), contingency_plan=t("contingency plan"))
    db.session.add(case)
    db.session.flush()
    db.session.add_all([
        Involvement(case_id=case.id, agency_id=police.id, named_worker="Wendy Worker", has_rapport=True),
        Involvement(case_id=case.id, agency_id=housing.id),
        RiskChange(case_id=case.id, from_level=RiskLevel.CRITICAL, to_level=RiskLevel.HIGH, reason=t("risk reason"),
                   by_id=coordinator.id, at=when - timedelta(days=20)),
        StaffSafetyFlag(case_id=case.id, kind=StaffSafetyKind.HOSTILITY, details=t("flag details"),
                        set_by_id=coordinator.id, set_at=when - timedelta(days=19)),
        EngagementAttempt(case_id=case.id, agency_id=police.id, recorded_by_id=coordinator.id,
                          method=EngagementMethod.HOME_VISIT, occurred_at=when - timedelta(days=18), planned=True,
                          outcome=EngagementOutcome.ENGAGED, persons_words=t("persons words"),
                          worker_view=t("worker view")),
        InsightVersion(case_id=case.id, most_settled=t("most settled"), upsets=t("upsets"),
                       responds_to=t("responds to"), engages_best_with=t("engages best with"),
                       matters_and_trust=t("matters and trust"), written_by_id=coordinator.id,
                       written_at=when - timedelta(days=17)),
        PersonalOutcome(case_id=case.id, words=t("outcome words")),
        CaseEvent(case_id=case.id, kind="note", summary=t("chronology entry"), by_id=coordinator.id,
                  at=when - timedelta(days=16)),
    ])
    action = Action(case_id=case.id, meeting_id=panel.id, description=t("action description"), agency_id=housing.id,
                    due_on=(when + timedelta(days=5)).date(), status=ActionStatus.OPEN, created_by_id=coordinator.id,
                    created_at=when - timedelta(days=15))
    db.session.add(action)
    db.session.flush()
    escalation = Escalation(action_id=action.id, step=LadderStep.MANUAL_AGENCY, due_for=when.date(),
                            by_id=coordinator.id, reason=t("escalation reason"), at=when - timedelta(days=3),
                            acknowledgement=t("escalation acknowledgement"), acknowledged_at=when - timedelta(days=2))
    item = AgendaItem(meeting_id=panel.id, position=10 + n, kind=AgendaItemKind.CASE, case_id=case.id,
                      notes=t("panel notes"), decision=t("panel decision"))
    db.session.add_all([
        ActionUpdate(action_id=action.id, by_id=coordinator.id, note=t("action update note"),
                     at=when - timedelta(days=14)),
        escalation, item,
    ])
    db.session.flush()
    audit.record(AuditAction.VIEW, "case", case.reference, user=chair, summary={"section": "summary"})
    audit.record(AuditAction.VIEW, "referral", referral.id, user=coordinator)
    return Subject(tag=tag, person=person, referral=referral, case=case, action=action, item=item, texts=texts)


def build(*, finalise: bool = True) -> World:
    """Two people (Winifred Quillfeather and Bartholomew Zanzibar) discussed at the same panel,
    ten days ago, its minutes finalised (their snapshot taken) unless asked not to; the first
    person also has an MDT with notes, and an amendment to their panel item."""
    now = utcnow().replace(microsecond=0)
    host = factories.create_agency(code="host", name="Host Council", kind=AgencyKind.LOCAL_AUTHORITY)
    police = factories.create_agency(code="police", name="Police", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Housing", kind=AgencyKind.HOUSING)
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=host, name="Casey Coordinator",
                                        email="coordinator@test.invalid")
    chair = factories.create_user(role=Role.CHAIR, agency=host, name="Charlie Chair", email="chair@test.invalid")
    starts = now - timedelta(days=10)
    panel = Meeting(kind=MeetingKind.PANEL, starts_at=starts, ends_at=starts + timedelta(hours=2, minutes=30),
                    cutoff_on=starts.date() - timedelta(days=7))
    db.session.add(panel)
    db.session.flush()
    db.session.add(AgendaItem(meeting_id=panel.id, position=1, kind=AgendaItemKind.AOB, title="Any other business",
                              notes="Room booking for next month."))
    common = dict(police=police, housing=housing, coordinator=coordinator, chair=chair, panel=panel, when=now)
    a = subject(1, given="Winifred", family="Quillfeather", nhs="4010232137", born=date(1971, 3, 14), tag=TAGS[0],
                **common)
    b = subject(2, given="Bartholomew", family="Zanzibar", nhs="9434765870", born=date(1988, 11, 2), tag=TAGS[1],
                **common)
    mdt = Meeting(kind=MeetingKind.MDT, case_id=a.case.id, starts_at=now - timedelta(days=5),
                  ends_at=now - timedelta(days=5) + timedelta(hours=1), purpose=_text(a.texts, a.tag, "mdt purpose"))
    db.session.add(mdt)
    db.session.flush()
    db.session.add(AgendaItem(meeting_id=mdt.id, position=1, kind=AgendaItemKind.OTHER, title="MDT discussion",
                              case_id=a.case.id, notes=_text(a.texts, a.tag, "mdt notes"),
                              decision=_text(a.texts, a.tag, "mdt decision")))
    if finalise:
        panel.minutes_finalised_at, panel.minutes_finalised_by_id = now - timedelta(days=9), chair.id
        db.session.flush()
        take_snapshot(panel, by=chair, now=now - timedelta(days=9))
    db.session.add(MinutesAmendment(meeting_id=panel.id, agenda_item_id=a.item.id, by_id=chair.id,
                                    reason=_text(a.texts, a.tag, "amendment reason"),
                                    text=_text(a.texts, a.tag, "amendment text"), at=now - timedelta(days=8)))
    db.session.flush()
    return World(host=host, police=police, housing=housing, coordinator=coordinator, chair=chair, panel=panel,
                 mdt=mdt, a=a, b=b)


def more_of_everything(s: Subject, world: World, times: int) -> None:
    """Add `times` more of each kind of record to the subject's case (for the query-count test)."""
    now = utcnow()
    for i in range(times):
        db.session.add_all([
            RiskChange(case_id=s.case.id, from_level=RiskLevel.HIGH, to_level=RiskLevel.HIGH, reason=f"r{i}",
                       by_id=world.coordinator.id),
            StaffSafetyFlag(case_id=s.case.id, kind=StaffSafetyKind.OTHER, details=f"f{i}",
                            set_by_id=world.coordinator.id),
            EngagementAttempt(case_id=s.case.id, agency_id=world.police.id, method=EngagementMethod.PHONE,
                              occurred_at=now - timedelta(hours=i + 1), outcome=EngagementOutcome.NO_ANSWER,
                              recorded_by_id=world.coordinator.id),
            InsightVersion(case_id=s.case.id, most_settled=f"m{i}", written_by_id=world.coordinator.id),
            PersonalOutcome(case_id=s.case.id, words=f"o{i}", reviewed_by_id=world.coordinator.id),
            CaseEvent(case_id=s.case.id, kind="note", summary=f"e{i}", by_id=world.coordinator.id),
            ReferralDecision(referral_id=s.referral.id, outcome="note", by_id=world.chair.id, reason=f"d{i}"),
        ])
        action = Action(case_id=s.case.id, description=f"a{i}", agency_id=world.police.id,
                        assignee_id=world.coordinator.id, due_on=now.date(), created_by_id=world.coordinator.id)
        meeting = Meeting(kind=MeetingKind.MDT, case_id=s.case.id, starts_at=now - timedelta(days=i + 1),
                          ends_at=now - timedelta(days=i + 1) + timedelta(hours=1))
        db.session.add_all([action, meeting])
        db.session.flush()
        item = AgendaItem(meeting_id=meeting.id, position=1, kind=AgendaItemKind.OTHER, title="MDT discussion",
                          case_id=s.case.id, notes=f"n{i}")
        db.session.add_all([
            ActionUpdate(action_id=action.id, by_id=world.coordinator.id, note=f"u{i}"),
            Escalation(action_id=action.id, step=LadderStep.MANUAL_CHAIR, due_for=now.date(),
                       by_id=world.coordinator.id, reason=f"x{i}", acknowledged_by_id=world.chair.id),
            item,
        ])
        db.session.flush()
        db.session.add(MinutesAmendment(meeting_id=meeting.id, agenda_item_id=item.id, by_id=world.chair.id,
                                        reason=f"w{i}", text=f"t{i}"))
        audit.record(AuditAction.VIEW, "case", s.case.reference, user=world.coordinator)
        audit.record(AuditAction.VIEW, "action", action.id, user=world.chair)
    db.session.flush()
