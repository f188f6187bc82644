"""Migration 0025 on data: the referrals already there get an index on (submitted_at, id) and
stay exactly as they were; the list's page, newest submitted first of every state but draft,
is then read backwards along it with no sort of every referral; the downgrade takes the index
away and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from tests.migration_rows import insert_row, migrating

pytestmark = pytest.mark.real_commits  # its own database, migrated step by step

STATES = ("submitted", "info_requested", "awaiting_panel", "accepted", "declined", "withdrawn", "waiting")
PAGE = ("SELECT id FROM referrals WHERE status IN ({states}) ORDER BY submitted_at DESC, id DESC LIMIT 50"
        .format(states=", ".join(f"'{s}'" for s in STATES)))


def _referrals(c) -> list[tuple]:
    return [tuple(r) for r in c.execute(sa.text("SELECT * FROM referrals ORDER BY id")).all()]


def _indexes(c) -> list[str]:
    return sorted(i["name"] for i in sa.inspect(c).get_indexes("referrals") if "submitted" in i["name"])


def _plan(c) -> str:
    if c.dialect.name == "postgresql":
        c.execute(sa.text("ANALYZE referrals"))
        return " ".join(r[0] for r in c.exec_driver_sql("EXPLAIN " + PAGE))
    c.exec_driver_sql("ANALYZE")
    return " ".join(r[-1] for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + PAGE))


def test_0025_reads_the_newest_referrals_by_index_and_changes_none(tmp_path):
    with migrating(tmp_path, "m25"):
        upgrade(revision="0024")
        with _db.engine.begin() as c:
            agency = insert_row(c, "agencies", name="Agency", code="agency")
            person = insert_row(c, "persons", given_name="Sam")
            start = datetime(2020, 1, 1)
            first = insert_row(c, "referrals", person_id=person, referring_agency_id=agency, status="draft",
                               needs="[]", desired_outcomes="[]")
            # 3,000 more like it, one in fifty a draft (not yet submitted)
            kept = [col["name"] for col in sa.inspect(c).get_columns("referrals")
                    if col["name"] not in ("id", "status", "submitted_at", "reference")]
            c.execute(sa.text(
                f"INSERT INTO referrals ({', '.join(kept)}, status, submitted_at) "
                f"SELECT {', '.join(kept)}, :status, :at FROM referrals WHERE id = :first"),
                [{"first": first, "status": "draft" if n % 50 == 0 else STATES[n % 7],
                  "at": None if n % 50 == 0 else start + timedelta(hours=n)} for n in range(3000)])
            before = _referrals(c)

        upgrade(revision="0025")

        with _db.engine.begin() as c:
            assert _referrals(c) == before
            assert _indexes(c) == ["ix_referrals_status_submitted", "ix_referrals_submitted_at_id"]
            plan = _plan(c)
            assert "ix_referrals_submitted_at_id" in plan, plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan

        downgrade(revision="0024")
        with _db.engine.connect() as c:
            assert _referrals(c) == before
            assert _indexes(c) == ["ix_referrals_status_submitted"]
