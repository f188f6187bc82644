"""Issue 14: 40 accounts tried with one password each from one address were all judged. Failed
sign-ins are throttled per address and overall; the throttle never counts against an account,
and a browser that has signed in to an account before is always judged, so it cannot be used to
lock a colleague out."""

from __future__ import annotations

import sqlalchemy as sa

from panel.auth import services
from panel.auth.views import THROTTLED_ERROR
from panel.extensions import db
from panel.models import AuditAction, AuditEvent, User
from tests import factories
from tests.conftest import csrf_token, error_summary, page
from tests.hardening.conftest import Counter

ATTACKER = {"REMOTE_ADDR": "198.51.100.7"}
COLLEAGUE = {"REMOTE_ADDR": "198.51.100.7"}  # the same office network, behind the same address


def _try(client, email: str, password: str = "Summer2027!!", environ=ATTACKER):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base=environ)


def _failures() -> int:
    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == AuditAction.LOGIN_FAILED)).scalar_one()


def test_one_password_across_40_accounts_from_one_address_is_cut_off_at_the_limit(app, client, monkeypatch):
    users = [factories.create_user(email=f"staff{n}@test.invalid") for n in range(40)]
    db.session.commit()
    emails = [u.email for u in users]
    judged = Counter(services.verify_password)
    monkeypatch.setattr(services, "verify_password", judged)

    responses = [_try(client, email) for email in emails]

    limit = app.config["LOGIN_THROTTLE_PER_ADDRESS"]
    assert limit == 10
    assert judged.count == limit
    assert [r.status_code for r in responses] == [200] * limit + [429] * (40 - limit)
    assert error_summary(responses[-1]) == [THROTTLED_ERROR]
    assert page(responses[-1]).find("input", attrs={"name": "email"})["value"] == emails[-1]  # kept
    # Refused unjudged: no audit row each (the trail cannot be flooded) and no account's count grows.
    assert _failures() == limit
    assert db.session.execute(sa.select(sa.func.max(User.failed_logins))).scalar_one() == 1


def test_another_address_is_not_throttled_by_one_address(app, client):
    factories.create_user(email="someone@test.invalid")
    db.session.commit()
    for _ in range(10):
        _try(client, "nobody@test.invalid")
    assert _try(client, "someone@test.invalid", "wrong").status_code == 429
    assert _try(client, "someone@test.invalid", "wrong", environ={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200


def test_the_global_limit_counts_failures_from_every_address(app, client):
    app.config.update(LOGIN_THROTTLE_GLOBAL=6)
    for n in range(6):
        _try(client, "nobody@test.invalid", environ={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
    assert _try(client, "nobody@test.invalid", environ={"REMOTE_ADDR": "192.0.2.200"}).status_code == 429


def test_a_colleague_on_a_known_device_still_signs_in_while_their_address_is_throttled(app, db):
    colleague = factories.create_user(email="colleague@test.invalid")
    db.session.commit()
    theirs = app.test_client()
    assert _try(theirs, colleague.email, factories.PASSWORD, environ=COLLEAGUE).status_code == 302
    assert theirs.get_cookie(services.DEVICE_COOKIE, path="/login") is not None
    theirs.delete_cookie("panel_session")  # later, signed out (the device cookie stays)

    attacker = app.test_client()
    for n in range(12):
        _try(attacker, "colleague@test.invalid" if n < 2 else f"nobody{n}@test.invalid")
    assert _try(attacker, colleague.email, factories.PASSWORD).status_code == 429  # not even the right one

    assert _try(theirs, colleague.email, factories.PASSWORD, environ=COLLEAGUE).status_code == 302
    db.session.refresh(colleague)
    assert colleague.failed_logins == 0 and colleague.locked_until is None


def test_a_forged_device_cookie_does_not_get_past_the_throttle(app, client):
    factories.create_user(email="someone@test.invalid")
    db.session.commit()
    for _ in range(10):
        _try(client, "nobody@test.invalid")
    client.set_cookie(services.DEVICE_COOKIE, "0123456789abcdef0123456789abcdef.00", path="/login")
    assert _try(client, "someone@test.invalid", factories.PASSWORD).status_code == 429
