"""The cap holds under concurrency: 40 submissions at once through the API, at a pathway with 2
free places, on a live threaded server (each request its own thread and database session).

Exactly 2 become `submitted`, the other 38 `waiting`, and all 40 are stored. Admission is
serialised by panel.pathway.lock(): SELECT ... FOR UPDATE on the pathway row on PostgreSQL,
BEGIN IMMEDIATE (with a busy timeout) on SQLite. Run with DATABASE_URL=postgresql+psycopg://...
for PostgreSQL.

As in the browser tests: once the test has committed its data it holds no transaction while the
server works (on SQLite an open transaction would hold the write lock), and reads results back
only after db.session.remove().
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from panel import audit, pathway
from panel.extensions import db
from panel.models import AgencyKind, Referral, ReferralStatus
from panel.referrals import tokens
from tests import factories
from tests.referrals.test_api import issue_body

pytestmark = pytest.mark.real_commits  # threads on their own connections

CONCURRENT = 40


@pytest.fixture
def app_config():
    return {"CASE_CAP": 5, "API_RATE_LIMIT_PER_MINUTE": 1000}


@pytest.fixture
def api_tokens(app) -> list[str]:
    factories.create_agency(code="police", name="Test Police", kind=AgencyKind.POLICE)
    factories.create_agency(code="housing", name="Test Housing", kind=AgencyKind.HOUSING)
    plain = []
    for n in range(4):  # four agencies' systems sending at once
        agency = factories.create_agency(code=f"referrer-{n}", kind=AgencyKind.ADULT_SOCIAL_CARE)
        plain.append(tokens.create_token(agency=agency)[1])
    db.session.commit()
    return plain


def call(base_url: str, token: str, body: dict, key: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(f"{base_url}/api/referrals", data=json.dumps(body).encode(), method="POST",
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"{}")


def fire_together(count: int, send) -> list[tuple[int, dict]]:
    """Run send(n) for n in range(count) in as many threads, released at the same moment."""
    barrier = threading.Barrier(count)

    def one(n: int):
        barrier.wait(timeout=30)
        return send(n)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def body_for(n: int) -> dict:
    body = issue_body()
    body["person"]["given_name"] = f"Concurrent{n}"
    return body


def test_40_concurrent_submissions_never_pass_the_cap(app, live_server, api_tokens):
    for n in range(3):  # three places of five taken first
        status, data = call(live_server, api_tokens[0], body_for(100 + n))
        assert (status, data["status"]) == (201, "submitted")
    db.session.remove()  # hold no transaction while the server works

    results = fire_together(CONCURRENT, lambda n: call(live_server, api_tokens[n % 4], body_for(n)))

    assert [status for status, _ in results] == [201] * CONCURRENT, results
    outcomes = sorted(data["status"] for _, data in results)
    assert outcomes == ["submitted"] * 2 + ["waiting"] * (CONCURRENT - 2)
    assert len({data["reference"] for _, data in results}) == CONCURRENT

    db.session.remove()
    stored = db.session.execute(
        sa.select(Referral.status, sa.func.count()).group_by(Referral.status)).all()
    assert dict(stored) == {ReferralStatus.SUBMITTED: 5, ReferralStatus.WAITING: CONCURRENT - 2}
    names = set(db.session.execute(sa.select(Referral).options(sa.orm.joinedload(Referral.person))).scalars())
    assert {r.person.given_name for r in names} >= {f"Concurrent{n}" for n in range(CONCURRENT)}
    occupancy = pathway.occupancy()
    assert (occupancy.used, occupancy.cap) == (5, 5)
    assert audit.verify_chain().ok


def test_the_same_idempotency_key_sent_at_once_makes_one_referral(app, live_server, api_tokens):
    db.session.remove()

    results = fire_together(10, lambda n: call(live_server, api_tokens[0], body_for(0), key="one-and-only"))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 9 + [201], results
    assert len({json.dumps(data, sort_keys=True) for _, data in results}) == 1
    db.session.remove()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one() == 1


def test_the_same_key_sent_at_once_with_two_bodies_refuses_the_other_body(app, live_server, api_tokens):
    db.session.remove()

    results = fire_together(10, lambda n: call(live_server, api_tokens[0], body_for(n % 2), key="two-bodies"))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 4 + [201] + [422] * 5, results  # the winner's body repeats; the other is refused
    assert all("different referral" in data["error"] for status, data in results if status == 422)
    db.session.remove()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one() == 1
