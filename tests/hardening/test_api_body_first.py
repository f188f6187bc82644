"""Issue 14: the API opened its transaction (on SQLite, the database's one write lock) before
reading the body, so a client trickling its body froze every other user. The body is now read,
and its JSON decoded, before any SQL. Bad tokens are throttled per address before any audit row."""

from __future__ import annotations

import io
import json

import sqlalchemy as sa

from panel.extensions import db
from panel.models import AgencyKind, AuditAction, AuditEvent
from panel.referrals import tokens
from tests import factories

URL = "/api/referrals"


class _WatchedBody(io.BytesIO):
    """The request body; notes how many SQL statements had run when the app first read it."""

    def __init__(self, data: bytes, counter) -> None:
        super().__init__(data)
        self.counter = counter
        self.statements_before_read: int | None = None

    def _note(self) -> None:
        if self.statements_before_read is None:
            self.statements_before_read = self.counter.count

    def read(self, *args):
        self._note()
        return super().read(*args)

    def read1(self, *args):
        self._note()
        return super().read1(*args)

    def readinto(self, buffer):
        self._note()
        return super().readinto(buffer)


def _token() -> str:
    agency = factories.create_agency(code="asc", name="Test Adult Social Care", kind=AgencyKind.ADULT_SOCIAL_CARE)
    _, plain = tokens.create_token(agency=agency, label="Case system")
    db.session.commit()
    return plain


def test_the_body_is_read_before_any_database_work(app, client, count_queries):
    plain = _token()
    data = json.dumps({"person": {}}).encode()
    with count_queries() as counter:
        body = _WatchedBody(data, counter)
        response = client.post(URL, input_stream=body, content_length=len(data), content_type="application/json",
                               headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 422
    assert body.statements_before_read == 0
    assert counter.count > 0  # and then the call was authenticated, counted and audited


def test_a_bad_body_still_gets_its_answer_after_authentication(client):
    assert client.post(URL, data="{", content_type="application/json").status_code == 401
    assert client.post(URL, data="{", content_type="application/json",
                       headers={"Authorization": f"Bearer {_token()}"}).status_code == 400


def _denied() -> int:
    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.DENIED, AuditEvent.object_type == "api_token")).scalar_one()


def test_bad_tokens_are_throttled_per_address_before_writing_audit_rows(app, client):
    limit = app.config["API_BAD_TOKEN_LIMIT_PER_MINUTE"]
    assert limit == 10
    statuses = [client.post(URL, data="{}", content_type="application/json",
                            headers={"Authorization": "Bearer pnl_" + "A" * 43}).status_code for _ in range(25)]
    assert statuses == [401] * limit + [429] * (25 - limit)
    assert _denied() == limit  # the trail holds ten, not twenty-five
    # another address is judged on its own
    other = client.post(URL, data="{}", content_type="application/json", environ_base={"REMOTE_ADDR": "203.0.113.5"},
                        headers={"Authorization": "Bearer pnl_" + "A" * 43})
    assert other.status_code == 401
    # and a good token from the throttled address still works
    good = client.post(URL, data="{}", content_type="application/json", headers={"Authorization": f"Bearer {_token()}"})
    assert good.status_code == 422
