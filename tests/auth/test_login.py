"""Signing in: the generic error, lockout, deactivated accounts, safe redirects, CSRF, hostile input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel.auth import services
from panel.auth.views import GENERIC_ERROR, LOCKED_ERROR
from panel.models import AuditAction, AuditEvent, Role

from tests import factories
from tests.conftest import error_summary, page, post_form

PASSWORD = factories.PASSWORD


def sign_in(client, email: str, password: str = PASSWORD):
    return post_form(client, "/login", {"email": email, "password": password})


def _audit(db, action: AuditAction) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).scalars())


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


@pytest.fixture
def user(db):
    person = factories.create_user(role=Role.PRACTITIONER, email="jo.bloggs@police.invalid")
    db.session.commit()
    return person


def test_sign_in_with_email_and_password(client, user):
    response = sign_in(client, "jo.bloggs@police.invalid")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Signed in as Test User" in page(dashboard).get_text(" ", strip=True)


def test_the_email_address_is_not_case_sensitive(client, user):
    response = sign_in(client, "  Jo.Bloggs@POLICE.invalid ")

    assert response.status_code == 302
    assert _signed_in(client)


def test_the_login_form_has_the_fields_a_password_manager_needs(client):
    soup = page(client.get("/login"))
    assert soup.select_one("input[name=email]")["autocomplete"] == "username"
    assert soup.select_one("input[name=password]")["type"] == "password"
    assert soup.select_one("input[name=password]")["autocomplete"] == "current-password"


@pytest.mark.parametrize(("email", "password"), [
    ("jo.bloggs@police.invalid", "the wrong password entirely"),
    ("nobody@police.invalid", PASSWORD),
])
def test_wrong_password_and_unknown_email_get_the_same_message(client, user, email, password):
    response = sign_in(client, email, password)

    assert response.status_code == 200
    assert error_summary(response) == [GENERIC_ERROR]
    assert page(response).title.get_text().startswith("Error: ")
    assert not _signed_in(client)


def test_empty_fields_get_messages(client):
    response = sign_in(client, "", "")
    assert error_summary(response) == ["Enter your email address", "Enter your password"]


def test_five_failures_lock_the_account_for_15_minutes(client, db, user):
    start = datetime(2027, 5, 10, 9, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(4):
            assert error_summary(sign_in(client, user.email, "not the password at all")) == [GENERIC_ERROR]
        fifth = sign_in(client, user.email, "not the password at all")
        assert error_summary(fifth) == [LOCKED_ERROR]

        db.session.refresh(user)
        assert user.locked_until == start + timedelta(minutes=15)
        lockouts = _audit(db, AuditAction.LOCKOUT)
        assert [(e.user_id, e.object_id) for e in lockouts] == [(user.id, str(user.id))]

        # The right password is refused while the lock lasts.
        traveller.shift(timedelta(minutes=14, seconds=59))
        assert error_summary(sign_in(client, user.email)) == [LOCKED_ERROR]
        assert not _signed_in(client)

        traveller.shift(timedelta(seconds=2))
        response = sign_in(client, user.email)
        assert response.status_code == 302
        assert _signed_in(client)
        db.session.refresh(user)
        assert user.failed_logins == 0
        assert user.locked_until is None


def test_a_successful_sign_in_resets_the_failure_count(client, db, user):
    for _ in range(4):
        sign_in(client, user.email, "not the password at all")
    assert sign_in(client, user.email).status_code == 302
    post_form(client, "/logout", {})
    for _ in range(4):
        sign_in(client, user.email, "not the password at all")

    assert sign_in(client, user.email).status_code == 302
    db.session.refresh(user)
    assert user.locked_until is None


def test_an_administrator_can_unlock_an_account(client, db, user):
    for _ in range(5):
        sign_in(client, user.email, "not the password at all")
    assert error_summary(sign_in(client, user.email)) == [LOCKED_ERROR]

    admin = factories.create_user(role=Role.ADMIN)
    services.unlock(user, by=admin)
    db.session.commit()

    assert sign_in(client, user.email).status_code == 302
    assert _signed_in(client)
    unlocked = [e for e in _audit(db, AuditAction.UPDATE) if '"unlocked": true' in e.summary]
    assert [(e.user_id, e.object_id) for e in unlocked] == [(admin.id, str(user.id))]


def test_a_deactivated_user_cannot_sign_in(client, db, user):
    user.active = False
    db.session.commit()

    response = sign_in(client, user.email)

    assert error_summary(response) == [GENERIC_ERROR]
    assert not _signed_in(client)


def test_deactivating_a_user_ends_their_session(client, db, user):
    sign_in(client, user.email)
    assert _signed_in(client)

    user.active = False
    db.session.commit()

    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_sign_in_returns_to_the_page_asked_for(client, user):
    asked = client.get("/account")
    assert asked.status_code == 302
    client.get(asked.headers["Location"])  # /login?next=%2Faccount

    response = sign_in(client, user.email)

    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "http://evil.example/account", "/\\evil.example",
    "\\\\evil.example", "javascript:alert(1)", "evil.example", "///evil.example",
])
def test_sign_in_never_redirects_off_the_site(client, user, target):
    client.get("/login", query_string={"next": target})

    response = sign_in(client, user.email)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_and_failed_sign_in_are_audited(client, db, user):
    sign_in(client, "nobody@police.invalid", "a guess at a password")
    sign_in(client, user.email, "another guess at it")
    sign_in(client, user.email)

    failed = _audit(db, AuditAction.LOGIN_FAILED)
    assert [(e.user_id, e.object_type) for e in failed] == [(None, "user"), (user.id, "user")]
    assert "unknown" in failed[0].summary
    assert "wrong password" in failed[1].summary
    logins = _audit(db, AuditAction.LOGIN)
    assert [(e.user_id, e.user_email, e.ip) for e in logins] == [(user.id, user.email, "127.0.0.1")]
    # What was typed in the password box never reaches the audit trail.
    everything = " ".join(e.summary for e in db.session.execute(sa.select(AuditEvent)).scalars())
    assert "guess" not in everything


def test_a_post_without_a_csrf_token_is_refused(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 400
    assert page(response).h1.get_text(strip=True) == "Sorry, this form has expired"
    assert not _signed_in(client)


def test_a_post_with_a_forged_csrf_token_is_refused(client, user):
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"})

    assert response.status_code == 400
    assert page(response).h1.get_text(strip=True) == "Sorry, this form has expired"


@pytest.mark.parametrize("email", [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>@example.com",
    "' OR '1'='1' --",
    "admin@demo.invalid'; DROP TABLE users; --",
    "%",
    "jo.bloggs@police.invalid\x00",
    "\x00",
    "jo\x1b[31m@police.invalid",
    "jo\r\nSet-Cookie: x=1",
    "\u202ejo.bloggs@police.invalid",
    "x" * 10_000,
    "a@" + "b" * 300,
])
def test_hostile_email_gets_a_message_never_an_error(client, db, user, email):
    response = sign_in(client, email, "whatever it might be")

    assert response.status_code == 200
    assert error_summary(response)
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    assert "<img src=x" not in response.get_data(as_text=True)
    assert not _signed_in(client)
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(type(user))).scalar_one() == 1


@pytest.mark.parametrize("password", ["x" * 10_000, "\x00" * 20, "<script>alert(1)</script>", "' OR 1=1 --"])
def test_hostile_password_gets_a_message_never_an_error(client, user, password):
    response = sign_in(client, user.email, password)

    assert response.status_code == 200
    assert error_summary(response)
    assert not _signed_in(client)


def test_a_huge_request_is_refused_politely(client):
    response = client.post("/login", data={"email": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
