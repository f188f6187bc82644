"""Issue 14, reproduced on PostgreSQL: parallel wrong passwords all judged before the lock, and
parallel API calls slipping past the rate limit. Each call runs in its own thread through its
own test client, so on its own database connection, released together by a barrier."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from panel.auth import services
from panel.auth.views import GENERIC_ERROR, LOCKED_ERROR
from panel.extensions import db
from panel.models import AgencyKind, AuditAction, AuditEvent
from panel.referrals import tokens
from tests import factories
from tests.conftest import csrf_token, page
from tests.hardening.conftest import Counter, in_parallel, needs_postgresql

pytestmark = [pytest.mark.real_commits, needs_postgresql]

ATTEMPTS = 24


def _audit(action: AuditAction) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars())


def test_exactly_five_of_24_parallel_wrong_passwords_are_judged(app, monkeypatch):
    app.config.update(LOGIN_THROTTLE_PER_ADDRESS=0, LOGIN_THROTTLE_GLOBAL=0)  # the account's lock alone
    factories.create_user(email="target@test.invalid")
    db.session.commit()
    judged = Counter(services.verify_password)
    monkeypatch.setattr(services, "verify_password", judged)
    clients = [app.test_client() for _ in range(ATTEMPTS)]
    tokens_ = [csrf_token(c, "/login") for c in clients]

    def attempt(c, token):
        return lambda: c.post("/login", data={"email": "target@test.invalid", "password": "wrong password number 1",
                                              "csrf_token": token})

    responses = in_parallel([attempt(c, t) for c, t in zip(clients, tokens_, strict=True)])

    assert judged.count == app.config["LOCKOUT_ATTEMPTS"] == 5
    messages = [page(r).select_one(".govuk-error-message").get_text(" ", strip=True) for r in responses]
    assert sum(GENERIC_ERROR in m for m in messages) == 4
    assert sum(LOCKED_ERROR in m for m in messages) == ATTEMPTS - 4
    reasons = [json.loads(e.summary)["reason"] for e in _audit(AuditAction.LOGIN_FAILED)]
    assert reasons.count("wrong password") == 5
    assert reasons.count("account locked") == ATTEMPTS - 5
    assert len(_audit(AuditAction.LOCKOUT)) == 1


def test_exactly_the_limit_of_40_parallel_api_calls_get_past_the_rate_limit(app):
    app.config["API_RATE_LIMIT_PER_MINUTE"] = 10
    agency = factories.create_agency(code="asc", name="Test Adult Social Care", kind=AgencyKind.ADULT_SOCIAL_CARE)
    _, plain = tokens.create_token(agency=agency, label="Case system")
    db.session.commit()
    headers = {"Authorization": f"Bearer {plain}"}

    def call():
        # An invalid body: refused with 422 after the rate check, which it counts against.
        return app.test_client().post("/api/referrals", data="{}", content_type="application/json",
                                      headers=headers).status_code

    statuses = in_parallel([call] * 40)

    assert statuses.count(429) == 30
    assert statuses.count(422) == 10


def test_a_double_click_of_escalate_by_hand_answers_both_as_the_first(app):
    from panel.models import Escalation
    from tests.actions import pages_world

    world = pages_world.build()
    db.session.commit()
    action_id, coordinator_token = world.action.id, world.user("coordinator").session_token
    url = f"/actions/{action_id}/escalate"
    clients = []
    for _ in range(6):  # the same browser's double (and triple...) click: one session, several requests
        c = app.test_client()
        with c.session_transaction() as sess:
            sess.update({"_user_id": coordinator_token, "_fresh": True, "signed_in_at": time.time(),
                         "last_seen": time.time()})
        clients.append((c, csrf_token(c, url)))

    def press(c, token):
        return lambda: c.post(url, data={"to": "chair", "reason": "Six weeks without progress", "csrf_token": token})

    responses = in_parallel([press(c, t) for c, t in clients])

    assert [r.status_code for r in responses] == [302] * 6  # never the error page
    assert all(r.headers["Location"].endswith(f"/actions/{action_id}") for r in responses)
    db.session.rollback()
    assert len(db.session.execute(sa.select(Escalation)).scalars().all()) == 1
