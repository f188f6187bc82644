"""The case page: need to know (full, restricted, 404) for every role, audited views."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from panel.cases import services
from panel.models import AuditAction, AuditEvent, Role, StaffSafetyKind
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import page, post_form


@pytest.fixture
def setting(db):
    lead = factories.create_agency(code="lead-a", name="Lead Agency")
    other = factories.create_agency(code="other-b", name="Uninvolved Agency")
    case = create_case(lead=lead, given_name="Zebedee", family_name="Quaintly")
    db.session.commit()
    return {"lead": lead, "other": other, "case": case, "ref": case.reference}


@pytest.mark.parametrize("role, where, expected", [
    ("coordinator", "other", "full"),
    ("chair", "other", "full"),
    ("spoc", "lead", "full"),
    ("practitioner", "lead", "full"),
    ("spoc", "other", "restricted"),
    ("practitioner", "other", None),
    ("admin", "lead", None),
    ("board", "lead", None),
])
def test_need_to_know_on_the_case_page(client, login_as, setting, role, where, expected):
    login_as(role, agency=setting[where])
    response = client.get(f"/cases/{setting['ref']}")
    if expected is None:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    text = page(response).get_text(" ")
    assert setting["ref"] in text and "Lead Agency" in text
    if expected == "full":
        assert "Zebedee Quaintly" in text
    else:
        assert "Zebedee" not in text and "Quaintly" not in text
        assert "ZQ" in text and "only a summary" in text


def test_an_agency_without_a_current_isa_cannot_open_the_case(client, login_as, setting, db):
    lapsed = factories.create_agency(code="lapsed-c", isa="lapsed")
    from panel.models import Involvement

    db.session.add(Involvement(case_id=setting["case"].id, agency_id=lapsed.id))
    db.session.commit()
    login_as("spoc", agency=lapsed)
    assert client.get(f"/cases/{setting['ref']}").status_code == 404


def test_an_unknown_case_is_404_and_views_are_audited(client, login_as, setting, db):
    user = login_as("coordinator")
    assert client.get("/cases/CASPA-1999-999").status_code == 404
    assert client.get(f"/cases/{setting['ref']}").status_code == 200
    views = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "case")).scalars().all()
    assert [(v.object_id, v.user_id) for v in views] == [(setting["ref"], user.id)]


def test_staff_safety_warnings_show_who_set_them_on_the_full_record_only(client, login_as, setting, db):
    setter = factories.create_user(role=Role.COORDINATOR, name="Casey Setter")
    services.set_staff_safety_flag(setting["case"], kind=StaffSafetyKind.HOSTILITY, details="Aggressive dog",
                                   by=setter)
    db.session.commit()
    login_as("spoc", agency=setting["lead"])
    text = page(client.get(f"/cases/{setting['ref']}")).get_text(" ")
    assert "Hostility towards staff" in text and "Casey Setter" in text
    post_form(client, "/logout", {})
    login_as("spoc", agency=setting["other"])
    assert "Hostility towards staff" not in page(client.get(f"/cases/{setting['ref']}")).get_text(" ")


def test_the_case_list_shows_initials_and_marks_summary_only_cases(client, login_as, setting):
    login_as("spoc", agency=setting["other"])
    text = page(client.get("/cases")).get_text(" ")
    assert setting["ref"] in text and "(summary only)" in text and "Zebedee" not in text


def test_the_case_page_reads_a_fixed_number_of_queries_whatever_its_flags(client, login_as, setting, db,
                                                                            count_queries):
    """Rendered before the audited view is committed, so nothing is loaded twice: more staff-safety
    flags and involved agencies do not mean more queries."""
    coordinator = login_as("coordinator")
    url = f"/cases/{setting['ref']}"
    client.get(url)

    def measure() -> int:
        db.session.commit()
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    few = measure()
    case = setting["case"]
    for n in range(6):
        services.set_staff_safety_flag(case, kind=StaffSafetyKind.OTHER, details=f"Flag {n}", by=coordinator)
    many = measure()

    assert many == few
