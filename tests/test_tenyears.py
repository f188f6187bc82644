"""The ten-year generator of the page benchmark (tests/tenyears.py), at a thousandth of its size:
its audit rows continue the demo's hash chain (and seals) as panel.audit.record() would, and the
history it adds is all settled, so the pathway is exactly as the demo leaves it."""

from __future__ import annotations

import sqlalchemy as sa

from panel import audit, pathway
from panel.extensions import db
from panel.models import (
    OPEN_CASE_STATUSES,
    OPEN_REFERRAL_STATUSES,
    Action,
    ActionStatus,
    AuditEvent,
    Case,
    CaseStatus,
    Referral,
)

from tests import tenyears


def _open_places() -> tuple[int, int]:
    referrals = db.session.scalar(sa.select(sa.func.count()).select_from(Referral)
                                  .where(Referral.status.in_(OPEN_REFERRAL_STATUSES)))
    cases = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.status.in_(OPEN_CASE_STATUSES)))
    return referrals, cases


def test_generator_continues_the_chain_and_leaves_the_pathway_as_the_demo_does(tmp_path):
    app = tenyears.make_app(f"sqlite:///{tmp_path / 'tenyears.db'}", tmp_path)
    tenyears._migrate(app)
    tenyears._load_demo(app)
    with app.app_context():
        demo_rows = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        demo_open = _open_places()
        demo_cases = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
        db.session.remove()

    made = tenyears.build(app, scale=0.001, log=lambda *_: None)

    wanted = tenyears.sizes(0.001)
    assert made["audit_events"] == wanted["audit_events"]
    assert made["cases"] == wanted["cases"] and made["actions"] == wanted["actions"]
    assert made["case_events"] == wanted["case_events"]
    with app.app_context():
        report = audit.verify_chain()
        assert report.ok, report
        assert report.checked == demo_rows + wanted["audit_events"]
        # every added row carries the seal record() would have made under the app's AUDIT_KEY
        last = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
        assert last.seal == audit.seal(last.hash) is not None
        # the pathway as the demo leaves it: nothing added is open, and the cap holds
        assert _open_places() == demo_open
        assert sum(demo_open) <= pathway.cap()
        added = db.session.scalars(sa.select(Case).where(Case.id > demo_cases)).all()
        assert len(added) == wanted["cases"] and all(c.status == CaseStatus.CLOSED for c in added)
        assert all(c.closed_on is not None and c.closed_on >= c.accepted_on for c in added)
        open_on_closed = db.session.scalar(
            sa.select(sa.func.count()).select_from(Action).join(Case, Case.id == Action.case_id)
            .where(Case.status == CaseStatus.CLOSED, Action.status == ActionStatus.OPEN))
        assert open_on_closed == 0
        db.session.remove()
        db.engine.dispose()
