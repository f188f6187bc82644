"""The job table and the scheduler process (`flask --app wsgi panel scheduler`).

One scheduler runs per deployment, in its own process, never inside web workers. Before it
runs anything it takes a database lock, so a second scheduler started by mistake exits
without running a job:

- PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) held on a dedicated
  connection for the life of the process; it goes when the process or its connection dies.
- SQLite: the row "scheduler-lock" in scheduler_state, taken by an atomic UPDATE (or INSERT)
  when it is free or its heartbeat is older than LOCK_STALE_AFTER, refreshed by every
  heartbeat, released on a clean exit.

Every job is idempotent, runs inside its own app context, commits its own work, and is
logged with its result counts and duration. `flask panel run-job NAME` runs one now.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any, Callable, NamedTuple

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Connection, Engine

from panel.dates import LONDON
from panel.extensions import db
from panel.models import SchedulerState, utcnow
from panel.notify import wake

log = logging.getLogger(__name__)

TIMEZONE = LONDON  # cron jobs run at London wall-clock times
HEARTBEAT_NAME = "scheduler"           # the row /healthz reads
LOCK_NAME = "scheduler-lock"           # the SQLite lock row
LOCK_STALE_AFTER = timedelta(minutes=3)
PG_LOCK_KEY = 726_102                  # the advisory lock's key (panel.audit uses 726_101)
ALREADY_RUNNING = "Another scheduler is already running; this one will not run any jobs."


class Job(NamedTuple):
    """A row of the job table: the callable as "module:function" and its APScheduler trigger."""

    path: str
    trigger: dict[str, Any]


JOBS: dict[str, Job] = {
    "heartbeat": Job("panel.scheduler:heartbeat", {"trigger": "interval", "seconds": 60}),
    "outbox": Job("panel.notify.delivery:deliver_due", {"trigger": "interval", "seconds": 60}),
    # the escalation ladder and the daily digests, 07:00 Europe/London (the scheduler's timezone)
    "escalations": Job("panel.actions.jobs:sweep", {"trigger": "cron", "hour": 7, "minute": 0}),
    # twelve monthly panels made ahead (panel.meetings.schedule), daily
    "panel-schedule": Job("panel.meetings.schedule:schedule_job", {"trigger": "cron", "hour": 6, "minute": 30}),
    # each panel's agenda published to the SPoCs on its referral cut-off day (panel.meetings.panels)
    "agenda-publish": Job("panel.meetings.panels:publish_due_agendas", {"trigger": "cron", "hour": 7, "minute": 15}),
    # upcoming panels' agendas kept in line with the data (panel.meetings.panels); pages never sync on a GET
    "agenda-sync": Job("panel.meetings.panels:sync_upcoming_agendas", {"trigger": "interval", "minutes": 5}),
    # invitation replies (calendar REPLYs) read from the organiser's mailbox over IMAP (panel.meetings.mailbox)
    "calendar-replies": Job("panel.meetings.mailbox:read_replies", {"trigger": "interval", "minutes": 5}),
    # the audit chain's head written outside the database and emailed (panel.admin.jobs), daily
    "audit-anchor": Job("panel.admin.jobs:write_anchor", {"trigger": "cron", "hour": 0, "minute": 30}),
    # text kept from forms sent after their session ended (panel.auth.kept): deleted after a day, hourly
    "kept-forms": Job("panel.auth.kept:delete_expired", {"trigger": "cron", "minute": 45}),
    # records past RETENTION_YEARS anonymised, unless under a legal hold (panel.reports.retention), daily
    "retention": Job("panel.reports.retention:run_retention", {"trigger": "cron", "hour": 2, "minute": 0}),
    # the outbox's copy of emails sent more than OUTBOX_KEEP_SENT_DAYS ago deleted (panel.notify.delivery), daily
    "outbox-purge": Job("panel.notify.delivery:purge_sent", {"trigger": "cron", "hour": 3, "minute": 30}),
    # the query planner's statistics refreshed (panel.ops.statistics; also after every upgrade), daily
    "planner-statistics": Job("panel.ops.statistics:refresh_job", {"trigger": "cron", "hour": 3, "minute": 15}),
}


class LockLost(RuntimeError):
    """The scheduler no longer holds its lock (its heartbeat went stale, or the connection died)."""


# ---- the lock ---------------------------------------------------------------------------------

class SchedulerLock:
    """The one-scheduler-per-deployment lock; acquire() is False when another process holds it."""

    def __init__(self, engine: Engine, holder: str) -> None:
        self.engine = engine
        self.holder = holder[:120]
        self.postgres = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self.held = False

    def acquire(self, now: datetime | None = None) -> bool:
        self.held = self._acquire_pg() if self.postgres else self._acquire_row(now or utcnow())
        return self.held

    def _acquire_pg(self) -> bool:
        conn = self.engine.connect()
        try:
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY}).scalar())
            conn.commit()  # the lock is session-level: it outlives this transaction
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def _acquire_row(self, now: datetime) -> bool:
        t = SchedulerState.__table__
        try:
            # One transaction; on SQLite it begins IMMEDIATE, so two schedulers starting at the
            # same moment are serialised and only one of them sees the row free.
            with self.engine.begin() as conn:
                taken = conn.execute(
                    t.update()
                    .where(t.c.name == LOCK_NAME,
                           sa.or_(t.c.holder == "", t.c.heartbeat_at.is_(None),
                                  t.c.heartbeat_at < now - LOCK_STALE_AFTER))
                    .values(holder=self.holder, started_at=now, heartbeat_at=now)
                )
                if taken.rowcount == 1:
                    return True
                if conn.execute(sa.select(t.c.name).where(t.c.name == LOCK_NAME)).first() is not None:
                    return False
                conn.execute(t.insert().values(name=LOCK_NAME, holder=self.holder, started_at=now,
                                               heartbeat_at=now))
                return True
        except sa.exc.IntegrityError:
            return False

    def refresh(self, now: datetime | None = None) -> None:
        """Prove the lock is still ours (and, on SQLite, keep it fresh). Raises LockLost."""
        if not self.held:
            raise LockLost("the scheduler lock is not held")
        try:
            if self.postgres:
                assert self._conn is not None
                mine = self._conn.execute(
                    sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                            "AND pid = pg_backend_pid() AND classid = 0 AND objid = :k AND objsubid = 1"),
                    {"k": PG_LOCK_KEY},
                ).scalar()
                self._conn.commit()
                ok = bool(mine)
            else:
                t = SchedulerState.__table__
                with self.engine.begin() as conn:
                    ok = conn.execute(
                        t.update().where(t.c.name == LOCK_NAME, t.c.holder == self.holder)
                        .values(heartbeat_at=now or utcnow())
                    ).rowcount == 1
        except sa.exc.DBAPIError as exc:
            raise LockLost(f"the scheduler lock could not be checked ({type(exc).__name__})") from exc
        if not ok:
            self.held = False
            raise LockLost("another process holds the scheduler lock")

    def release(self) -> None:
        """Give the lock up (never raises: the process is exiting anyway)."""
        if not self.held:
            return
        self.held = False
        try:
            if self.postgres:
                assert self._conn is not None
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                self._conn.commit()
            else:
                t = SchedulerState.__table__
                with self.engine.begin() as conn:
                    conn.execute(t.update().where(t.c.name == LOCK_NAME, t.c.holder == self.holder)
                                 .values(holder="", heartbeat_at=None))
        except sa.exc.DBAPIError:
            log.warning("scheduler: could not release the lock cleanly; it expires by itself")
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_active_lock: SchedulerLock | None = None


# ---- jobs -----------------------------------------------------------------------------------

def heartbeat(now: datetime | None = None) -> dict[str, int]:
    """Job: record that the scheduler is alive. /healthz reports it stale after 3 minutes.

    Side effects: in the scheduler process, refreshes the lock first (raising LockLost if it
    has gone); then sets SchedulerState("scheduler").heartbeat_at and commits.
    """
    now = now or utcnow()
    if _active_lock is not None:
        _active_lock.refresh(now)
    state = db.session.get(SchedulerState, HEARTBEAT_NAME)
    if state is None:
        state = SchedulerState(name=HEARTBEAT_NAME, holder="", started_at=now)
        db.session.add(state)
    if _active_lock is not None and state.holder != _active_lock.holder:
        state.holder = _active_lock.holder
        state.started_at = now
    state.heartbeat_at = now
    db.session.commit()
    return {"beats": 1}


def _resolve(path: str) -> Callable[[], Any]:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def _summarise(result: Any) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{key} {value}" for key, value in result.items()) or "nothing to do"
    if result is None:
        return "done"
    return str(result)


def _execute(name: str) -> str:
    job = JOBS[name]
    started = time.monotonic()
    try:
        result = _resolve(job.path)()
    except Exception:
        db.session.rollback()
        duration = time.monotonic() - started
        log.exception("job %s failed after %.2fs", name, duration,
                      extra={"job": name, "outcome": "failed", "duration_ms": round(duration * 1000)})
        raise
    duration = time.monotonic() - started
    summary = _summarise(result)
    log.info("job %s: %s (%.2fs)", name, summary, duration,
             extra={"job": name, "outcome": "ok", "duration_ms": round(duration * 1000)})
    return f"{name}: {summary} ({duration:.2f}s)"


def run_job(name: str) -> str:
    """Run one job now, in the current app context, and return a one-line summary."""
    if name not in JOBS:
        raise KeyError(f"Unknown job {name!r}")
    return _execute(name)


# ---- the scheduler process ----------------------------------------------------------------------

class _Stopper:
    """Stops the scheduler from outside its main loop: on a signal, or when the lock is lost.

    BlockingScheduler.shutdown() waits for running jobs, so it runs in its own thread rather
    than in the signal handler (or in a job, which would wait for itself).
    """

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.exit_code = 0
        self.requested = False
        self.main_done = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def request(self, exit_code: int) -> None:
        with self._guard:
            if self.requested:
                return
            self.requested = True
            self.exit_code = exit_code
            self._thread = threading.Thread(target=self._stop, name="scheduler-stop")
            self._thread.start()

    def _stop(self) -> None:
        while not self.scheduler.running and not self.main_done.is_set():
            time.sleep(0.05)  # a signal just before start(): wait for it to be running
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def join(self) -> None:
        self.main_done.set()
        if self._thread is not None:
            self._thread.join()


class _Waker:
    """Runs the outbox job the moment a commit rings (panel.notify.wake), not at the next minute."""

    def __init__(self, scheduler: Any, listener: wake.Listener) -> None:
        self.scheduler = scheduler
        self.listener = listener
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-wake", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.listener.wait(1.0) and self.scheduler.running:
                    self.scheduler.modify_job("outbox", next_run_time=datetime.now(TIMEZONE))
            except Exception:  # noqa: BLE001
                log.exception("outbox: the wake-up listener failed; emails go out on the minute's run")
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def run_scheduler(app: Flask) -> int:
    """Take the lock, then run every job in JOBS on its trigger until SIGTERM or SIGINT.

    Returns the exit code: 0 after a signal, 1 when another scheduler holds the lock (nothing
    is run) or when the lock is lost while running. Releases the lock on the way out.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler

    global _active_lock
    with app.app_context():
        engine = db.engine
    lock = SchedulerLock(engine, _holder_name())
    if not lock.acquire():
        print(ALREADY_RUNNING, file=sys.stderr)
        return 1
    _active_lock = lock
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our own log line covers each run
    scheduler = BlockingScheduler(
        timezone=TIMEZONE,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    stopper = _Stopper(scheduler)

    def scheduled(name: str) -> None:
        with app.app_context():
            try:
                _execute(name)
            except LockLost as exc:
                log.error("scheduler: %s; stopping so that only one scheduler runs jobs", exc)
                stopper.request(1)
            # bandit B110: logged by _execute; the next run tries again
            except Exception:  # noqa: BLE001  # nosec B110
                pass

    start = datetime.now(TIMEZONE)
    for name, job in JOBS.items():
        trigger = dict(job.trigger)
        if trigger.get("trigger") == "interval":
            trigger.setdefault("next_run_time", start)  # first run straight away
        scheduler.add_job(scheduled, args=[name], id=name, name=name, **trigger)

    listener = wake.listen(engine, app.config.get("OUTBOX_WAKE_SOCKET", ""))
    waker = _Waker(scheduler, listener) if listener is not None else None
    if waker is not None:
        waker.start()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("scheduler: %s received, stopping after running jobs finish", signal.Signals(signum).name)
        stopper.request(0)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("scheduler: started as %s with jobs %s", lock.holder, ", ".join(JOBS))
    try:
        if not stopper.requested:
            scheduler.start()
    finally:
        stopper.join()
        if waker is not None:
            waker.stop()
        lock.release()
        _active_lock = None
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("scheduler: stopped")
    return stopper.exit_code
