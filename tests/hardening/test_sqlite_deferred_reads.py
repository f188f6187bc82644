"""Issue 18: on SQLite every transaction began IMMEDIATE, so a page view waited for the one write
lock behind an export, a PDF or the scheduler. A read-only request now begins a deferred
transaction and takes the lock only when it writes (its audit entry); a form post still takes it
at once (panel/transactions.py)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from panel import audit, transactions
from panel.main import health
from panel.models import AuditAction, AuditEvent
from tests.actions import pages_world
from tests.conftest import csrf_token, post_form

pytestmark = [pytest.mark.own_app, pytest.mark.real_commits,
              pytest.mark.parametrize("app_config", [{"DATABASE_BUSY_TIMEOUT": 1}])]


@pytest.fixture(autouse=True)
def _sqlite_only(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's readers never wait for its writers")


@pytest.fixture(autouse=True)
def _forget_busy():
    """The busy page notes when it was last seen, for /healthz; no later test should see ours."""
    yield
    health._busy.update(at=None, detail="")


@contextmanager
def _another_writer(app):
    """Another connection holding SQLite's write lock until the block ends."""
    other = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"),
                            isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


def _signed_in(client, login_as, db):
    world = pages_world.build()
    db.session.commit()
    login_as(world.user("coordinator"))
    ids = SimpleNamespace(case=world.case.id, reference=world.case.reference, action=world.action.id)
    db.session.remove()  # this test's own connection holds nothing
    return ids


def test_a_page_that_only_reads_answers_while_another_writer_holds_the_lock(client, login_as, db, app, app_config):
    _signed_in(client, login_as, db)

    with _another_writer(app):
        account = client.get("/account")
        actions = client.get("/actions")  # a list of case data: its view is audited, a write

    assert account.status_code == 200, account.status_code
    assert "Your account" in account.get_data(as_text=True)
    # The audit entry waits for the lock like any write: past the timeout, the busy page, not a 500.
    assert actions.status_code == 503, actions.status_code
    assert client.get("/actions").status_code == 200


def test_a_form_post_still_waits_for_the_lock(client, login_as, db, app, app_config):
    world = _signed_in(client, login_as, db)
    url = f"/actions/{world.action}/escalate"
    token = csrf_token(client, url)
    db.session.remove()  # as at the end of a real request

    with _another_writer(app):
        response = client.post(url, data={"to": "chair", "reason": "No progress in six weeks", "csrf_token": token})

    assert response.status_code == 503  # busy past the (one-second) timeout, the text kept


def test_a_view_audited_after_another_writer_committed_chains_to_that_writers_entry(client, login_as, db, app,
                                                                                   app_config, monkeypatch):
    """The page began reading (its snapshot) before another writer appended to the audit trail;
    its own entry must still chain to the newest one, so the lock is taken before the previous
    hash is read, not at the insert."""
    world = _signed_in(client, login_as, db)
    real_take = transactions.take_write_lock
    outside: list[int] = []
    started: list[bool] = []

    def another_entry_first(connection):
        if not started:  # the page's first entry (the other writer's own goes straight through)
            started.append(True)
            def write():
                with app.app_context():
                    row = audit.record(AuditAction.VIEW, "case", "elsewhere", user=None)
                    db.session.commit()
                    outside.append(row.id)
                    db.session.remove()
            thread = threading.Thread(target=write)
            thread.start()
            thread.join(10)
        real_take(connection)

    monkeypatch.setattr(transactions, "take_write_lock", another_entry_first)

    response = client.get(f"/cases/{world.reference}")

    assert response.status_code == 200
    assert outside, "the other writer did not get in while the page was reading"
    rows = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(2)).scalars().all()
    assert rows[1].id == outside[0] and rows[0].object_type == "case" and rows[0].object_id == world.reference
    assert rows[0].prev_hash == rows[1].hash
    assert audit.verify_chain().ok


def test_a_view_takes_the_lock_only_for_its_audit_entry(client, login_as, db, app, app_config, monkeypatch):
    """Which transactions a page view begins: a deferred one to read, then an IMMEDIATE one when
    its audit entry is written. A post begins IMMEDIATE."""
    world = _signed_in(client, login_as, db)
    begun: list[str] = []

    def trace(connection, _record):  # every statement SQLite runs, the lock's own included
        connection.set_trace_callback(lambda sql: begun.append(sql) if sql.startswith("BEGIN") else None)

    db.session.remove()
    db.engine.dispose()
    sa.event.listen(db.engine, "connect", trace)

    def begun_by(request):
        """What one request began. The test's app context outlives a request (in production each
        request has its own, and its session goes with it), so its session is removed after each."""
        begun.clear()
        response = request()
        db.session.remove()
        return response, list(begun)

    url = f"/actions/{world.action}/escalate"
    try:
        response, account = begun_by(lambda: client.get("/account"))
        assert response.status_code == 200
        response, case = begun_by(lambda: client.get(f"/cases/{world.reference}"))
        assert response.status_code == 200
        form, _ = begun_by(lambda: client.get(url))
        response, posted = begun_by(lambda: post_form(client, url, {"to": "chair", "reason": "No progress"},
                                                      token_from=url))
        assert response.status_code == 302
    finally:
        sa.event.remove(db.engine, "connect", trace)
        db.session.remove()
        db.engine.dispose()

    assert form.status_code == 200
    assert account and set(account) == {"BEGIN DEFERRED"}
    assert case[:2] == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]
    assert posted[-1] == "BEGIN IMMEDIATE"  # the post itself (its CSRF page was read before)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.object_type == "case",
                                    AuditEvent.object_id == world.reference)) >= 1
