"""Issue 14: GET /meetings/<id> wrote agenda rows. No GET changes data: the page offers a POST
("Bring the agenda up to date") and the job "agenda-sync" keeps upcoming agendas in line."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import agenda
from panel.meetings.panels import sync_upcoming_agendas
from panel.models import AgendaItem, utcnow
from panel.scheduler import JOBS
from tests.conftest import page, post_form
from tests.meetings import agenda_world
from tests.meetings.agenda_world import awaiting_referral


def _rows() -> list[tuple]:
    db.session.expire_all()
    return [tuple(r) for r in db.session.execute(sa.select(AgendaItem.id, AgendaItem.kind, AgendaItem.position,
                                                           AgendaItem.referral_id, AgendaItem.case_id))]


def test_get_meeting_writes_no_agenda_rows_even_when_the_agenda_is_out_of_date(client, login_as):
    w = agenda_world.build(cases=2, actions=2)
    db.session.commit()
    login_as(w.coordinator)
    url = f"/meetings/{w.meeting.id}"

    for _ in range(2):
        assert client.get(url).status_code == 200
    assert _rows() == []  # never built by a GET
    assert post_form(client, f"{url}/agenda/update", {}, token_from=url).status_code == 302
    built = _rows()
    assert built

    awaiting_referral(w.housing, submitted_at=utcnow() - timedelta(days=9))  # the data moves on
    db.session.commit()
    response = client.get(url)
    assert page(response).find("form", id="update-agenda") is not None
    assert _rows() == built  # still nothing written by the GET


def test_the_update_needs_its_csrf_token(client, login_as):
    w = agenda_world.build(cases=1, actions=0)
    db.session.commit()
    login_as(w.coordinator)
    assert client.post(f"/meetings/{w.meeting.id}/agenda/update").status_code == 400
    assert _rows() == []


def test_the_agenda_sync_job_builds_upcoming_agendas_and_is_idempotent(app):
    w = agenda_world.build(cases=2, actions=0)
    db.session.commit()
    assert JOBS["agenda-sync"].path == "panel.meetings.panels:sync_upcoming_agendas"
    assert sync_upcoming_agendas()["changed"] >= 1
    first = _rows()
    assert first and not agenda.out_of_date(w.meeting)
    assert sync_upcoming_agendas()["changed"] == 0
    assert _rows() == first
