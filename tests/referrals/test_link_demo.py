"""The demo shows a repeat referral linked to an earlier person record without losing what its
referrer wrote, and a possible match still to compare."""

from __future__ import annotations

import sqlalchemy as sa

from panel.models import Person, Referral
from tests.conftest import page, post_form

DEMO_PASSWORD = "demo-sign-in-2027"


def test_the_demo_has_a_linked_referral_that_keeps_its_referrers_details(app, db, client):
    result = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD])
    assert result.exit_code == 0, result.output
    db.session.remove()
    linked = db.session.scalars(sa.select(Referral).where(Referral.referred_person_id.is_not(None))).one()
    record, written = db.session.get(Person, linked.person_id), db.session.get(Person, linked.referred_person_id)
    assert record.full_name == written.full_name == "Sam Demo-Person"
    assert record.address == written.address and record.gender != written.gender  # took the address, kept gender
    post_form(client, "/login", {"email": "coordinator@demo.invalid", "password": DEMO_PASSWORD})

    soup = page(client.get(f"/referrals/{linked.id}"))

    assert soup.select_one("#linked-person")
    assert written.gender in soup.select_one("#linked-person").find_next("dl").get_text()
    assert [a.get_text(" ", strip=True).split(" to ")[1].split(",")[0] for a in soup.select("#matches a")] == [
        "Samuel Demo-Person"]
