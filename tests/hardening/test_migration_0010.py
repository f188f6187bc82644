"""Migration 0010 on data: the audit trail written before it keeps verifying, its entries are
reported as unsealed (not failed), new entries are sealed; and it goes down again, keeping the
append-only triggers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel import audit
from panel.extensions import db as _db
from panel.models import AuditAction, AuditEvent
from tests.conftest import _make_app

pytestmark = pytest.mark.real_commits


def test_0010_on_an_audit_trail_written_before_it(tmp_path):
    application = _make_app(f"sqlite:///{tmp_path / 'old.db'}", tmp_path,
                            AUDIT_ANCHOR_PATH=str(tmp_path / "anchors.jsonl"))
    with application.app_context():
        try:
            upgrade(revision="0009")
            with _db.engine.begin() as conn:  # two entries as 0009's code wrote them: no seal column
                prev = audit.GENESIS
                for n in range(2):
                    when = datetime(2027, 1, n + 1, 10, tzinfo=timezone.utc)
                    digest = audit._digest(prev, AuditEvent(
                        occurred_at=when, user_id=None, user_email="", action=AuditAction.VIEW, object_type="case",
                        object_id="1", summary="", ip="", user_agent=""))
                    conn.execute(sa.text(
                        "INSERT INTO audit_events (occurred_at, user_email, action, object_type, object_id, summary,"
                        " ip, user_agent, prev_hash, hash) VALUES (:w, '', 'view', 'case', '1',"
                        " '', '', '', :p, :h)"), {"w": when.replace(tzinfo=None), "p": prev, "h": digest})
                    prev = digest
            upgrade()
            rows = _db.session.execute(sa.text("SELECT id, seal FROM audit_events ORDER BY id")).all()
            assert [r.seal for r in rows] == [None, None]
            new = audit.record(AuditAction.VIEW, "case", 2)
            assert new.seal == audit.seal(new.hash) and new.seal is not None
            _db.session.commit()
            report = audit.verify_trail()
            assert report.ok and report.unvouched[0][2].startswith("written before AUDIT_KEY")
            _db.session.remove()

            downgrade(revision="0009")
            assert "seal" not in {c["name"] for c in sa.inspect(_db.engine).get_columns("audit_events")}
            triggers = set(_db.session.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
            assert {"audit_events_no_update", "audit_events_no_delete"} <= triggers
            assert _db.session.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one() == 3
        finally:
            _db.session.remove()
            _db.engine.dispose()
