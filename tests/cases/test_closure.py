"""Closure with step-down through the pages: propose, the checklist, the chair's approval (closes,
frees a place, tells people without personal data) or return, Suffolk's persistence rule for
non-engagement, reopening within the cap, and who may do what."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from panel import pathway
from panel.cases import services
from panel.models import Case, CaseEvent, CaseStatus, OutboxMessage, OutcomeReview, RiskLevel, Role
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import error_summary, page, post_form


@pytest.fixture
def s(db):
    lead = factories.create_agency(code="lead-a", name="Lead Agency")
    second = factories.create_agency(code="second-b", name="Second Agency")
    step_down = factories.create_agency(code="gp", name="Step-down Surgery")
    lead.spoc = factories.create_user(role=Role.SPOC, agency=lead, email="spoc.lead@test.invalid")
    second.spoc = factories.create_user(role=Role.SPOC, agency=second, email="spoc.second@test.invalid")
    step_down.spoc = factories.create_user(role=Role.SPOC, agency=step_down, email="spoc.gp@test.invalid")
    coordinator = factories.create_user(role=Role.COORDINATOR, email="coord@test.invalid", name="Cal Coordinator")
    chair = factories.create_user(role=Role.CHAIR, email="chair@test.invalid", name="Chris Chair")
    case = create_case(lead=lead, involved=[second], given_name="Zebedee", family_name="Quaintly")
    db.session.commit()
    base = f"/cases/{case.reference}"
    return SimpleNamespace(lead=lead, second=second, step_down=step_down, coordinator=coordinator, chair=chair,
                           case=case, ref=case.reference, closure=f"{base}/closure", propose=f"{base}/closure/propose",
                           decide=f"{base}/closure/decision", reopen=f"{base}/reopen", new_attempt=f"{base}/engagement/new")


def _d(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def _proposal(s, **over) -> dict:
    data = {"rationale": "Settled in a new flat; the surgery will keep in touch.",
            "step_down_agency_id": str(s.step_down.id), "step_down_accepted_by": "Dr Demo, practice manager",
            "step_down_accepted_on": _d(date.today() - timedelta(days=3))}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def _case(db, s) -> Case:
    db.session.expire_all()
    return db.session.get(Case, s.case.id)


def _make_ready(db, s) -> None:
    case = _case(db, s)
    services.change_risk(case, level=RiskLevel.MEDIUM, reason="Settled", by=s.coordinator)
    outcome = services.add_outcome(case, words="Somewhere warm to live", asked=True, expressed=True, by=s.coordinator)
    services.review_outcome(outcome, case, review=OutcomeReview.ACHIEVED, on=date.today(), by=s.coordinator)
    db.session.commit()


def _link(text: str):
    return lambda tag: tag.name == "a" and tag.get_text(strip=True) == text


def _login(client, login_as, user):
    client.delete_cookie("panel_session")  # a fresh browser session for the next person
    return login_as(user)


def test_propose_then_the_chair_approves_closes_the_case_frees_a_place_and_tells_people(client, login_as, s, db):
    login_as(s.coordinator)
    closure = page(client.get(s.closure))
    assert closure.find(_link("Propose closure")) is not None
    response = post_form(client, s.propose, _proposal(s), follow_redirects=True)
    text = page(response).get_text(" ")
    assert "Closure has been proposed" in text
    assert _case(db, s).status == CaseStatus.CLOSURE_PROPOSED
    # the checklist: met items ticked, unmet items listed
    unmet = [li.get_text(" ", strip=True) for li in page(response).select(".panel-checklist__unmet")]
    met = [li.get_text(" ", strip=True) for li in page(response).select(".panel-checklist__met")]
    assert unmet == ["Not met Risk is critical: it must be below high",
                     "Not met Record and review the person’s desired outcomes"]
    assert "Met A step-down agency is named" in met and "Met The step-down agency’s acceptance is recorded" in met
    assert "Step-down Surgery" in text and "Dr Demo, practice manager" in text
    _make_ready(db, s)
    before = pathway.occupancy().cases
    _login(client, login_as, s.chair)
    closure = page(client.get(s.closure))
    assert closure.find(_link("Record the panel’s decision")) is not None
    assert "Everything on the checklist is in place." in closure.get_text(" ")
    panel_day = date.today() - timedelta(days=1)
    response = post_form(client, s.decide, {"decision": "approve", "panel_date": _d(panel_day)}, follow_redirects=True)
    assert "The case is closed. Its place in the pathway is free." in page(response).get_text(" ")
    case = _case(db, s)
    assert (case.status, case.closed_on, case.closure_panel_date, case.closure_approved_by_id) == (
        CaseStatus.CLOSED, panel_day, panel_day, s.chair.id)
    assert pathway.occupancy().cases == before - 1
    mails = db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.subject.startswith("Case closed"))).scalars().all()
    assert sorted(m.to_addr for m in mails) == ["coord@test.invalid", "spoc.lead@test.invalid", "spoc.second@test.invalid"]
    for mail in mails:
        assert s.ref in mail.body_text
        assert not any(word in mail.subject + mail.body_text for word in ("Zebedee", "Quaintly", "flat", "Surgery"))
    text = page(client.get(s.closure)).get_text(" ")
    assert "Chris Chair" in text and "Closed" in text


def test_the_chair_returns_a_proposal_with_a_reason(client, login_as, s, db):
    login_as(s.coordinator)
    post_form(client, s.propose, _proposal(s))
    _login(client, login_as, s.chair)
    missing = post_form(client, s.decide, {"decision": "return", "reason": "  "})
    assert error_summary(missing) == ["Enter why the closure is being returned"]
    response = post_form(client, s.decide, {"decision": "return", "reason": "Check the tenancy first."},
                         follow_redirects=True)
    assert "The closure has been returned to the coordinator." in page(response).get_text(" ")
    assert _case(db, s).status == CaseStatus.ACTIVE
    events = db.session.execute(sa.select(CaseEvent.summary).where(CaseEvent.kind == "closure")).scalars().all()
    assert "Closure returned: Check the tenancy first." in events
    # the coordinator can propose again, with the earlier answers filled in
    _login(client, login_as, s.coordinator)
    form = page(client.get(s.propose))
    assert "Settled in a new flat" in form.find("textarea", attrs={"name": "rationale"}).get_text()


def test_approval_of_a_case_not_ready_shows_the_unmet_items(client, login_as, s, db):
    login_as(s.coordinator)
    post_form(client, s.propose, _proposal(s, step_down_agency_id="", step_down_accepted_by="",
                                           step_down_accepted_on=["", "", ""]))
    _login(client, login_as, s.chair)
    response = post_form(client, s.decide, {"decision": "approve", "panel_date": _d(date.today())})
    assert response.status_code == 200
    (message,) = error_summary(response)
    assert message.startswith("The case is not ready to close: ")
    for item in ("Risk is critical: it must be below high", "Name the step-down agency",
                 "Record who at the step-down agency accepted ongoing case management, and when",
                 "Record and review the person’s desired outcomes"):
        assert item in message
    assert _case(db, s).status == CaseStatus.CLOSURE_PROPOSED


@pytest.mark.parametrize("data, message", [
    ({}, "Select whether the panel approved the closure"),
    ({"decision": "maybe"}, "Select whether the panel approved the closure"),
    ({"decision": "approve"}, "Enter the date of the panel that agreed the closure"),
    ({"decision": "approve", "panel_date": ["1", "13", "2025"]}, "Date of the panel must be a real date"),
    ({"decision": "approve", "panel_date": "future"}, "Date of the panel must be today or in the past"),
    ({"decision": "return", "reason": "x" * 2001}, "The reason must be 2,000 characters or fewer"),
])
def test_decision_validation(client, login_as, s, db, data, message):
    login_as(s.coordinator)
    post_form(client, s.propose, _proposal(s))
    _login(client, login_as, s.chair)
    if data.get("panel_date") == "future":
        data["panel_date"] = _d(date.today() + timedelta(days=1))
    response = post_form(client, s.decide, data)
    assert message in error_summary(response)
    assert _case(db, s).status == CaseStatus.CLOSURE_PROPOSED


@pytest.mark.parametrize("over, message", [
    ({"rationale": ""}, "Enter the rationale for closure"),
    ({"rationale": "x" * 5001}, "The rationale must be 5,000 characters or fewer"),
    ({"step_down_agency_id": "abc"}, "Select the step-down agency"),
    ({"step_down_agency_id": "999999"}, "Select the step-down agency"),
    ({"step_down_agency_id": ""}, "Select the step-down agency that accepted the case"),
    ({"step_down_accepted_on": ["", "", ""]}, "Enter the date the step-down agency accepted"),
    ({"step_down_accepted_by": ""}, "Enter who at the step-down agency accepted the case"),
    ({"step_down_accepted_by": "<b>Dr</b>"}, "Who accepted must not include the characters < or >"),
    ({"step_down_accepted_on": "future"}, "Date the step-down agency accepted must be today or in the past"),
])
def test_proposal_validation(client, login_as, s, db, over, message):
    login_as(s.coordinator)
    if over.get("step_down_accepted_on") == "future":
        over["step_down_accepted_on"] = _d(date.today() + timedelta(days=2))
    response = post_form(client, s.propose, _proposal(s, **over))
    assert message in error_summary(response)
    assert _case(db, s).status == CaseStatus.ACTIVE


def test_closing_for_non_engagement_needs_the_persistence_record(client, login_as, s, db):
    _make_ready(db, s)
    login_as(s.coordinator)
    response = post_form(client, s.propose, _proposal(s, for_non_engagement="y"), follow_redirects=True)
    soup = page(response)
    assert soup.find("table", id="persistence-record") is not None
    unmet = [li.get_text(" ", strip=True).removeprefix("Not met ") for li in soup.select(".panel-checklist__unmet")]
    assert unmet == ["Only 0 phone attempts: at least three are needed", "No phone attempt out of hours",
                     "No letter sent", "No home visit"]
    # the attempts, recorded through the engagement pages (a weekday evening is out of hours)
    for method, day, at in (("phone", ["13", "1", "2025"], "10:00"), ("phone", ["14", "1", "2025"], "11:00"),
                            ("phone", ["14", "1", "2025"], "19:30"), ("letter", ["15", "1", "2025"], "09:00"),
                            ("home_visit", ["16", "1", "2025"], "14:00")):
        done = post_form(client, s.new_attempt, {"agency_id": str(s.lead.id), "method": method, "occurred_on": day,
                                                 "occurred_time": at, "outcome": "no_answer", "non_engagement": ""})
        assert done.status_code == 302
        if method == "letter":  # not yet: the chair is refused, with the missing item named
            _login(client, login_as, s.chair)
            refused = post_form(client, s.decide, {"decision": "approve", "panel_date": _d(date.today())})
            assert error_summary(refused) == ["The case is not ready to close: No home visit"]
            _login(client, login_as, s.coordinator)
    rows = {tr.find("th").get_text(strip=True): tr.find("td").get_text(strip=True)
            for tr in page(client.get(s.closure)).select("#persistence-record tbody tr")}
    assert rows == {"Phone attempts": "3", "Phone attempts out of hours": "1", "Letters": "1",
                    "Home visits (including joint and unannounced visits)": "1"}
    _login(client, login_as, s.chair)
    response = post_form(client, s.decide, {"decision": "approve", "panel_date": _d(date.today())})
    assert response.status_code == 302
    assert _case(db, s).status == CaseStatus.CLOSED


def test_a_coordinator_reopens_a_closed_case_within_the_cap(client, login_as, s, db, app):
    case = _case(db, s)
    case.status, case.closed_on = CaseStatus.CLOSED, date.today()
    db.session.commit()
    login_as(s.coordinator)
    assert page(client.get(s.closure)).find(_link("Reopen the case")) is not None
    blank = post_form(client, s.reopen, {"reason": " "})
    assert error_summary(blank) == ["Enter why the case is being reopened"]
    # the pathway is full: a clear message, and the case stays closed
    other = create_case()
    db.session.commit()
    app.config["CASE_CAP"] = 1
    full = post_form(client, s.reopen, {"reason": "New eviction notice"})
    assert error_summary(full) == ["The pathway is full. A place must free before this case can be reopened"]
    assert _case(db, s).status == CaseStatus.CLOSED
    app.config["CASE_CAP"] = 2
    before = pathway.occupancy().cases
    response = post_form(client, s.reopen, {"reason": "New eviction notice"}, follow_redirects=True)
    assert "The case has been reopened" in page(response).get_text(" ")
    case = _case(db, s)
    assert (case.status, case.closed_on) == (CaseStatus.ACTIVE, None)
    assert pathway.occupancy().cases == before + 1 == 2
    assert other.id != case.id
    # once open again, the reopen page says so rather than failing
    assert "Only a closed case can be reopened" in page(client.get(s.reopen)).get_text(" ")


def test_proposing_a_case_that_is_not_active_explains_why(client, login_as, s, db):
    login_as(s.coordinator)
    post_form(client, s.propose, _proposal(s))
    again = page(client.get(s.propose))
    assert "This case is closure proposed, so closure cannot be proposed." in again.get_text(" ")
    _login(client, login_as, s.chair)
    case = _case(db, s)
    case.status = CaseStatus.ACTIVE
    db.session.commit()
    assert "Closure has not been proposed for this case" in page(client.get(s.decide)).get_text(" ")


@pytest.mark.parametrize("role, where, url, status", [
    ("spoc", "lead", "propose", 404),
    ("spoc", "lead", "decide", 404),
    ("spoc", "lead", "reopen", 404),
    ("practitioner", "lead", "propose", 404),
    ("chair", "lead", "propose", 404),
    ("chair", "lead", "reopen", 404),
    ("coordinator", "lead", "decide", 404),
    ("spoc", "lead", "closure", 200),
    ("chair", "lead", "closure", 200),
    ("spoc", "step_down", "closure", 404),   # not involved: restricted view only
    ("spoc", "step_down", "propose", 404),
    ("practitioner", "step_down", "closure", 404),
    ("board", "lead", "closure", 404),
])
def test_who_may_do_what(client, login_as, s, db, role, where, url, status):
    login_as(role, agency=getattr(s, where))
    assert client.get(getattr(s, url)).status_code == status


def test_a_spoc_sees_the_checklist_but_no_buttons(client, login_as, s, db):
    login_as("spoc", agency=s.lead)
    soup = page(client.get(s.closure))
    assert soup.select(".panel-checklist__unmet")
    assert not soup.find("main").select("a.govuk-button")
