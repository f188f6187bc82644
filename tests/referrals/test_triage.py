"""The triage list, the referral page, triage outcomes, the panel decision, withdrawal, and the
waiting list with promotion: through the pages, as each role, with bad input and double posts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.models import (
    DeclineReason,
    AgencyKind,
    AuditAction,
    AuditEvent,
    Case,
    Involvement,
    LawfulBasis,
    OutboxMessage,
    Person,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RiskLevel,
    Role,
    utcnow,
)
from panel.referrals import services
from tests import factories
from tests.conftest import csrf_token, error_summary, page, post_form

S = ReferralStatus


@pytest.fixture
def app_config():
    return {"CASE_CAP": 4}


@pytest.fixture
def world(app):
    police = factories.create_agency(code="police", name="Triage Police", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Triage Housing", kind=AgencyKind.HOUSING)
    referrer = factories.create_user(role=Role.PRACTITIONER, agency=housing, email="referrer@test.invalid",
                                     name="Robin Referrer")
    return {"police": police, "housing": housing, "referrer": referrer}


def make(world, status="submitted", days_ago=1, **kwargs) -> Referral:
    kwargs.setdefault("given_name", "Quinlan")
    kwargs.setdefault("family_name", "Zephyrine")
    return factories.create_referral(by=world["referrer"], status=status,
                                     submitted_at=utcnow() - timedelta(days=days_ago), **kwargs)


def fresh(referral_id: int) -> Referral:
    db.session.expire_all()
    return db.session.get(Referral, referral_id)


def decisions(referral_id: int) -> list[str]:
    return list(db.session.execute(sa.select(ReferralDecision.outcome).where(
        ReferralDecision.referral_id == referral_id).order_by(ReferralDecision.id)).scalars())


def banner(response) -> str:
    return " | ".join(box.get_text(" ", strip=True) for box in page(response).select(".govuk-notification-banner"))


# ---- the triage list ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "chair"])
def test_the_triage_list_shows_new_referrals_with_flags_and_occupancy(client, login_as, world, role):
    login_as(role)
    repeat_person = Person(given_name="Sam", family_name="Demo-Person", date_of_birth=date(1980, 1, 1),
                           nhs_number="9434765919")
    make(world, "declined", 200, person=repeat_person)
    make(world, "withdrawn", 100, given_name="Samuel", family_name="Demo-Person", date_of_birth=date(1980, 1, 1))
    repeat = make(world, given_name="Sam", family_name="Demo-Person", nhs_number="9434765919",
                  date_of_birth=date(1980, 1, 1))
    unsafe = make(world, "awaiting_panel", given_name="Ash", family_name="Other", staff_hostility=True,
                  staff_safety_details="Dog",
                  consent_given=False, consent_lawful_basis=LawfulBasis.VITAL_INTERESTS, consent_reason="Risk to life")
    asked = make(world, "info_requested")
    make(world, "waiting")
    make(world, "draft")
    make(world, "accepted")
    db.session.commit()

    response = client.get("/referrals/triage")
    soup = page(response)

    assert response.status_code == 200
    assert soup.select_one("#occupancy").get_text(strip=True) == "3 of 4 places used"
    assert soup.find("a", string="Waiting list (1 waiting)")["href"] == "/referrals/waiting"
    to_triage = soup.select("table[aria-labelledby=to-triage] tbody tr")
    assert [r.select_one("a").get_text(strip=True) for r in to_triage] == [repeat.reference]
    flags = to_triage[0].select("td")[-1].get_text(" ", strip=True)
    assert "Referred 3 times in 12 months" in flags and "Possible earlier record" in flags
    assert to_triage[0].select("td")[1].get_text(strip=True) == "SD"
    panel_row = soup.select_one(f"#referral-{unsafe.id}").get_text(" ", strip=True)
    assert "Staff safety" in panel_row and "No consent" in panel_row and "Referred" not in panel_row
    assert soup.select_one(f"#referral-{asked.id}") is not None
    assert "Quinlan" not in response.get_data(as_text=True) and "Demo-Person" not in response.get_data(as_text=True)


def test_the_triage_list_uses_a_fixed_number_of_queries(client, login_as, world, count_queries):
    login_as("coordinator")
    make(world)
    db.session.commit()
    with count_queries() as few:
        client.get("/referrals/triage")
    for i in range(3):
        make(world, "awaiting_panel", nhs_number="9434765919", date_of_birth=date(1970, 1, 1 + i))
        make(world, "declined", 30)
    db.session.commit()
    with count_queries() as many:
        client.get("/referrals/triage")
    assert many.count == few.count


@pytest.mark.parametrize("role", ["practitioner", "spoc", "board", "admin"])
def test_only_coordinators_and_chairs_triage(client, login_as, world, role):
    login_as(role)
    assert client.get("/referrals/triage").status_code == 404
    assert client.get("/referrals/waiting").status_code == 404


# ---- the referral page --------------------------------------------------------------------


def full_referral(world) -> Referral:
    r = make(world, given_name="Quinlan", family_name="Zephyrine", nhs_number="9434765919", postcode="LU7 9QZ",
             needs=["dual_diagnosis", "housing"], risk_level=RiskLevel.CRITICAL, risk_summary="Falls <b>often</b>",
             tried_already="Line one\nLine two", staff_hostility=True, staff_safety_details="Visit in pairs",
             persons_views="I want to stay home", desired_outcomes=["A safe home", ""], capacity="Has capacity",
             consent_given=False, consent_lawful_basis=LawfulBasis.SAFEGUARDING_INDIVIDUALS,
             consent_reason="Serious risk", referrer_phone="01234 567890")
    db.session.add(Involvement(referral=r, agency_id=world["police"].id, named_worker="PC Kim Worker",
                               has_rapport=True))
    db.session.flush()
    return r


def test_the_referral_page_shows_everything_submitted(client, login_as, world):
    login_as("coordinator")
    r = full_referral(world)
    db.session.commit()

    response = client.get(f"/referrals/{r.id}")
    soup = page(response)
    text = soup.get_text(" ", strip=True)

    assert response.status_code == 200
    assert soup.h1.get_text(strip=True) == r.reference
    for expected in ("Quinlan Zephyrine", "9434765919", "LU7 9QZ", "17 May 1980", "Robin Referrer",
                     "referrer@test.invalid", "01234 567890", "Morgan Manager", "Triage Housing",
                     "Dual diagnosis (mental health and substance use)", "Vulnerable housing or unstable tenancy",
                     "Critical", "Falls <b>often</b>", "Line one", "Line two", "Triage Police", "PC Kim Worker",
                     "I want to stay home", "A safe home", "Has capacity", "Serious risk",
                     "Safeguarding of individuals at risk"):
        assert expected in text, expected
    assert "<b>often</b>" not in response.get_data(as_text=True)  # shown escaped
    warning = soup.select_one(".govuk-warning-text").get_text(" ", strip=True)
    assert "Staff safety" in warning and "hostility towards staff" in warning and "Visit in pairs" in warning
    rapport = soup.find("td", string="PC Kim Worker").find_next_sibling("td").get_text(strip=True)
    assert rapport == "Yes"


def test_every_view_of_the_referral_page_is_audited(client, login_as, world):
    user = login_as("spoc", agency=world["housing"])
    r = make(world)
    db.session.commit()
    client.get(f"/referrals/{r.id}")
    client.get(f"/referrals/{r.id}")
    views = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "referral")).scalars().all()
    assert [(v.object_id, v.user_id) for v in views] == [(str(r.id), user.id)] * 2
    assert all("Quinlan" not in v.summary for v in views)


def test_the_referral_page_shows_the_decision_history(client, login_as, world):
    coordinator = login_as("coordinator")
    coordinator.name = "Casey Coordinator"
    r = make(world)
    services.decline(r, by=coordinator, rationale="Below threshold", signposting="Try the <i>hub</i>")
    db.session.commit()

    soup = page(client.get(f"/referrals/{r.id}"))
    row = soup.select("table[aria-labelledby=decisions] tbody tr")[0].get_text(" ", strip=True)

    assert "Casey Coordinator" in row and "Declined at triage" in row
    assert "Below threshold" in row and "Signposting" in row and "Try the <i>hub</i>" in row
    assert str(utcnow().year) in row


def test_the_page_uses_a_fixed_number_of_queries(client, login_as, world, count_queries):
    coordinator_id = login_as("coordinator").id
    r_id = make(world, nhs_number="9434765919").id
    db.session.commit()
    with count_queries() as few:
        client.get(f"/referrals/{r_id}")
    for i in range(5):
        other = make(world, "declined", 10 + i, nhs_number="9434765919")
        db.session.add(Involvement(referral_id=r_id, agency_id=factories.create_agency().id, named_worker=f"W{i}"))
        db.session.add(ReferralDecision(referral=other, outcome="declined", by_id=coordinator_id, reason="x"))
        db.session.add(ReferralDecision(referral_id=r_id, outcome="submitted", by_id=coordinator_id))
    db.session.commit()
    with count_queries() as many:
        response = client.get(f"/referrals/{r_id}")
    assert len(page(response).select("#earlier-referrals tbody tr")) == 5
    assert many.count == few.count, "\n".join(many.statements)


@pytest.mark.parametrize("role, sees", [("coordinator", True), ("chair", True), ("spoc", False),
                                        ("practitioner", False)])
def test_only_coordinators_and_chairs_see_the_persons_history(client, login_as, world, role, sees):
    user = login_as(role, agency=world["housing"])
    make(world, "declined", 30, nhs_number="9434765919")
    r = factories.create_referral(by=user, nhs_number="9434765919")
    db.session.commit()
    soup = page(client.get(f"/referrals/{r.id}"))
    assert (soup.select_one("#history") is not None) == sees
    assert (soup.select_one("#earlier-referrals") is not None) == sees


def test_referrals_others_may_not_see_are_404(client, login_as, world):
    other_agency = factories.create_agency()
    login_as("spoc", agency=other_agency)
    r = make(world)
    db.session.commit()
    for url in (f"/referrals/{r.id}", f"/referrals/{r.id}/withdraw", "/referrals/999999"):
        assert client.get(url).status_code == 404


def test_a_colleagues_referral_is_404_to_a_practitioner(client, login_as, world):
    login_as("practitioner", agency=world["housing"])
    r = make(world)
    db.session.commit()
    assert client.get(f"/referrals/{r.id}").status_code == 404


def test_a_draft_sends_its_writer_to_check_answers_and_is_404_to_anyone_else(client, login_as, world):
    writer = login_as("practitioner", agency=world["housing"])
    draft = factories.create_referral(by=writer, status="draft")
    db.session.commit()
    response = client.get(f"/referrals/{draft.id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/referrals/{draft.id}/")
    login_as("coordinator")
    assert client.get(f"/referrals/{draft.id}").status_code == 404
    assert client.get(f"/referrals/{draft.id}/triage").status_code == 404


def test_a_coordinator_whose_agency_isa_lapsed_gets_404(client, login_as, world):
    login_as("coordinator", agency=factories.create_agency(isa="lapsed"))
    r = make(world)
    db.session.commit()
    assert client.get(f"/referrals/{r.id}").status_code == 404


def test_the_page_offers_only_the_actions_allowed(client, login_as, world):
    r = make(world)
    db.session.commit()

    def links(who) -> set[str]:
        login_as(who)
        soup = page(client.get(f"/referrals/{r.id}"))
        return {a.get_text(strip=True) for a in soup.select("main a.govuk-button, main a.govuk-link")}

    assert {"Triage this referral", "Record the panel decision", "Withdraw this referral"} <= links("coordinator")
    chair = links("chair")
    assert "Record the panel decision" in chair and "Triage this referral" not in chair
    assert "Withdraw this referral" not in chair
    referrer = links(world["referrer"])
    assert "Withdraw this referral" in referrer and "Triage this referral" not in referrer


# ---- triage -------------------------------------------------------------------------------


def triage(client, r, data, **kwargs):
    return post_form(client, f"/referrals/{r.id}/triage", data, **kwargs)


def test_put_on_the_next_panels_agenda(client, login_as, world):
    coordinator = login_as("coordinator")
    r = make(world)
    db.session.commit()
    response = triage(client, r, {"outcome": "to_panel"}, follow_redirects=True)
    assert "on the next panel’s agenda" in banner(response)
    assert fresh(r.id).status == S.AWAITING_PANEL
    decision = db.session.execute(sa.select(ReferralDecision).where(ReferralDecision.referral_id == r.id)).scalar_one()
    assert decision.by_id == coordinator.id
    assert [m.to_addr for m in db.session.execute(sa.select(OutboxMessage)).scalars()] == ["referrer@test.invalid"]


def test_ask_the_referrer_for_more_information(client, login_as, world):
    login_as("coordinator")
    r = make(world)
    db.session.commit()
    triage(client, r, {"outcome": "request_information", "request": "Which GP?\r\nAnd the <script>x</script>"})
    r = fresh(r.id)
    assert r.status == S.INFO_REQUESTED and r.info_requested == "Which GP?\nAnd the <script>x</script>"
    login_as(world["referrer"])
    response = client.get(f"/referrals/{r.id}")
    assert "Which GP?" in page(response).get_text()
    assert "<script>x</script>" not in response.get_data(as_text=True)
    button = page(response).select_one("a.govuk-button")
    assert button.get_text(strip=True) == "Update and resubmit"
    assert button["href"].startswith(f"/referrals/{r.id}/")


def test_decline_with_a_rationale_and_signposting(client, login_as, world):
    login_as("coordinator")
    r = make(world)
    db.session.commit()
    triage(client, r, {"outcome": "decline", "rationale": "Not critical\x00 risk", "signposting": "ASC front door"})
    r = fresh(r.id)
    assert r.status == S.DECLINED
    decision = r.decisions[-1]
    assert (decision.outcome, decision.reason, decision.signposting) == ("declined", "Not critical risk",
                                                                         "ASC front door")
    assert decision.reason_kind is None  # the kind is optional


def test_the_kind_of_reason_is_kept_for_the_boards_reports_at_triage_and_at_panel(client, login_as, world):
    login_as("coordinator")
    at_triage, at_panel = make(world), make(world, "awaiting_panel")
    db.session.commit()
    triage(client, at_triage, {"outcome": "decline", "rationale": "One agency can hold it",
                               "reason_kind": "single_agency"})
    post_form(client, f"/referrals/{at_panel.id}/decision", {"decision": "decline", "rationale": "Below threshold",
                                                             "reason_kind": "not_critical"})
    assert fresh(at_triage.id).decisions[-1].reason_kind == DeclineReason.SINGLE_AGENCY
    assert fresh(at_panel.id).decisions[-1].reason_kind == DeclineReason.NOT_CRITICAL


def test_a_made_up_kind_of_reason_is_refused_and_what_was_typed_kept(client, login_as, world):
    login_as("coordinator")
    r = make(world)
    db.session.commit()
    response = post_form(client, f"/referrals/{r.id}/triage", {"outcome": "decline", "rationale": "Kept <b>words</b>",
                                                                "reason_kind": "<script>x</script>"})
    assert response.status_code == 200 and error_summary(response)
    assert "Kept <b>words</b>" in page(response).find("textarea", attrs={"name": "rationale"}).get_text()
    assert fresh(r.id).status != S.DECLINED


@pytest.mark.parametrize("data, errors", [
    ({}, ["Select what you want to do with this referral"]),
    ({"outcome": "nonsense"}, ["Select what you want to do with this referral"]),
    ({"outcome": "request_information", "request": "   "}, ["Enter the information you need from the referrer"]),
    ({"outcome": "decline", "signposting": "Somewhere"}, ["Enter why the referral is declined"]),
    ({"outcome": "decline", "rationale": "x" * 5001}, ["The reason must be 5,000 characters or fewer"]),
])
def test_triage_problems_get_govuk_messages_and_keep_what_was_typed(client, login_as, world, data, errors):
    login_as("coordinator")
    r = make(world)
    db.session.commit()
    response = triage(client, r, data)
    assert response.status_code == 200
    assert error_summary(response) == errors
    assert page(response).title.get_text().startswith("Error: ")
    if "signposting" in data:
        assert page(response).select_one("textarea[name=signposting]").get_text() == data["signposting"]
    assert fresh(r.id).status == S.SUBMITTED


def test_the_follow_on_questions_are_in_the_page_without_javascript(client, login_as, world):
    login_as("coordinator")
    r = make(world)
    db.session.commit()
    soup = page(client.get(f"/referrals/{r.id}/triage"))
    radios = soup.select("input[name=outcome]")
    assert [x["value"] for x in radios] == ["to_panel", "request_information", "decline"]
    assert soup.select_one("textarea[name=request]") is not None
    assert soup.select_one("textarea[name=rationale]") is not None
    # no conditional reveals: their script puts aria-expanded on radios, which axe-core reports
    assert soup.select_one("[data-aria-controls]") is None


def test_triage_offers_only_what_the_status_allows(client, login_as, world):
    login_as("coordinator")
    on_panel = make(world, "awaiting_panel")
    decided = make(world, "declined")
    db.session.commit()
    soup = page(client.get(f"/referrals/{on_panel.id}/triage"))
    assert [x["value"] for x in soup.select("input[name=outcome]")] == ["request_information", "decline"]
    soup = page(client.get(f"/referrals/{decided.id}/triage"))
    assert soup.select("input[name=outcome]") == [] and "nothing to triage" in soup.get_text()


def test_a_double_post_is_harmless(client, login_as, world):
    login_as("coordinator")
    r = make(world)
    db.session.commit()
    url = f"/referrals/{r.id}/triage"
    data = {"outcome": "to_panel", "csrf_token": csrf_token(client, url)}
    first = client.post(url, data=data, follow_redirects=True)
    second = client.post(url, data=data, follow_redirects=True)
    assert first.status_code == second.status_code == 200
    assert "already" not in banner(first)
    assert banner(second) == "Important This referral is already on the next panel’s agenda."
    assert decisions(r.id) == ["to_panel"]
    assert db.session.execute(sa.select(sa.func.count(OutboxMessage.id))).scalar_one() == 1


def test_an_outcome_no_longer_allowed_gets_a_clear_message_not_a_500(client, login_as, world):
    login_as("coordinator")
    asked = make(world, "info_requested")
    withdrawn = make(world, "withdrawn")
    db.session.commit()
    stale_page = f"/referrals/{asked.id}/triage"  # offers only "decline"; post another outcome as a stale page would

    response = post_form(client, stale_page, {"outcome": "to_panel"})

    assert response.status_code == 200
    assert error_summary(response) == ["The referrer has been asked for more information about this referral. "
                                       "It can go further when they send it back."]
    assert fresh(asked.id).status == S.INFO_REQUESTED
    response = post_form(client, f"/referrals/{withdrawn.id}/triage", {"outcome": "decline", "rationale": "x"},
                         token_from=stale_page, follow_redirects=True)
    assert response.status_code == 200 and "withdrawn, so that cannot be done now" in banner(response)
    assert fresh(withdrawn.id).status == S.WITHDRAWN
    response = post_form(client, f"/referrals/{asked.id}/decision", {"decision": "decline", "rationale": "x"},
                         token_from=stale_page, follow_redirects=True)
    assert "asked for more information" in banner(response)


@pytest.mark.parametrize("role", ["chair", "spoc", "practitioner"])
def test_only_a_coordinator_triages(client, login_as, world, role):
    login_as(role, agency=world["housing"])
    r = make(world)
    db.session.commit()
    assert client.get(f"/referrals/{r.id}/triage").status_code == 404


# ---- the panel decision -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "chair"])
def test_accept_with_a_lead_agency_makes_the_case_and_shows_its_reference(client, login_as, world, role):
    login_as(role)
    r = make(world, "awaiting_panel")
    db.session.add(Involvement(referral=r, agency_id=world["housing"].id, named_worker="Nia", has_rapport=True))
    db.session.commit()
    url = f"/referrals/{r.id}/decision"

    response = post_form(client, url, {"decision": "accept", "lead_agency_id": str(world["police"].id)},
                         follow_redirects=True)

    reference = f"CASPA-{date.today().year}-001"
    assert reference in banner(response)
    assert reference in page(response).select_one(".govuk-inset-text").get_text()
    assert page(response).find("a", href=f"/cases/{reference}") is not None  # links to the case page
    case = db.session.execute(sa.select(Case)).scalar_one()
    assert (case.reference, case.lead_agency_id, case.referral_id) == (reference, world["police"].id, r.id)
    assert {i.agency_id for i in case.involvements} == {world["housing"].id, world["police"].id}
    assert fresh(r.id).status == S.ACCEPTED
    again = post_form(client, url, {"decision": "accept", "lead_agency_id": str(world["police"].id)},
                      token_from=f"/referrals/{make(world).id}/decision", follow_redirects=True)
    assert "already been accepted" in banner(again)
    assert db.session.execute(sa.select(sa.func.count(Case.id))).scalar_one() == 1


def test_decline_at_panel(client, login_as, world):
    login_as("chair")
    r = make(world, "awaiting_panel")
    db.session.commit()
    post_form(client, f"/referrals/{r.id}/decision", {"decision": "decline", "rationale": "Below threshold",
                                                      "lead_agency_id": "bogus"})
    assert fresh(r.id).status == S.DECLINED
    assert decisions(r.id) == ["declined_at_panel"]


@pytest.mark.parametrize("data, errors", [
    ({}, ["Select the panel’s decision"]),
    ({"decision": "accept"}, ["Select the lead agency"]),
    ({"decision": "accept", "lead_agency_id": "999999"}, ["Select the lead agency"]),
    ({"decision": "accept", "lead_agency_id": "'; DROP TABLE cases; --"}, ["Select the lead agency"]),
    ({"decision": "decline"}, ["Enter why the panel declined the referral"]),
])
def test_decision_problems_get_govuk_messages(client, login_as, world, data, errors):
    login_as("coordinator")
    r = make(world, "awaiting_panel")
    db.session.commit()
    response = post_form(client, f"/referrals/{r.id}/decision", data)
    assert response.status_code == 200
    assert error_summary(response) == errors
    assert fresh(r.id).status == S.AWAITING_PANEL


def test_no_decision_for_a_referral_already_decided(client, login_as, world):
    login_as("chair")
    r = make(world, "withdrawn")
    db.session.commit()
    soup = page(client.get(f"/referrals/{r.id}/decision"))
    assert soup.select("input[name=decision]") == [] and "no panel decision to record" in soup.get_text()


# ---- withdrawal ---------------------------------------------------------------------------


def test_the_referrer_withdraws_their_referral_with_a_reason(client, login_as, world):
    login_as(world["referrer"])
    r = make(world)
    db.session.commit()
    url = f"/referrals/{r.id}/withdraw"
    assert error_summary(post_form(client, url, {"reason": "  "})) == ["Enter why the referral is being withdrawn"]
    token = csrf_token(client, url)
    response = client.post(url, data={"reason": "Moved out of area", "csrf_token": token}, follow_redirects=True)
    assert "has been withdrawn" in banner(response)
    again = client.post(url, data={"reason": "Moved out of area", "csrf_token": token}, follow_redirects=True)
    assert "already been withdrawn" in banner(again)
    assert decisions(r.id) == ["withdrawn"]
    assert fresh(r.id).decisions[0].reason == "Moved out of area"


@pytest.mark.parametrize("role, allowed", [("coordinator", True), ("chair", False), ("spoc-same", True),
                                           ("spoc-other", False), ("practitioner-other", False)])
def test_who_may_withdraw(client, login_as, world, role, allowed):
    agency = world["police"] if role.endswith("other") else world["housing"]
    login_as(role.split("-")[0], agency=agency)
    r = make(world)
    db.session.commit()
    assert client.get(f"/referrals/{r.id}/withdraw").status_code == (200 if allowed else 404)


# ---- the waiting list and promotion -----------------------------------------------------------


def test_the_waiting_list_is_most_urgent_first_with_promote_buttons_when_there_is_room(client, login_as, world):
    login_as("coordinator")
    high = make(world, "waiting", 10, risk_level=RiskLevel.HIGH)
    critical = make(world, "waiting", 2, risk_level=RiskLevel.CRITICAL)
    older_high = make(world, "waiting", 20, risk_level=RiskLevel.HIGH)
    db.session.commit()
    soup = page(client.get("/referrals/waiting"))
    rows = soup.select("#waiting tbody tr")
    assert [r["id"] for r in rows] == [f"referral-{x.id}" for x in (critical, older_high, high)]
    assert soup.select_one("#occupancy").get_text(strip=True) == "0 of 4 places used"
    assert len(soup.select("#waiting form button")) == 3
    assert "Quinlan" not in soup.get_text()


def test_promote_when_there_is_room_and_a_clear_message_when_full(client, login_as, world):
    login_as("coordinator")
    held = [make(world) for _ in range(3)]
    first, second = make(world, "waiting", 5), make(world, "waiting", 3)
    db.session.commit()
    token = csrf_token(client, "/referrals/waiting")

    response = client.post(f"/referrals/{first.id}/promote", data={"csrf_token": token}, follow_redirects=True)
    assert "taken off the waiting list" in banner(response)
    assert fresh(first.id).status == S.SUBMITTED
    soup = page(response)
    assert soup.select_one("#occupancy").get_text(strip=True) == "4 of 4 places used"
    assert soup.select("#waiting form") == []  # full: no buttons

    response = client.post(f"/referrals/{second.id}/promote", data={"csrf_token": token}, follow_redirects=True)
    assert "The pathway is full" in banner(response)
    assert fresh(second.id).status == S.WAITING

    again = client.post(f"/referrals/{first.id}/promote", data={"csrf_token": token}, follow_redirects=True)
    assert "already been taken off" in banner(again)
    assert decisions(first.id) == ["promoted"]
    assert held  # still holding their places


def test_the_chair_sees_the_waiting_list_but_cannot_promote(client, login_as, world):
    login_as("chair")
    make(world, "waiting")
    db.session.commit()
    soup = page(client.get("/referrals/waiting"))
    assert len(soup.select("#waiting tbody tr")) == 1 and soup.select("#waiting form") == []


def test_the_waiting_list_uses_a_fixed_number_of_queries(client, login_as, world, count_queries):
    login_as("coordinator")
    make(world, "waiting")
    db.session.commit()
    with count_queries() as few:
        client.get("/referrals/waiting")
    for i in range(10):
        make(world, "waiting", i)
    db.session.commit()
    with count_queries() as many:
        client.get("/referrals/waiting")
    assert many.count == few.count


def test_a_bad_csrf_token_on_promote_is_refused(client, login_as, world):
    login_as("coordinator")
    r = make(world, "waiting")
    db.session.commit()
    response = client.post(f"/referrals/{r.id}/promote", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert fresh(r.id).status == S.WAITING
