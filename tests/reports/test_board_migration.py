"""Migration 0011 on data: referrals submitted before it get the age band the person was in on the
London day they were submitted (as the referrer described them), declines that gave signposting
are marked signposted, and the downgrade takes the columns away again."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from tests.conftest import _make_app, blank_database
from tests.migration_rows import insert_row

pytestmark = pytest.mark.real_commits  # its own database, migrated step by step


def test_0011_keeps_each_referrals_age_band_and_whether_signposting_was_given(tmp_path):
    with blank_database(tmp_path / "m11.db", "m11") as uri:
        application = _make_app(uri, tmp_path)
        with application.app_context():
            try:
                upgrade(revision="0010")
                with _db.engine.begin() as c:
                    agency = insert_row(c, "agencies", name="Agency", code="agency")
                    old = insert_row(c, "persons", given_name="Sam", date_of_birth=date(1960, 6, 1))
                    # 34 until 1 June 2026: submitted at 23:30 UTC on 31 May, already 1 June in London
                    young = insert_row(c, "persons", given_name="Kit", date_of_birth=date(1991, 6, 1))
                    written = insert_row(c, "persons", given_name="Kit", date_of_birth=date(1950, 1, 1))
                    unknown = insert_row(c, "persons", given_name="Lee")
                    rows = {
                        "old": insert_row(c, "referrals", person_id=old, referring_agency_id=agency, status="declined",
                                          submitted_at=datetime(2026, 5, 31, 23, 30), needs="[]",
                                          desired_outcomes="[]"),
                        "young": insert_row(c, "referrals", person_id=young, referring_agency_id=agency,
                                            status="submitted", submitted_at=datetime(2026, 5, 31, 23, 30),
                                            needs="[]", desired_outcomes="[]"),
                        "linked": insert_row(c, "referrals", person_id=young, referred_person_id=written,
                                             referring_agency_id=agency, status="submitted",
                                             submitted_at=datetime(2026, 5, 1, 9), needs="[]",
                                             desired_outcomes="[]"),
                        "no_dob": insert_row(c, "referrals", person_id=unknown, referring_agency_id=agency,
                                             status="submitted", submitted_at=datetime(2026, 5, 1, 9), needs="[]",
                                             desired_outcomes="[]"),
                        "draft": insert_row(c, "referrals", person_id=old, referring_agency_id=agency,
                                            status="draft", needs="[]", desired_outcomes="[]"),
                    }
                    signposted = insert_row(c, "referral_decisions", referral_id=rows["old"], outcome="declined",
                                            signposting="The community team.", at=datetime(2026, 6, 2))
                    bare = insert_row(c, "referral_decisions", referral_id=rows["young"], outcome="declined",
                                      signposting="  ", at=datetime(2026, 6, 2))

                upgrade(revision="0011")

                with _db.engine.connect() as c:
                    bands = dict(c.execute(sa.text("SELECT id, age_band FROM referrals")).all())
                    marks = dict(c.execute(sa.text("SELECT id, signposted FROM referral_decisions")).all())
                    kinds = set(c.execute(sa.text("SELECT reason_kind FROM referral_decisions")).scalars())
                assert {name: bands[i] for name, i in rows.items()} == {
                    "old": "65_74", "young": "35_44", "linked": "75_84", "no_dob": None, "draft": None}
                assert bool(marks[signposted]) is True and bool(marks[bare]) is False
                assert kinds == {None}

                downgrade(revision="0010")
                with _db.engine.connect() as c:
                    assert "age_band" not in {col["name"] for col in sa.inspect(c).get_columns("referrals")}
                    assert "disability" not in {col["name"] for col in sa.inspect(c).get_columns("persons")}
            finally:
                _db.session.remove()
                _db.engine.dispose()
