"""A SPoC's agenda to print (/meetings/<id>/agenda/agency): every item with its timings, the
cases their agency is in with their open actions, the others only in the restricted form, no
other agency's referral details, no controls, audited; the chair's pack stays the chair's."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.dates import govuk_date
from panel.meetings import agenda
from panel.models import AuditAction, AuditEvent, utcnow
from tests.conftest import page
from tests.meetings import agenda_world
from tests.meetings.agenda_world import awaiting_referral


@pytest.fixture
def world(app, db):
    w = agenda_world.build(cases=4, actions=8)
    w.referral = awaiting_referral(w.housing, submitted_at=utcnow() - timedelta(days=9), given_name="Quentin",
                                   family_name="Zed")
    w.own_referral = awaiting_referral(w.police, submitted_at=utcnow() - timedelta(days=8), given_name="Ophelia",
                                       family_name="Own")
    agenda.sync_agenda(w.meeting)
    db.session.commit()
    return w


def _url(world) -> str:
    return f"/meetings/{world.meeting.id}/agenda/agency"


def test_a_spoc_prints_the_agenda_with_need_to_know(client, db, login_as, world):
    login_as(world.police_spoc)
    meeting_page = page(client.get(f"/meetings/{world.meeting.id}"))
    assert meeting_page.select_one("#agency-agenda-link")["href"] == _url(world)

    response = client.get(_url(world))
    assert response.status_code == 200
    soup = page(response)
    assert soup.h1.get_text(strip=True) == f"Agenda: panel on {govuk_date(world.meeting.starts_at)}"
    assert soup.select_one(".govuk-caption-l").get_text(strip=True) == world.police.name
    involved = [c for c in world.cases if world.police.id in {i.agency_id for i in c.involvements}]
    others = [c for c in world.cases if c not in involved]
    assert involved and others
    for case in involved:
        item = soup.find("h4", string=f"Case {case.reference}").find_parent("li")
        assert "open action" in item.get_text() or "No open actions" in item.get_text()
    for case in others:
        item = soup.find("h4", string=f"Case {case.reference}").find_parent("li")
        text = item.get_text(" ", strip=True)
        assert "you see only a summary" in text and case.person.initials in text
        assert "Action" not in text and not item.find("table")
    theirs = soup.find("h4", string=f"Referral {world.referral.reference}").find_parent("li").get_text(" ", strip=True)
    assert "QZ" not in theirs and "Housing Trust" in theirs
    ours = soup.find("h4", string=f"Referral {world.own_referral.reference}").find_parent("li").get_text(" ", strip=True)
    assert "OO" in ours  # their own agency's referral shows its initials, as on the meeting page
    text = soup.get_text(" ", strip=True)
    for name in ("Quentin", "Zed", "Given0", "Family1"):
        assert name not in text
    assert not soup.select("main form") and not soup.select("button[name=direction]")
    views = list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "meeting")))
    assert [v.summary for v in views if v.user_id == world.police_spoc.id][-1] == '{"page": "agency_agenda"}'


def test_a_spoc_of_an_agency_without_a_current_isa_sees_no_case_on_it(client, db, login_as, world):
    world.police.isa_review_due = date.today() - timedelta(days=1)
    db.session.commit()
    login_as(world.police_spoc)
    text = page(client.get(_url(world))).get_text(" ", strip=True)
    assert "information sharing agreement" in text
    assert not any(c.reference in text for c in world.cases)


@pytest.mark.parametrize("who", ["coordinator", "chair", "practitioner", "board", "admin"])
def test_it_is_the_spocs_only_and_the_pack_is_not_theirs(client, login_as, world, who):
    login_as(getattr(world, who))
    assert client.get(_url(world)).status_code == 404
    login_as(world.police_spoc)
    assert client.get(f"/meetings/{world.meeting.id}/agenda").status_code == 404
