"""Migration 0023 on data: the reports' token row is made, every table the Board's reports count
gets a trigger for each kind of write, the rows already there stay as they were; the downgrade
takes the triggers and the row away and nothing else."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from tests.migration_rows import insert_row, migrating
from tests.reports.test_board_remembered import triggered

MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0023_report_data_version.py"

pytestmark = pytest.mark.real_commits  # its own database, migrated step by step


def _rows(c) -> list[tuple]:
    return [tuple(r) for table in ("agencies", "persons", "referrals", "cases", "actions")
            for r in c.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).all()]


def _counted_tables() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("migration_0023", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TABLES


def _token(c) -> str:
    return c.execute(sa.text("SELECT token FROM report_data_version WHERE id = 1")).scalar_one()


def test_0023_counts_writes_to_the_reports_tables_and_changes_no_row(tmp_path):
    with migrating(tmp_path, "m25"):
        upgrade(revision="0022")
        with _db.engine.begin() as c:
            agency = insert_row(c, "agencies", name="Agency", code="agency")
            insert_row(c, "users", email="someone@example.invalid", name="Someone", role="admin", agency_id=agency,
                       password_hash="x")  # a row of a table the reports do not count, updated below
            person = insert_row(c, "persons", given_name="Sam")
            referral = insert_row(c, "referrals", person_id=person, referring_agency_id=agency,
                                  status="accepted", needs="[]", desired_outcomes="[]")
            case = insert_row(c, "cases", reference="CASPA-2026-001", person_id=person,
                              referral_id=referral, lead_agency_id=agency, status="active")
            insert_row(c, "actions", case_id=case, agency_id=agency, description="Action",
                       due_on=date(2026, 1, 1), status="open", created_at=datetime(2025, 12, 1))
            before = _rows(c)

        upgrade(revision="0023")

        with _db.engine.connect() as c:
            assert _rows(c) == before
            assert triggered(c) == {(t, op) for t in _counted_tables() for op in ("insert", "update", "delete")}
            first = _token(c)
        with _db.engine.begin() as c:
            c.execute(sa.text("UPDATE actions SET status = 'done'"))
        with _db.engine.begin() as c:
            second = _token(c)
            assert c.execute(sa.text("UPDATE users SET id = id")).rowcount == 1  # not a table the reports count
        with _db.engine.connect() as c:
            assert first != second == _token(c)

        downgrade(revision="0022")
        with _db.engine.connect() as c:
            assert triggered(c) == set()
            assert "report_data_version" not in sa.inspect(c).get_table_names()
            assert _rows(c)[:-1] == before[:-1]
