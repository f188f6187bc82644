"""The case sections: risk, agencies and rapport, staff safety, insight, the person's outcomes.

Each change goes through the page, is audited and lands in the chronology (CaseEvent); bad
input gets a GOV.UK message with what was typed kept; hostile text is kept and shown escaped.
Chairs read every section but change nothing (no forms; a change answers 404). A SPoC whose
agency is not involved gets 404 on every section.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.dates import london_today
from panel.cases import services
from panel.models import (
    AuditAction,
    AuditEvent,
    CaseEvent,
    CaseStatus,
    InsightVersion,
    Involvement,
    OutboxMessage,
    OutcomeReview,
    PersonalOutcome,
    RiskChange,
    RiskLevel,
    Role,
    StaffSafetyFlag,
    StaffSafetyKind,
    utcnow,
)
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import error_summary, page, post_form

HOSTILE = "<script>alert('x')</script> & <b>bold</b>"
NO_CSRF = {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def setting(db):
    lead = factories.create_agency(code="lead-a", name="Lead Agency")
    other = factories.create_agency(code="other-b", name="Other Agency")
    other_spoc = factories.create_user(role=Role.SPOC, agency=other, email="other.spoc@test.invalid",
                                       name="Olive Other")
    other.spoc = other_spoc
    case = create_case(lead=lead, risk=RiskLevel.HIGH, given_name="Zebedee", family_name="Quaintly")
    elsewhere = create_case(lead=lead, given_name="Another", family_name="Person")
    db.session.commit()
    return {"lead": lead, "other": other, "other_spoc": other_spoc, "case": case, "ref": case.reference,
            "elsewhere": elsewhere}


def _url(setting, section: str) -> str:
    return f"/cases/{setting['ref']}/{section}"


def _events(db, case_id: int) -> list[tuple[str, str]]:
    return [(e.kind, e.summary) for e in db.session.execute(
        sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).scalars()]


def _audits(db, action: AuditAction, object_type: str) -> list[AuditEvent]:
    return db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.object_type == object_type)).scalars().all()


def _text(response) -> str:
    return page(response).get_text(" ", strip=True)


def _field(response, name: str) -> str:
    """What a text input or textarea on the page holds."""
    soup = page(response)
    element = soup.find(["textarea", "input"], attrs={"name": name})
    assert element is not None, f"no field {name}"
    return element.get_text() if element.name == "textarea" else element.get("value", "")


# ---- every page -----------------------------------------------------------------------

SECTIONS = [("risk", "Risk"), ("agencies", "Agencies"), ("staff-safety", "Staff safety"),
            ("insight", "Insight record"), ("outcomes", "The person’s outcomes")]


@pytest.mark.parametrize("section, heading", SECTIONS)
def test_each_section_renders_in_the_case_layout_and_is_audited(client, login_as, setting, db, section, heading):
    login_as("coordinator")
    response = client.get(_url(setting, section))
    assert response.status_code == 200
    soup = page(response)
    assert soup.h1.get_text(strip=True) == "Zebedee Quaintly"
    assert heading in [h.get_text(strip=True) for h in soup.find_all("h2")]
    assert soup.select_one("nav[aria-label='Case sections'] a[aria-current='page']") is not None
    views = _audits(db, AuditAction.VIEW, "case")
    assert [v.object_id for v in views] == [setting["ref"]]


def test_the_section_navigation_links_to_every_section(client, login_as, setting):
    login_as("coordinator")
    soup = page(client.get(f"/cases/{setting['ref']}"))
    links = {a.get_text(strip=True): a["href"] for a in soup.select("nav[aria-label='Case sections'] a")}
    for label, section in [("Risk", "risk"), ("Agencies", "agencies"), ("Staff safety", "staff-safety"),
                           ("Insight", "insight"), ("Outcomes", "outcomes")]:
        assert links[label] == _url(setting, section)
        assert client.get(links[label]).status_code == 200


# ---- risk -----------------------------------------------------------------------------


def test_changing_the_risk_level_needs_a_reason_and_is_kept_in_the_dated_history(client, login_as, setting, db):
    user = login_as("coordinator", name="Casey Coordinator")
    url = _url(setting, "risk")
    response = post_form(client, url, {"level": "medium", "reason": "", "change_level": "y"})
    assert response.status_code == 200
    assert error_summary(response) == ["Enter the reason for changing the risk level"]
    assert page(response).title.get_text().startswith("Error: ")
    assert page(response).find("input", attrs={"name": "level", "value": "medium"}).has_attr("checked")

    response = post_form(client, url, {"level": "medium", "reason": "Moved to\nsupported housing",
                                       "change_level": "y"})
    assert response.status_code == 302 and response.headers["Location"] == url
    db.session.expire_all()
    assert setting["case"].risk_level == RiskLevel.MEDIUM
    change = db.session.execute(sa.select(RiskChange)).scalar_one()
    assert (change.from_level, change.to_level, change.by_id) == (RiskLevel.HIGH, RiskLevel.MEDIUM, user.id)
    assert _events(db, setting["case"].id) == [("risk", "Risk changed from High to Medium")]
    [audit] = [a for a in _audits(db, AuditAction.UPDATE, "case") if "risk_level" in a.summary]
    assert "Zebedee" not in audit.summary and "supported housing" not in audit.summary

    response = client.get(url)
    assert "The risk level has been changed to medium." in _text(response)
    row = [td.get_text(" ", strip=True) for td in page(response).select("table tbody tr")[0].find_all("td")]
    assert row[1:] == ["High", "Medium", "Moved to supported housing", "Casey Coordinator"]
    assert page(response).select_one("table tbody td br") is not None  # the line break is kept


def test_the_risk_history_lists_the_newest_change_first(client, login_as, setting, db):
    coordinator = factories.create_user(role=Role.COORDINATOR)
    case = setting["case"]
    for level, reason in [(RiskLevel.CRITICAL, "first"), (RiskLevel.LOW, "second")]:
        services.change_risk(case, level=level, reason=reason, by=coordinator)
        db.session.flush()
    db.session.commit()
    login_as("coordinator")
    rows = page(client.get(_url(setting, "risk"))).select("table tbody tr")
    assert [r.find_all("td")[3].get_text(strip=True) for r in rows] == ["second", "first"]


@pytest.mark.parametrize("data, message", [
    ({"level": "extreme", "reason": "Why"}, "Select the risk level"),
    ({"reason": "Why"}, "Select the risk level"),
    ({"level": "high", "reason": "Why"}, "The risk level is already high. Select a different level"),
    ({"level": "low", "reason": "x" * 5001}, "Reason for the change must be 5,000 characters or fewer"),
])
def test_a_bad_risk_level_change_gets_a_message_not_a_change(client, login_as, setting, db, data, message):
    login_as("coordinator")
    response = post_form(client, _url(setting, "risk"), {**data, "change_level": "y"})
    assert response.status_code == 200
    assert error_summary(response) == [message]
    assert db.session.execute(sa.select(sa.func.count(RiskChange.id))).scalar_one() == 0
    if "reason" in data:
        assert _field(response, "reason") == data["reason"]


def test_the_risk_summary_and_plan_keep_hostile_text_and_show_it_escaped(client, login_as, setting, db):
    login_as("spoc", agency=setting["lead"])
    url = _url(setting, "risk")
    response = post_form(client, url, {"risk_summary": HOSTILE + "\x07\x1b", "contingency_plan": "Call the police\n\n999",
                                       "save_plan": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    case = setting["case"]
    assert (case.risk_summary, case.contingency_plan) == (HOSTILE, "Call the police\n\n999")
    assert _events(db, case.id) == [("risk", "Risk summary and contingency plan updated")]
    [audit] = _audits(db, AuditAction.UPDATE, "case")
    assert "risk_summary" in audit.summary and "script" not in audit.summary

    response = client.get(url)
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html and "<b>bold" not in html
    assert HOSTILE in _text(response)
    assert _field(response, "risk_summary") == HOSTILE

    response = post_form(client, url, {"risk_summary": HOSTILE, "contingency_plan": "Call the police\n\n999",
                                       "save_plan": "y"}, follow_redirects=True)
    assert "No changes were made." in _text(response)


def test_a_too_long_risk_summary_is_refused_and_kept_as_typed(client, login_as, setting, db):
    login_as("coordinator")
    long = "word " * 1001
    response = post_form(client, _url(setting, "risk"), {"risk_summary": long, "contingency_plan": "Plan",
                                                         "save_plan": "y"})
    assert error_summary(response) == ["The risk summary must be 5,000 characters or fewer"]
    assert _field(response, "risk_summary") == long.strip()
    assert _field(response, "contingency_plan") == "Plan"
    db.session.expire_all()
    assert setting["case"].risk_summary == ""


# ---- agencies and rapport -------------------------------------------------------------


def test_adding_an_agency_gives_its_spoc_the_full_record_and_tells_them_without_personal_data(
        client, login_as, setting, db):
    login_as(setting["other_spoc"])
    assert "Zebedee" not in _text(client.get(f"/cases/{setting['ref']}"))  # restricted before
    post_form(client, "/logout", {})

    login_as("coordinator")
    url = _url(setting, "agencies")
    response = post_form(client, url, {"agency_id": str(setting["other"].id), "named_worker": "Wendy Worker",
                                       "has_rapport": "yes", "add_agency": "y"})
    assert response.status_code == 302
    inv = db.session.execute(sa.select(Involvement).where(
        Involvement.case_id == setting["case"].id, Involvement.agency_id == setting["other"].id)).scalar_one()
    assert (inv.named_worker, inv.has_rapport) == ("Wendy Worker", True)
    assert ("agency", "Other Agency involved") in _events(db, setting["case"].id)
    assert [a.object_id for a in _audits(db, AuditAction.CREATE, "involvement")] == [str(inv.id)]
    [email] = db.session.execute(sa.select(OutboxMessage)).scalars().all()
    assert email.to_addr == "other.spoc@test.invalid"
    assert f"/cases/{setting['ref']}" in email.body_text
    for secret in ("Zebedee", "Quaintly", "LU1 2AB", "9434765919", "High Street", "Wendy"):
        assert secret not in email.subject + email.body_text
    rows = [[c.get_text(" ", strip=True) for c in r.find_all(["th", "td"])] for r in
            page(client.get(url)).select("table tbody tr")]
    assert ["Other Agency", "Wendy Worker", "Yes"] == rows[-1][:3]
    post_form(client, "/logout", {})

    login_as(setting["other_spoc"])
    response = client.get(f"/cases/{setting['ref']}")
    assert "Zebedee Quaintly" in _text(response)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("agency, message", [
    ("", "Select the agency to add"),
    ("abc", "Select the agency to add"),
    ("999999", "Select the agency to add"),
    ("lead", "Select the agency to add"),  # already involved, so not on the list
])
def test_an_agency_not_on_the_list_cannot_be_added(client, login_as, setting, db, agency, message):
    login_as("coordinator")
    value = str(setting["lead"].id) if agency == "lead" else agency
    response = post_form(client, _url(setting, "agencies"), {"agency_id": value, "named_worker": HOSTILE,
                                                             "has_rapport": "no", "add_agency": "y"})
    assert response.status_code == 200
    assert error_summary(response) == [message]
    assert _field(response, "named_worker") == HOSTILE
    assert db.session.execute(sa.select(sa.func.count(Involvement.id)).where(
        Involvement.case_id == setting["case"].id)).scalar_one() == 1


def test_a_named_worker_needs_a_rapport_answer_and_a_sensible_length(client, login_as, setting, db):
    login_as("coordinator")
    response = post_form(client, _url(setting, "agencies"), {"agency_id": str(setting["other"].id),
                                                              "named_worker": "x" * 121, "has_rapport": "maybe",
                                                              "add_agency": "y"})
    assert error_summary(response) == ["Named worker must be 120 characters or fewer",
                                       "Select yes if they have rapport with the person"]


def test_changing_the_lead_agency(client, login_as, setting, db):
    login_as("coordinator")
    response = post_form(client, _url(setting, "agencies"), {"lead_agency_id": str(setting["other"].id),
                                                             "change_lead": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert setting["case"].lead_agency_id == setting["other"].id
    events = _events(db, setting["case"].id)
    assert ("agency", "Lead agency changed from Lead Agency to Other Agency") in events
    assert ("agency", "Other Agency involved") in events  # a new lead is involved too
    response = post_form(client, _url(setting, "agencies"), {"lead_agency_id": "nope", "change_lead": "y"})
    assert error_summary(response) == ["Select the lead agency"]


def test_editing_the_named_worker_and_rapport_of_an_involvement(client, login_as, setting, db):
    login_as("spoc", agency=setting["lead"])
    inv_id = setting["case"].involvements[0].id
    url = f"{_url(setting, 'agencies')}?edit={inv_id}"
    response = client.get(url)
    assert response.status_code == 200
    assert "Change the named worker or rapport for Lead Agency" in _text(response)
    assert page(response).find("input", attrs={"name": "has_rapport", "value": "no"}).has_attr("checked")

    response = post_form(client, url, {"named_worker": HOSTILE, "has_rapport": "yes", "save_involvement": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    inv = db.session.get(Involvement, inv_id)
    assert (inv.named_worker, inv.has_rapport) == (HOSTILE, True)
    assert _events(db, setting["case"].id) == [("agency", "Lead Agency: named worker or rapport updated")]
    assert [a.object_id for a in _audits(db, AuditAction.UPDATE, "involvement")] == [str(inv_id)]
    html = client.get(_url(setting, "agencies")).get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("edit", ["other-case", "abc", "99999999", "-1", ""])
def test_an_involvement_from_another_case_or_no_involvement_is_404(client, login_as, setting, db, edit):
    login_as("coordinator")
    value = str(setting["elsewhere"].involvements[0].id) if edit == "other-case" else edit
    url = f"{_url(setting, 'agencies')}?edit={value}"
    assert client.get(url).status_code == 404
    response = post_form(client, url, {"named_worker": "Hijack", "has_rapport": "yes", "save_involvement": "y"},
                         token_from=_url(setting, "agencies"))
    assert response.status_code == 404
    assert db.session.execute(sa.select(Involvement).where(Involvement.named_worker == "Hijack")).first() is None


# ---- staff safety ---------------------------------------------------------------------


def test_a_staff_safety_warning_shows_on_every_page_of_the_case_until_cleared(client, login_as, setting, db):
    login_as("practitioner", agency=setting["lead"], name="Pat Practitioner")
    url = _url(setting, "staff-safety")
    response = post_form(client, url, {"kind": "no_lone_visits", "details": "Two staff at all times", "add_flag": "y"})
    assert response.status_code == 302
    flag = db.session.execute(sa.select(StaffSafetyFlag)).scalar_one()
    assert (flag.kind, flag.details) == (StaffSafetyKind.NO_LONE_VISITS, "Two staff at all times")
    assert _events(db, setting["case"].id) == [("staff_safety", "Staff-safety warning set: No lone visits")]
    assert [a.object_id for a in _audits(db, AuditAction.CREATE, "staff_safety_flag")] == [str(flag.id)]
    for where in ("", "/risk", "/outcomes"):
        warning = page(client.get(f"/cases/{setting['ref']}{where}")).select_one(".panel-staff-safety")
        assert warning is not None and "No lone visits" in warning.get_text() and "Pat Practitioner" in warning.get_text()

    button = page(client.get(url)).select_one(".govuk-summary-card__actions button")
    assert button.get_text(" ", strip=True).startswith("Clear warning : No lone visits, set ")
    assert button.select_one(".govuk-visually-hidden") is not None
    response = post_form(client, f"{url}/{flag.id}/clear", {}, token_from=url)
    assert response.status_code == 302 and response.headers["Location"] == url
    db.session.expire_all()
    assert flag.cleared_at is not None
    assert _events(db, setting["case"].id)[-1] == ("staff_safety", "Staff-safety warning cleared: No lone visits")
    response = client.get(url)
    assert page(response).select_one(".panel-staff-safety") is None
    assert "Cleared by Pat Practitioner" in _text(response)
    assert client.get(f"{url}/{flag.id}/clear").status_code == 405
    response = post_form(client, f"{url}/{flag.id}/clear", {}, token_from=url, follow_redirects=True)
    assert "That warning had already been cleared." in _text(response)


@pytest.mark.parametrize("data, message", [
    ({"kind": "other", "details": ""}, "Enter the details of the staff-safety concern"),
    ({"kind": "weapons", "details": "x"}, "Select the kind of staff-safety concern"),
    ({"details": "x"}, "Select the kind of staff-safety concern"),
    ({"kind": "hostility", "details": "x" * 1001}, "The details must be 1,000 characters or fewer"),
])
def test_a_bad_staff_safety_warning_gets_a_message(client, login_as, setting, db, data, message):
    login_as("coordinator")
    response = post_form(client, _url(setting, "staff-safety"), {**data, "add_flag": "y"})
    assert error_summary(response) == [message]
    assert _field(response, "details") == data["details"]
    assert db.session.execute(sa.select(StaffSafetyFlag)).first() is None


def test_hostile_details_in_a_warning_are_escaped_in_the_banner(client, login_as, setting, db):
    login_as("coordinator")
    post_form(client, _url(setting, "staff-safety"), {"kind": "other", "details": HOSTILE, "add_flag": "y"})
    response = client.get(f"/cases/{setting['ref']}")
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert HOSTILE in page(response).select_one(".panel-staff-safety").get_text()


def test_a_flag_from_another_case_cannot_be_cleared_through_this_one(client, login_as, setting, db):
    setter = factories.create_user(role=Role.COORDINATOR)
    flag = services.set_staff_safety_flag(setting["elsewhere"], kind=StaffSafetyKind.HOSTILITY, details="", by=setter)
    db.session.commit()
    flag_id = flag.id
    login_as("coordinator")
    url = _url(setting, "staff-safety")
    assert post_form(client, f"{url}/{flag_id}/clear", {}, token_from=url).status_code == 404
    assert post_form(client, f"{url}/999999/clear", {}, token_from=url).status_code == 404
    db.session.expire_all()
    assert db.session.get(StaffSafetyFlag, flag_id).cleared_at is None


# ---- insight --------------------------------------------------------------------------

ANSWERS = {"most_settled": "Mornings, after a cup of tea", "upsets": "Letters in brown envelopes",
           "responds_to": "Humour", "engages_best_with": "Jo from the day centre",
           "matters_and_trust": "His dog. Broken promises break trust"}


def test_insight_is_kept_as_dated_versions_with_the_latest_prefilled(client, login_as, setting, db):
    first = login_as("coordinator", name="Fran First")
    url = _url(setting, "insight")
    assert "No insight has been recorded yet." in _text(client.get(url))
    assert post_form(client, url, ANSWERS).status_code == 302
    post_form(client, "/logout", {})
    login_as("spoc", agency=setting["lead"], name="Sid Second")
    response = client.get(url)
    for key, answer in ANSWERS.items():
        assert _field(response, key) == answer
    assert "Fran First" in _text(response)
    assert post_form(client, url, {**ANSWERS, "upsets": HOSTILE}).status_code == 302

    versions = db.session.execute(sa.select(InsightVersion).order_by(InsightVersion.id)).scalars().all()
    assert [(v.written_by_id, v.upsets) for v in versions][0] == (first.id, ANSWERS["upsets"])
    assert versions[1].upsets == HOSTILE
    assert _events(db, setting["case"].id) == [("insight", "Insight record updated")] * 2
    assert len(_audits(db, AuditAction.CREATE, "insight_version")) == 2

    response = client.get(url)
    assert _field(response, "upsets") == HOSTILE
    [details] = page(response).select("details.govuk-details")
    assert "Written by Fran First" in details.summary.get_text(" ", strip=True)
    assert ANSWERS["upsets"] in details.get_text(" ", strip=True)
    assert "<script>alert" not in response.get_data(as_text=True)

    response = post_form(client, url, {**ANSWERS, "upsets": HOSTILE}, follow_redirects=True)
    assert "No changes were made, so no new version was saved." in _text(response)
    assert db.session.execute(sa.select(sa.func.count(InsightVersion.id))).scalar_one() == 2


@pytest.mark.parametrize("data, message", [
    ({}, "Answer at least one question"),
    ({"most_settled": "   \x00  "}, "Answer at least one question"),
    ({"responds_to": "x" * 5001}, "What they respond well to must be 5,000 characters or fewer"),
])
def test_a_bad_insight_version_gets_a_message(client, login_as, setting, db, data, message):
    login_as("coordinator")
    response = post_form(client, _url(setting, "insight"), data)
    assert error_summary(response) == [message]
    assert db.session.execute(sa.select(InsightVersion)).first() is None


# ---- the person's outcomes ------------------------------------------------------------


def test_recording_and_reviewing_the_persons_outcomes(client, login_as, setting, db):
    login_as("practitioner", agency=setting["lead"], name="Pat Practitioner")
    url = _url(setting, "outcomes")
    response = post_form(client, url, {"words": "I want to keep my dog", "asked": "yes", "expressed": "no"})
    assert response.status_code == 302
    outcome = db.session.execute(sa.select(PersonalOutcome)).scalar_one()
    assert (outcome.words, outcome.asked, outcome.expressed, outcome.review) == (
        "I want to keep my dog", True, False, OutcomeReview.OPEN)
    soup = page(client.get(url))
    assert "Not yet reviewed" in soup.select_one(".govuk-summary-card .govuk-tag").get_text()

    review_url = f"{url}/{outcome.id}/review"
    response = client.get(review_url)
    assert "I want to keep my dog" in _text(response)
    today = date.today()
    response = post_form(client, review_url, {"review": "partly_achieved", "reviewed_on": [
        str(today.day), str(today.month), str(today.year)]})
    assert response.status_code == 302 and response.headers["Location"] == url
    db.session.expire_all()
    assert (outcome.review, outcome.reviewed_on) == (OutcomeReview.PARTLY_ACHIEVED, today)
    assert _events(db, setting["case"].id) == [("outcome", "Desired outcome added"),
                                               ("outcome", "Desired outcome reviewed: partly achieved")]
    assert [a.action for a in db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.object_type == "personal_outcome")).scalars()] == [AuditAction.CREATE, AuditAction.UPDATE]
    text = _text(client.get(url))
    assert "Partly achieved" in text and "by Pat Practitioner" in text
    response = client.get(review_url)  # the review is prefilled
    assert page(response).find("input", attrs={"name": "review", "value": "partly_achieved"}).has_attr("checked")


@pytest.mark.parametrize("data, messages", [
    ({"words": "", "asked": "yes", "expressed": "yes"}, ["Enter the outcome"]),
    ({"words": "x" * 501, "asked": "yes", "expressed": "yes"}, ["The outcome must be 500 characters or fewer"]),
    ({"words": HOSTILE, "asked": "perhaps"}, ["Select yes if the person was asked what they want",
                                               "Select yes if the person expressed this outcome themselves"]),
])
def test_a_bad_outcome_gets_a_message_and_keeps_what_was_typed(client, login_as, setting, db, data, messages):
    login_as("coordinator")
    response = post_form(client, _url(setting, "outcomes"), data)
    assert error_summary(response) == messages
    assert _field(response, "words") == data["words"]
    assert "<script>alert" not in response.get_data(as_text=True)
    assert db.session.execute(sa.select(PersonalOutcome)).first() is None


TOMORROW = "tomorrow"  # worked out when the test runs, not when it is collected (a run can cross midnight)


def _future(days: int = 1) -> list[str]:
    when = london_today() + timedelta(days=days)
    return [str(when.day), str(when.month), str(when.year)]


@pytest.mark.parametrize("data, message", [
    ({"review": "achieved", "reviewed_on": ["", "", ""]}, "Enter the date of the review"),
    ({"review": "achieved", "reviewed_on": TOMORROW}, "Date of the review must be today or in the past"),
    ({"review": "achieved", "reviewed_on": ["31", "2", "2026"]}, "Date of the review must be a real date"),
    ({"review": "achieved", "reviewed_on": ["1", "", "2026"]}, "Date of the review must include a month"),
    ({"review": "open", "reviewed_on": ["1", "1", "2026"]}, "Select whether the outcome was achieved"),
    ({"review": "brilliant", "reviewed_on": ["1", "1", "2026"]}, "Select whether the outcome was achieved"),
])
def test_a_bad_review_gets_a_message(client, login_as, setting, db, data, message):
    coordinator = login_as("coordinator")
    outcome = services.add_outcome(setting["case"], words="Stay at home", asked=True, expressed=True, by=coordinator)
    db.session.commit()
    outcome_id = outcome.id
    if data["reviewed_on"] == TOMORROW:
        data = {**data, "reviewed_on": _future()}
    response = post_form(client, f"{_url(setting, 'outcomes')}/{outcome_id}/review", data)
    assert error_summary(response) == [message]
    db.session.expire_all()
    assert db.session.get(PersonalOutcome, outcome_id).review == OutcomeReview.OPEN


def test_an_outcome_from_another_case_is_404(client, login_as, setting, db):
    coordinator = login_as("coordinator")
    outcome = services.add_outcome(setting["elsewhere"], words="Elsewhere", asked=True, expressed=True, by=coordinator)
    db.session.commit()
    url = f"{_url(setting, 'outcomes')}/{outcome.id}/review"
    assert client.get(url).status_code == 404
    today = date.today()
    response = post_form(client, url, {"review": "achieved", "reviewed_on": [str(today.day), str(today.month),
                                                                               str(today.year)]},
                         token_from=_url(setting, "outcomes"))
    assert response.status_code == 404
    assert client.get(f"{_url(setting, 'outcomes')}/99999999/review").status_code == 404


# ---- who may change -------------------------------------------------------------------

CHANGES = [
    ("risk", {"level": "low", "reason": "Chair says so", "change_level": "y"}),
    ("risk", {"risk_summary": "Chair", "contingency_plan": "Chair", "save_plan": "y"}),
    ("agencies", {"agency_id": "OTHER", "named_worker": "", "has_rapport": "no", "add_agency": "y"}),
    ("agencies", {"lead_agency_id": "OTHER", "change_lead": "y"}),
    ("agencies?edit=INV", {"named_worker": "Chair", "has_rapport": "yes", "save_involvement": "y"}),
    ("staff-safety", {"kind": "hostility", "details": "", "add_flag": "y"}),
    ("staff-safety/FLAG/clear", {}),
    ("insight", {"most_settled": "Chair"}),
    ("outcomes", {"words": "Chair", "asked": "yes", "expressed": "yes"}),
    ("outcomes/OUTCOME/review", {"review": "achieved", "reviewed_on": ["1", "1", "2026"]}),
]


def _fill(setting, text: str, ids: dict[str, int]) -> str:
    for key, value in ids.items():
        text = text.replace(key, str(value))
    return text


@pytest.fixture
def records(setting, db):
    coordinator = factories.create_user(role=Role.COORDINATOR)
    flag = services.set_staff_safety_flag(setting["case"], kind=StaffSafetyKind.OTHER, details="Dog", by=coordinator)
    outcome = services.add_outcome(setting["case"], words="Stay", asked=True, expressed=True, by=coordinator)
    db.session.commit()
    return {"FLAG": flag.id, "OUTCOME": outcome.id, "INV": setting["case"].involvements[0].id,
            "OTHER": setting["other"].id}


def _counts(db) -> tuple:
    models = (RiskChange, Involvement, StaffSafetyFlag, InsightVersion, PersonalOutcome, CaseEvent)
    db.session.expire_all()
    return tuple(db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar_one() for m in models) + (
        db.session.execute(sa.select(StaffSafetyFlag.cleared_at)).all(),
        db.session.execute(sa.select(PersonalOutcome.review)).all())


@pytest.mark.parametrize("app_config", [NO_CSRF])
def test_chairs_read_every_section_but_see_no_forms_and_cannot_change_anything(client, login_as, setting, records, db):
    login_as("chair")
    for section, _ in SECTIONS:
        response = client.get(_url(setting, section))
        assert response.status_code == 200
        assert page(response).select("main form") == [], section
    assert "Dog" in _text(client.get(_url(setting, "staff-safety")))
    assert "Stay" in _text(client.get(_url(setting, "outcomes")))
    assert client.get(_url(setting, f"outcomes/{records['OUTCOME']}/review")).status_code == 404
    assert client.get(_url(setting, f"agencies?edit={records['INV']}")).status_code == 404
    before = _counts(db)
    for section, data in CHANGES:
        data = {k: _fill(setting, v, records) if isinstance(v, str) else v for k, v in data.items()}
        response = client.post(_url(setting, _fill(setting, section, records)), data=data)
        assert response.status_code == 404, section
    assert _counts(db) == before
    denied = _audits(db, AuditAction.DENIED, "case")
    assert len(denied) == len(CHANGES) + 2 and all("change" in d.summary for d in denied)  # + the two GETs


@pytest.mark.parametrize("app_config", [NO_CSRF])
@pytest.mark.parametrize("role", ["coordinator", "spoc", "practitioner"])
def test_coordinators_and_involved_agencies_can_make_every_change(client, login_as, setting, records, db, role):
    login_as(role, agency=setting["lead"])
    for section, data in CHANGES:
        data = {k: _fill(setting, v, records) if isinstance(v, str) else v for k, v in data.items()}
        response = client.post(_url(setting, _fill(setting, section, records)), data=data)
        assert response.status_code == 302, (section, error_summary(response))


@pytest.mark.parametrize("app_config", [NO_CSRF])
@pytest.mark.parametrize("role", ["spoc", "practitioner"])
def test_a_non_involved_agency_gets_404_on_every_section(client, login_as, setting, records, db, role):
    login_as(role, agency=setting["other"])
    for section, _ in SECTIONS:
        assert client.get(_url(setting, section)).status_code == 404, section
    before = _counts(db)
    for section, data in CHANGES:
        data = {k: _fill(setting, v, records) if isinstance(v, str) else v for k, v in data.items()}
        assert client.post(_url(setting, _fill(setting, section, records)), data=data).status_code == 404, section
    assert _counts(db) == before


# ---- a fixed number of queries whatever the size -------------------------------------


def _risk_history(db, case, n: int) -> None:
    user = factories.create_user(role=Role.COORDINATOR)
    levels = [RiskLevel.CRITICAL, RiskLevel.HIGH]
    now = utcnow()
    db.session.add_all([RiskChange(case_id=case.id, from_level=levels[i % 2], to_level=levels[(i + 1) % 2],
                                   reason=f"Reason {i}", by_id=user.id, at=now - timedelta(minutes=i))
                        for i in range(n)])


def _insight_versions(db, case, n: int) -> None:
    now = utcnow()
    for i in range(n):
        user = factories.create_user(role=Role.SPOC)  # a different writer each time
        db.session.add(InsightVersion(case_id=case.id, written_by_id=user.id, written_at=now - timedelta(hours=i),
                                      **{k: f"{k} {i}" for k in services.INSIGHT_QUESTIONS}))


@pytest.mark.parametrize("section, build, small, large", [
    ("risk", _risk_history, 5, 200),
    ("insight", _insight_versions, 2, 100),
])
def test_the_risk_and_insight_pages_run_a_fixed_number_of_queries(client, login_as, db, count_queries, section, build,
                                                                   small, large):
    login_as("coordinator")
    counts = []
    for n in (small, large):
        case = create_case()
        build(db, case, n)
        setter = factories.create_user(role=Role.COORDINATOR)
        services.set_staff_safety_flag(case, kind=StaffSafetyKind.HOSTILITY, details="", by=setter)
        db.session.commit()
        ref = case.reference
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get(f"/cases/{ref}/{section}")
        assert response.status_code == 200
        counts.append(counter.count)
        if section == "risk":
            assert len(page(response).select("table tbody tr")) == min(n, 25)
        else:
            assert len(page(response).select("details.govuk-details")) == min(n - 1, 10)
        if n == large:
            assert page(response).select_one("nav.govuk-pagination") is not None
            assert client.get(f"/cases/{ref}/{section}?page=2").status_code == 200
            assert client.get(f"/cases/{ref}/{section}?page=zz").status_code == 200
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("app_config", [NO_CSRF])
def test_a_closed_case_is_read_only_until_reopened(client, login_as, setting, records, db):
    setting["case"].status = CaseStatus.CLOSED
    db.session.commit()
    login_as("coordinator")
    for section, _ in SECTIONS:
        response = client.get(_url(setting, section))
        assert response.status_code == 200
        assert page(response).select("main form") == [], section
        assert "This case is closed" in _text(response)
    before = _counts(db)
    for section, data in CHANGES:
        data = {k: _fill(setting, v, records) if isinstance(v, str) else v for k, v in data.items()}
        response = client.post(_url(setting, _fill(setting, section, records)), data=data)
        assert response.status_code == 302, section
        assert response.headers["Location"].startswith(f"/cases/{setting['ref']}/"), section
    assert _counts(db) == before
    assert client.get(_url(setting, f"outcomes/{records['OUTCOME']}/review")).status_code == 302
    response = client.get(_url(setting, "risk"))
    assert "This case is closed, so its record cannot be changed." in _text(response)
