"""Two-factor sign-in with TOTP: set-up, the second step, lockout, replay, compulsory roles."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyotp
import pytest
import sqlalchemy as sa
import time_machine

from panel.auth.views import LOCKED_ERROR
from panel.models import AuditAction, AuditEvent, Role

from tests import factories
from tests.conftest import error_summary, page, post_form

START = datetime(2027, 5, 10, 8, 0, 5, tzinfo=timezone.utc)  # 5 seconds into a 30-second step
WRONG_CODE_MESSAGE = "Enter the security code shown in your authenticator app"


def sign_in(client, email: str, password: str = factories.PASSWORD):
    return post_form(client, "/login", {"email": email, "password": password})


def enter_code(client, code: str):
    return post_form(client, "/login/two-factor", {"code": code})


def set_up_mfa(client) -> str:
    """Turn on two-factor for the signed-in user through the page; return the secret."""
    setup_page = client.get("/account/two-factor")
    assert setup_page.status_code == 200
    with client.session_transaction() as sess:
        secret = sess["mfa_setup_secret"]
    shown = page(setup_page).select_one(".panel-secret").get_text(strip=True)
    assert shown.replace(" ", "") == secret
    response = post_form(client, "/account/two-factor", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, error_summary(response)
    assert response.headers["Location"] == "/account"
    return secret


def _signed_in(client) -> bool:
    return client.get("/account").status_code == 200


@pytest.fixture
def traveller():
    with time_machine.travel(START, tick=False) as t:
        yield t


@pytest.fixture
def user_with_mfa(app, db, traveller):
    """A practitioner who turned on two-factor; returns (user, secret). The set-up used this step's code."""
    user = factories.create_user(role=Role.PRACTITIONER, email="mfa.user@police.invalid")
    db.session.commit()
    setup_client = app.test_client()
    post_form(setup_client, "/login", {"email": user.email, "password": factories.PASSWORD})
    secret = set_up_mfa(setup_client)
    traveller.shift(timedelta(seconds=30))  # the next code
    return user, secret


def test_setting_up_two_factor(client, db, login_as, traveller):
    user = login_as("practitioner")

    secret = set_up_mfa(client)

    db.session.refresh(user)
    assert user.mfa_enabled is True
    assert user.totp_secret == secret
    with client.session_transaction() as sess:
        assert "mfa_setup_secret" not in sess
    updates = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.UPDATE)).scalars()
    assert any('"mfa_enabled": true' in e.summary for e in updates)
    assert all(secret not in e.summary for e in db.session.execute(sa.select(AuditEvent)).scalars())


def test_set_up_refuses_a_wrong_code(client, db, login_as, traveller):
    user = login_as("practitioner")
    client.get("/account/two-factor")
    with client.session_transaction() as sess:
        secret = sess["mfa_setup_secret"]
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"

    response = post_form(client, "/account/two-factor", {"code": wrong})

    assert error_summary(response) == [WRONG_CODE_MESSAGE]
    db.session.refresh(user)
    assert user.mfa_enabled is False


def test_the_set_up_page_has_no_inline_styles_or_scripts(client, login_as):
    login_as("practitioner")

    soup = page(client.get("/account/two-factor"))

    assert soup.select_one(".panel-qr svg") is not None
    assert soup.find_all(style=True) == []
    assert soup.find_all("style") == []
    assert [s for s in soup.find_all("script") if not s.get("src")] == []
    assert [t for t in soup.find_all(True) if any(a.lower().startswith("on") for a in t.attrs)] == []


def test_sign_in_asks_for_the_code_after_the_password(client, db, user_with_mfa):
    user, secret = user_with_mfa

    response = sign_in(client, user.email)

    assert response.status_code == 302
    assert response.headers["Location"] == "/login/two-factor"
    assert not _signed_in(client)  # the password alone is not enough
    code_page = client.get("/login/two-factor")
    assert page(code_page).select_one("input[name=code]")["autocomplete"] == "one-time-code"

    response = enter_code(client, pyotp.TOTP(secret).now())

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert _signed_in(client)
    logins = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.LOGIN)).scalars().all()
    assert [(e.user_id, e.summary) for e in logins][-1] == (user.id, '{"mfa": true}')


def test_the_code_step_cannot_be_reached_without_the_password(client):
    response = client.get("/login/two-factor")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_the_code_step_expires_after_five_minutes(client, user_with_mfa, traveller):
    user, secret = user_with_mfa
    sign_in(client, user.email)
    traveller.shift(timedelta(minutes=5, seconds=1))

    response = client.get("/login/two-factor")

    assert response.headers["Location"] == "/login"


def test_a_wrong_code_is_refused(client, db, user_with_mfa):
    user, secret = user_with_mfa
    sign_in(client, user.email)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"

    response = enter_code(client, wrong)

    assert response.status_code == 200
    assert error_summary(response) == [WRONG_CODE_MESSAGE]
    assert not _signed_in(client)
    db.session.refresh(user)
    assert user.failed_logins == 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "<script>", "\x00" * 6])
def test_a_malformed_code_gets_a_message(client, user_with_mfa, code):
    user, _ = user_with_mfa
    sign_in(client, user.email)

    response = enter_code(client, code)

    assert response.status_code == 200
    assert error_summary(response)
    assert not _signed_in(client)


def test_wrong_codes_count_toward_lockout(client, db, user_with_mfa, traveller):
    user, secret = user_with_mfa
    sign_in(client, user.email, "a wrong password first")  # one failure from the password step
    sign_in(client, user.email)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"
    for _ in range(3):
        assert error_summary(enter_code(client, wrong)) == [WRONG_CODE_MESSAGE]

    fifth = enter_code(client, wrong)

    assert error_summary(fifth) == [LOCKED_ERROR]
    db.session.refresh(user)
    assert user.locked_until == START + timedelta(seconds=30) + timedelta(minutes=15)
    # Now even the right code (and the right password) are refused until the lock ends.
    assert error_summary(enter_code(client, pyotp.TOTP(secret).now())) == [LOCKED_ERROR]
    assert error_summary(sign_in(client, user.email)) == [LOCKED_ERROR]
    assert not _signed_in(client)
    lockouts = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.LOCKOUT)).scalars()
    assert [e.user_id for e in lockouts] == [user.id]


def test_a_code_cannot_be_used_twice(app, client, db, user_with_mfa):
    user, secret = user_with_mfa
    code = pyotp.TOTP(secret).now()
    sign_in(client, user.email)
    assert enter_code(client, code).status_code == 302

    thief = app.test_client()
    sign_in(thief, user.email)
    response = enter_code(thief, code)

    assert error_summary(response) == [WRONG_CODE_MESSAGE]
    assert not _signed_in(thief)


def test_an_older_code_cannot_be_used_after_a_newer_one(app, client, user_with_mfa, traveller):
    user, secret = user_with_mfa
    totp = pyotp.TOTP(secret)
    older = totp.now()
    traveller.shift(timedelta(seconds=30))
    sign_in(client, user.email)
    assert enter_code(client, totp.now()).status_code == 302

    other = app.test_client()
    sign_in(other, user.email)
    assert error_summary(enter_code(other, older)) == [WRONG_CODE_MESSAGE]


def test_the_previous_code_is_accepted_for_clock_drift(client, user_with_mfa, traveller):
    user, secret = user_with_mfa
    totp = pyotp.TOTP(secret)
    code = totp.now()
    traveller.shift(timedelta(seconds=30))
    sign_in(client, user.email)

    assert enter_code(client, code).status_code == 302


def test_a_practitioner_can_turn_two_factor_off_with_their_password(client, db, user_with_mfa):
    user, secret = user_with_mfa
    sign_in(client, user.email)
    enter_code(client, pyotp.TOTP(secret).now())

    wrong = post_form(client, "/account/two-factor/turn-off", {"current_password": "not the right one"})
    assert error_summary(wrong) == ["Your current password is not correct"]
    response = post_form(client, "/account/two-factor/turn-off", {"current_password": factories.PASSWORD})

    assert response.headers["Location"] == "/account"
    db.session.refresh(user)
    assert user.mfa_enabled is False
    assert user.totp_secret is None


class TestCompulsoryForARole:
    @pytest.fixture
    def app_config(self):
        return {"REQUIRE_MFA_FOR": frozenset({"coordinator"})}

    def test_the_role_must_set_it_up_before_anything_else(self, client, db, login_as, traveller):
        user = login_as("coordinator")

        assert client.get("/").headers["Location"] == "/account/two-factor"
        assert client.get("/account").headers["Location"] == "/account/two-factor"
        setup_page = client.get("/account/two-factor")
        assert setup_page.status_code == 200
        assert "Set up two-factor sign-in before you continue." in setup_page.get_data(as_text=True)

        set_up_mfa(client)

        assert client.get("/").status_code == 200
        db.session.refresh(user)
        assert user.mfa_enabled

    def test_other_roles_are_not_forced(self, client, login_as):
        login_as("practitioner")
        assert client.get("/").status_code == 200

    def test_the_role_cannot_turn_it_off(self, app, client, db, traveller):
        user = factories.create_user(role=Role.COORDINATOR)
        db.session.commit()
        sign_in(client, user.email)
        secret = set_up_mfa(client)

        response = client.get("/account/two-factor/turn-off")
        assert response.headers["Location"] == "/account"
        assert "compulsory for your role" in client.get("/account").get_data(as_text=True)
        refused = client.post("/account/two-factor/turn-off", data={
            "current_password": factories.PASSWORD,
            "csrf_token": page(client.get("/account/password")).find("input", attrs={"name": "csrf_token"})["value"],
        })

        assert refused.headers["Location"] == "/account"
        db.session.refresh(user)
        assert user.mfa_enabled is True
        assert user.totp_secret == secret
