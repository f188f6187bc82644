"""The job table, run-job, the scheduler lock, and two real scheduler processes."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from panel import scheduler
from panel.extensions import db
from panel.models import OutboxMessage, OutboxStatus, SchedulerState, utcnow
from panel.notify import queue_email
from panel.scheduler import JOBS, LOCK_NAME, LockLost, SchedulerLock, heartbeat, run_job
from tests.conftest import PG_URL

pytestmark = pytest.mark.real_commits  # the scheduler's lock is seen by other connections and processes

ROOT = Path(__file__).resolve().parent.parent


def _state(name: str) -> SchedulerState | None:
    """The row as it is now, detached: reading it later starts no transaction (on SQLite a
    transaction holds the write lock the scheduler processes need)."""
    state = db.session.get(SchedulerState, name, populate_existing=True)
    if state is not None:
        db.session.expunge(state)
    db.session.rollback()
    return state


def test_the_job_table_names_callables_and_triggers():
    assert {"heartbeat", "outbox"} <= set(JOBS)
    for name, (path, trigger) in JOBS.items():
        assert callable(scheduler._resolve(path)), name
        assert trigger["trigger"] in {"interval", "cron"}, name
    assert JOBS["heartbeat"].trigger == {"trigger": "interval", "seconds": 60}
    assert JOBS["outbox"].trigger == {"trigger": "interval", "seconds": 60}


def test_run_job_heartbeat_records_the_beat_and_says_so(app):
    summary = run_job("heartbeat")

    assert summary.startswith("heartbeat: beats 1 (") and "\n" not in summary
    beat = _state("scheduler").heartbeat_at
    assert beat is not None and utcnow() - beat < timedelta(seconds=5)


def test_run_job_outbox_delivers_what_is_due(app, tmp_path):
    queue_email(to="spoc@agency.test", subject="Hello", body="Body")
    db.session.commit()

    summary = run_job("outbox")

    assert summary.startswith("outbox: sent 1, retrying 0, failed 0, skipped 0, released 0 (")
    assert db.session.scalar(sa.select(OutboxMessage.status)) == OutboxStatus.SENT
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_the_run_job_command_prints_the_summary_and_refuses_unknown_jobs(app):
    runner = app.test_cli_runner()

    ok = runner.invoke(args=["panel", "run-job", "heartbeat"])
    unknown = runner.invoke(args=["panel", "run-job", "nonsense"])

    assert ok.exit_code == 0 and ok.output.startswith("heartbeat: beats 1")
    assert unknown.exit_code == 2 and "Unknown job 'nonsense'" in unknown.output


def test_run_job_refuses_unknown_names(app):
    with pytest.raises(KeyError):
        run_job("nonsense")


def test_only_one_holder_gets_the_lock_until_it_is_released(app):
    first, second = SchedulerLock(db.engine, "first"), SchedulerLock(db.engine, "second")
    try:
        assert first.acquire()
        assert not second.acquire()
        first.refresh()
        first.release()
        assert second.acquire()
        with pytest.raises(LockLost):
            first.refresh()
    finally:
        first.release()
        second.release()


@pytest.mark.skipif(bool(PG_URL), reason="the lock row is SQLite's; PostgreSQL's advisory lock dies with its process")
def test_a_stale_sqlite_lock_is_taken_over_and_its_old_holder_stops(app, monkeypatch):
    crashed, fresh = SchedulerLock(db.engine, "crashed"), SchedulerLock(db.engine, "fresh")
    assert crashed.acquire(now=utcnow() - timedelta(minutes=4))  # and then it stopped beating
    try:
        assert fresh.acquire()
        assert _state(LOCK_NAME).holder == "fresh"
        monkeypatch.setattr(scheduler, "_active_lock", crashed)
        with pytest.raises(LockLost):
            heartbeat()  # the old process finds out at its next beat, and stops
    finally:
        fresh.release()
    assert _state(LOCK_NAME).holder == ""


def test_a_recent_sqlite_lock_is_not_taken_over(app):
    if PG_URL:
        pytest.skip("SQLite's lock row")
    holder, other = SchedulerLock(db.engine, "holder"), SchedulerLock(db.engine, "other")
    assert holder.acquire(now=utcnow() - timedelta(minutes=2))
    try:
        assert not other.acquire()
    finally:
        holder.release()


def _start(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as stderr:  # the child keeps its own copy of the file
        return subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "panel", "scheduler"], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=stderr)


class _Output:
    """A child's stderr read as it comes, so the test wakes the moment a line arrives (no sleeping)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream) -> None:
        with stream:  # closed at the end of the child's output
            for raw in stream:
                with self._arrived:
                    self.lines.append(raw.decode("utf-8", "replace"))
                    self._arrived.notify_all()

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, words: str, timeout: float = 30) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: words in self.text(), timeout)

    def close(self) -> str:
        self._reader.join(10)
        return self.text()


def test_a_second_scheduler_process_runs_nothing_and_exits_1(app, tmp_path):
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PANEL_ENV": "testing",
           "PANEL_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONWARNINGS": "default"}
    env.pop("FLASK_APP", None)
    second_log = tmp_path / "second.log"
    first = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "panel", "scheduler"], cwd=ROOT,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    output = _Output(first)
    second = None
    try:
        # its first heartbeat is committed before the job's line is written
        assert output.wait_for("job heartbeat"), f"the first scheduler never beat:\n{output.text()}"
        state = _state("scheduler")
        assert state is not None and state.heartbeat_at is not None
        holder = state.holder

        second = _start(env, second_log)
        assert second.wait(timeout=30) == 1
        assert "Another scheduler is already running; this one will not run any jobs." in second_log.read_text()
        assert "job " not in second_log.read_text()  # it ran nothing
        assert _state("scheduler").holder == holder  # and took nothing over

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0, output.text()
        assert "job heartbeat: beats 1" in output.close()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        output.close()
    # The lock was released on the way out: a new scheduler could start at once.
    after = SchedulerLock(db.engine, "after")
    try:
        assert after.acquire()
    finally:
        after.release()



def test_a_committed_email_wakes_the_scheduler_which_sends_it_at_once(app, tmp_path):
    """No page sends email: a commit rings the scheduler (a Unix datagram on SQLite, NOTIFY on
    PostgreSQL) and its outbox job runs then, not at the next minute. The first run is at the
    start; the next by the clock would be 60 s later, so an email sent well inside that came from
    the wake-up."""
    with tempfile.TemporaryDirectory(prefix="wake-", dir="/tmp") as folder:
        env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PANEL_ENV": "testing",
               "PANEL_INSTANCE_PATH": str(tmp_path / "instance"), "OUTBOX_WAKE_SOCKET": f"{folder}/outbox.sock"}
        env.pop("FLASK_APP", None)
        app.config["OUTBOX_WAKE_SOCKET"] = env["OUTBOX_WAKE_SOCKET"]
        process = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "panel", "scheduler"], cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        output = _Output(process)
        try:
            assert output.wait_for("job outbox: sent 0"), output.text()  # its first run, at the start
            first_run = output.text().count("job outbox")
            started = time.monotonic()

            queue_email(to="spoc@agency.test", subject="Panel update", body="Sign in to Panel.")
            db.session.commit()

            assert output.wait_for("job outbox: sent 1", timeout=30), output.text()
            assert time.monotonic() - started < 30
            assert output.text().count("job outbox") == first_run + 1
            [row] = db.session.scalars(sa.select(OutboxMessage).execution_options(populate_existing=True)).all()
            assert row.status == OutboxStatus.SENT
            db.session.rollback()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            output.close()
