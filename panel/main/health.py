"""The health report behind /healthz: database, scheduler heartbeat, outbox backlog."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from panel.extensions import db
from panel.models import OutboxMessage, OutboxStatus, SchedulerState, utcnow

HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
BACKLOG_STALE_AFTER = timedelta(minutes=60)
BUSY_REPORTED_FOR = timedelta(minutes=5)
# When this process last found the database held by another writer past the busy timeout.
_busy: dict = {"at": None, "detail": ""}


def is_busy_error(error: sa.exc.OperationalError) -> bool:
    """SQLite's "database is locked" after its busy timeout, or PostgreSQL's lock timeout."""
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) == "55P03":  # lock_not_available: lock_timeout passed
        return True
    text = str(orig or error).lower()
    return "database is locked" in text or "database is busy" in text or "lock timeout" in text


def note_busy(error: sa.exc.OperationalError) -> None:
    _busy.update(at=utcnow(), detail="database is locked by another writer (busy timeout passed)")


def check() -> dict:
    """Healthy when the database answers, the scheduler beat in the last 3 minutes and no
    email has waited more than an hour. Never includes personal data."""
    now = utcnow()
    report: dict = {"status": "ok", "database": "ok", "scheduler": {}, "outbox": {}}
    try:
        db.session.execute(sa.text("SELECT 1"))
        state = db.session.get(SchedulerState, "scheduler")
        beat = state.heartbeat_at if state else None
        fresh = beat is not None and now - beat <= HEARTBEAT_STALE_AFTER
        report["scheduler"] = {"last_heartbeat": beat.isoformat() if beat else None, "ok": fresh}
        waiting = sa.select(sa.func.count(), sa.func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
        )
        backlog, oldest = db.session.execute(waiting).one()
        failed = db.session.execute(
            sa.select(sa.func.count()).where(OutboxMessage.status == OutboxStatus.FAILED)
        ).scalar_one()
        outbox_ok = oldest is None or now - oldest <= BACKLOG_STALE_AFTER
        report["outbox"] = {"backlog": backlog, "failed": failed, "ok": outbox_ok,
                            "oldest_waiting": oldest.isoformat() if oldest else None}
        busy_at = _busy["at"]
        if busy_at is not None and now - busy_at <= BUSY_REPORTED_FOR:
            report["database"] = "busy"
            report["database_busy"] = {"last_seen": busy_at.isoformat(), "detail": _busy["detail"]}
        if not (fresh and outbox_ok) or report["database"] == "busy":
            report["status"] = "degraded"
        db.session.rollback()
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        if isinstance(exc, sa.exc.OperationalError) and is_busy_error(exc):
            note_busy(exc)
            report.update(status="degraded", database="busy",
                          database_busy={"last_seen": _busy["at"].isoformat(), "detail": _busy["detail"]})
        else:
            report.update(status="error", database="unreachable")
    return report
