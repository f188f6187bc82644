"""Agencies: the directory, adding and changing agencies, SPoC choices and absence, the ISA register."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.dates import govuk_date
from panel.extensions import db
from panel.models import Agency, AgencyKind, AuditAction, AuditEvent, Role
from tests import factories
from tests.conftest import error_summary, page, post_form


def _audit(action: AuditAction, object_id) -> list[AuditEvent]:
    return list(db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == action, AuditEvent.object_type == "agency",
                                    AuditEvent.object_id == str(object_id)).order_by(AuditEvent.id)
    ).scalars())


def _date(value: date | None) -> list[str]:
    return ["", "", ""] if value is None else [str(value.day), str(value.month), str(value.year)]


def _agency_form(agency: Agency | None = None, **overrides) -> dict:
    if agency is None:
        data = {"name": "Northshire Police", "code": "northshire-police", "kind": "police",
                "spoc_id": "", "deputy_spoc_id": "", "escalation_contact_id": "",
                "isa_signed_on": _date(date.today() - timedelta(days=30)),
                "isa_review_due": _date(date.today() + timedelta(days=335))}
    else:
        data = {"name": agency.name, "code": agency.code, "kind": agency.kind.value,
                "spoc_id": str(agency.spoc_id or ""), "deputy_spoc_id": str(agency.deputy_spoc_id or ""),
                "escalation_contact_id": str(agency.escalation_contact_id or ""),
                "isa_signed_on": _date(agency.isa_signed_on), "isa_review_due": _date(agency.isa_review_due)}
        if agency.spoc_absent:
            data["spoc_absent"] = "y"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _options(response, name: str) -> list[str]:
    return [o["value"] for o in page(response).select(f"select[name={name}] option")]


# ---- who may see the pages ------------------------------------------------------------

AGENCY_PAGES = ["/admin/agencies", "/admin/agencies/new", "/admin/agencies/{id}", "/admin/isa"]


@pytest.mark.parametrize("url", AGENCY_PAGES)
def test_admin_sees_each_agency_page(client, login_as, url):
    admin = login_as("admin")
    response = client.get(url.format(id=admin.agency_id))
    assert response.status_code == 200
    assert page(response).h1 is not None


@pytest.mark.parametrize("url", AGENCY_PAGES)
def test_coordinator_gets_404_for_agency_pages(client, login_as, url):
    coordinator = login_as("coordinator")
    assert client.get(url.format(id=coordinator.agency_id)).status_code == 404


def test_coordinator_cannot_change_an_agency_by_posting(client, login_as):
    coordinator = login_as("coordinator")
    agency = coordinator.agency
    response = post_form(client, f"/admin/agencies/{agency.id}", _agency_form(agency, name="Hijacked"),
                         token_from="/account/password")
    assert response.status_code == 404
    db.session.refresh(agency)
    assert agency.name != "Hijacked"


@pytest.mark.parametrize("url", AGENCY_PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(client, url):
    agency = factories.create_agency()
    db.session.commit()
    response = client.get(url.format(id=agency.id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_unknown_agency_answers_404(client, login_as):
    login_as("admin")
    assert client.get("/admin/agencies/99999").status_code == 404


# ---- the directory -------------------------------------------------------------------

def test_agency_list_shows_spoc_absence_and_isa_status(client, login_as):
    login_as("admin")
    police = factories.create_agency(name="Alpha Police", code="alpha-police", kind=AgencyKind.POLICE)
    spoc = factories.create_user(name="Sam Spoc", role=Role.SPOC, agency=police)
    deputy = factories.create_user(name="Dee Deputy", role=Role.SPOC, agency=police)
    police.spoc, police.deputy_spoc = spoc, deputy
    factories.mark_spoc_absent(police, ends_on=date.today() + timedelta(days=9))
    factories.create_agency(name="Beta Housing", kind=AgencyKind.HOUSING, isa="due_soon")
    factories.create_agency(name="Gamma Fire", kind=AgencyKind.FIRE, isa="lapsed")
    factories.create_agency(name="Delta Charity", kind=AgencyKind.VOLUNTARY_SECTOR, isa="unsigned")
    db.session.commit()
    rows = {r.select("td")[0].get_text(strip=True): [td.get_text(" ", strip=True) for td in r.select("td")]
            for r in page(client.get("/admin/agencies")).select("#agencies tbody tr")}
    assert rows["Alpha Police"] == ["Alpha Police", "alpha-police", "Police",
                                    "Sam Spoc Absent – deputy acting Acting now: Dee Deputy (deputy, until "
                                    f"{govuk_date(date.today() + timedelta(days=9))})", "None", "Current"]
    assert rows["Beta Housing"][2] == "Housing" and rows["Beta Housing"][5] == "Due soon"
    assert rows["Gamma Fire"][5] == "Past review"
    assert rows["Delta Charity"][2:] == ["Voluntary sector", "None", "None", "Not signed"]


def test_agency_list_runs_the_same_number_of_queries_for_3_or_30_agencies(client, login_as, count_queries):
    login_as("admin")

    def add_agencies(n: int) -> None:
        for _ in range(n):
            agency = factories.create_agency()
            spoc = factories.create_user(role=Role.SPOC, agency=agency)
            deputy = factories.create_user(role=Role.SPOC, agency=agency)
            agency.spoc, agency.deputy_spoc, agency.escalation_contact = spoc, deputy, spoc
            factories.mark_spoc_absent(agency)
        db.session.commit()

    add_agencies(2)
    with count_queries() as few:
        assert client.get("/admin/agencies").status_code == 200
    add_agencies(27)
    with count_queries() as many:
        response = client.get("/admin/agencies")
    assert len(page(response).select("#agencies tbody tr")) == 30
    assert many.count == few.count, many.statements
    with count_queries() as register:
        client.get("/admin/isa")
    assert register.count <= few.count


# ---- adding an agency ------------------------------------------------------------------

def test_admin_adds_an_agency(client, login_as):
    admin = login_as("admin")
    signed, review = date.today() - timedelta(days=30), date.today() + timedelta(days=335)
    response = post_form(client, "/admin/agencies/new", _agency_form(code="  Northshire-POLICE "))
    agency = db.session.execute(sa.select(Agency).filter_by(name="Northshire Police")).scalar_one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/agencies/{agency.id}"
    assert (agency.code, agency.kind, agency.isa_signed_on, agency.isa_review_due) == (
        "northshire-police", AgencyKind.POLICE, signed, review)
    assert agency.spoc_id is None and not agency.spoc_absent
    (event,) = _audit(AuditAction.CREATE, agency.id)
    assert event.user_id == admin.id
    summary = json.loads(event.summary)
    assert summary["name"] == "Northshire Police" and summary["isa_review_due"] == review.isoformat()


def test_an_agency_can_be_added_before_it_signs_the_isa(client, login_as):
    login_as("admin")
    response = post_form(client, "/admin/agencies/new",
                         _agency_form(isa_signed_on=["", "", ""], isa_review_due=["", "", ""]))
    assert response.status_code == 302
    agency = db.session.execute(sa.select(Agency).filter_by(code="northshire-police")).scalar_one()
    assert agency.isa_signed_on is None and agency.isa_review_due is None


def test_add_agency_page_explains_why_the_contacts_are_empty(client, login_as):
    login_as("admin")
    response = client.get("/admin/agencies/new")
    for name in ("spoc_id", "deputy_spoc_id", "escalation_contact_id"):
        assert _options(response, name) == [""]
        assert "no users yet" in page(response).select_one(f"#{name}-hint").get_text()


def test_add_agency_with_nothing_filled_in_lists_every_problem(client, login_as):
    login_as("admin")
    response = post_form(client, "/admin/agencies/new", {})
    assert response.status_code == 200
    assert error_summary(response) == ["Enter the agency name", "Enter a short code for the agency",
                                       "Select the kind of agency"]


TODAY = date.today()


@pytest.mark.parametrize("overrides, message", [
    ({"name": "n" * 121}, "Agency name must be 120 characters or fewer"),
    ({"name": "North\nshire"}, "Agency name must not include tabs, line breaks or other control characters"),
    ({"name": "North\x00shire"}, "Agency name must not include tabs, line breaks or other control characters"),
    ({"code": "north\x00"}, "Short code must only include lower-case letters, numbers and hyphens, "
                            "and must not start or end with a hyphen"),
    ({"name": "<img src=x onerror=alert(1)>"}, "Agency name must not include the characters < or >"),
    ({"code": "a"}, "Short code must be between 2 and 40 characters"),
    ({"code": "a" * 41}, "Short code must be between 2 and 40 characters"),
    ({"code": "north shire"}, "Short code must only include lower-case letters, numbers and hyphens, "
                              "and must not start or end with a hyphen"),
    ({"code": "-north"}, "Short code must only include lower-case letters, numbers and hyphens, "
                         "and must not start or end with a hyphen"),
    ({"code": "x'; drop table agencies;--"}, "Short code must only include lower-case letters, numbers and "
                                             "hyphens, and must not start or end with a hyphen"),
    ({"kind": "spaceship"}, "Select the kind of agency"),
    ({"kind": ""}, "Select the kind of agency"),
    ({"spoc_absent": "y"}, "Choose a deputy SPoC before marking the SPoC absent"),
    ({"spoc_id": "1"}, "Select a SPoC from this agency’s users, or None"),
    ({"isa_signed_on": ["1", "", "2025"]}, "Date the ISA was signed must include a month"),
    ({"isa_signed_on": ["", "", "2025"]}, "Date the ISA was signed must include a day and a month"),
    ({"isa_signed_on": ["31", "2", "2025"]}, "Date the ISA was signed must be a real date"),
    ({"isa_signed_on": ["aa", "2", "2025"]}, "Date the ISA was signed must be a real date"),
    ({"isa_signed_on": ["1", "2", "25"]}, "Year must include 4 numbers"),
    ({"isa_signed_on": ["1", "2", "0001"]}, "Date the ISA was signed must be a real date"),
    ({"isa_signed_on": ["1", "2"]}, "Date the ISA was signed must include a year"),
    ({"isa_review_due": ["1", "13", "2030"]}, "ISA review date must be a real date"),
    ({"isa_signed_on": _date(TODAY + timedelta(days=1)), "isa_review_due": _date(TODAY + timedelta(days=300))},
     "Date the ISA was signed must be today or in the past"),
    ({"isa_signed_on": _date(TODAY - timedelta(days=10)), "isa_review_due": _date(TODAY - timedelta(days=10))},
     "ISA review date must be after the date the ISA was signed"),
    ({"isa_signed_on": _date(TODAY - timedelta(days=10)), "isa_review_due": _date(TODAY - timedelta(days=20))},
     "ISA review date must be after the date the ISA was signed"),
    ({"isa_signed_on": ["", "", ""]}, "Enter the date the ISA was signed"),
    ({"isa_review_due": ["", "", ""]}, "Enter the ISA review date"),
])
def test_add_agency_refuses_bad_input_with_a_message(client, login_as, overrides, message):
    login_as("admin")
    response = post_form(client, "/admin/agencies/new", _agency_form(**overrides))
    assert response.status_code == 200
    assert error_summary(response) == [message]
    assert db.session.execute(sa.select(Agency).filter_by(name="Northshire Police")).scalar_one_or_none() is None


def test_add_agency_keeps_what_was_typed_including_dates_and_escapes_html(client, login_as):
    login_as("admin")
    hostile = "<script>alert(1)</script>"
    response = post_form(client, "/admin/agencies/new",
                         _agency_form(name=hostile, isa_signed_on=["31", "2", "2025"], kind="housing"))
    html = response.get_data(as_text=True)
    assert "<script>alert(1)" not in html
    soup = page(response)
    assert soup.select_one("input[name=name]")["value"] == hostile
    assert soup.select_one("input[name=code]")["value"] == "northshire-police"
    assert soup.select_one("select[name=kind] option[value=housing]").has_attr("selected")
    assert [i["value"] for i in soup.select("input[name=isa_signed_on]")] == ["31", "2", "2025"]


@pytest.mark.parametrize("overrides, message", [
    ({"name": "Existing Agency"}, "An agency with this name already exists"),
    ({"name": "EXISTING agency"}, "An agency with this name already exists"),
    ({"code": "existing"}, "An agency with this code already exists"),
])
def test_add_agency_refuses_a_name_or_code_already_in_use(client, login_as, overrides, message):
    login_as("admin")
    factories.create_agency(name="Existing Agency", code="existing")
    db.session.commit()
    response = post_form(client, "/admin/agencies/new", _agency_form(**overrides))
    assert error_summary(response) == [message]


def test_double_submitted_add_agency_gives_a_message_not_an_error(client, login_as):
    login_as("admin")
    assert post_form(client, "/admin/agencies/new", _agency_form()).status_code == 302
    again = post_form(client, "/admin/agencies/new", _agency_form())
    assert again.status_code == 200
    assert error_summary(again) == ["An agency with this name already exists", "An agency with this code already exists"]


# ---- changing an agency ----------------------------------------------------------------

@pytest.fixture
def staffed(login_as):
    """An agency with two SPoCs, a practitioner and a deactivated SPoC, and a second agency's SPoC."""
    admin = login_as("admin")
    agency = factories.create_agency(name="Northshire Police", code="northshire-police")
    people = {
        "spoc": factories.create_user(name="Sam Spoc", role=Role.SPOC, agency=agency),
        "deputy": factories.create_user(name="Dee Deputy", role=Role.SPOC, agency=agency),
        "lead": factories.create_user(name="Lee Lead", role=Role.PRACTITIONER, agency=agency),
        "gone": factories.create_user(name="Gone Spoc", role=Role.SPOC, agency=agency, active=False),
        "outsider": factories.create_user(name="Out Sider", role=Role.SPOC),
    }
    db.session.commit()
    return admin, agency, people


def test_spoc_choices_are_only_the_agencys_active_spocs(client, staffed):
    _, agency, people = staffed
    response = client.get(f"/admin/agencies/{agency.id}")
    spocs = ["", str(people["deputy"].id), str(people["spoc"].id)]
    assert _options(response, "spoc_id") == spocs
    assert _options(response, "deputy_spoc_id") == spocs
    assert _options(response, "escalation_contact_id") == [
        "", str(people["deputy"].id), str(people["lead"].id), str(people["spoc"].id)]


def test_admin_sets_spoc_deputy_contact_and_absence(client, staffed):
    admin, agency, people = staffed
    response = post_form(client, f"/admin/agencies/{agency.id}", _agency_form(
        agency, spoc_id=str(people["spoc"].id), deputy_spoc_id=str(people["deputy"].id),
        escalation_contact_id=str(people["lead"].id), spoc_absent="y"))
    assert response.status_code == 302
    db.session.refresh(agency)
    assert (agency.spoc, agency.deputy_spoc, agency.escalation_contact) == (
        people["spoc"], people["deputy"], people["lead"])
    assert agency.spoc_absent and agency.acting_spoc == people["deputy"]
    (event,) = _audit(AuditAction.UPDATE, agency.id)
    assert event.user_id == admin.id
    assert json.loads(event.summary) == {
        "spoc_id": [None, people["spoc"].id], "deputy_spoc_id": [None, people["deputy"].id],
        "escalation_contact_id": [None, people["lead"].id], "spoc_absent": [False, True]}

    page_ = page(client.get(f"/admin/agencies/{agency.id}"))
    assert page_.select_one(f"select[name=spoc_id] option[value='{people['spoc'].id}']").has_attr("selected")
    assert page_.select_one("input[name=spoc_absent]").has_attr("checked")


@pytest.mark.parametrize("who, field, message", [
    ("outsider", "spoc_id", "Select a SPoC from this agency’s users, or None"),
    ("outsider", "deputy_spoc_id", "Select a deputy SPoC from this agency’s users, or None"),
    ("outsider", "escalation_contact_id", "Select an escalation contact from this agency’s users, or None"),
    ("gone", "spoc_id", "Select a SPoC from this agency’s users, or None"),
    ("gone", "escalation_contact_id", "Select an escalation contact from this agency’s users, or None"),
    ("lead", "spoc_id", "Select a SPoC from this agency’s users, or None"),
])
def test_another_agencys_or_an_inactive_user_cannot_be_chosen(client, staffed, who, field, message):
    _, agency, people = staffed
    response = post_form(client, f"/admin/agencies/{agency.id}", _agency_form(agency, **{field: str(people[who].id)}))
    assert response.status_code == 200
    assert error_summary(response) == [message]
    db.session.refresh(agency)
    assert getattr(agency, field) is None


@pytest.mark.parametrize("value", ["abc", "-1", "99999", "1 OR 1=1", "1.5"])
def test_nonsense_person_ids_give_a_message(client, staffed, value):
    _, agency, _ = staffed
    response = post_form(client, f"/admin/agencies/{agency.id}", _agency_form(agency, spoc_id=value))
    assert error_summary(response) == ["Select a SPoC from this agency’s users, or None"]


def test_deputy_must_differ_from_spoc(client, staffed):
    _, agency, people = staffed
    same = str(people["spoc"].id)
    response = post_form(client, f"/admin/agencies/{agency.id}", _agency_form(agency, spoc_id=same, deputy_spoc_id=same))
    assert error_summary(response) == ["The deputy SPoC must be a different person from the SPoC"]


def test_spoc_cannot_be_marked_absent_without_a_deputy(client, staffed):
    _, agency, people = staffed
    response = post_form(client, f"/admin/agencies/{agency.id}",
                         _agency_form(agency, spoc_id=str(people["spoc"].id), spoc_absent="y"))
    assert error_summary(response) == ["Choose a deputy SPoC before marking the SPoC absent"]
    db.session.refresh(agency)
    assert not agency.spoc_absent and agency.spoc_id is None


def test_spoc_cannot_be_marked_absent_when_there_is_no_spoc(client, staffed):
    _, agency, people = staffed
    response = post_form(client, f"/admin/agencies/{agency.id}",
                         _agency_form(agency, deputy_spoc_id=str(people["deputy"].id), spoc_absent="y"))
    assert error_summary(response) == ["Choose a SPoC before marking the SPoC absent"]


def test_code_is_fixed_once_the_agency_has_users(client, staffed):
    _, agency, _ = staffed
    response = client.get(f"/admin/agencies/{agency.id}")
    assert page(response).select_one("input[name=code]") is None
    assert "fixed because the agency has users" in response.get_data(as_text=True)
    response = post_form(client, f"/admin/agencies/{agency.id}",
                         _agency_form(agency, code="changed", name="Northshire Constabulary"))
    assert response.status_code == 302
    db.session.refresh(agency)
    assert (agency.code, agency.name) == ("northshire-police", "Northshire Constabulary")
    (event,) = _audit(AuditAction.UPDATE, agency.id)
    assert json.loads(event.summary) == {"name": ["Northshire Police", "Northshire Constabulary"]}


def test_code_can_change_while_the_agency_has_no_users(client, login_as):
    login_as("admin")
    agency = factories.create_agency(code="old-code")
    db.session.commit()
    response = post_form(client, f"/admin/agencies/{agency.id}", _agency_form(agency, code="new-code"))
    assert response.status_code == 302
    db.session.refresh(agency)
    assert agency.code == "new-code"


def test_renaming_to_another_agencys_name_is_refused_but_keeping_its_own_is_fine(client, staffed):
    _, agency, _ = staffed
    factories.create_agency(name="Other Agency")
    db.session.commit()
    response = post_form(client, f"/admin/agencies/{agency.id}", _agency_form(agency, name="other agency"))
    assert error_summary(response) == ["An agency with this name already exists"]
    response = post_form(client, f"/admin/agencies/{agency.id}", _agency_form(agency))
    assert response.status_code == 302
    assert _audit(AuditAction.UPDATE, agency.id) == []  # nothing changed, nothing audited


def test_admin_renews_the_isa(client, login_as):
    login_as("admin")
    agency = factories.create_agency(isa="lapsed")
    db.session.commit()
    old_signed, old_review = agency.isa_signed_on, agency.isa_review_due
    signed, review = date.today(), date.today() + timedelta(days=365)
    response = post_form(client, f"/admin/agencies/{agency.id}",
                         _agency_form(agency, isa_signed_on=_date(signed), isa_review_due=_date(review)))
    assert response.status_code == 302
    db.session.refresh(agency)
    assert agency.isa_current(date.today())
    (event,) = _audit(AuditAction.UPDATE, agency.id)
    assert json.loads(event.summary) == {"isa_signed_on": [old_signed.isoformat(), signed.isoformat()],
                                         "isa_review_due": [old_review.isoformat(), review.isoformat()]}


def test_edit_page_shows_the_saved_isa_dates(client, login_as):
    login_as("admin")
    agency = factories.create_agency(isa="unsigned")
    agency.isa_signed_on, agency.isa_review_due = date(2025, 3, 7), date(2026, 3, 6)
    db.session.commit()
    soup = page(client.get(f"/admin/agencies/{agency.id}"))
    assert [i["value"] for i in soup.select("input[name=isa_signed_on]")] == ["07", "03", "2025"]
    assert [i["value"] for i in soup.select("input[name=isa_review_due]")] == ["06", "03", "2026"]


# ---- the ISA register -------------------------------------------------------------------

def test_isa_register_lists_unsigned_first_then_by_review_date(client, login_as):
    admin = login_as("admin")  # its agency's ISA is current: review in 200 days
    today = date.today()
    factories.create_agency(name="Zulu Unsigned", isa="unsigned")
    factories.create_agency(name="Alpha Unsigned", isa="unsigned")
    factories.create_agency(name="Lapsed", isa="lapsed")
    factories.create_agency(name="Due Soon", isa="due_soon")
    factories.create_agency(name="Later", isa="unsigned")
    later = db.session.execute(sa.select(Agency).filter_by(name="Later")).scalar_one()
    later.isa_signed_on, later.isa_review_due = today - timedelta(days=1), today + timedelta(days=400)
    db.session.commit()
    rows = [[c.get_text(" ", strip=True) for c in r.select("th, td")]
            for r in page(client.get("/admin/isa")).select("#isa-register tbody tr")]
    assert [r[0] for r in rows] == ["Alpha Unsigned", "Zulu Unsigned", "Lapsed", "Due Soon", admin.agency.name, "Later"]
    assert rows[0][1:5] == ["Not signed", "None", "Not signed", "–"]
    assert rows[2][3:5] == ["Past review", "1 day overdue"]
    assert rows[3][3:5] == ["Due soon", "10"]
    assert rows[4][3:5] == ["Current", "200"]
    assert rows[5][3:5] == ["Current", "400"]
    links = page(client.get("/admin/isa")).select("#isa-register tbody a")
    assert links[-1]["href"] == f"/admin/agencies/{later.id}"
