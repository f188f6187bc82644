"""The retention demo data: two adults' records due for anonymisation within 30 days (a referral
declined at panel, a closed case) and one closed case past its years, kept under a legal hold."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from panel.dates import london_today
from panel.models import Case, CaseStatus, LegalHoldKind, Person, Referral, ReferralStatus
from panel.reports import retention
from tests.conftest import page, post_form
from tests.html.conftest import DEMO_PASSWORD, load_demo


def test_the_demo_shows_records_due_soon_and_one_case_under_legal_hold(app, db):
    load_demo(app)
    today = london_today()
    names = {"Duesoon", "Endingsoon", "Keptforreview"}

    found = retention.overview(today)

    due = {db.session.get(Person, a.person_id).family_name: a for a in found.due}
    assert set(due) == names
    assert today < due["Duesoon"].due_on <= today + timedelta(days=30)
    assert due["Duesoon"].records[0].case_id is None
    assert today < due["Endingsoon"].due_on <= today + timedelta(days=30)
    held = due["Keptforreview"]
    assert held.due_on < today and held.hold.kind == LegalHoldKind.SAFEGUARDING_ADULTS_REVIEW
    assert [a.person_id for a in found.held] == [held.person_id]
    for adult in due.values():
        assert all(r.ended_on for r in adult.records)
    closed = db.session.scalars(sa.select(Case).where(Case.id.in_(
        [r.case_id for a in due.values() for r in a.records if r.case_id]))).all()
    assert len(closed) == 2 and all(c.status == CaseStatus.CLOSED and c.closed_on for c in closed)
    statuses = {db.session.get(Referral, r.referral_id).status for a in due.values() for r in a.records}
    assert statuses == {ReferralStatus.DECLINED, ReferralStatus.ACCEPTED}

    # nothing is anonymised today: two are not yet due, the third is held
    assert retention.run_retention(today) == {"anonymised": 0, "held": 1}

    client = app.test_client()
    post_form(client, "/login", {"email": "coordinator@demo.invalid", "password": DEMO_PASSWORD})
    soup = page(client.get("/retention"))
    assert len(soup.select("#due tbody tr")) == 3 and len(soup.select("#held tbody tr")) == 1
    assert "Safeguarding Adults Review" in soup.select_one("#held").get_text()

    # a month on, the two due are anonymised; the held case stays
    assert retention.run_retention(today + timedelta(days=31)) == {"anonymised": 2, "held": 1}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(
        Person.family_name.in_(names))) == 1
