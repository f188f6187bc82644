"""Migration 0024 on data: the audit trail's (user_id) index becomes (user_id, id) over the entries
already there, which stay exactly as they were (the chain still verifies); a user's newest entries
are then read backwards along it, with no sort, on both databases; the downgrade puts the old
index back and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from tests.migration_rows import insert_row, migrating

pytestmark = pytest.mark.real_commits  # its own database, migrated step by step

NEWEST = "SELECT id FROM audit_events WHERE user_id = {user} ORDER BY id DESC LIMIT 50"


def _entries(c) -> list[tuple]:
    return [tuple(r) for r in c.execute(sa.text("SELECT * FROM audit_events ORDER BY id")).all()]


def _indexes(c) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in sa.inspect(c).get_indexes("audit_events")
            if i["name"].startswith("ix_audit_events_user_id")}


def _plan(c, user: int) -> str:
    if c.dialect.name == "postgresql":
        c.execute(sa.text("ANALYZE audit_events"))
        # a few rows: the planner would rather sort them; show that the index can give the order
        c.execute(sa.text("SET enable_seqscan = off"))
        c.execute(sa.text("SET enable_bitmapscan = off"))
        c.execute(sa.text("SET enable_sort = off"))
        return " ".join(r[0] for r in c.exec_driver_sql("EXPLAIN " + NEWEST.format(user=user)))
    return " ".join(r[-1] for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + NEWEST.format(user=user)))


def test_0024_orders_a_users_entries_by_index_and_changes_none(tmp_path):
    with migrating(tmp_path, "m24"):
        upgrade(revision="0023")
        with _db.engine.begin() as c:
            agency = insert_row(c, "agencies", name="Agency", code="agency")
            users = [insert_row(c, "users", email=f"user{n}@example.invalid", name=f"User {n}", role="admin",
                                agency_id=agency, password_hash="x") for n in range(3)]
            start = datetime(2026, 1, 1)
            # 3,000 entries, one in a hundred by user 1, the rest by the others
            c.execute(sa.text(
                "INSERT INTO audit_events (occurred_at, user_id, user_email, action, object_type, object_id, "
                "summary, ip, user_agent, prev_hash, hash) VALUES (:at, :user, :email, 'view', 'case', :n, '{}', '', '', '', :hash)"),
                [{"at": start + timedelta(minutes=n), "user": users[1 if n % 100 == 0 else n % 2 * 2],
                  "email": "someone@example.invalid", "n": str(n), "hash": f"{n:064x}"} for n in range(3000)])
            before = _entries(c)
        with _db.engine.connect() as c:
            assert _indexes(c) == {"ix_audit_events_user_id": ["user_id"]}

        upgrade(revision="0024")

        with _db.engine.connect() as c:
            assert _entries(c) == before
            assert _indexes(c) == {"ix_audit_events_user_id_id": ["user_id", "id"]}
            plan = _plan(c, users[1])
            assert "ix_audit_events_user_id_id" in plan, plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan

        downgrade(revision="0023")
        with _db.engine.connect() as c:
            assert _entries(c) == before
            assert _indexes(c) == {"ix_audit_events_user_id": ["user_id"]}
