"""The demo-data command: every named demo user can sign in; a non-empty database is refused."""

from __future__ import annotations

import pytest

from panel.auth.policy import isa_block_reason
from panel.models import Agency, AgencyKind, Role, User
from tests.conftest import post_form

DEMO_PASSWORD = "demo-sign-in-2027"
NAMED = {
    "admin@demo.invalid": Role.ADMIN,
    "coordinator@demo.invalid": Role.COORDINATOR,
    "chair@demo.invalid": Role.CHAIR,
    "spoc.police@demo.invalid": Role.SPOC,
    "spoc.housing@demo.invalid": Role.SPOC,
    "practitioner.health@demo.invalid": Role.PRACTITIONER,
    "board@demo.invalid": Role.BOARD,
}


@pytest.fixture
def demo(app, db):
    result = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD])
    assert result.exit_code == 0, result.output
    db.session.remove()
    return result


def test_demo_data_prints_the_named_sign_ins(demo):
    for email in NAMED:
        assert email in demo.output


def test_demo_data_creates_agencies_of_every_kind_with_spoc_deputy_and_escalation_contact(demo, db):
    agencies = db.session.execute(db.select(Agency)).scalars().all()
    assert {a.kind for a in agencies} >= set(AgencyKind) - {AgencyKind.OTHER}
    assert {"police", "housing", "asc", "mental-health", "health"} <= {a.code for a in agencies}
    for agency in agencies:
        assert agency.spoc is not None and agency.spoc.agency_id == agency.id
        assert agency.deputy_spoc is not None and agency.deputy_spoc.agency_id == agency.id
        assert agency.escalation_contact is not None


def test_demo_isa_register_shows_current_lapsed_and_unsigned_agreements(demo, db):
    from datetime import date

    by_code = {a.code: a for a in db.session.execute(db.select(Agency)).scalars()}
    today = date.today()
    assert by_code["police"].isa_current(today)
    assert "past its review date" in isa_block_reason(by_code["voluntary"], today)
    assert "has not signed" in isa_block_reason(by_code["sab"], today)


@pytest.mark.parametrize("email", sorted(NAMED))
def test_every_named_demo_user_can_sign_in_with_the_demo_password(demo, db, client, email):
    user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one()
    assert user.role == NAMED[email]
    response = post_form(client, "/login", {"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    home = client.get("/")
    assert home.status_code == 200
    assert f"Signed in as {user.name}" in home.get_data(as_text=True)


def test_demo_data_refuses_a_database_that_is_not_empty(demo, app):
    again = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD])
    assert again.exit_code == 1
    assert "--force" in again.output


def test_demo_data_with_force_adds_nothing_twice(demo, app, db):
    before = db.session.execute(db.select(db.func.count()).select_from(User)).scalar_one()
    again = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD, "--force"])
    assert again.exit_code == 0, again.output
    db.session.remove()
    assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar_one() == before


def test_demo_data_needs_a_long_enough_password(app):
    result = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", "short"])
    assert result.exit_code == 2
    assert "12 characters" in result.output
