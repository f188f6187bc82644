"""Referral outcomes in the services: who, when and why recorded; the referrer told by email
(a link, never the person's details); illegal transitions refused; the cap respected; places
freed and coordinators told; cases made with the next CASPA reference."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel import pathway
from panel.extensions import db
from panel.models import (
    AgencyKind,
    AuditAction,
    AuditEvent,
    Case,
    CaseStatus,
    Involvement,
    OutboxMessage,
    Referral,
    ReferralDecision,
    ReferralStatus,
    Role,
    utcnow,
)
from panel.referrals import services
from panel.forms.errors import ServiceError
from tests import factories

S = ReferralStatus
PERSON = {"given_name": "Quinlan", "family_name": "Zephyrine", "nhs_number": "9434765919", "postcode": "LU7 9QZ",
          "date_of_birth": date(1977, 11, 23)}


@pytest.fixture
def app_config():
    return {"CASE_CAP": 3}


@pytest.fixture
def people(app):
    police = factories.create_agency(code="police", name="Test Police", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Test Housing", kind=AgencyKind.HOUSING)
    return {
        "police": police,
        "housing": housing,
        "coordinator": factories.create_user(role=Role.COORDINATOR, email="coord@test.invalid", agency=police),
        "coordinator2": factories.create_user(role=Role.COORDINATOR, email="coord2@test.invalid", agency=police),
        "chair": factories.create_user(role=Role.CHAIR, email="chair@test.invalid", agency=police),
        "referrer": factories.create_user(role=Role.PRACTITIONER, email="referrer@test.invalid", agency=housing),
    }


def referral(people, status=S.SUBMITTED, **kwargs) -> Referral:
    values = {**PERSON, **kwargs}
    return factories.create_referral(by=people["referrer"], status=status, **values)


def emails() -> list[OutboxMessage]:
    db.session.flush()
    return list(db.session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def assert_no_personal_data(messages: list[OutboxMessage]) -> None:
    dob = PERSON["date_of_birth"]
    secrets = [PERSON["given_name"], PERSON["family_name"], PERSON["nhs_number"], "943 476 5919",
               PERSON["postcode"], "LU79QZ", dob.isoformat(), dob.strftime("%d/%m/%Y"),
               f"{dob.day} November {dob.year}"]
    for message in messages:
        text = f"{message.subject}\n{message.body_text}"
        for secret in secrets:
            assert secret.lower() not in text.lower(), f"{secret!r} in email {message.subject!r}"


def last_decision(r: Referral) -> ReferralDecision:
    return db.session.execute(sa.select(ReferralDecision).where(ReferralDecision.referral_id == r.id)
                              .order_by(ReferralDecision.id.desc()).limit(1)).scalar_one()


# ---- each outcome: who, when, why, and an email with a link --------------------------------


OUTCOMES = {
    "to_panel": (S.SUBMITTED, lambda r, p: services.put_to_panel(r, by=p["coordinator"]), S.AWAITING_PANEL, "", ""),
    "info_requested": (S.SUBMITTED, lambda r, p: services.request_information(
        r, by=p["coordinator"], request="Send the risk assessment"), S.INFO_REQUESTED, "Send the risk assessment", ""),
    "declined": (S.SUBMITTED, lambda r, p: services.decline(
        r, by=p["coordinator"], rationale="Below the threshold", signposting="Adult social care front door"),
        S.DECLINED, "Below the threshold", "Adult social care front door"),
    "declined_at_panel": (S.AWAITING_PANEL, lambda r, p: services.decline(
        r, by=p["chair"], rationale="Single agency can hold it", at_panel=True), S.DECLINED,
        "Single agency can hold it", ""),
    "withdrawn": (S.SUBMITTED, lambda r, p: services.withdraw(r, by=p["referrer"], reason="Moved away"),
                  S.WITHDRAWN, "Moved away", ""),
    "promoted": (S.WAITING, lambda r, p: services.promote(r, by=p["coordinator"]), S.SUBMITTED, "", ""),
    "accepted": (S.AWAITING_PANEL, lambda r, p: services.accept(r, by=p["chair"], lead_agency=p["police"]),
                 S.ACCEPTED, "Lead agency: Test Police", ""),
}


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_each_outcome_records_who_when_why_and_emails_the_referrer_a_link_only(people, outcome):
    start, act, end, reason, signposting = OUTCOMES[outcome]
    r = referral(people, start)
    before = utcnow()

    act(r, people)

    assert r.status == end
    decision = last_decision(r)
    who = people["chair"] if outcome in ("declined_at_panel", "accepted") else (
        people["referrer"] if outcome == "withdrawn" else people["coordinator"])
    assert (decision.outcome, decision.from_status, decision.to_status) == (outcome, start.value, end.value)
    assert decision.by_id == who.id
    assert before <= decision.at <= utcnow()
    assert (decision.reason, decision.signposting) == (reason, signposting)
    mail = [m for m in emails() if m.to_addr == "referrer@test.invalid"]
    assert len(mail) == 1
    assert r.reference in mail[0].subject
    assert f"http://localhost/referrals/{r.id}" in mail[0].body_text
    assert_no_personal_data(emails())
    entry = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.object_type == "referral", AuditEvent.object_id == str(r.id)).order_by(AuditEvent.id.desc())
    ).scalars().first()
    assert entry.action == AuditAction.UPDATE and entry.user_id == who.id
    assert PERSON["family_name"] not in entry.summary


def test_final_outcomes_record_when_the_referral_was_decided(people):
    r = referral(people)
    services.decline(r, by=people["coordinator"], rationale="No")
    assert r.decided_at is not None


def test_the_request_for_information_is_kept_on_the_referral_for_the_referrer(people):
    r = referral(people)
    services.request_information(r, by=people["coordinator"], request="Which GP surgery?")
    assert r.info_requested == "Which GP surgery?"
    assert "Which GP surgery?" not in emails()[0].body_text  # the email says only that something is needed


def test_emails_never_carry_the_persons_details_through_a_whole_journey(people):
    waiting = referral(people, S.WAITING)
    r = referral(people)
    services.request_information(r, by=people["coordinator"], request="More please")
    r.person.given_name = PERSON["given_name"]
    services.submit(r, by=people["referrer"])
    services.put_to_panel(r, by=people["coordinator"])
    services.accept(r, by=people["chair"], lead_agency=people["housing"])
    other = referral(people)
    services.withdraw(other, by=people["referrer"], reason="Quinlan Zephyrine moved")  # coordinators told
    services.promote(waiting, by=people["coordinator"])
    assert len(emails()) >= 7
    assert_no_personal_data(emails())


# ---- illegal transitions ---------------------------------------------------------------------


ILLEGAL = [
    ("put_to_panel", S.AWAITING_PANEL), ("put_to_panel", S.INFO_REQUESTED), ("put_to_panel", S.WAITING),
    ("put_to_panel", S.DECLINED), ("put_to_panel", S.ACCEPTED), ("put_to_panel", S.WITHDRAWN),
    ("request_information", S.INFO_REQUESTED), ("request_information", S.WAITING), ("request_information", S.DECLINED),
    ("decline", S.DECLINED), ("decline", S.ACCEPTED), ("decline", S.WITHDRAWN),
    ("withdraw", S.WITHDRAWN), ("withdraw", S.DECLINED), ("withdraw", S.ACCEPTED),
    ("promote", S.SUBMITTED), ("promote", S.AWAITING_PANEL), ("promote", S.DECLINED),
    ("accept", S.INFO_REQUESTED), ("accept", S.WAITING), ("accept", S.DECLINED), ("accept", S.ACCEPTED),
]


@pytest.mark.parametrize("action, status", ILLEGAL, ids=[f"{a}-{s.value}" for a, s in ILLEGAL])
def test_illegal_transitions_raise_a_state_error_and_change_nothing(people, action, status):
    r = referral(people, status)
    calls = {
        "put_to_panel": lambda: services.put_to_panel(r, by=people["coordinator"]),
        "request_information": lambda: services.request_information(r, by=people["coordinator"], request="x"),
        "decline": lambda: services.decline(r, by=people["coordinator"], rationale="x"),
        "withdraw": lambda: services.withdraw(r, by=people["coordinator"], reason="x"),
        "promote": lambda: services.promote(r, by=people["coordinator"]),
        "accept": lambda: services.accept(r, by=people["chair"], lead_agency=people["police"]),
    }
    with pytest.raises(ServiceError) as raised:
        calls[action]()
    assert status.label.lower() in str(raised.value) or "full" in str(raised.value)
    assert r.status == status
    assert db.session.execute(sa.select(sa.func.count(ReferralDecision.id))).scalar_one() == 0
    assert emails() == []


# ---- places freed, coordinators told -------------------------------------------------------


@pytest.mark.parametrize("how", ["decline", "withdraw"])
@pytest.mark.parametrize("held_status", [S.SUBMITTED, S.INFO_REQUESTED, S.AWAITING_PANEL])
def test_freeing_a_place_emails_every_coordinator_when_someone_is_waiting(people, how, held_status):
    referral(people, S.WAITING)
    r = referral(people, held_status)
    if how == "decline":
        services.decline(r, by=people["coordinator"], rationale="No")
    else:
        services.withdraw(r, by=people["referrer"], reason="No longer needed")
    told = sorted(m.to_addr for m in emails() if m.to_addr != "referrer@test.invalid")
    assert told == ["coord2@test.invalid", "coord@test.invalid"]
    message = next(m for m in emails() if m.to_addr == "coord@test.invalid")
    assert "place" in message.subject.lower()
    assert "http://localhost/referrals/waiting" in message.body_text
    assert_no_personal_data(emails())


def test_freeing_a_place_tells_nobody_else_when_nobody_is_waiting(people):
    r = referral(people)
    services.decline(r, by=people["coordinator"], rationale="No")
    assert [m.to_addr for m in emails()] == ["referrer@test.invalid"]


def test_declining_a_waiting_referral_frees_no_place_so_coordinators_are_not_told(people):
    referral(people, S.WAITING)
    r = referral(people, S.WAITING)
    services.decline(r, by=people["coordinator"], rationale="No")
    assert [m.to_addr for m in emails()] == ["referrer@test.invalid"]


def test_an_inactive_coordinator_is_not_told(people):
    people["coordinator2"].active = False
    referral(people, S.WAITING)
    services.decline(referral(people), by=people["coordinator"], rationale="No")
    assert "coord2@test.invalid" not in [m.to_addr for m in emails()]


# ---- promotion and the cap ---------------------------------------------------------------------


def test_promote_respects_the_cap(people):
    for _ in range(3):
        referral(people)
    waiting = referral(people, S.WAITING)
    assert pathway.occupancy().full

    with pytest.raises(ServiceError, match="full"):
        services.promote(waiting, by=people["coordinator"])
    assert waiting.status == S.WAITING


def test_promote_takes_a_freed_place_and_then_the_pathway_is_full_again(people):
    held = [referral(people) for _ in range(3)]
    first, second = referral(people, S.WAITING), referral(people, S.WAITING)
    services.withdraw(held[0], by=people["referrer"], reason="Moved")

    services.promote(first, by=people["coordinator"])

    assert first.status == S.SUBMITTED
    assert pathway.occupancy().used == 3
    with pytest.raises(ServiceError):
        services.promote(second, by=people["coordinator"])
    assert second.status == S.WAITING


def test_open_cases_count_towards_the_cap_for_promotion(people):
    for _ in range(2):
        services.accept(referral(people, S.AWAITING_PANEL), by=people["chair"], lead_agency=people["police"])
    referral(people)
    waiting = referral(people, S.WAITING)
    with pytest.raises(ServiceError):
        services.promote(waiting, by=people["coordinator"])


# ---- accepting makes the case --------------------------------------------------------------------


def test_accept_creates_the_case_with_the_next_caspa_reference_and_copies_involvements(people):
    first = referral(people, S.AWAITING_PANEL)
    asc = factories.create_agency(code="asc", name="Test ASC", kind=AgencyKind.ADULT_SOCIAL_CARE)
    services.set_involvements(first, [
        {"agency_id": people["housing"].id, "named_worker": "Nia Worker", "has_rapport": True},
        {"agency_id": asc.id, "named_worker": "", "has_rapport": False},
    ])
    second = referral(people, S.SUBMITTED)
    today = date(2027, 3, 10)

    case = services.accept(first, by=people["chair"], lead_agency=people["police"], today=today)
    other = services.accept(second, by=people["coordinator"], lead_agency=people["housing"], today=today)

    assert (case.reference, other.reference) == ("CASPA-2027-001", "CASPA-2027-002")
    assert (case.status, case.person_id, case.referral_id) == (CaseStatus.ACTIVE, first.person_id, first.id)
    assert (case.lead_agency_id, case.risk_level, case.accepted_on, case.accepted_by_id) == (
        people["police"].id, first.risk_level, today, people["chair"].id)
    involved = db.session.execute(sa.select(Involvement).where(Involvement.case_id == case.id)
                                  .order_by(Involvement.id)).scalars().all()
    assert [(i.agency_id, i.named_worker, i.has_rapport) for i in involved] == [
        (people["housing"].id, "Nia Worker", True), (asc.id, "", False), (people["police"].id, "", False)]
    assert all(i.referral_id is None for i in involved)  # the referral keeps its own rows
    assert len(first.involvements) == 2
    assert "CASPA-2027-001" in next(m for m in emails() if first.reference in m.subject).body_text
    audit_entry = db.session.execute(sa.select(AuditEvent).where(AuditEvent.object_type == "case")).scalars().first()
    assert audit_entry.object_id == "CASPA-2027-001"


def test_accepting_does_not_change_occupancy(people):
    r = referral(people, S.AWAITING_PANEL)
    before = pathway.occupancy().used
    services.accept(r, by=people["chair"], lead_agency=people["police"])
    assert pathway.occupancy().used == before
    assert db.session.execute(sa.select(sa.func.count(Case.id))).scalar_one() == 1


def test_case_numbers_start_again_each_year(people):
    a = services.accept(referral(people, S.AWAITING_PANEL), by=people["chair"], lead_agency=people["police"],
                        today=date(2026, 12, 31))
    b = services.accept(referral(people, S.AWAITING_PANEL), by=people["chair"], lead_agency=people["police"],
                        today=date(2027, 1, 1))
    assert (a.reference, b.reference) == ("CASPA-2026-001", "CASPA-2027-001")


# ---- resubmission after a request for information ----------------------------------------------


def test_resubmission_after_an_information_request_keeps_its_place_even_when_full(people):
    r = referral(people)
    referral(people)
    referral(people)
    services.request_information(r, by=people["coordinator"], request="Which GP?")
    waiting = referral(people, S.WAITING)
    assert pathway.occupancy().full

    services.update_answers(r, by=people["referrer"], answers={"risk_summary": "Updated: GP is Demo Surgery."})
    status = services.submit(r, by=people["referrer"])

    assert status == S.SUBMITTED
    assert pathway.occupancy().used == 3
    assert waiting.status == S.WAITING
    decision = last_decision(r)
    assert (decision.outcome, decision.from_status, decision.to_status) == (
        "resubmitted", "info_requested", "submitted")
    assert r.reference.startswith("R-TEST-")  # keeps its reference


def test_a_referral_sent_back_cannot_be_put_to_panel_until_resubmitted(people):
    r = referral(people)
    services.request_information(r, by=people["coordinator"], request="More")
    with pytest.raises(ServiceError):
        services.put_to_panel(r, by=people["coordinator"])
    services.submit(r, by=people["referrer"])
    services.put_to_panel(r, by=people["coordinator"])
    assert r.status == S.AWAITING_PANEL


def test_audit_summaries_name_statuses_not_reasons(people):
    r = referral(people)
    services.decline(r, by=people["coordinator"], rationale="Quinlan is known to us", signposting="Call LU7 9QZ team")
    entry = db.session.execute(sa.select(AuditEvent).where(AuditEvent.object_type == "referral")
                               .order_by(AuditEvent.id.desc())).scalars().first()
    assert json.loads(entry.summary) == {"status": "declined", "at_panel": False}


def test_referrals_in_last_year_counts_submitted_not_drafts_or_older(people):
    person_ref = referral(people)
    person = person_ref.person
    factories.create_referral(by=people["referrer"], person=person, status="declined",
                              submitted_at=utcnow() - timedelta(days=364))
    factories.create_referral(by=people["referrer"], person=person, status="withdrawn",
                              submitted_at=utcnow() - timedelta(days=366))
    factories.create_referral(by=people["referrer"], person=person, status="draft")
    assert services.referrals_in_last_year([person.id]) == 2
