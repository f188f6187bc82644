"""The referral form: the start page, every question page, check your answers, submission under
the cap, validation with GOV.UK messages, hostile input, double submission, who may see a draft,
and the info-requested round trip."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.models import (
    AgencyKind,
    AuditAction,
    AuditEvent,
    LawfulBasis,
    OutboxMessage,
    Person,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RiskLevel,
    Role,
)
from panel.referrals import services
from panel.referrals.forms import RISK_MESSAGE, SECTIONS
from panel.forms.errors import ServiceError
from tests import factories
from tests.conftest import csrf_token, error_summary, page, post_form

SLUGS = [s.slug for s in SECTIONS]
NAME, FAMILY = "Zebedee", "Quartermain"
NHS = "9434765919"
POSTCODE = "LU1 2AB"
ADDRESS = "17 Wistful Vista"


def _dob_parts(value: date) -> list[str]:
    return [str(value.day), str(value.month), str(value.year)]


@pytest.fixture
def agencies(app):
    police = factories.create_agency(code="police", name="Test Police", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Test Housing", kind=AgencyKind.HOUSING)
    return [police, housing]


@pytest.fixture
def practitioner(login_as, agencies):
    return login_as("practitioner", agency=agencies[0], name="Pat Practitioner", email="pat@police.test")


def valid_pages(agencies) -> dict[str, dict]:
    """A valid answer for every page, in page order."""
    police, housing = agencies
    return {
        "about-the-person": {"given_name": NAME, "family_name": FAMILY, "other_names": "Zeb"},
        "date-of-birth": {"date_of_birth": ["29", "2", "1980"]},
        "identity-and-language": {"gender": "Man", "ethnicity": "", "first_language": "English",
                                  "interpreter_needed": "no", "communication_needs": ""},
        "address": {"address": ADDRESS, "postcode": "lu12ab"},
        "identifiers": {"nhs_number": "943 476 5919", "other_identifiers": ""},
        "eligibility": {"lives_in_area": "yes", "single_agency_tried": "yes"},
        "needs": {"needs": ["dual_diagnosis", "mental_health"]},
        "risk": {"risk_level": "critical", "risk_summary": "Repeated crises.", "risk_assessment": ""},
        "tried-already": {"tried_already": "Outreach visits; a tenancy support referral worked for a week."},
        "agencies": {"agencies": [str(police.id), str(housing.id)]},
        "named-workers": {f"worker_{police.id}": "PC Dawn Beat", f"rapport_{police.id}": "y",
                          f"worker_{housing.id}": "", "rapport": "Their neighbour"},
        "persons-views": {"persons_views": "I want to stay in my flat.",
                          "desired_outcomes": "Keep my flat\n\nSee my daughter"},
        "capacity": {"capacity": ""},
        "consent": {"consent_given": "yes"},
        "staff-safety": {"staff_safety_details": ""},
        "referrer": {"referrer_name": "Pat Practitioner", "referrer_email": "Pat@Police.test", "referrer_phone": "",
                     "manager_name": "Morgan Manager"},
    }


def start(client) -> int:
    response = post_form(client, "/referrals/new", {})
    assert response.status_code == 302
    match = re.fullmatch(r"/referrals/(\d+)/about-the-person", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def section_url(referral_id: int, slug: str, returning: bool = False) -> str:
    return f"/referrals/{referral_id}/{slug}" + ("?return=check" if returning else "")


def answer(client, referral_id: int, slug: str, data: dict, returning: bool = False):
    return post_form(client, section_url(referral_id, slug, returning), data)


def complete_draft(user, agencies, **answers) -> Referral:
    """A draft with every answer filled in, made through the service (no pages)."""
    referral = services.start_draft(by=user)
    services.update_answers(
        referral, by=user,
        person={"given_name": NAME, "family_name": FAMILY, "date_of_birth": date(1980, 2, 29),
                "interpreter_needed": False, "address": ADDRESS, "postcode": POSTCODE, "nhs_number": NHS},
        answers={"lives_in_area": True, "single_agency_tried": True, "needs": ["housing"],
                 "risk_level": RiskLevel.HIGH, "risk_summary": "Risks", "tried_already": "Tried",
                 "consent_given": True, "manager_name": "Morgan Manager", **answers},
        involvements=[{"agency_id": agencies[0].id}])
    return referral


def _referral(referral_id: int) -> Referral:
    db.session.expire_all()
    return db.session.get(Referral, referral_id)


# ---- the whole journey -----------------------------------------------------------------


def test_start_page_explains_who_it_is_for_and_starts_a_draft(client, practitioner):
    response = client.get("/referrals/new")
    text = page(response).get_text(" ", strip=True)
    assert page(response).h1.get_text(strip=True) == "Refer an adult to the pathway"
    assert "18 or over" in text and "lives in the area" in text and "critical or high risk" in text
    assert "saved as a draft" in text
    assert db.session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one() == 0

    referral_id = start(client)

    referral = _referral(referral_id)
    assert referral.status == ReferralStatus.DRAFT
    assert referral.created_by_id == practitioner.id
    assert referral.referrer_email == "pat@police.test"


def test_a_practitioner_walks_every_page_and_submits(client, practitioner, agencies):
    referral_id = start(client)
    pages = valid_pages(agencies)
    assert list(pages) == [slug for slug in SLUGS if slug != "sharing-without-consent"]  # they consent

    walked = [slug for slug in SLUGS if slug in pages]
    for i, slug in enumerate(walked):
        response = answer(client, referral_id, slug, pages[slug])
        expected = section_url(referral_id, walked[i + 1]) if i + 1 < len(walked) else f"/referrals/{referral_id}/check"
        assert response.status_code == 302, (slug, error_summary(response))
        assert response.headers["Location"] == expected

    check = client.get(f"/referrals/{referral_id}/check")
    assert check.status_code == 200
    assert error_summary(check) == []
    cards = {c.select_one(".govuk-summary-card__title").get_text(strip=True): c
             for c in page(check).select(".govuk-summary-card")}
    assert len(cards) == len(SECTIONS) - 1  # no sharing without consent
    text = page(check).get_text(" ", strip=True)
    for shown in (NAME, FAMILY, "29 February 1980", "LU1 2AB", "943 476 5919", "Poor mental health",
                  "Critical", "PC Dawn Beat (has rapport)", "Keep my flat", "See my daughter", "Morgan Manager"):
        assert shown in text, shown
    change = cards["Risk"].select_one(".govuk-summary-card__actions a")
    assert change["href"] == section_url(referral_id, "risk", returning=True)

    response = post_form(client, f"/referrals/{referral_id}/check", {})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/referrals/{referral_id}/submitted"

    referral = _referral(referral_id)
    assert referral.status == ReferralStatus.SUBMITTED
    assert re.fullmatch(rf"R-{date.today().year}-\d{{5}}", referral.reference)
    person = referral.person
    assert (person.given_name, person.family_name, person.other_names) == (NAME, FAMILY, "Zeb")
    assert person.date_of_birth == date(1980, 2, 29)
    assert (person.postcode, person.nhs_number, person.interpreter_needed) == ("LU1 2AB", NHS, False)
    assert referral.needs == ["dual_diagnosis", "mental_health"]
    assert referral.risk_level == RiskLevel.CRITICAL
    assert referral.desired_outcomes == ["Keep my flat", "See my daughter"]
    assert referral.referrer_email == "pat@police.test"
    assert referral.rapport == "Their neighbour"
    assert sorted((i.agency.code, i.named_worker, i.has_rapport) for i in referral.involvements) == [
        ("housing", "", False), ("police", "PC Dawn Beat", True)]

    confirmation = client.get(f"/referrals/{referral_id}/submitted")
    panel = page(confirmation).select_one(".govuk-panel")
    assert "Referral submitted" in panel.get_text(" ", strip=True)
    assert referral.reference in panel.get_text(" ", strip=True)
    assert panel.select_one("strong").get_text(strip=True) == referral.reference  # markup, not escaped text
    assert "with the coordinator" in page(confirmation).get_text(" ", strip=True)

    emails = db.session.execute(sa.select(OutboxMessage)).scalars().all()
    assert [e.to_addr for e in emails] == ["pat@police.test"]
    body = emails[0].subject + emails[0].body_text
    assert f"/referrals/{referral_id}" in body and "http" in body
    for secret in (NAME, FAMILY, "1980", "29 February", ADDRESS, POSTCODE, "LU12AB", NHS, "943 476"):
        assert secret not in body, secret


def test_every_section_page_view_is_audited(client, practitioner, agencies):
    referral_id = start(client)
    for slug in SLUGS:
        if slug in ("named-workers", "sharing-without-consent"):
            continue  # these follow from answers not given yet
        assert client.get(section_url(referral_id, slug)).status_code == 200
    views = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "referral",
        AuditEvent.object_id == str(referral_id))).scalars().all()
    assert len(views) == len(SLUGS) - 2
    assert all(NAME not in v.summary for v in views)


def test_saving_a_page_audits_field_names_not_values(client, practitioner, agencies):
    referral_id = start(client)
    answer(client, referral_id, "about-the-person", {"given_name": NAME, "family_name": FAMILY})
    update = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.UPDATE, AuditEvent.object_id == str(referral_id))).scalar_one()
    assert "person.given_name" in update.summary
    assert NAME not in update.summary and FAMILY not in update.summary


def test_the_change_link_comes_back_to_check_answers(client, practitioner, agencies):
    referral_id = complete_draft(practitioner, agencies).id
    db.session.commit()
    form = client.get(section_url(referral_id, "risk", returning=True))
    back = page(form).select_one(".govuk-back-link")
    assert back["href"] == f"/referrals/{referral_id}/check"
    assert page(form).select_one("input[name=risk_level][value=high]").has_attr("checked")

    response = answer(client, referral_id, "risk", {"risk_level": "critical", "risk_summary": "Worse now"},
                      returning=True)

    assert response.headers["Location"] == f"/referrals/{referral_id}/check"
    assert _referral(referral_id).risk_summary == "Worse now"


def test_changing_agencies_from_check_answers_goes_by_the_named_workers(client, practitioner, agencies):
    referral_id = complete_draft(practitioner, agencies).id
    db.session.commit()
    response = answer(client, referral_id, "agencies", {"agencies": [str(a.id) for a in agencies]}, returning=True)
    assert response.headers["Location"] == section_url(referral_id, "named-workers", returning=True)
    response = answer(client, referral_id, "named-workers", {f"worker_{agencies[1].id}": "Hana Housing"},
                      returning=True)
    assert response.headers["Location"] == f"/referrals/{referral_id}/check"
    assert [i.named_worker for i in _referral(referral_id).involvements] == ["", "Hana Housing"]


def test_named_workers_without_agencies_goes_to_the_agencies_page(client, practitioner):
    referral_id = start(client)
    response = client.get(section_url(referral_id, "named-workers"))
    assert response.headers["Location"] == section_url(referral_id, "agencies")


def test_check_answers_lists_what_is_missing_and_links_to_each_page(client, practitioner):
    referral_id = start(client)
    response = client.get(f"/referrals/{referral_id}/check")
    links = {a.get_text(strip=True): a["href"] for a in page(response).select(".govuk-error-summary a")}
    assert links["Enter the person’s first name"] == section_url(referral_id, "about-the-person", returning=True)
    assert links["Enter the date of birth"] == section_url(referral_id, "date-of-birth", returning=True)
    assert links["Select at least one need"] == section_url(referral_id, "needs", returning=True)
    assert links["Enter the name of the manager who signed off this referral"] == section_url(
        referral_id, "referrer", returning=True)
    assert links["Select yes if they live in the area"] == section_url(referral_id, "eligibility", returning=True)

    response = post_form(client, f"/referrals/{referral_id}/check", {})

    assert response.status_code == 200
    assert page(response).title.get_text().startswith("Error: ")
    assert "Enter the person’s first name" in error_summary(response)
    assert _referral(referral_id).status == ReferralStatus.DRAFT


def test_service_problems_at_submission_are_shown_on_check_answers(client, practitioner, agencies, monkeypatch):
    referral_id = complete_draft(practitioner, agencies).id
    db.session.commit()

    def refuse(referral, **kwargs):
        raise services.SubmissionProblems({"risk_summary": "Enter a summary of the risks"})

    token = csrf_token(client, f"/referrals/{referral_id}/check")
    monkeypatch.setattr(services, "submit", refuse)
    response = client.post(f"/referrals/{referral_id}/check", data={"csrf_token": token})
    assert response.status_code == 200
    assert _referral(referral_id).status == ReferralStatus.DRAFT


# ---- the cap ---------------------------------------------------------------------------


class TestPathwayFull:
    @pytest.fixture
    def app_config(self):
        return {"CASE_CAP": 1}

    def test_a_referral_when_the_pathway_is_full_is_held_on_the_waiting_list(self, client, practitioner, agencies):
        other = factories.create_user(agency=agencies[1])
        services.submit(complete_draft(other, agencies), by=other)
        referral_id = complete_draft(practitioner, agencies).id
        db.session.commit()

        response = post_form(client, f"/referrals/{referral_id}/check", {}, follow_redirects=True)

        assert _referral(referral_id).status == ReferralStatus.WAITING
        panel = page(response).select_one(".govuk-panel").get_text(" ", strip=True)
        assert "waiting list" in panel
        assert _referral(referral_id).reference in panel
        assert "The pathway is full" in page(response).get_text(" ", strip=True)
        email = db.session.execute(sa.select(OutboxMessage).where(
            OutboxMessage.to_addr == practitioner.email)).scalar_one()
        assert "waiting list" in email.subject


# ---- validation, page by page ----------------------------------------------------------

LONG = "x" * 5001
ADULT_DOB = date(1980, 2, 29)


def _under_18() -> list[str]:
    today = date.today()
    return _dob_parts(today.replace(year=today.year - 17) if not (today.month == 2 and today.day == 29)
                      else date(today.year - 17, 3, 1))


VALIDATION = [
    ("about-the-person", {"given_name": "", "family_name": FAMILY}, "Enter the person’s first name"),
    ("about-the-person", {"given_name": NAME, "family_name": " "}, "Enter the person’s last name"),
    ("about-the-person", {"given_name": "x" * 101, "family_name": FAMILY},
     "The person’s first name must be 100 characters or fewer"),
    ("about-the-person", {"given_name": NAME, "family_name": FAMILY, "other_names": "x" * 201},
     "Other names must be 200 characters or fewer"),
    ("date-of-birth", {}, "Enter the date of birth"),
    ("date-of-birth", {"date_of_birth": ["", "", ""]}, "Enter the date of birth"),
    ("date-of-birth", {"date_of_birth": ["", "2", "1980"]}, "Date of birth must include a day"),
    ("date-of-birth", {"date_of_birth": ["1", "", ""]}, "Date of birth must include a month and a year"),
    ("date-of-birth", {"date_of_birth": ["31", "2", "1980"]}, "Date of birth must be a real date"),
    ("date-of-birth", {"date_of_birth": ["aa", "bb", "cccc"]}, "Date of birth must be a real date"),
    ("date-of-birth", {"date_of_birth": ["1", "2", "80"]}, "Year must include 4 numbers"),
    ("date-of-birth", {"date_of_birth": _dob_parts(date.today() + timedelta(days=1))},
     "Date of birth must be in the past"),
    ("date-of-birth", {"date_of_birth": ["1", "1", "1899"]}, "Date of birth must be after 1 January 1900"),
    ("identity-and-language", {}, "Select yes if they need an interpreter"),
    ("identity-and-language", {"interpreter_needed": "maybe"}, "Select yes if they need an interpreter"),
    ("identity-and-language", {"interpreter_needed": "no", "gender": "x" * 61},
     "Gender must be 60 characters or fewer"),
    ("identity-and-language", {"interpreter_needed": "no", "communication_needs": LONG},
     "Communication needs must be 5,000 characters or fewer"),
    ("address", {"address": "", "postcode": POSTCODE}, "Enter the address"),
    ("address", {"address": "x" * 301, "postcode": POSTCODE}, "The address must be 300 characters or fewer"),
    ("address", {"address": ADDRESS, "postcode": ""}, "Enter the postcode"),
    ("address", {"address": ADDRESS, "postcode": "ABC 123"}, "Enter a real postcode, like LU1 2AB"),
    ("address", {"address": ADDRESS, "postcode": "LU1 2AB" * 20}, "Enter a real postcode, like LU1 2AB"),
    ("identifiers", {"nhs_number": "9434765918"}, "Enter a valid NHS number – check it has been typed correctly"),
    ("identifiers", {"nhs_number": "943476591"}, "NHS number must be 10 digits, like 943 476 5919"),
    ("identifiers", {"nhs_number": "94347659190"}, "NHS number must be 10 digits, like 943 476 5919"),
    ("identifiers", {"nhs_number": "943476591X"}, "NHS number must be 10 digits, like 943 476 5919"),
    ("identifiers", {"other_identifiers": "x" * 301}, "Other identifiers must be 300 characters or fewer"),
    ("eligibility", {"single_agency_tried": "yes"}, "Select yes if they live in the area"),
    ("eligibility", {"lives_in_area": "yes"}, "Select yes if single-agency work has been tried"),
    ("needs", {}, "Select at least one need"),
    ("needs", {"needs": ["housing", "not_a_need"]}, "Select needs from the list"),
    ("risk", {"risk_summary": "Risks"}, RISK_MESSAGE),
    ("risk", {"risk_level": "medium", "risk_summary": "Risks"}, RISK_MESSAGE),
    ("risk", {"risk_level": "low", "risk_summary": "Risks"}, RISK_MESSAGE),
    ("risk", {"risk_level": "critical"}, "Enter a summary of the risks"),
    ("risk", {"risk_level": "critical", "risk_summary": LONG},
     "A summary of the risks must be 5,000 characters or fewer"),
    ("risk", {"risk_level": "high", "risk_summary": "Risks", "risk_assessment": LONG},
     "Your agency’s risk assessment must be 5,000 characters or fewer"),
    ("tried-already", {"tried_already": " "}, "Enter what has been tried already"),
    ("tried-already", {"tried_already": LONG}, "What has been tried already must be 5,000 characters or fewer"),
    ("agencies", {}, "Select at least one agency involved with the person"),
    ("agencies", {"agencies": ["999999"]}, "Select agencies from the list"),
    ("agencies", {"agencies": ["police"]}, "Select agencies from the list"),
    ("persons-views", {"persons_views": LONG}, "The person’s views must be 5,000 characters or fewer"),
    ("persons-views", {"desired_outcomes": "\n".join(f"Outcome {i}" for i in range(11))},
     "Enter 10 desired outcomes or fewer"),
    ("persons-views", {"desired_outcomes": "Short\n" + "x" * 501},
     "Each desired outcome must be 500 characters or fewer"),
    ("capacity", {"capacity": LONG}, "Mental capacity considerations must be 5,000 characters or fewer"),
    ("consent", {}, "Select yes if the person consents to their information being shared"),
    ("consent", {"consent_given": "perhaps"}, "Select yes if the person consents to their information being shared"),
    ("sharing-without-consent", {"consent_reason": "Risk to life"},
     "Select the lawful basis for sharing without consent"),
    ("sharing-without-consent", {"consent_lawful_basis": "because", "consent_reason": "Risk to life"},
     "Select the lawful basis for sharing without consent"),
    ("sharing-without-consent", {"consent_lawful_basis": "vital_interests"},
     "Enter why you are sharing without consent"),
    ("sharing-without-consent", {"consent_lawful_basis": "vital_interests", "consent_reason": LONG},
     "Why you are sharing without consent must be 5,000 characters or fewer"),
    ("staff-safety", {"concerns": ["hostility"]}, "Describe the staff-safety concerns"),
    ("staff-safety", {"concerns": ["lone_working"], "staff_safety_details": "  "},
     "Describe the staff-safety concerns"),
    ("staff-safety", {"concerns": ["weapons"], "staff_safety_details": "Dog"},
     "Select staff-safety concerns from the list"),
    ("staff-safety", {"staff_safety_details": LONG}, "Staff-safety details must be 5,000 characters or fewer"),
    ("referrer", {"referrer_name": "", "referrer_email": "a@b.test", "manager_name": "M"}, "Enter your name"),
    ("referrer", {"referrer_name": "Pat", "referrer_email": "", "manager_name": "M"}, "Enter your email address"),
    ("referrer", {"referrer_name": "Pat", "referrer_email": "not an email", "manager_name": "M"},
     "Enter an email address in the correct format, like name@example.com"),
    ("referrer", {"referrer_name": "Pat", "referrer_email": "a@b.test", "manager_name": ""},
     "Enter the name of the manager who signed off this referral"),
    ("referrer", {"referrer_name": "Pat", "referrer_email": "a@b.test", "manager_name": "M" * 121},
     "The name of the manager who signed off this referral must be 120 characters or fewer"),
    ("referrer", {"referrer_name": "Pat", "referrer_email": "a@b.test", "manager_name": "M",
                  "referrer_phone": "1" * 41},
     "Your phone number must be 40 characters or fewer"),
]


@pytest.mark.parametrize(("slug", "data", "message"), VALIDATION,
                         ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(VALIDATION)])
def test_each_page_refuses_wrong_answers_with_a_govuk_message(client, practitioner, agencies, slug, data, message):
    consent = {"consent_given": False, "consent_lawful_basis": LawfulBasis.PUBLIC_TASK, "consent_reason": "Duty"}
    referral = complete_draft(practitioner, agencies, **(consent if slug == "sharing-without-consent" else {}))
    referral_id = referral.id
    before = _snapshot(referral)
    db.session.commit()

    response = answer(client, referral_id, slug, data)

    assert response.status_code == 200
    assert message in error_summary(response)
    assert page(response).title.get_text().startswith("Error: ")
    field = page(response).select_one(".govuk-error-message")
    assert message in field.get_text(" ", strip=True) or message in error_summary(response)
    assert _snapshot(_referral(referral_id)) == before  # nothing invalid is saved


def _snapshot(referral: Referral) -> dict:
    p = referral.person
    return {
        "person": {c: getattr(p, c) for c in services.PERSON_FIELDS},
        "referral": {c: getattr(referral, c) for c in services.REFERRAL_FIELDS},
        "involvements": [(i.agency_id, i.named_worker, i.has_rapport) for i in referral.involvements],
    }


def test_a_named_worker_is_limited_in_length(client, practitioner, agencies):
    referral_id = complete_draft(practitioner, agencies).id
    db.session.commit()
    response = answer(client, referral_id, "named-workers", {f"worker_{agencies[0].id}": "x" * 121})
    assert "The named worker at Test Police must be 120 characters or fewer" in error_summary(response)


def test_typed_answers_stay_on_the_page_when_another_is_wrong(client, practitioner, agencies):
    referral_id = start(client)
    response = answer(client, referral_id, "address", {"address": "Flat 2\nThe Mews", "postcode": "NOT A CODE"})
    assert page(response).select_one("textarea[name=address]").get_text() == "Flat 2\nThe Mews"
    assert page(response).select_one("input[name=postcode]")["value"] == "NOT A CODE"

    response = answer(client, referral_id, "date-of-birth", {"date_of_birth": ["31", "2", "1980"]})
    assert [i["value"] for i in page(response).select("input[name=date_of_birth]")] == ["31", "2", "1980"]

    response = answer(client, referral_id, "needs", {"needs": ["housing", "bogus"]})
    assert page(response).select_one("input[name=needs][value=housing]").has_attr("checked")


def test_under_18_stops_and_says_to_contact_childrens_services(client, practitioner, agencies):
    referral = complete_draft(practitioner, agencies)
    referral_id = referral.id
    db.session.commit()

    response = answer(client, referral_id, "date-of-birth", {"date_of_birth": _under_18()})

    assert response.status_code == 200
    text = page(response).get_text(" ", strip=True)
    assert "18 or over" in text and "contact children’s services" in text
    assert _referral(referral_id).person.date_of_birth == ADULT_DOB  # not saved


def test_18_today_is_allowed(client, practitioner):
    today = date.today()
    eighteen = (today.replace(year=today.year - 18) if (today.month, today.day) != (2, 29)
                else date(today.year - 18, 2, 28))
    referral_id = start(client)
    response = answer(client, referral_id, "date-of-birth", {"date_of_birth": _dob_parts(eighteen)})
    assert response.status_code == 302
    assert _referral(referral_id).person.date_of_birth == eighteen


def test_nhs_number_is_optional_validated_and_stored_without_spaces(client, practitioner):
    referral_id = start(client)
    assert answer(client, referral_id, "identifiers", {"nhs_number": ""}).status_code == 302
    assert _referral(referral_id).person.nhs_number == ""
    assert answer(client, referral_id, "identifiers", {"nhs_number": "943-476-5919"}).status_code == 302
    assert _referral(referral_id).person.nhs_number == NHS


def test_no_consent_asks_for_the_lawful_basis_on_the_next_page(client, practitioner, agencies):
    referral_id = start(client)
    assert client.get(section_url(referral_id, "sharing-without-consent")).headers["Location"] == section_url(
        referral_id, "consent")  # not asked until they say no

    response = answer(client, referral_id, "consent", {"consent_given": "no"})
    assert response.headers["Location"] == section_url(referral_id, "sharing-without-consent")
    back = page(client.get(section_url(referral_id, "staff-safety"))).select_one(".govuk-back-link")
    assert back["href"] == section_url(referral_id, "sharing-without-consent")
    response = answer(client, referral_id, "sharing-without-consent",
                      {"consent_lawful_basis": "vital_interests", "consent_reason": "Risk to life"})
    assert response.headers["Location"] == section_url(referral_id, "staff-safety")
    referral = _referral(referral_id)
    assert (referral.consent_given, referral.consent_lawful_basis, referral.consent_reason) == (
        False, LawfulBasis.VITAL_INTERESTS, "Risk to life")
    form = client.get(section_url(referral_id, "sharing-without-consent"))
    assert page(form).select_one("input[name=consent_lawful_basis][value=vital_interests]").has_attr("checked")
    check = page(client.get(f"/referrals/{referral_id}/check")).get_text(" ", strip=True)
    assert "Vital interests" in check and "Risk to life" in check


def test_consent_yes_clears_an_earlier_lawful_basis(client, practitioner, agencies):
    consent = {"consent_given": False, "consent_lawful_basis": LawfulBasis.PUBLIC_TASK, "consent_reason": "Duty"}
    referral_id = complete_draft(practitioner, agencies, **consent).id
    db.session.commit()

    response = answer(client, referral_id, "consent", {"consent_given": "yes"}, returning=True)

    assert response.headers["Location"] == f"/referrals/{referral_id}/check"
    referral = _referral(referral_id)
    assert (referral.consent_given, referral.consent_lawful_basis, referral.consent_reason) == (True, None, "")


def test_changing_to_no_consent_from_check_answers_asks_the_lawful_basis(client, practitioner, agencies):
    referral_id = complete_draft(practitioner, agencies).id
    db.session.commit()
    response = answer(client, referral_id, "consent", {"consent_given": "no"}, returning=True)
    assert response.headers["Location"] == section_url(referral_id, "sharing-without-consent", returning=True)
    check = client.get(f"/referrals/{referral_id}/check")
    assert "Select the lawful basis for sharing without consent" in [
        a.get_text(strip=True) for a in page(check).select(".govuk-error-summary a")]


def test_staff_safety_concerns_are_saved(client, practitioner):
    referral_id = start(client)
    answer(client, referral_id, "staff-safety", {"concerns": ["hostility", "lone_working"],
                                                 "staff_safety_details": "Dog at the door"})
    referral = _referral(referral_id)
    assert (referral.staff_hostility, referral.staff_lone_working_restricted, referral.staff_safety_details) == (
        True, True, "Dog at the door")


# ---- hostile input ---------------------------------------------------------------------


def test_html_is_stored_as_typed_and_shown_escaped(client, practitioner, agencies):
    referral_id = complete_draft(practitioner, agencies).id
    db.session.commit()
    script = "<script>alert('x')</script><b>bold</b>"
    answer(client, referral_id, "about-the-person", {"given_name": script, "family_name": FAMILY})
    answer(client, referral_id, "tried-already", {"tried_already": script})

    assert _referral(referral_id).person.given_name == script
    for url in (f"/referrals/{referral_id}/check", section_url(referral_id, "about-the-person"),
                section_url(referral_id, "tried-already")):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<b>bold" not in html
        assert "&lt;script&gt;alert(" in html


def test_sql_like_text_is_stored_verbatim(client, practitioner):
    referral_id = start(client)
    sqlish = "Robert'); DROP TABLE referrals;--"
    answer(client, referral_id, "about-the-person", {"given_name": sqlish, "family_name": "1' OR '1'='1"})
    person = _referral(referral_id).person
    assert (person.given_name, person.family_name) == (sqlish, "1' OR '1'='1")


def test_control_characters_are_stripped(client, practitioner):
    referral_id = start(client)
    answer(client, referral_id, "about-the-person",
           {"given_name": "Ze\x00be\x07dee\u202e", "family_name": "Quarter\tmain"})
    answer(client, referral_id, "tried-already", {"tried_already": "Line one\r\nLine\x00 two\x1b"})
    referral = _referral(referral_id)
    assert referral.person.given_name == "Zebedee"
    assert referral.person.family_name == "Quarter main"
    assert referral.tried_already == "Line one\nLine two"


@pytest.mark.parametrize(("slug", "field", "message"), [
    ("about-the-person", "given_name", "The person’s first name must be 100 characters or fewer"),
    ("tried-already", "tried_already", "What has been tried already must be 5,000 characters or fewer"),
    ("persons-views", "desired_outcomes", "Each desired outcome must be 500 characters or fewer"),
    ("identifiers", "nhs_number", "NHS number must be 10 digits, like 943 476 5919"),
])
def test_a_100k_character_answer_is_refused_with_a_message_and_kept_on_screen(client, practitioner, slug, field,
                                                                              message):
    referral_id = start(client)
    huge = "y" * 100_000
    data = {field: huge, "family_name": FAMILY} if slug == "about-the-person" else {field: huge}

    response = answer(client, referral_id, slug, data)

    assert response.status_code == 200
    assert message in error_summary(response)
    assert huge in response.get_data(as_text=True)
    assert _referral(referral_id).updated_at is None


def test_a_posted_section_without_a_csrf_token_changes_nothing(client, practitioner):
    referral_id = start(client)
    response = client.post(section_url(referral_id, "about-the-person"),
                           data={"given_name": NAME, "family_name": FAMILY})
    assert response.status_code == 400
    assert _referral(referral_id).person.given_name == ""


def test_an_unknown_section_is_not_found(client, practitioner):
    referral_id = start(client)
    assert client.get(section_url(referral_id, "no-such-page")).status_code == 404
    assert client.get("/referrals/999999/about-the-person").status_code == 404
    assert client.get("/referrals/999999/check").status_code == 404


# ---- double submission -----------------------------------------------------------------


def test_submitting_twice_makes_one_referral(client, practitioner, agencies):
    referral_id = complete_draft(practitioner, agencies).id
    db.session.commit()
    url = f"/referrals/{referral_id}/check"
    token = csrf_token(client, url)

    first = client.post(url, data={"csrf_token": token})
    second = client.post(url, data={"csrf_token": token})  # a double click, or back and submit again
    again = client.get(url)

    for response in (first, second, again):
        assert response.status_code == 302
        assert response.headers["Location"] == f"/referrals/{referral_id}/submitted"
    assert db.session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one() == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(ReferralDecision)).scalar_one() == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one() == 1
    assert client.get(f"/referrals/{referral_id}/submitted").status_code == 200


def test_a_submission_that_loses_a_race_goes_to_the_confirmation(client, practitioner, agencies, monkeypatch):
    referral_id = complete_draft(practitioner, agencies).id
    db.session.commit()
    token = csrf_token(client, f"/referrals/{referral_id}/check")

    def already(referral, **kwargs):
        raise ServiceError("This referral has already been submitted")

    monkeypatch.setattr(services, "submit", already)
    response = client.post(f"/referrals/{referral_id}/check", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/referrals/{referral_id}/submitted"


def test_a_submitted_referral_can_no_longer_be_edited(client, practitioner, agencies):
    referral = complete_draft(practitioner, agencies)
    services.submit(referral, by=practitioner)
    referral_id = referral.id
    db.session.commit()
    assert client.get(section_url(referral_id, "risk")).status_code == 404
    assert client.get(f"/referrals/{referral_id}/delete").status_code == 404


# ---- who may see a draft ---------------------------------------------------------------

DRAFT_PAGES = [("GET", section_url(0, slug)) for slug in SLUGS] + [
    ("POST", section_url(0, "about-the-person")), ("POST", section_url(0, "risk")),
    ("GET", "/referrals/0/check"), ("POST", "/referrals/0/check"),
    ("GET", "/referrals/0/delete"), ("POST", "/referrals/0/delete"),
    ("GET", "/referrals/0/submitted"),
]


@pytest.mark.parametrize("who", ["same_agency", "other_agency", "spoc", "coordinator"])
def test_nobody_else_sees_or_changes_a_draft(app, client, login_as, agencies, who):
    author = factories.create_user(agency=agencies[0])
    referral = complete_draft(author, agencies)
    referral_id = referral.id
    before = _snapshot(referral)
    role, agency = {"same_agency": ("practitioner", agencies[0]), "other_agency": ("practitioner", agencies[1]),
                    "spoc": ("spoc", agencies[0]), "coordinator": ("coordinator", agencies[1])}[who]
    login_as(role, agency=agency)
    app.config["WTF_CSRF_ENABLED"] = False  # the refusal, not a missing token, must answer

    for method, url in DRAFT_PAGES:
        url = url.replace("/0/", f"/{referral_id}/")
        data = {"given_name": "Hijack", "family_name": "Hijack", "risk_level": "high", "risk_summary": "Hijack"}
        response = client.open(url, method=method, data=data if method == "POST" else None)
        assert response.status_code == 404, (method, url)
    assert _snapshot(_referral(referral_id)) == before
    assert _referral(referral_id).status == ReferralStatus.DRAFT


def test_an_agency_without_a_current_isa_cannot_start_a_referral(client, login_as):
    login_as("practitioner", agency=factories.create_agency(name="Lapsed Agency", isa="lapsed"))

    response = client.get("/referrals/new")

    text = page(response).get_text(" ", strip=True)
    assert "past its review date" in text
    assert page(response).select_one("main form button") is None  # the header's search box aside
    token = csrf_token(client, "/account/password")
    response = client.post("/referrals/new", data={"csrf_token": token})
    assert response.status_code == 200
    assert db.session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one() == 0


def test_an_unsigned_agency_sees_why(client, login_as):
    login_as("spoc", agency=factories.create_agency(name="Unsigned Agency", isa="unsigned"))
    assert "has not signed the information sharing agreement" in page(client.get("/referrals/new")).get_text()


# ---- more information requested -------------------------------------------------------


def test_info_requested_referral_is_edited_and_resubmitted(client, practitioner, agencies):
    referral = complete_draft(practitioner, agencies)
    services.submit(referral, by=practitioner)
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=agencies[1])
    services.request_information(referral, by=coordinator, request="Please add the <b>GP</b> risk assessment.")
    referral_id, reference = referral.id, referral.reference
    db.session.commit()

    check = client.get(f"/referrals/{referral_id}/check")
    assert check.status_code == 200
    banner = page(check).select_one(".govuk-notification-banner").get_text(" ", strip=True)
    assert "Please add the <b>GP</b> risk assessment." in banner
    assert page(check).select_one("main form button").get_text(strip=True) == "Resubmit referral"

    response = answer(client, referral_id, "risk", {"risk_level": "high", "risk_summary": "Risks",
                                                    "risk_assessment": "GP assessment: high"}, returning=True)
    assert response.headers["Location"] == f"/referrals/{referral_id}/check"
    response = post_form(client, f"/referrals/{referral_id}/check", {})
    assert response.headers["Location"] == f"/referrals/{referral_id}/submitted"

    referral = _referral(referral_id)
    assert referral.status == ReferralStatus.SUBMITTED
    assert referral.reference == reference
    assert referral.risk_assessment == "GP assessment: high"
    assert [d.outcome for d in referral.decisions] == ["submitted", "info_requested", "resubmitted"]
    assert db.session.execute(sa.select(sa.func.count()).select_from(Person)).scalar_one() == 1
