"""The meeting pages by request: the list and making the panels, the meeting page for each role
(the coordinator's controls, the chair's read-only view, the SPoC's restricted agenda), reordering,
own items, time boxes, publishing, moving and cancelling, and the print view; hostile input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.meetings import agenda
from panel.models import (
    AgendaItem,
    AgendaItemKind,
    AuditAction,
    AuditEvent,
    CaseStatus,
    Meeting,
    MeetingKind,
    MeetingStatus,
    OutboxMessage,
    utcnow,
)
from tests.conftest import error_summary, page, post_form
from tests.meetings import agenda_world
from tests.meetings.agenda_world import awaiting_referral, panel_meeting


@pytest.fixture
def world(app, db):
    w = agenda_world.build(cases=4, actions=8)
    w.referral = awaiting_referral(w.housing, submitted_at=utcnow() - timedelta(days=9), given_name="Quentin",
                                   family_name="Zed")
    db.session.commit()
    return w


def _url(world, suffix: str = "") -> str:
    return f"/meetings/{world.meeting.id}{suffix}"


def _items(db, meeting_id: int) -> list[AgendaItem]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                                   .order_by(AgendaItem.position)))


def _built(db, world) -> list[AgendaItem]:
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    return _items(db, world.meeting.id)


def _views(db, meeting_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "meeting",
        AuditEvent.object_id == str(meeting_id))))


def _banner(response) -> str:
    box = page(response).select_one(".govuk-notification-banner")
    return box.get_text(" ", strip=True) if box else ""


# ---- the list -------------------------------------------------------------------------------------


def test_the_list_shows_upcoming_and_past_panels(client, db, login_as, world):
    past = panel_meeting(utcnow() - timedelta(days=30))
    cancelled = panel_meeting(utcnow() + timedelta(days=40))
    cancelled.status = MeetingStatus.CANCELLED
    db.session.commit()
    login_as(world.chair)

    response = client.get("/meetings")

    assert response.status_code == 200
    soup = page(response)
    upcoming = [a["href"] for a in soup.select("#upcoming tbody a")]
    assert upcoming == [f"/meetings/{world.meeting.id}", f"/meetings/{cancelled.id}"]
    assert [a["href"] for a in soup.select("#past tbody a")] == [f"/meetings/{past.id}"]
    assert "Cancelled" in soup.select_one("#upcoming").get_text()
    assert soup.select_one("#next-panel a")["href"] == f"/meetings/{world.meeting.id}"
    assert "Create the next" not in response.get_data(as_text=True)


def test_a_coordinator_with_no_panels_can_make_the_next_twelve(app, client, db, login_as):
    login_as("coordinator")
    response = client.get("/meetings")
    assert "No panels are scheduled" in response.get_data(as_text=True)
    assert page(response).find("button", string=lambda s: s and "Create the next 12 panels" in s)

    response = post_form(client, "/meetings/create", {}, token_from="/meetings", follow_redirects=True)

    assert "12 panels added to the schedule." in _banner(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 12
    again = post_form(client, "/meetings/create", {}, token_from="/meetings/1", follow_redirects=True)
    assert "already in the schedule" in _banner(again)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 12


def test_the_list_of_past_panels_is_paginated(client, db, login_as, world):
    for n in range(14):
        panel_meeting(utcnow() - timedelta(days=30 * (n + 1)))
    db.session.commit()
    login_as(world.police_spoc)
    first = page(client.get("/meetings"))
    second = page(client.get("/meetings?page=2"))
    odd = client.get("/meetings?page=%3Cscript%3E")
    assert len(first.select("#past tbody tr")) == 12
    assert len(second.select("#past tbody tr")) == 2
    assert odd.status_code == 200 and len(page(odd).select("#past tbody tr")) == 12


# ---- the meeting page ------------------------------------------------------------------------------


def test_the_coordinator_sees_the_agenda_built_and_the_controls(client, db, login_as, world):
    login_as(world.coordinator)

    # Issue 14: a GET writes nothing; the page offers to build the agenda (the job also does).
    offered = page(client.get(_url(world)))
    assert _items(db, world.meeting.id) == []
    assert offered.find("form", id="update-agenda").find("button").get_text(strip=True) == \
        "Bring the agenda up to date"
    assert post_form(client, _url(world, "/agenda/update"), {}, token_from=_url(world)).status_code == 302
    response = client.get(_url(world))

    assert response.status_code == 200
    soup = page(response)
    assert soup.find("form", id="update-agenda") is None  # up to date now
    text = soup.get_text(" ", strip=True)
    items = _items(db, world.meeting.id)
    assert len(items) == 9  # built by the button, and committed
    assert soup.h1.get_text(strip=True).startswith("Panel on ")
    assert "10am to 12:30pm (UK time)" in text
    headings = [h.get_text(strip=True) for h in soup.select("h3.govuk-heading-m")]
    # every section keeps its number, an empty one says so (the numbers never skip: issue 15)
    assert headings == ["1. Welcome and confidentiality", "2. The last panel", "3. New referrals for decision",
                        "4. Updates on open cases", "5. Cases proposed for closure",
                        "6. Escalations and long-running cases", "7. Any other business"]
    closures = soup.find("h3", string="5. Cases proposed for closure")
    assert closures.find_next_sibling().get_text(strip=True) == "None this month."
    cases = [li for li in soup.select("li.panel-agenda__item") if li.h4.get_text(strip=True).startswith("Case ")]
    risks = [li.select_one(".govuk-tag").get_text(strip=True) for li in cases]
    assert risks == ["Critical", "High", "Medium", "Low"]
    assert "Overdue" in text and "Open" in text
    assert "Quentin" not in text and "QZ" in text  # referral initials, never the name
    assert "The time boxes add up to 105 of the panel’s 150 minutes." in text
    for label in ("Add an item", "Move this panel", "Cancel this panel"):
        assert soup.find("a", string=lambda s, label=label: s and s.strip() == label), label
    assert soup.find("button", string=lambda s: s and "Publish the agenda" in s)
    assert soup.select("button[name=direction][value=up]") and soup.select("button[name=direction][value=down]")
    assert len(soup.select("a[href$='/time']")) == 9
    # the first item of each section cannot move up, the last cannot move down
    first_case = cases[0]
    assert [b["value"] for b in first_case.select("button[name=direction]")] == ["down"]
    assert soup.find("a", href=f"/meetings/{world.meeting.id}/agenda.pdf")
    assert len(_views(db, world.meeting.id)) == 3  # offered, the token for the button, built


def test_the_chair_reads_the_agenda_without_controls(client, db, login_as, world):
    _built(db, world)
    login_as(world.chair)

    response = client.get(_url(world))

    soup = page(response)
    assert response.status_code == 200
    assert not soup.select("button[name=direction]") and not soup.select("a[href$='/time']")
    assert "Move this panel" not in soup.get_text()
    assert soup.find("a", href=f"/meetings/{world.meeting.id}/agenda")
    assert all(c.reference in soup.get_text() for c in world.cases)
    assert "Action 1 for" in soup.get_text()


def test_a_spoc_sees_the_restricted_agenda_for_cases_their_agency_is_not_in(client, db, login_as, world):
    _built(db, world)
    involved = [c for c in world.cases if world.police.id in {i.agency_id for i in c.involvements}]
    others = [c for c in world.cases if c not in involved]
    assert involved and others
    login_as(world.police_spoc)

    response = client.get(_url(world))

    assert response.status_code == 200
    soup = page(response)
    for case in involved:
        item = soup.find("h4", string=f"Case {case.reference}").find_parent("li")
        assert "open action" in item.get_text() or "No open actions" in item.get_text()
        assert item.find("a", href=f"/cases/{case.reference}")
    for case in others:
        item = soup.find("h4", string=f"Case {case.reference}").find_parent("li")
        text = item.get_text(" ", strip=True)
        assert "you see only a summary" in text
        assert case.person.initials in text and case.lead_agency.name in text
        assert "Action" not in text and not item.find("table")
    assert not soup.select("button[name=direction]")
    assert "agenda.pdf" not in response.get_data(as_text=True)
    # the referral is from another agency: reference and agency only
    referral = soup.find("h4", string=f"Referral {world.referral.reference}").find_parent("li")
    assert "QZ" not in referral.get_text() and "Housing Trust" in referral.get_text()
    # the page does not rebuild the agenda for a SPoC, and the view is audited
    assert len(_items(db, world.meeting.id)) == 9
    views = _views(db, world.meeting.id)
    assert len(views) == 1 and views[0].user_id == world.police_spoc.id


def test_a_spoc_of_an_agency_without_a_current_isa_sees_no_case(client, db, login_as, world):
    _built(db, world)
    world.police.isa_review_due = date.today() - timedelta(days=1)
    db.session.commit()
    login_as(world.police_spoc)
    text = page(client.get(_url(world))).get_text(" ", strip=True)
    assert "information sharing agreement" in text
    assert not any(c.reference in text for c in world.cases)


@pytest.mark.parametrize("role", ["practitioner", "board", "admin"])
def test_other_roles_get_404(client, db, login_as, world, role):
    login_as(getattr(world, role))
    for suffix in ("", "/agenda", "/agenda.pdf", "/items/add", "/move", "/cancel"):
        assert client.get(_url(world, suffix)).status_code == 404
    assert client.get("/meetings").status_code == 404


def test_a_practitioner_gets_404_for_a_panel_audited_as_a_refusal(client, db, login_as, world):
    login_as(world.practitioner)
    assert client.get(_url(world)).status_code == 404
    denied = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.DENIED,
                                                            AuditEvent.object_type == "meeting")).one()
    assert denied.object_id == str(world.meeting.id) and denied.user_id == world.practitioner.id
    assert not _views(db, world.meeting.id)


def test_the_meeting_address_of_a_case_mdt_shows_the_mdt_to_those_with_need_to_know(client, db, login_as, world):
    """Invitations link every meeting at /meetings/<id>: an MDT shows its own page there."""
    case = world.cases[0]  # the police are involved
    mdt = Meeting(kind=MeetingKind.MDT, case_id=case.id, starts_at=utcnow() + timedelta(days=2),
                  ends_at=utcnow() + timedelta(days=2, hours=1))
    db.session.add(mdt)
    db.session.commit()
    login_as(world.practitioner)  # police
    shown = client.get(f"/meetings/{mdt.id}")
    if "meetings.view_mdt" not in client.application.view_functions:
        pytest.skip("case MDT pages are not built")
    assert shown.status_code == 200 and case.reference in shown.get_data(as_text=True)
    login_as(world.health_spoc if world.health.id not in {i.agency_id for i in case.involvements}
             else world.housing_spoc)
    assert client.get(f"/meetings/{mdt.id}").status_code == 404


def test_a_spoc_and_a_chair_cannot_prepare_the_agenda(client, db, login_as, world):
    items = _built(db, world)
    for user in (world.police_spoc, world.chair):
        login_as(user)
        for suffix in ("/items/add", f"/items/{items[3].id}/time", "/move", "/cancel"):
            assert client.get(_url(world, suffix)).status_code == 404
    login_as(world.police_spoc)
    assert client.get(_url(world, "/agenda")).status_code == 404
    assert client.get(_url(world, "/agenda.pdf")).status_code == 404


def test_missing_meetings_items_from_another_meeting_and_mdts_are_404(client, db, login_as, world):
    other = panel_meeting(utcnow() + timedelta(days=40))
    other_item = AgendaItem(meeting_id=other.id, kind=AgendaItemKind.OTHER, title="Elsewhere", position=1)
    mdt = Meeting(kind=MeetingKind.MDT, starts_at=utcnow() + timedelta(days=2), ends_at=utcnow() + timedelta(days=2, hours=1))
    db.session.add_all([other_item, mdt])
    db.session.commit()
    login_as(world.coordinator)
    assert client.get("/meetings/999999").status_code == 404
    assert client.get(f"/meetings/{mdt.id}").status_code == 404  # an MDT without a case is nothing to show
    for suffix in ("/agenda", "/agenda.pdf", "/items/add", "/move", "/cancel"):
        assert client.get(f"/meetings/{mdt.id}{suffix}").status_code == 404
    assert client.get(_url(world, f"/items/{other_item.id}/time")).status_code == 404
    assert client.get(_url(world, "/items/999999/time")).status_code == 404


def test_a_finalised_panel_is_read_only_for_the_coordinator(client, db, login_as, world):
    items = _built(db, world)
    world.meeting.minutes_finalised_at = utcnow()
    db.session.commit()
    login_as(world.coordinator)
    soup = page(client.get(_url(world)))
    assert not soup.select("button[name=direction]") and "Add an item" not in soup.get_text()
    response = client.get(_url(world, "/items/add"), follow_redirects=True)
    assert "minutes of this panel are final" in _banner(response)
    response = client.get(_url(world, f"/items/{items[3].id}/time"), follow_redirects=True)
    assert "minutes of this panel are final" in _banner(response)


def test_the_time_boxes_warning_when_over_the_length(client, db, login_as, world):
    items = _built(db, world)
    items[3].minutes = 120
    db.session.commit()
    login_as(world.chair)
    soup = page(client.get(_url(world)))
    warning = soup.select_one(".govuk-warning-text").get_text(" ", strip=True)
    assert "add up to 210 minutes, 60 minutes more than the panel’s 150 minutes" in warning


# ---- reordering ------------------------------------------------------------------------------------


def test_the_coordinator_moves_an_item_down_and_back_up(client, db, login_as, world):
    items = _built(db, world)
    login_as(world.coordinator)
    cases = [i for i in items if i.kind == AgendaItemKind.CASE]
    first, second = cases[0].id, cases[1].id
    url = _url(world, f"/items/{first}/move")

    response = post_form(client, url, {"direction": "down"}, token_from=_url(world))

    assert response.status_code == 302 and response.headers["Location"].endswith(f"#item-{first}")
    order = [i.id for i in _items(db, world.meeting.id) if i.kind == AgendaItemKind.CASE]
    assert order[:2] == [second, first]
    followed = client.get(response.headers["Location"])
    assert "moved down" in _banner(followed)

    post_form(client, url, {"direction": "up"}, token_from=_url(world))
    assert [i.id for i in _items(db, world.meeting.id) if i.kind == AgendaItemKind.CASE][:2] == [first, second]
    again = post_form(client, url, {"direction": "up"}, token_from=_url(world), follow_redirects=True)
    assert "already first in its section" in _banner(again)


@pytest.mark.parametrize("direction", ["", "sideways", "<script>", "up' OR 1=1 --"])
def test_a_bad_direction_changes_nothing(client, db, login_as, world, direction):
    items = _built(db, world)
    login_as(world.coordinator)
    before = [i.id for i in items]
    response = post_form(client, _url(world, f"/items/{items[4].id}/move"), {"direction": direction},
                         token_from=_url(world), follow_redirects=True)
    assert response.status_code == 200 and "Something went wrong" in _banner(response)
    assert [i.id for i in _items(db, world.meeting.id)] == before


def test_a_move_without_the_csrf_token_is_refused(client, db, login_as, world):
    items = _built(db, world)
    login_as(world.coordinator)
    response = client.post(_url(world, f"/items/{items[4].id}/move"), data={"direction": "up"})
    assert response.status_code == 400
    assert [i.id for i in _items(db, world.meeting.id)] == [i.id for i in items]


# ---- own items and time boxes --------------------------------------------------------------------


def test_the_coordinator_adds_an_item(client, db, login_as, world):
    _built(db, world)
    login_as(world.coordinator)
    form = page(client.get(_url(world, "/items/add")))
    assert form.select_one("input[name=minutes]")["value"] == "10"

    response = post_form(client, _url(world, "/items/add"), {"title": "Training update", "minutes": "20"})

    items = _items(db, world.meeting.id)
    added = next(i for i in items if i.kind == AgendaItemKind.OTHER)
    assert response.headers["Location"].endswith(f"/meetings/{world.meeting.id}#item-{added.id}")
    assert (added.title, added.minutes) == ("Training update", 20)
    assert [str(i.kind) for i in items][-2:] == ["other", "aob"]
    # sent twice: added once
    twice = post_form(client, _url(world, "/items/add"), {"title": "training  UPDATE", "minutes": "20"})
    assert error_summary(twice) == ["‘training UPDATE’ is already on the agenda"]
    assert sum(1 for i in _items(db, world.meeting.id) if i.kind == AgendaItemKind.OTHER) == 1


@pytest.mark.parametrize("data, errors", [
    ({"title": "", "minutes": ""}, ["Enter the title of the item", "Enter the time box in minutes"]),
    ({"title": "x" * 201, "minutes": "10"}, ["The title of the item must be 200 characters or fewer"]),
    ({"title": "Fine", "minutes": "abc"}, ["The time box must be a whole number of minutes, like 15"]),
    ({"title": "Fine", "minutes": "-5"}, ["The time box must be a whole number of minutes, like 15"]),
    ({"title": "Fine", "minutes": "1e3"}, ["The time box must be a whole number of minutes, like 15"]),
    ({"title": "Fine", "minutes": "１５"}, ["The time box must be a whole number of minutes, like 15"]),
    ({"title": "Fine", "minutes": "0"}, ["The time box must be between 1 and 180 minutes"]),
    ({"title": "Fine", "minutes": "999"}, ["The time box must be between 1 and 180 minutes"]),
    ({"title": "Fine", "minutes": "99999999999999999999"}, ["The time box must be a whole number of minutes, like 15"]),
    ({"title": "\x00\x07\u202e", "minutes": "5"}, ["Enter the title of the item"]),
])
def test_adding_an_item_with_bad_input_shows_errors_and_keeps_what_was_typed(client, db, login_as, world, data,
                                                                             errors):
    _built(db, world)
    login_as(world.coordinator)

    response = post_form(client, _url(world, "/items/add"), data)

    assert response.status_code == 200
    assert error_summary(response) == errors
    soup = page(response)
    assert soup.title.get_text().startswith("Error: ")
    if data["minutes"] and data["minutes"] != "99999999999999999999":
        assert soup.select_one("input[name=minutes]")["value"] == data["minutes"]
    assert not [i for i in _items(db, world.meeting.id) if i.kind == AgendaItemKind.OTHER]


def test_html_and_sql_in_a_title_are_kept_as_text_and_escaped(client, db, login_as, world):
    _built(db, world)
    login_as(world.coordinator)
    title = "<script>alert('x')</script> '; DROP TABLE meetings; --"

    post_form(client, _url(world, "/items/add"), {"title": title, "minutes": "5"})

    added = next(i for i in _items(db, world.meeting.id) if i.kind == AgendaItemKind.OTHER)
    assert added.title == title
    body = client.get(_url(world)).get_data(as_text=True)
    assert "<script>alert" not in body and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in body
    login_as(world.chair)
    pack = client.get(_url(world, "/agenda")).get_data(as_text=True)
    assert "<script>alert" not in pack and "&lt;script&gt;" in pack


def test_the_coordinator_changes_a_time_box(client, db, login_as, world):
    items = _built(db, world)
    item = items[3]
    login_as(world.coordinator)
    url = _url(world, f"/items/{item.id}/time")
    assert page(client.get(url)).select_one("input[name=minutes]")["value"] == "15"

    bad = post_form(client, url, {"minutes": "three"})
    assert error_summary(bad) == ["The time box must be a whole number of minutes, like 15"]
    assert page(bad).select_one("input[name=minutes]")["value"] == "three"
    response = post_form(client, url, {"minutes": " 25 "}, follow_redirects=True)

    assert "is now 25 minutes" in _banner(response)
    assert _items(db, world.meeting.id)[3].minutes == 25


# ---- publishing ----------------------------------------------------------------------------------


def test_publishing_from_the_page_then_again_only_when_asked(client, db, login_as, world):
    login_as(world.coordinator)
    client.get(_url(world))

    first = post_form(client, _url(world, "/publish"), {}, token_from=_url(world), follow_redirects=True)
    assert "The agenda has been published: 3 SPoCs emailed a link." in _banner(first)
    assert page(first).find("button", string=lambda s: s and "Send the agenda again" in s)

    twice = post_form(client, _url(world, "/publish"), {}, token_from=_url(world), follow_redirects=True)
    assert "already published" in _banner(twice)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 3

    again = post_form(client, _url(world, "/publish"), {"again": "yes"}, token_from=_url(world),
                      follow_redirects=True)
    assert "sent again: 3 SPoCs" in _banner(again)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 6


def test_publishing_sends_the_calendar_invitations_too_when_ticked(client, db, login_as, world):
    from panel.models import MeetingAttendee

    login_as(world.coordinator)
    shown = page(client.get(_url(world)))
    assert shown.select_one("input[name=invite][value=yes]").has_attr("checked")

    response = post_form(client, _url(world, "/publish"), {"invite": "yes"}, token_from=_url(world),
                         follow_redirects=True)

    invited = db.session.scalar(sa.select(sa.func.count()).select_from(MeetingAttendee)
                                .where(MeetingAttendee.meeting_id == world.meeting.id))
    assert invited > 0
    assert f"Calendar invitations sent to {invited} people." in _banner(response)
    again = post_form(client, _url(world, "/publish"), {"again": "yes", "invite": "yes"}, token_from=_url(world),
                      follow_redirects=True)
    assert "Calendar invitations" not in _banner(again)  # sending the agenda again invites nobody more


# ---- moving and cancelling -------------------------------------------------------------------------


def _move_data(day: date, start: str = "14:00", end: str = "16:00", reason: str = "The room is needed") -> dict:
    return {"new_date": [str(day.day), str(day.month), str(day.year)], "start_time": start, "end_time": end,
            "reason": reason}


def test_the_coordinator_moves_a_panel(client, db, login_as, world):
    login_as(world.coordinator)
    url = _url(world, "/move")
    form = page(client.get(url))
    current = world.meeting.starts_at.date()
    assert [int(i["value"]) for i in form.select("input[name=new_date]")] == [current.day, current.month,
                                                                              current.year]
    assert form.select_one("input[name=start_time]")["value"] == "10:00"
    new_day = current + timedelta(days=1)

    response = post_form(client, url, _move_data(new_day, "9:30", "12:00"), follow_redirects=True)

    assert "The panel has moved to" in _banner(response) and "9:30am" in _banner(response)
    meeting = db.session.get(Meeting, world.meeting.id)
    db.session.refresh(meeting)
    assert meeting.starts_at.astimezone(agenda_world.LONDON).strftime("%Y-%m-%d %H:%M") == f"{new_day} 09:30"
    assert meeting.length_minutes == 150
    assert meeting.moved_reason == "The room is needed"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 5
    # the same form sent again changes nothing more
    twice = post_form(client, url, _move_data(new_day, "9:30", "12:00"))
    assert error_summary(twice) == ["The new date and times are the same as now. Enter a different date or time"]


@pytest.mark.parametrize("change, errors", [
    ({"new_date": ["", "", ""]}, ["Enter the new date"]),
    ({"new_date": ["31", "2", "2099"]}, ["The new date must be a real date"]),
    ({"new_date": ["1", "2", "27"]}, ["Year must include 4 numbers"]),
    ({"new_date": ["1", "", "2099"]}, ["The new date must include a month"]),
    ({"start_time": "", "end_time": ""}, ["Enter the start time", "Enter the end time"]),
    ({"start_time": "25:00"}, ["Enter a real start time, like 10:00"]),
    ({"end_time": "<b>noon</b>"}, ["Enter a real end time, like 12:30"]),
    ({"start_time": "14:00", "end_time": "13:00"}, ["The end time must be after the start time"]),
    ({"reason": ""}, ["Enter the reason for moving the panel"]),
    ({"reason": "x" * 501}, ["The reason for moving the panel must be 500 characters or fewer"]),
    ({"new_date": ["1", "1", "2020"]}, ["The new date and time must be in the future"]),
])
def test_moving_with_bad_input_shows_errors_and_changes_nothing(client, db, login_as, world, change, errors):
    login_as(world.coordinator)
    data = {**_move_data(world.meeting.starts_at.date() + timedelta(days=2)), **change}
    before = world.meeting.starts_at

    response = post_form(client, _url(world, "/move"), data)

    assert response.status_code == 200
    assert error_summary(response) == errors
    assert page(response).select_one("input[name=start_time]")["value"] == data["start_time"]
    db.session.expire_all()
    assert db.session.get(Meeting, world.meeting.id).starts_at == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_a_time_the_clocks_skip_is_refused(client, db, login_as, world):
    login_as(world.coordinator)
    data = _move_data(date(2099, 3, 29), "01:30", "03:00")  # British Summer Time starts at 01:00
    response = post_form(client, _url(world, "/move"), data)
    assert error_summary(response) == ["01:30 did not happen on 29 March 2099 because the clocks went forward"]


def test_the_coordinator_cancels_a_panel(client, db, login_as, world):
    login_as(world.coordinator)
    url = _url(world, "/cancel")
    missing = post_form(client, url, {"reason": "  "})
    assert error_summary(missing) == ["Enter the reason for cancelling the panel"]

    response = post_form(client, url, {"reason": "Not enough agencies can attend"}, follow_redirects=True)

    assert "has been cancelled. 5 people were told by email." in _banner(response)
    soup = page(response)
    assert "This panel has been cancelled. Not enough agencies can attend" in soup.select_one(
        ".govuk-warning-text").get_text(" ", strip=True)
    assert "Publish the agenda" not in soup.get_text() and not soup.select("button[name=direction]")
    assert db.session.get(Meeting, world.meeting.id).status == MeetingStatus.CANCELLED
    again = client.get(url, follow_redirects=True)
    assert "has been cancelled" in _banner(again)


def test_a_panel_that_has_started_cannot_be_moved_or_cancelled_from_the_page(client, db, login_as, world):
    world.meeting.starts_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    login_as(world.coordinator)
    soup = page(client.get(_url(world)))
    assert "Move this panel" not in soup.get_text() and "Publish the agenda" not in soup.get_text()
    assert "Add an item" in soup.get_text()  # the agenda may still be tidied until the minutes are final
    for suffix in ("/move", "/cancel"):
        assert "already started" in _banner(client.get(_url(world, suffix), follow_redirects=True))


# ---- the print view -------------------------------------------------------------------------------


def test_the_print_view_is_the_pack_for_the_chair(client, db, login_as, world):
    _built(db, world)
    closing = world.cases[0]
    closing.status = CaseStatus.CLOSURE_PROPOSED
    db.session.commit()
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    login_as(world.chair)

    response = client.get(_url(world, "/agenda"))

    assert response.status_code == 200
    soup = page(response)
    assert soup.html["lang"] == "en-GB"
    assert soup.title.get_text().startswith("Panel agenda and case pack, ")
    assert soup.find("link", href="/static/print/pack.css")
    assert [s["id"] for s in soup.select("section.pack-case")] == [
        f"case-{c.reference}" for c in sorted(world.cases[1:], key=lambda c: c.risk_level.rank)] + [
        f"case-{closing.reference}"]
    assert "OFFICIAL-SENSITIVE" in soup.select_one(".marking").get_text()
    assert soup.select_one(".statement").get_text(strip=True).startswith("The information discussed")
    assert [a["href"] for a in soup.select(".contents a") if "#case-" in a["href"]] == [
        f"#{s['id']}" for s in soup.select("section.pack-case")]
    views = _views(db, world.meeting.id)
    assert len(views) == 1 and '"print"' in views[0].summary


# ---- the dashboards and the navigation ----------------------------------------------------------


def test_the_dashboards_link_the_next_panel_and_the_navigation_has_meetings(client, db, login_as, world):
    past = panel_meeting(utcnow() - timedelta(days=3))
    cancelled = panel_meeting(world.meeting.starts_at - timedelta(days=2))
    cancelled.status = MeetingStatus.CANCELLED
    db.session.commit()
    for user in (world.coordinator, world.chair, world.police_spoc):
        login_as(user)
        soup = page(client.get("/"))
        links = [a["href"] for a in soup.select("#next-panel a")]
        assert links == [f"/meetings/{world.meeting.id}", "/meetings"], user.role
        nav = [a.get_text(strip=True) for a in soup.select(".govuk-service-navigation__link")]
        assert "Meetings" in nav
        assert past.id != world.meeting.id
    for user in (world.practitioner, world.board, world.admin):
        login_as(user)
        soup = page(client.get("/"))
        assert soup.select_one("#next-panel") is None
        assert "Meetings" not in [a.get_text(strip=True) for a in soup.select(".govuk-service-navigation__link")]


def test_with_no_panel_the_dashboard_says_so(client, db, login_as):
    login_as("chair")
    assert page(client.get("/")).select_one("#next-panel").get_text(" ", strip=True).startswith(
        "No panel is scheduled.")
