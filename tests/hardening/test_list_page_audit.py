"""Issue 14: the list pages that show references, initials, risk and flags were not audited as
views. Each view is now one audit row (not one per row shown), whoever looks."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.models import AuditAction, AuditEvent
from tests import factories


def _views() -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "page")).scalars())


@pytest.mark.parametrize("url,endpoint", [
    ("/referrals", "referrals.list_referrals"),
    ("/referrals/triage", "referrals.triage"),
    ("/referrals/waiting", "referrals.list_waiting"),
    ("/cases", "cases.list_cases"),
    ("/", "main.dashboard"),
])
def test_each_list_page_view_is_one_audit_row_whatever_it_shows(client, login_as, url, endpoint):
    user = login_as("coordinator")
    for _ in range(3):
        factories.create_referral()
    db.session.commit()

    assert client.get(url).status_code == 200

    [row] = _views()
    assert (row.object_id, row.user_id) == (endpoint, user.id)
    assert url.rstrip("/") in row.summary or url == "/"


@pytest.mark.parametrize("page", ["triage", "decision"])
def test_the_triage_and_decision_pages_are_audited_when_shown(client, login_as, page):
    coordinator = login_as("chair" if page == "decision" else "coordinator")
    referral = factories.create_referral(status="awaiting_panel" if page == "decision" else "submitted")
    db.session.commit()

    assert client.get(f"/referrals/{referral.id}/{page}").status_code == 200

    [row] = _views()
    assert row.user_id == coordinator.id and f"/referrals/{referral.id}/{page}" in row.summary


def test_a_refused_page_is_not_counted_as_a_view(client, login_as):
    login_as("board")
    assert client.get("/referrals/triage").status_code == 404
    assert _views() == []
