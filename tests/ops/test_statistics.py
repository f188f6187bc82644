"""The planner's statistics: refreshed by every upgrade and by the nightly job, on either database."""

from __future__ import annotations

import sqlalchemy as sa

from panel.extensions import db
from panel.ops import statistics
from panel.scheduler import JOBS


def _analysed_tables() -> set[str]:
    if db.engine.dialect.name == "sqlite":
        return set(db.session.scalars(sa.text("SELECT DISTINCT tbl FROM sqlite_stat1")))
    return set(db.session.scalars(sa.text(
        "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL")))


def test_the_nightly_job_refreshes_the_statistics(app, db):
    from tests import factories

    factories.create_user()
    db.session.commit()

    summary = statistics.refresh_job()

    assert summary.startswith("planner statistics refreshed in ")
    assert "users" in _analysed_tables()
    assert JOBS["planner-statistics"].path == "panel.ops.statistics:refresh_job"
    assert JOBS["planner-statistics"].trigger == {"trigger": "cron", "hour": 3, "minute": 15}
