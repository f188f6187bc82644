"""The query planner's statistics, refreshed after every upgrade and each night.

Without them SQLite's planner guesses, and on a big trail guesses wrong: the daily sweep scanned
every action instead of using `ix_actions_ladder` until the tables were analysed. On SQLite this
runs `ANALYZE` with `PRAGMA analysis_limit` (each index sampled, so it takes a moment even on
millions of rows); on PostgreSQL `ANALYZE` (autovacuum does it too, in its own time).
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from panel.extensions import db

SQLITE_ANALYSIS_LIMIT = 1000  # rows sampled per index: approximate statistics, in seconds not minutes


def refresh(connection: sa.Connection) -> None:
    """Refresh the statistics on this connection (inside or outside a transaction)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        connection.exec_driver_sql("ANALYZE")
        connection.exec_driver_sql("PRAGMA optimize")
    else:
        connection.exec_driver_sql("ANALYZE")


def refresh_job() -> str:
    """The nightly job `planner-statistics`."""
    started = time.monotonic()
    refresh(db.session.connection())
    db.session.commit()
    return f"planner statistics refreshed in {time.monotonic() - started:.1f}s"
