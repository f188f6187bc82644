"""transactions.commit_read: a page that has drawn what it read commits its audit entry without
expiring the objects it loaded (issue 18: the chair's pack loads several hundred), and the
session goes back to expiring on commit for whatever uses it next."""

from __future__ import annotations

import sqlalchemy as sa

from panel import audit
from panel.models import Agency, AgencyKind, AuditAction, AuditEvent
from panel.transactions import commit_read


def _agency(db) -> Agency:
    agency = Agency(name="Commit Read Housing", code="CRH", kind=AgencyKind.HOUSING)
    db.session.add(agency)
    db.session.commit()
    return agency


def test_what_was_read_stays_loaded_and_the_write_is_committed(db):
    agency = _agency(db)
    assert agency.name == "Commit Read Housing"  # loaded again after the set-up's commit
    audit.record(AuditAction.VIEW, "agency", agency.id, summary={"page": "test"})
    commit_read(db.session())
    assert "name" in agency.__dict__, "commit_read expired what the page had read"
    db.session.rollback()  # nothing open: a rollback now cannot take the audit entry back
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "agency", AuditEvent.object_id == str(agency.id))) == 1


def test_the_next_commit_expires_as_before(db):
    agency = _agency(db)
    assert agency.name
    commit_read(db.session())
    assert db.session().expire_on_commit is True
    db.session.commit()
    assert "name" not in agency.__dict__, "a plain commit after commit_read should expire again"


def test_a_failed_commit_still_puts_expiring_back(db, monkeypatch):
    session = db.session()

    def refuse() -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(session, "commit", refuse)
    try:
        commit_read(session)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the commit's error was swallowed")
    assert session.expire_on_commit is True
