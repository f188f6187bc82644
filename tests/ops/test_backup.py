"""`panel backup FILE` and `panel restore FILE [--force]`: a busy database backed up while it is
written to, restored into an empty one, every table compared (SQLite; PostgreSQL with
TEST_DATABASE_URL)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading

import pytest
import sqlalchemy as sa

from panel import audit
from panel.extensions import db as _db
from panel.models import AuditAction, OutboxMessage, OutboxStatus, Role
from tests import factories
from tests.conftest import blank_database, _make_app, PG_URL

pytestmark = pytest.mark.real_commits


@pytest.fixture
def empty_target(tmp_path):
    """The URI of an empty database of the same kind: a new SQLite file, or a new PostgreSQL database."""
    with blank_database(tmp_path / 'restored.db', "restore") as uri:
        yield uri


def _rows(engine) -> dict[str, list[tuple]]:
    tables = sorted(set(sa.inspect(engine).get_table_names()))
    out = {}
    with engine.connect() as conn:
        for name in tables:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            order = list(table.primary_key.columns) or list(table.columns)
            out[name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*order))]
    return out


def _writer(app, stop: threading.Event, written: list[int], progress: threading.Condition) -> None:
    """Commits one audit row and one outbox row per transaction until told to stop, telling
    `progress` after each commit."""
    with app.app_context():
        while not stop.is_set():
            row = audit.record(AuditAction.VIEW, "case", len(written), summary={"busy": len(written)})
            _db.session.add(OutboxMessage(to_addr="x@test.invalid", subject="s", body_text="b",
                                          status=OutboxStatus.SENT))
            _db.session.commit()
            with progress:
                written.append(row.id)
                progress.notify_all()
        _db.session.remove()


def test_a_busy_database_backed_up_while_written_restores_whole_into_an_empty_one(app, tmp_path, empty_target):
    for role in (Role.ADMIN, Role.COORDINATOR, Role.CHAIR, Role.SPOC):
        factories.create_user(role=role)
    _db.session.commit()
    stop, written, progress = threading.Event(), [], threading.Condition()
    writer = threading.Thread(target=_writer, args=(app, stop, written, progress))
    writer.start()
    try:
        with progress:  # woken by each commit, never sleeping
            assert progress.wait_for(lambda: len(written) >= 20, timeout=60)
        before = len(written)
        result = app.test_cli_runner().invoke(args=["panel", "backup", str(tmp_path / "busy.backup")])
        during = len(written)
        with progress:
            assert progress.wait_for(lambda: len(written) >= during + 20, timeout=60)
    finally:
        stop.set()
        writer.join(30)
    assert result.exit_code == 0, result.output
    assert len(written) > during  # writes carried on after the backup, as they did before it
    backup = tmp_path / "busy.backup"
    assert (tmp_path / "busy.backup.sha256").read_text() == f"{hashlib.sha256(backup.read_bytes()).hexdigest()}  busy.backup\n"
    assert backup.stat().st_mode & 0o077 == 0  # only its owner can read it

    target = _make_app(empty_target, tmp_path)
    with target.app_context():
        restored = target.test_cli_runner().invoke(args=["panel", "restore", str(backup)])
        assert restored.exit_code == 0, restored.output
        assert "checksum matches" in restored.output
        assert "Audit trail intact" in restored.output
        copy = _rows(_db.engine)
        _db.session.remove()
        _db.engine.dispose()
    source = _rows(_db.engine)

    assert set(copy) == set(source)
    for name, rows in copy.items():
        if name in ("audit_events", "outbox_messages", "scheduler_state"):
            # a snapshot taken mid-way: the first rows, exactly, and no torn transaction
            assert rows == source[name][:len(rows)], name
        else:
            assert rows == source[name], name
    audits = len(copy["audit_events"])
    assert before <= audits <= len(written) + 10
    assert len(copy["outbox_messages"]) == audits - (len(source["audit_events"]) - len(written))


def test_restore_refuses_a_database_holding_data_unless_forced(app, tmp_path):
    factories.create_user(role=Role.COORDINATOR)
    _db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["panel", "backup", str(tmp_path / "b")]).exit_code == 0
    factories.create_user(role=Role.CHAIR)
    _db.session.commit()
    count = _db.session.scalar(sa.text("SELECT count(*) FROM users"))

    refused = runner.invoke(args=["panel", "restore", str(tmp_path / "b")])
    assert refused.exit_code == 1 and "already holds data" in refused.output and "--force" in refused.output
    assert _db.session.scalar(sa.text("SELECT count(*) FROM users")) == count
    _db.session.remove()

    forced = runner.invoke(args=["panel", "restore", str(tmp_path / "b"), "--force"])
    assert forced.exit_code == 0, forced.output
    assert _db.session.scalar(sa.text("SELECT count(*) FROM users")) == count - 1


def test_a_damaged_backup_is_refused_and_nothing_changes(app, tmp_path):
    factories.create_user(role=Role.COORDINATOR)
    _db.session.commit()
    runner = app.test_cli_runner()
    runner.invoke(args=["panel", "backup", str(tmp_path / "b")])
    data = bytearray((tmp_path / "b").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "b").write_bytes(bytes(data))

    result = runner.invoke(args=["panel", "restore", str(tmp_path / "b"), "--force"])
    assert result.exit_code == 1 and "does not match its checksum" in result.output
    assert _db.session.scalar(sa.text("SELECT count(*) FROM users")) == 1


@pytest.mark.parametrize("content", [b"", b"not a backup at all", b"PGDMP\x00\x01garbage", b"SQLite format 3\x00junk"])
def test_something_that_is_not_a_backup_is_refused(app, tmp_path, content):
    (tmp_path / "x").write_bytes(content)
    result = app.test_cli_runner().invoke(args=["panel", "restore", str(tmp_path / "x"), "--force"])
    assert result.exit_code == 1 and "Not restored" in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_or_a_folder_is_refused(app, tmp_path):
    runner = app.test_cli_runner()
    assert "no backup file" in runner.invoke(args=["panel", "restore", str(tmp_path / "none")]).output
    assert runner.invoke(args=["panel", "backup", str(tmp_path)]).exit_code != 0


def test_a_restored_trail_that_was_tampered_with_is_reported(app, tmp_path, empty_target):
    if PG_URL:
        pytest.skip("the SQLite file is edited directly; on PostgreSQL the dump would be")
    factories.create_user(role=Role.COORDINATOR)
    audit.record(AuditAction.VIEW, "case", 1, summary={"n": 1})
    audit.record(AuditAction.VIEW, "case", 2, summary={"n": 2})
    _db.session.commit()
    runner = app.test_cli_runner()
    runner.invoke(args=["panel", "backup", str(tmp_path / "b")])
    conn = sqlite3.connect(tmp_path / "b")
    conn.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    conn.execute("UPDATE audit_events SET summary = 'edited' WHERE id = 1")
    conn.commit()
    conn.close()
    (tmp_path / "b.sha256").unlink()

    target = _make_app(empty_target, tmp_path)
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["panel", "restore", str(tmp_path / "b")])
        _db.session.remove()
        _db.engine.dispose()
    assert result.exit_code == 1
    assert "not checked: no b.sha256" in result.output
    assert "audit trail is broken at entry 1" in result.output


def test_pg_tools_match_the_server(app):
    if not PG_URL:
        pytest.skip("PostgreSQL only")
    from panel.ops.backup import _server_major, _tool_major, pg_tool

    major = _server_major(_db.engine)
    for name in ("pg_dump", "pg_restore", "psql"):
        assert _tool_major(pg_tool(name, major)) >= major
