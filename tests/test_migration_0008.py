"""Migration 0008 on data: referrals linked before it get their referrer's copy back (from the
audit trail), chronology dates become GOV.UK dates, and the API's body hash column is added."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from tests.migration_rows import insert_row
from tests.conftest import _make_app

pytestmark = pytest.mark.real_commits  # its own database file, migrated step by step

def test_0008_restores_referrers_details_and_writes_govuk_dates(tmp_path):
    application = _make_app(f"sqlite:///{tmp_path / 'm8.db'}", tmp_path)
    with application.app_context():
        try:
            upgrade(revision="0007")
            with _db.engine.begin() as c:
                agency = insert_row(c, "agencies", name="Agency", code="agency")
                user = insert_row(c, "users", agency_id=agency, email="u@test.invalid", role="coordinator")
                record = insert_row(c, "persons", given_name="Sam", address="1 Old Road")
                written = insert_row(c, "persons", given_name="Samuel", address="22 New Street")
                linked = insert_row(c, "referrals", person_id=record, referring_agency_id=agency, status="submitted",
                                 reference="R-2026-00001", needs="[]", desired_outcomes="[]")
                plain = insert_row(c, "referrals", person_id=record, referring_agency_id=agency, status="declined",
                                reference="R-2026-00002", needs="[]", desired_outcomes="[]")
                insert_row(c, "audit_events", action="update", object_type="referral", object_id=str(linked),
                        summary=json.dumps({"linked_person": record, "was": written}), user_id=user)
                insert_row(c, "audit_events", action="update", object_type="referral", object_id=str(plain),
                        summary="not json linked_person", user_id=user)
                case = insert_row(c, "cases", reference="CASPA-2026-001", person_id=record, referral_id=plain,
                               lead_agency_id=agency, risk_level="high", status="active")
                events = {text: insert_row(c, "case_events", case_id=case, kind="action", summary=text)
                          for text in ("Action 3: due date changed to 17/12/2026",
                                       "Action 4 agreed for Agency, due 01/02/2027",
                                       "Action 5: due date changed to 31/02/2027",
                                       "Risk changed 17/12/2026")}

            upgrade(revision="0008")

            with _db.engine.connect() as c:
                copies = dict(c.execute(sa.text("SELECT id, referred_person_id FROM referrals")).all())
                summaries = dict(c.execute(sa.text("SELECT id, summary FROM case_events")).all())
                columns = {col["name"] for col in sa.inspect(c).get_columns("referrals")}
            assert copies == {linked: written, plain: None}
            assert summaries[events["Action 3: due date changed to 17/12/2026"]] == (
                "Action 3: due date changed to 17 December 2026")
            assert summaries[events["Action 4 agreed for Agency, due 01/02/2027"]] == (
                "Action 4 agreed for Agency, due 1 February 2027")
            assert summaries[events["Action 5: due date changed to 31/02/2027"]] == (
                "Action 5: due date changed to 31/02/2027")  # not a date: left as written
            assert summaries[events["Risk changed 17/12/2026"]] == "Risk changed 17/12/2026"  # not about an action
            assert {"referred_person_id", "idempotency_body_hash"} <= columns

            downgrade(revision="0007")
            with _db.engine.connect() as c:
                columns = {col["name"] for col in sa.inspect(c).get_columns("referrals")}
            assert not {"referred_person_id", "idempotency_body_hash"} & columns
        finally:
            _db.session.remove()
            _db.engine.dispose()
