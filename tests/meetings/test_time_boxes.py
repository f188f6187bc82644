"""The agenda's time boxes on one form, saved by one post: the service (every item through
set_time_box, per-item problems, unchanged items not rewritten), the page per role, bad and
hostile input kept as typed, a double submission, and a fixed number of queries."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from panel.forms.errors import ServiceError
from panel.meetings import agenda
from panel.models import AgendaItem, AuditAction, AuditEvent, utcnow
from tests.conftest import error_summary, page, post_form
from tests.meetings import agenda_world


@pytest.fixture
def world(app, db):
    w = agenda_world.build(cases=3, actions=3)
    agenda.sync_agenda(w.meeting)
    db.session.commit()
    return w


def _items(db, meeting_id: int) -> list[AgendaItem]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                                   .order_by(AgendaItem.position, AgendaItem.id)))


def _url(world) -> str:
    return f"/meetings/{world.meeting.id}/time-boxes"


def _time_box_updates(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.UPDATE, AuditEvent.object_type == "agenda"))


def test_the_service_sets_every_time_box_and_reports_each_problem(db, world):
    items = _items(db, world.meeting.id)
    first, second, third = items[0], items[1], items[2]

    changed, problems = agenda.set_time_boxes(
        world.meeting, {first.id: "7", second.id: str(second.minutes), third.id: "0"}, by=world.coordinator)

    assert problems == {third.id: "The time box must be between 1 and 180 minutes"}
    assert changed == 1 and first.minutes == 7
    assert agenda.set_time_boxes(world.meeting, {first.id: "7"}, by=world.coordinator) == (0, {})  # unchanged
    with pytest.raises(ServiceError, match="Enter the time box in minutes"):
        agenda.parse_time_box("")


def test_the_coordinator_changes_every_time_box_with_one_post(client, db, login_as, world):
    items = _items(db, world.meeting.id)
    login_as(world.coordinator)
    shown = page(client.get(_url(world)))
    assert [i["name"] for i in shown.select("form input[name^=minutes-]")] == [f"minutes-{i.id}" for i in items]
    data = {f"minutes-{item.id}": str(item.minutes + 1) for item in items}
    before = {i.id: i.minutes for i in items}

    response = post_form(client, _url(world), data)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/meetings/{world.meeting.id}#agenda")
    assert {i.id: i.minutes for i in _items(db, world.meeting.id)} == {k: v + 1 for k, v in before.items()}
    updates = _time_box_updates(db)
    again = post_form(client, _url(world), data, follow_redirects=True)  # a double submission
    assert "already as sent" in page(again).get_text(" ", strip=True)
    assert _time_box_updates(db) == updates


def test_bad_time_boxes_get_an_error_each_keep_what_was_typed_and_save_nothing(client, db, login_as, world):
    items = _items(db, world.meeting.id)
    login_as(world.coordinator)
    before = [i.minutes for i in items]
    hostile = "<script>alert(1)</script>"

    response = post_form(client, _url(world), {f"minutes-{items[0].id}": "30", f"minutes-{items[1].id}": "three",
                                               f"minutes-{items[2].id}": hostile, f"minutes-{items[3].id}": ""})

    assert response.status_code == 200
    assert error_summary(response) == ["The time box must be a whole number of minutes, like 15",
                                       "The time box must be a whole number of minutes, like 15",
                                       "Enter the time box in minutes"]
    soup = page(response)
    assert soup.select_one(f"#minutes-{items[0].id}")["value"] == "30"
    assert soup.select_one(f"#minutes-{items[1].id}")["value"] == "three"
    assert soup.select_one(f"#minutes-{items[2].id}")["value"] == hostile
    assert "<script>alert(1)" not in response.get_data(as_text=True)
    assert [i.minutes for i in _items(db, world.meeting.id)] == before


@pytest.mark.parametrize("role", ["chair", "spoc", "practitioner", "board", "admin"])
def test_only_the_coordinator_changes_time_boxes(client, db, login_as, world, role):
    items = _items(db, world.meeting.id)
    login_as(role)

    assert client.get(_url(world)).status_code == 404
    assert post_form(client, _url(world), {f"minutes-{items[0].id}": "99"},
                     token_from="/account/password").status_code == 404
    assert _items(db, world.meeting.id)[0].minutes == items[0].minutes


def test_a_finalised_panels_time_boxes_cannot_be_changed(client, db, login_as, world):
    items = _items(db, world.meeting.id)
    world.meeting.minutes_finalised_at = utcnow()
    db.session.commit()
    login_as(world.coordinator)

    response = post_form(client, _url(world), {f"minutes-{items[0].id}": "99"}, token_from="/account/password")

    assert response.status_code in (302, 404)
    assert _items(db, world.meeting.id)[0].minutes == items[0].minutes


def test_the_agenda_links_to_the_form_and_it_takes_fixed_queries(client, db, login_as, world, count_queries):
    login_as(world.coordinator)
    links = [a["href"] for a in page(client.get(f"/meetings/{world.meeting.id}")).select("a")]
    assert _url(world) in links

    def measure() -> int:
        client.get(_url(world))
        with count_queries() as counter:
            assert client.get(_url(world)).status_code == 200
        return counter.count

    small = measure()
    for n in range(5):
        agenda.add_item(world.meeting, title=f"Extra item {n}", minutes=5, by=world.coordinator)
    db.session.commit()

    assert measure() == small
