"""The audit trail: a hash chain, append-only in the ORM and in the database, checked by a command."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from panel import audit
from panel.audit import GENESIS, AuditTamperError, verify_chain
from panel.models import AuditAction, AuditEvent, Role

from tests import factories


def _verify(app):
    return app.test_cli_runner().invoke(args=["panel", "audit-verify"])


def _dialect(db) -> str:
    return db.session.get_bind().dialect.name


def _three_rows(db):
    user = factories.create_user(role=Role.ADMIN)
    rows = [audit.record(AuditAction.UPDATE, "agency", i, summary={"step": i}, user=user) for i in range(3)]
    db.session.commit()
    return rows


def _allow_tampering(db, verb: str) -> None:
    """Switch off the database's refusal for this test's database only (the test tampers on purpose)."""
    trigger = f"audit_events_no_{verb.lower()}"
    if _dialect(db) == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update"))
    else:
        db.session.execute(sa.text(f"DROP TRIGGER {trigger}"))
    db.session.commit()


@pytest.fixture
def restore_triggers(db):
    """PostgreSQL keeps one schema for the whole run, so put its trigger back afterwards."""
    yield
    if _dialect(db) == "postgresql":
        db.session.rollback()
        db.session.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update"))
        db.session.commit()


def test_record_chains_each_entry_to_the_one_before(db):
    first, second, third = _three_rows(db)

    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    content = json.dumps([second.occurred_at.isoformat(), second.user_id, second.user_email, "update", "agency",
                          "1", '{"step": 1}', "", ""], separators=(",", ":"))
    assert second.hash == hashlib.sha256((first.hash + content).encode()).hexdigest()
    assert len({first.hash, second.hash, third.hash}) == 3


def test_record_takes_who_and_where_from_the_request(app, client, db, login_as):
    user = login_as("practitioner")

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "192.0.2.7", "HTTP_USER_AGENT": "Browser/1.0"}):
        from flask_login import login_user

        login_user(user)
        row = audit.record(AuditAction.VIEW, "case", "C-1")

    assert (row.user_id, row.user_email, row.ip, row.user_agent) == (user.id, user.email, "192.0.2.7", "Browser/1.0")


def test_audit_verify_passes_on_an_intact_trail(app, db):
    _three_rows(db)

    result = _verify(app)

    assert result.exit_code == 0, result.output
    assert "Audit trail intact: 3 entries checked." in result.output


def test_audit_verify_passes_on_an_empty_trail(app):
    result = _verify(app)
    assert result.exit_code == 0
    assert "0 entries" in result.output


def test_the_database_refuses_to_update_an_entry(db):
    row = _three_rows(db)[1]

    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("UPDATE audit_events SET summary = 'changed' WHERE id = :id"), {"id": row.id})
    db.session.rollback()

    assert db.session.execute(sa.text("SELECT summary FROM audit_events WHERE id = :id"),
                              {"id": row.id}).scalar_one() == '{"step": 1}'


def test_the_database_refuses_to_delete_an_entry(db):
    row = _three_rows(db)[1]

    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :id"), {"id": row.id})
    db.session.rollback()

    assert db.session.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one() == 3


def test_the_orm_refuses_to_change_an_entry(db):
    row = _three_rows(db)[1]

    row.summary = "changed"
    with pytest.raises(AuditTamperError):
        db.session.flush()
    db.session.rollback()


def test_the_orm_refuses_to_delete_an_entry(db):
    row = _three_rows(db)[1]

    db.session.delete(row)
    with pytest.raises(AuditTamperError):
        db.session.flush()
    db.session.rollback()


def test_the_orm_refuses_a_bulk_update_or_delete(db):
    _three_rows(db)

    with pytest.raises((AuditTamperError, sa.exc.DBAPIError)):
        db.session.execute(sa.update(AuditEvent).values(summary="changed"))
    db.session.rollback()
    with pytest.raises((AuditTamperError, sa.exc.DBAPIError)):
        db.session.execute(sa.delete(AuditEvent))
    db.session.rollback()
    assert verify_chain().ok


def test_audit_verify_names_an_edited_entry(app, db, restore_triggers):
    rows = _three_rows(db)
    _allow_tampering(db, "UPDATE")
    db.session.execute(sa.text("UPDATE audit_events SET summary = :s WHERE id = :id"),
                       {"s": '{"step": 99}', "id": rows[1].id})
    db.session.commit()

    result = _verify(app)

    assert result.exit_code == 1
    assert f"Audit trail broken at entry {rows[1].id}" in result.output
    assert "content does not match its hash" in result.output
    report = verify_chain()
    assert (report.ok, report.broken_id, report.checked) == (False, rows[1].id, 1)


def test_audit_verify_names_the_entry_after_a_deleted_one(app, db, restore_triggers):
    rows = _three_rows(db)
    _allow_tampering(db, "DELETE")
    db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :id"), {"id": rows[1].id})
    db.session.commit()

    result = _verify(app)

    assert result.exit_code == 1
    assert f"Audit trail broken at entry {rows[2].id}" in result.output
    assert "previous hash does not match" in result.output


def test_audit_verify_notices_a_rehashed_edit(app, db, restore_triggers):
    """Recomputing the edited row's own hash is not enough: the next row still points at the old one."""
    rows = _three_rows(db)
    _allow_tampering(db, "UPDATE")
    db.session.expire_all()
    forged = db.session.get(AuditEvent, rows[1].id)
    db.session.expunge(forged)
    forged.summary = '{"step": 99}'
    new_hash = audit._digest(forged.prev_hash, forged)
    db.session.execute(sa.text("UPDATE audit_events SET summary = :s, hash = :h WHERE id = :id"),
                       {"s": forged.summary, "h": new_hash, "id": rows[1].id})
    db.session.commit()

    result = _verify(app)

    assert result.exit_code == 1
    assert f"Audit trail broken at entry {rows[2].id}" in result.output


@pytest.mark.parametrize("key", ["password", "new_password", "totp_secret", "session_token", "password_hash",
                                 "Secret", "csrf_token"])
def test_secrets_in_summaries_are_redacted(db, key):
    row = audit.record(AuditAction.UPDATE, "user", 1, summary={key: "hunter2-value", "name": "Jo Bloggs"})

    assert "hunter2-value" not in row.summary
    assert json.loads(row.summary) == {key: "[redacted]", "name": "Jo Bloggs"}


def test_secrets_nested_in_summaries_are_redacted(db):
    before = {"name": "Jo", "password_hash": "$argon2id$old"}
    row = audit.record(AuditAction.UPDATE, "user", 1, summary={
        "changes": {"name": ["Jo", "Joanne"], "password_hash": ["$argon2id$old", "$argon2id$new"]},
        "items": [{"token": "abc123"}],
        "before": before,
    })

    assert "argon2id" not in row.summary
    assert "abc123" not in row.summary
    assert json.loads(row.summary)["changes"]["name"] == ["Jo", "Joanne"]
    assert before["password_hash"] == "$argon2id$old"  # the caller's dict is left alone


def test_changing_a_password_never_writes_it_to_the_trail(client, db, login_as):
    from tests.conftest import post_form

    login_as("practitioner")
    post_form(client, "/account/password", {
        "current_password": factories.PASSWORD, "new_password": "purple elephant sandwich rain",
        "confirm_password": "purple elephant sandwich rain",
    })

    summaries = " ".join(db.session.execute(sa.select(AuditEvent.summary)).scalars())
    assert "purple elephant" not in summaries
    assert factories.PASSWORD not in summaries
    assert "argon2" not in summaries
