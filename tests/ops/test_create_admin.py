"""`flask --app wsgi panel create-admin --email EMAIL --name NAME`: the first admin (or another)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from panel.audit import verify_chain
from panel.auth.passwords import verify_password
from panel.extensions import db
from panel.models import Agency, AuditAction, AuditEvent, Role, User
from tests import factories
from tests.conftest import post_form

GOOD = "orange-kettle-harbour-9"


@pytest.fixture
def run(app, monkeypatch):
    monkeypatch.delenv("PANEL_ADMIN_PASSWORD", raising=False)

    def _run(*args, password=None, typed=None):
        if password is not None:
            monkeypatch.setenv("PANEL_ADMIN_PASSWORD", password)
        return app.test_cli_runner().invoke(args=["panel", "create-admin", *args], input=typed)

    return _run


def test_from_an_empty_database_the_admin_can_sign_in(app, client, run):
    result = run("--email", "Ada.Admin@Council.gov.uk", "--name", "Ada  Admin", password=GOOD)

    assert result.exit_code == 0, result.output
    assert "Administrator Ada Admin (user" in result.output
    assert GOOD not in result.output
    user = db.session.scalar(sa.select(User))
    assert user.email == "ada.admin@council.gov.uk" and user.role == Role.ADMIN and user.active
    assert not user.must_change_password and verify_password(user.password_hash, GOOD)
    assert user.agency.code == "council"
    response = post_form(client, "/login", {"email": "ada.admin@council.gov.uk", "password": GOOD})
    assert response.status_code == 302 and "/login" not in response.headers["Location"]


def test_it_is_audited_without_the_password(app, run):
    run("--email", "ada@council.gov.uk", "--name", "Ada Admin", password=GOOD)
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.object_type) for e in events] == [(AuditAction.CREATE, "agency"),
                                                            (AuditAction.CREATE, "user")]
    assert "create-admin" in events[-1].summary and GOOD not in events[-1].summary
    assert verify_chain().ok


def test_asked_twice_at_the_terminal_when_the_variable_is_not_set(app, run):
    result = run("--email", "ada@council.gov.uk", "--name", "Ada Admin", typed=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert "Type the password again" in result.output
    assert verify_password(db.session.scalar(sa.select(User.password_hash)), GOOD)


def test_two_different_passwords_at_the_terminal_are_asked_again(app, run):
    result = run("--email", "ada@council.gov.uk", "--name", "Ada Admin",
                 typed=f"{GOOD}\nsomething-else-77\n{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower() or "match" in result.output.lower()


@pytest.mark.parametrize("password, message", [
    ("short", "Password must be 12 characters or more"),
    ("password1234", "Password is too common"),
    ("x" * 300, "Password must be 256 characters or fewer"),
    ("ada.lovelace-rocks", "Password must not contain your email address"),
])
def test_the_password_policy_holds(app, run, password, message):
    result = run("--email", "ada.lovelace@council.gov.uk", "--name", "Ada", password=password)
    assert result.exit_code == 1
    assert message in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "two@@x.gov.uk", "sp ace@x.gov.uk",
                                   "<script>@x.gov.uk x", "a" * 250 + "@x.gov.uk"])
def test_a_bad_email_is_refused(app, run, email):
    result = run("--email", email, "--name", "Ada", password=GOOD)
    assert result.exit_code == 1 and "Enter an email address in the correct format" in result.output


@pytest.mark.parametrize("name", ["", "   ", "x" * 121, "<script>alert(1)</script>", "Ada\x00Admin"])
def test_a_bad_name_is_refused(app, run, name):
    result = run("--email", "ada@council.gov.uk", "--name", name, password=GOOD)
    assert result.exit_code == 1 and "Not created" in result.output


def test_a_second_admin_joins_the_same_agency_and_an_email_in_use_is_refused(app, run):
    assert run("--email", "ada@council.gov.uk", "--name", "Ada", password=GOOD).exit_code == 0
    assert run("--email", "bea@council.gov.uk", "--name", "Bea", password=GOOD).exit_code == 0
    again = run("--email", "ADA@council.gov.uk", "--name", "Ada again", password=GOOD)
    assert again.exit_code == 1 and "already exists" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agency)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


def test_an_existing_agency_may_be_named_and_an_unknown_one_is_refused(app, run):
    agency = factories.create_agency(code="caspa-admin")
    db.session.commit()
    result = run("--email", "ada@council.gov.uk", "--name", "Ada", "--agency", "caspa-admin", password=GOOD)
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(User)).agency_id == agency.id
    unknown = run("--email", "bea@council.gov.uk", "--name", "Bea", "--agency", "nope", password=GOOD)
    assert unknown.exit_code == 1 and "No agency has the code 'nope'" in unknown.output
