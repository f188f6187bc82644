"""Migration 0022 on data: the action log's indexes (the open actions by due date, all by due
date, the closed by agency or assignee and closing time, escalations by rung) are made over the actions already there, which stay exactly as they were, and
the log's queries read along them; the downgrade takes the indexes away and nothing else."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from tests.conftest import _make_app, blank_database
from tests.migration_rows import insert_row

pytestmark = pytest.mark.real_commits  # its own database, migrated step by step

INDEXES = {"ix_actions_open_due_on": ["due_on"], "ix_actions_due_on": ["due_on"],
           "ix_actions_agency_closed_at": ["agency_id", "closed_at"],
           "ix_actions_assignee_closed_at": ["assignee_id", "closed_at"],
           "ix_escalations_step_at_action_id": ["step", "at", "action_id"]}


def _actions(c) -> list[tuple]:
    return [tuple(r) for table in ("actions", "escalations")
            for r in c.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).all()]


def _indexes(c) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for table in ("actions", "escalations")
            for i in sa.inspect(c).get_indexes(table) if i["name"] in INDEXES}


def test_0022_indexes_the_actions_already_there_and_changes_none(tmp_path):
    with blank_database(tmp_path / "m22.db", "m22") as uri:
        application = _make_app(uri, tmp_path)
        with application.app_context():
            try:
                upgrade(revision="0021")
                with _db.engine.begin() as c:
                    agency = insert_row(c, "agencies", name="Agency", code="agency")
                    person = insert_row(c, "persons", given_name="Sam")
                    referral = insert_row(c, "referrals", person_id=person, referring_agency_id=agency,
                                          status="accepted", needs="[]", desired_outcomes="[]")
                    case = insert_row(c, "cases", reference="CASPA-2026-001", person_id=person,
                                      referral_id=referral, lead_agency_id=agency, status="active")
                    for n, status in enumerate(("open", "done", "open", "cancelled", "not_done", "done")):
                        insert_row(c, "actions", case_id=case, agency_id=agency, description=f"Action {n}",
                                   due_on=date(2026, 1, 1) + timedelta(days=(n * 7) % 30), status=status,
                                   created_at=datetime(2025, 12, 1),
                                   closed_at=None if status == "open" else datetime(2026, 2, n + 1))
                    for step in ("reminder", "chair"):
                        insert_row(c, "escalations", action_id=1, step=step, round=1, due_for=date(2026, 1, 1),
                                   at=datetime(2026, 1, 2))
                    before = _actions(c)

                upgrade(revision="0022")

                with _db.engine.connect() as c:
                    assert _actions(c) == before
                    assert _indexes(c) == INDEXES
                    if c.dialect.name == "sqlite":
                        plan = " ".join(r[-1] for r in c.exec_driver_sql(
                            "EXPLAIN QUERY PLAN SELECT id FROM actions WHERE status != 'open' ORDER BY due_on, id "
                            "LIMIT 50"))
                        assert "ix_actions_due_on" in plan and "TEMP B-TREE" not in plan, plan
                        plan = " ".join(r[-1] for r in c.exec_driver_sql(
                            "EXPLAIN QUERY PLAN SELECT id FROM actions WHERE status = 'open' ORDER BY due_on, id"))
                        assert "ix_actions_open_due_on" in plan and "TEMP B-TREE" not in plan, plan
                        plan = " ".join(r[-1] for r in c.exec_driver_sql(
                            f"EXPLAIN QUERY PLAN SELECT id FROM actions WHERE agency_id = {agency} "
                            "AND status != 'open' AND closed_at >= '2026-02-03'"))
                        assert "ix_actions_agency_closed_at (agency_id=? AND closed_at>?)" in plan, plan

                downgrade(revision="0021")
                with _db.engine.connect() as c:
                    assert _actions(c) == before
                    assert _indexes(c) == {}
            finally:
                _db.session.remove()
                _db.engine.dispose()
