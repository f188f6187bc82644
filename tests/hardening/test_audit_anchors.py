"""Issue 14: with the triggers dropped, whoever can write the database could edit a row and
rehash every later one, delete the newest 20, or append a forged row, and audit-verify passed.
Entries are now sealed with an HMAC under AUDIT_KEY (held outside the database) and the chain's
head is anchored daily in a file and an email; audit-verify checks both. Each test tampers as an
administrator with database access would: triggers dropped, plain SQL, the public hash recipe."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from panel import audit
from panel.admin.jobs import write_anchor
from panel.models import AuditAction, AuditEvent, OutboxMessage, utcnow
from panel.scheduler import JOBS

ROWS = 30


@pytest.fixture
def anchors(app, tmp_path):
    path = tmp_path / "anchors" / "audit-anchors.jsonl"
    app.config.update(AUDIT_ANCHOR_PATH=str(path), AUDIT_MAILBOX="audit@council.invalid")
    return path


@pytest.fixture
def trail(app, db, anchors):
    for n in range(ROWS):
        audit.record(AuditAction.VIEW, "case", n, summary={"n": n})
    db.session.commit()
    assert write_anchor()["anchored"] == 1
    return anchors


def _verify(app):
    return app.test_cli_runner().invoke(args=["panel", "audit-verify"])


def _drop_triggers(db) -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update ON audit_events"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))


def _rows(db) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars())


def test_an_intact_trail_passes_against_its_anchor(app, trail):
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert f"Audit trail intact: {ROWS} entries checked." in result.output
    assert "1 anchor checked" in result.output
    line = json.loads(trail.read_text().splitlines()[-1])
    assert (line["count"], len(line["hash"]), len(line["seal"])) == (ROWS, 64, 64)


def test_the_anchor_job_is_idempotent_emails_the_audit_mailbox_and_is_scheduled(app, db, trail):
    assert write_anchor()["anchored"] == 0  # nothing new: nothing written, nothing sent
    assert len(trail.read_text().splitlines()) == 1
    [mail] = db.session.execute(sa.select(OutboxMessage)).scalars().all()
    assert mail.to_addr == "audit@council.invalid"
    assert json.loads(trail.read_text()) == json.loads(mail.body_text.strip().splitlines()[-1])
    assert JOBS["audit-anchor"].path == "panel.admin.jobs:write_anchor"


def test_editing_a_row_and_rehashing_every_later_one_is_detected(app, db, trail):
    _drop_triggers(db)
    rows = _rows(db)
    prev = rows[4].prev_hash
    for row in rows[4:]:
        summary = '{"n": "edited"}' if row.id == rows[4].id else row.summary
        row_copy = AuditEvent(**{c: getattr(row, c) for c in ("occurred_at", "user_id", "user_email", "action",
                                                              "object_type", "object_id", "ip", "user_agent")},
                              summary=summary)
        new_hash = audit._digest(prev, row_copy)
        db.session.execute(sa.text("UPDATE audit_events SET summary = :s, prev_hash = :p, hash = :h WHERE id = :i"),
                           {"s": summary, "p": prev, "h": new_hash, "i": row.id})
        prev = new_hash
    db.session.commit()
    assert audit.verify_chain().ok  # the hash chain alone is fooled

    result = _verify(app)
    assert result.exit_code == 1
    assert f"entries {rows[4].id}-{rows[-1].id} do not carry their seal" in result.output
    assert f"entry {rows[-1].id} is not the entry anchored" in result.output


def test_deleting_the_newest_20_is_detected(app, db, trail):
    _drop_triggers(db)
    ids = [r.id for r in _rows(db)]
    db.session.execute(sa.text("DELETE FROM audit_events WHERE id >= :i"), {"i": ids[-20]})
    db.session.commit()
    assert audit.verify_chain().ok  # a shorter chain still verifies

    result = _verify(app)
    assert result.exit_code == 1
    assert f"counted {ROWS} entries up to entry {ids[-1]}; the trail holds {ROWS - 20}: entries were deleted" \
        in result.output


@pytest.mark.parametrize("forged_seal", [None, "0" * 64])
def test_appending_a_forged_row_is_detected(app, db, trail, forged_seal):
    last = _rows(db)[-1]
    row = AuditEvent(occurred_at=utcnow(), user_id=None, user_email="", action=AuditAction.LOGIN,
                     object_type="user", object_id="1", summary="", ip="", user_agent="", prev_hash=last.hash)
    row.hash = audit._digest(last.hash, row)
    db.session.execute(sa.insert(AuditEvent).values(
        occurred_at=row.occurred_at, user_id=None, user_email="", action=AuditAction.LOGIN, object_type="user",
        object_id="1", summary="", ip="", user_agent="", prev_hash=last.hash, hash=row.hash, seal=forged_seal))
    db.session.commit()
    assert audit.verify_chain().ok

    result = _verify(app)
    assert result.exit_code == 1
    assert f"entries {last.id + 1}-{last.id + 1}" in result.output


def test_entries_without_a_seal_from_before_the_key_are_reported_not_failed(app, db, anchors):
    app.config["AUDIT_KEY"] = ""
    for n in range(3):
        audit.record(AuditAction.VIEW, "case", n)
    app.config["AUDIT_KEY"] = "a key held outside the database, 32+ characters"
    for n in range(2):
        audit.record(AuditAction.VIEW, "case", n)
    db.session.commit()
    ids = [r.id for r in _rows(db)]

    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert f"Could not fully vouch for entries {ids[0]}-{ids[2]}: written before AUDIT_KEY was set" in result.output
    assert f"entries {ids[0]}-{ids[4]}: after the last anchor" in result.output


def test_a_forged_line_in_the_anchor_file_is_detected(app, trail):
    with open(trail, "a") as file:
        file.write(json.dumps({"at": "2027-01-01T00:00:00", "count": 2, "last_id": 2, "hash": "f" * 64,
                               "seal": "0" * 64}) + "\n")
    result = _verify(app)
    assert result.exit_code == 1
    assert "line 2 of the anchor file does not carry its seal" in result.output
