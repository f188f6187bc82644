"""Migration 0021 on data: the index on case_events (case_id, kind, agency_id) is made over the
chronology already there, which stays exactly as it was; the chronology's counts by type and
agency read it alone (no entry's row, no sort); the downgrade takes the index away and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel.cases import chronology
from panel.extensions import db as _db
from tests.conftest import _make_app, blank_database
from tests.migration_rows import insert_row

pytestmark = pytest.mark.real_commits  # its own database, migrated step by step

INDEX = "ix_case_events_case_kind_agency"


def _events(c) -> list[tuple]:
    return [tuple(r) for r in c.execute(sa.text("SELECT * FROM case_events ORDER BY id")).all()]


def _indexes(c) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in sa.inspect(c).get_indexes("case_events")}


def test_0021_indexes_the_chronology_already_there_and_changes_none(tmp_path):
    with blank_database(tmp_path / "m21.db", "m21") as uri:
        application = _make_app(uri, tmp_path)
        with application.app_context():
            try:
                upgrade(revision="0020")
                with _db.engine.begin() as c:
                    agencies = [insert_row(c, "agencies", name=f"Agency {n}", code=f"agency-{n}") for n in range(3)]
                    person = insert_row(c, "persons", given_name="Sam")
                    referral = insert_row(c, "referrals", person_id=person, referring_agency_id=agencies[0],
                                          status="accepted", needs="[]", desired_outcomes="[]")
                    case = insert_row(c, "cases", reference="CASPA-2026-001", person_id=person,
                                      referral_id=referral, lead_agency_id=agencies[0], status="active")
                    other = insert_row(c, "cases", reference="CASPA-2026-002", person_id=person,
                                       referral_id=insert_row(c, "referrals", person_id=person,
                                                              referring_agency_id=agencies[0], status="accepted",
                                                              needs="[]", desired_outcomes="[]"),
                                       lead_agency_id=agencies[0], status="active")
                    for n in range(60):
                        insert_row(c, "case_events", case_id=case if n % 6 else other,
                                   kind=("risk", "engagement", "action")[n % 3],
                                   agency_id=None if n % 5 == 0 else agencies[n % 3],
                                   at=datetime(2026, 1, 1) + timedelta(hours=n), summary=f"Event {n}")
                    before = _events(c)
                    assert INDEX not in _indexes(c)

                upgrade(revision="0021")

                with _db.engine.connect() as c:
                    assert _events(c) == before
                    assert _indexes(c)[INDEX] == ["case_id", "kind", "agency_id"]
                    expected = c.execute(sa.text(
                        "SELECT kind, agency_id, count(*) FROM case_events WHERE case_id = :case "
                        "GROUP BY kind, agency_id"), {"case": case}).all()
                    statement = chronology._summary_statement().params(case_id=case, referral_id=referral)
                    rows = c.execute(statement).all()
                    assert {(r.kind, r.agency_id, r.n) for r in rows} == {tuple(r) for r in expected}
                    if c.dialect.name == "sqlite":
                        compiled = statement.compile(c, compile_kwargs={"literal_binds": True})
                        plan = [r[-1] for r in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]
                        counted = next(step for step in plan if "case_events" in step)
                        assert f"COVERING INDEX {INDEX}" in counted, plan

                downgrade(revision="0020")
                with _db.engine.connect() as c:
                    assert _events(c) == before
                    assert INDEX not in _indexes(c)
            finally:
                _db.session.remove()
                _db.engine.dispose()
