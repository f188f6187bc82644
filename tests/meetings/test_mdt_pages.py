"""Case MDT pages: who sees and changes what (every page by every kind of user), scheduling,
changing, the attendee list, cancelling and notes through the forms, GOV.UK errors that keep
what was typed, the same form sent twice, audited views, and a fixed number of queries."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import mdt
from panel.meetings.invitations import Person
from panel.models import (
    Action,
    AgendaItem,
    AttendeeResponse,
    AuditAction,
    AuditEvent,
    CaseStatus,
    Involvement,
    Meeting,
    MeetingKind,
    MeetingStatus,
    OutboxMessage,
    RiskLevel,
    Role,
    utcnow,
)
from panel.dates import LONDON
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import error_summary, page, post_form


@pytest.fixture
def world(app):
    host = factories.create_agency(code="host", name="Host Council")
    police = factories.create_agency(code="police", name="Police")
    housing = factories.create_agency(code="housing", name="Housing")
    other = factories.create_agency(code="other", name="Other Agency")
    users = {
        "coordinator": factories.create_user(role=Role.COORDINATOR, agency=host, name="Cora Coordinator"),
        "chair": factories.create_user(role=Role.CHAIR, agency=host, name="Chris Chair"),
        "involved SPoC": factories.create_user(role=Role.SPOC, agency=police, name="Pat Police",
                                               email="pat@police.test"),
        "housing SPoC": factories.create_user(role=Role.SPOC, agency=housing, name="Hana Housing",
                                              email="hana@housing.test"),
        "non-involved SPoC": factories.create_user(role=Role.SPOC, agency=other, name="Otto Other"),
        "named worker": factories.create_user(role=Role.PRACTITIONER, agency=police, name="Wyn Worker",
                                              email="wyn@police.test"),
        "other practitioner": factories.create_user(role=Role.PRACTITIONER, agency=other, name="Olly Other"),
        "board": factories.create_user(role=Role.BOARD, agency=host, name="Bo Board"),
        "admin": factories.create_user(role=Role.ADMIN, agency=host, name="Ada Admin"),
    }
    police.spoc, housing.spoc, other.spoc = users["involved SPoC"], users["housing SPoC"], users["non-involved SPoC"]
    case = create_case(lead=police, involved=(housing,), given_name="Zebedee", family_name="Quaintly")
    db.session.execute(sa.update(Involvement).where(Involvement.case_id == case.id, Involvement.agency_id == police.id)
                       .values(worker_user_id=users["named worker"].id, named_worker="Wyn Worker"))
    db.session.commit()
    return {"case": case, "reference": case.reference, "users": users, "police": police, "housing": housing,
            "other": other}


def _future_day(days: int = 30) -> date:
    return utcnow().astimezone(LONDON).date() + timedelta(days=days)


def _mdt(world, *, days: int = 30, people=None, now=None) -> Meeting:
    """An MDT made through the service (`now` in the past makes one that has already happened)."""
    now = now or utcnow()
    day = now.astimezone(LONDON).date() + timedelta(days=days)
    meeting = mdt.schedule_mdt(
        world["case"], day=day, start=time(10), end=time(11), location="Room 2, Town Hall", online_url="",
        purpose="Agree a plan", attendees=people if people is not None else [Person.of(world["users"]["involved SPoC"])],
        by=world["users"]["coordinator"], now=now)
    db.session.commit()
    return meeting


def _held(world, ago: int = 2, **kwargs) -> Meeting:
    """An MDT that took place `ago` days ago."""
    return _mdt(world, days=1, now=utcnow() - timedelta(days=ago + 1), **kwargs)


def _schedule_data(world, **change) -> dict:
    day = _future_day()
    data = {"day": [str(day.day), str(day.month), str(day.year)], "start": "10:00",
            "end": "11:30", "location": "Room 2, Town Hall", "online_url": "", "purpose": "Agree a safety plan",
            "users": [str(world["users"]["involved SPoC"].id)]}
    data.update(change)
    return data


# ---- who may do what ----------------------------------------------------------------------------------

READERS = {"coordinator", "chair", "involved SPoC", "named worker"}
ROLES = ["coordinator", "chair", "involved SPoC", "non-involved SPoC", "named worker", "other practitioner",
         "board", "admin"]


def _pages(reference: str, meeting_id: int) -> dict[str, tuple[str, set[str]]]:
    return {
        "case meetings": (f"/cases/{reference}/meetings", READERS),
        "schedule": (f"/cases/{reference}/meetings/new", {"coordinator"}),
        "MDT page": (f"/meetings/{meeting_id}/mdt", READERS),
        "reschedule": (f"/meetings/{meeting_id}/mdt/reschedule", {"coordinator"}),
        "attendees": (f"/meetings/{meeting_id}/mdt/attendees", {"coordinator"}),
        "cancel": (f"/meetings/{meeting_id}/mdt/cancel", {"coordinator"}),
        "notes": (f"/meetings/{meeting_id}/mdt/notes", {"coordinator"}),
    }


@pytest.mark.parametrize("who", ROLES)
def test_every_page_by_every_kind_of_user(app, db, login_as, client, world, who):
    meeting = _mdt(world)
    login_as(world["users"][who])
    problems = []
    for name, (url, allowed) in _pages(world["reference"], meeting.id).items():
        response = client.get(url)
        expected = 200 if who in allowed else 404
        if response.status_code != expected:
            problems.append(f"GET {name}: {response.status_code}, expected {expected}")
        elif expected == 200 and "Zebedee Quaintly" not in page(response).get_text(" ", strip=True):
            problems.append(f"GET {name}: the full case record must show the person's name")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who", [w for w in ROLES if w != "coordinator"])
def test_nobody_but_a_coordinator_changes_an_mdt(app, db, login_as, client, world, who):
    meeting = _mdt(world)
    sequence, outbox = meeting.ical_sequence, db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    login_as(world["users"][who])
    app.config["WTF_CSRF_ENABLED"] = False
    posts = {
        f"/cases/{world['reference']}/meetings/new": _schedule_data(world),
        f"/meetings/{meeting.id}/mdt/reschedule": _schedule_data(world, start="12:00", end="13:00"),
        f"/meetings/{meeting.id}/mdt/attendees": {"add": "y", "ext1_name": "E", "ext1_agency": "A",
                                                  "ext1_email": "e@example.test"},
        f"/meetings/{meeting.id}/mdt/cancel": {"reason": "No"},
        f"/meetings/{meeting.id}/mdt/notes": {"notes": "Hello"},
    }
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 404, url
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 1
    assert meeting.ical_sequence == sequence and meeting.status == MeetingStatus.SCHEDULED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == outbox


def test_refusals_are_audited_and_views_are_audited(client, db, login_as, world):
    meeting = _mdt(world)
    login_as(world["users"]["non-involved SPoC"])
    assert client.get(f"/meetings/{meeting.id}/mdt").status_code == 404
    denied = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.DENIED,
                                                           AuditEvent.object_id == world["reference"]))
    assert denied is not None

    login_as(world["users"]["named worker"])
    for url in (f"/cases/{world['reference']}/meetings", f"/meetings/{meeting.id}/mdt"):
        assert client.get(url).status_code == 200
    db.session.expire_all()
    views = list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_id == world["reference"],
        AuditEvent.user_id == world["users"]["named worker"].id)))
    assert len(views) == 2 and all('"section": "meetings"' in v.summary for v in views)


def test_a_missing_mdt_is_404_and_a_panel_goes_to_its_own_page(client, db, login_as, world):
    login_as(world["users"]["coordinator"])
    assert client.get("/meetings/999/mdt").status_code == 404
    panel = Meeting(kind=MeetingKind.PANEL, starts_at=utcnow() + timedelta(days=9),
                    ends_at=utcnow() + timedelta(days=9, hours=2))
    db.session.add(panel)
    db.session.commit()
    response = client.get(f"/meetings/{panel.id}/mdt")
    assert response.status_code == 302 and response.headers["Location"] == f"/meetings/{panel.id}"


# ---- the case's meetings ----------------------------------------------------------------------------


def test_the_case_meetings_page_lists_upcoming_past_and_cancelled(client, db, login_as, world):
    upcoming = _mdt(world)
    held = _held(world)
    dropped = _mdt(world, days=40)
    mdt.cancel_mdt(dropped, reason="Not needed", by=world["users"]["coordinator"])
    db.session.commit()
    login_as(world["users"]["coordinator"])

    soup = page(client.get(f"/cases/{world['reference']}/meetings"))

    assert soup.select_one(f"#upcoming #mdt-{upcoming.id}") is not None
    assert soup.select_one(f"#past #mdt-{held.id}") is not None
    assert soup.select_one(f"#cancelled #mdt-{dropped.id}") is not None
    button = soup.select_one(f"a.govuk-button[href='/cases/{world['reference']}/meetings/new']")
    assert button.get_text(strip=True) == "Schedule an MDT"
    assert soup.select_one(".panel-case-nav a[aria-current='page']").get_text(strip=True) == "Meetings"


def test_readers_have_no_schedule_button(client, login_as, world):
    login_as(world["users"]["chair"])
    soup = page(client.get(f"/cases/{world['reference']}/meetings"))
    assert soup.find("main").select_one("a.govuk-button") is None
    assert soup.select_one("#no-upcoming") is not None


# ---- scheduling --------------------------------------------------------------------------------------


def test_the_schedule_form_lists_the_involved_spocs_and_named_workers(client, login_as, world):
    login_as(world["users"]["coordinator"])
    soup = page(client.get(f"/cases/{world['reference']}/meetings/new"))
    labels = [label.get_text(" ", strip=True) for label in soup.select("input[name=users] + label")]
    assert labels == ["Hana Housing, SPoC, Housing", "Pat Police, SPoC, Police", "Wyn Worker, named worker, Police"]
    assert len(soup.select("input[name$=_email]")) == 3
    assert soup.select("[aria-expanded]") == [] and soup.select(".govuk-checkboxes__conditional") == []


def test_scheduling_an_mdt_sends_the_invitations(client, db, login_as, world):
    login_as(world["users"]["coordinator"])
    url = f"/cases/{world['reference']}/meetings/new"
    data = _schedule_data(world, users=[str(world["users"]["involved SPoC"].id), str(world["users"]["named worker"].id)],
                          ext1_name="Ellis External", ext1_agency="Lilac Charity", ext1_email="Ellis@Charity.test",
                          online_url="https://meet.example.com/abc")

    response = post_form(client, url, data)

    meeting = db.session.scalar(sa.select(Meeting))
    assert response.status_code == 302 and response.headers["Location"] == f"/meetings/{meeting.id}/mdt"
    assert sorted(a.email for a in meeting.attendees) == ["ellis@charity.test", "pat@police.test", "wyn@police.test"]
    assert meeting.starts_at.astimezone(LONDON).strftime("%H:%M") == "10:00"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 3
    soup = page(client.get(response.headers["Location"]))
    banner = soup.select_one(".govuk-notification-banner").get_text(" ", strip=True)
    assert "is scheduled. 3 people have been sent a calendar invitation." in banner
    assert soup.select_one(f"a[href='/meetings/{meeting.id}/invite.ics']") is not None
    assert soup.select_one(f"a[href='/meetings/{meeting.id}/mdt/reschedule']") is not None


def test_the_same_form_sent_twice_schedules_one_mdt(client, db, login_as, world):
    login_as(world["users"]["coordinator"])
    url = f"/cases/{world['reference']}/meetings/new"
    post_form(client, url, _schedule_data(world))
    second = post_form(client, url, _schedule_data(world))

    assert second.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
    assert "had already been scheduled" in page(client.get(second.headers["Location"])).get_text()


BAD_SCHEDULES = [
    ({"start": "25:00"}, "Enter a real start time, like 14:00", "start", "25:00"),
    ({"end": "9:61"}, "Enter a real end time, like 15:30", "end", "9:61"),
    ({"start": ""}, "Enter the start time", "start", ""),
    ({"end": "09:00"}, "The end time must be after the start time", "end", "09:00"),
    ({"day": ["1", "1", "2020"]}, "Date of the MDT must be today or in the future", "day", ["1", "1", "2020"]),
    ({"day": ["31", "2", "2030"]}, "Date of the MDT must be a real date", "day", ["31", "2", "2030"]),
    ({"day": ["", "13", "2030"]}, "Date of the MDT must include a day", "day", ["", "13", "2030"]),
    ({"day": ["", "", ""]}, "Enter the date of the MDT", "day", ["", "", ""]),
    ({"location": "", "online_url": ""}, "Enter where the MDT will be, an online link, or both", "location", ""),
    ({"location": "<script>alert(1)</script>"}, "The place must not include the characters < or >", "location",
     "<script>alert(1)</script>"),
    ({"location": "Room\x072"}, None, "location", "Room2"),
    ({"online_url": "http://meet.example.com"}, "Enter the online link as a full address starting with https://",
     "online_url", "http://meet.example.com"),
    ({"online_url": "https://meet.example.com/\"onmouseover=alert(1)"},
     "The online link must not include spaces, quotes or the characters < and >",
     "online_url", "https://meet.example.com/\"onmouseover=alert(1)"),
    ({"purpose": ""}, "Enter the purpose of the MDT", "purpose", ""),
    ({"purpose": "x" * 2001}, "The purpose must be 2,000 characters or fewer", "purpose", "x" * 2001),
    ({"users": ["99999"]}, "Select people from the list", "users", None),
    ({"users": ["1 OR 1=1"]}, "Select people from the list", "users", None),
    ({"users": []}, "Choose at least one person to invite, or enter an external attendee’s details", "users", None),
    ({"ext1_name": "Ellis"}, "Enter the email address of external attendee 1", "ext1_name", "Ellis"),
    ({"ext2_name": "Ellis", "ext2_agency": "Charity", "ext2_email": "not-an-email"},
     "Enter an email address in the correct format, like name@example.gov.uk (for external attendee 2)",
     "ext2_email", "not-an-email"),
    ({"ext1_name": "Pat", "ext1_agency": "Police", "ext1_email": "PAT@police.test"},
     "pat@police.test is already on the list: remove the repeat (for external attendee 1)", "ext1_email",
     "pat@police.test"),
    ({"ext1_name": "A", "ext1_agency": "B", "ext1_email": "same@x.test",
      "ext3_name": "C", "ext3_agency": "D", "ext3_email": "same@x.test"},
     "same@x.test is already on the list: remove the repeat (for external attendee 3)", "ext3_email", "same@x.test"),
    ({"ext1_name": "<b>Bold</b>", "ext1_agency": "B", "ext1_email": "b@x.test"},
     "The name must not include the characters < or >", "ext1_name", "<b>Bold</b>"),
    ({"ext1_name": "x" * 121, "ext1_agency": "B", "ext1_email": "b@x.test"},
     "The name must be 120 characters or fewer", "ext1_name", "x" * 121),
]


@pytest.mark.parametrize("change, message, field, kept", BAD_SCHEDULES,
                         ids=[str(i) for i in range(len(BAD_SCHEDULES))])
def test_bad_input_gives_a_govuk_error_and_keeps_what_was_typed(client, db, login_as, world, change, message, field,
                                                                kept):
    login_as(world["users"]["coordinator"])
    url = f"/cases/{world['reference']}/meetings/new"

    response = post_form(client, url, _schedule_data(world, **change))

    if message is None:   # control characters are dropped, and the rest is saved
        assert response.status_code == 302
        assert db.session.scalar(sa.select(Meeting.location)) == kept
        return
    assert response.status_code == 200
    assert message in error_summary(response)
    soup = page(response)
    assert soup.title.get_text().startswith("Error: ")
    if isinstance(kept, list):
        assert [i.get("value", "") for i in soup.find_all("input", attrs={"name": field})] == kept
    elif kept is not None:
        element = soup.find(["input", "textarea"], attrs={"name": field})
        value = element.get_text() if element.name == "textarea" else element.get("value", "")
        assert value == kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 0


def test_a_closed_case_shows_no_form(app, client, db, login_as, world):
    world["case"].status = CaseStatus.CLOSED
    db.session.commit()
    login_as(world["users"]["coordinator"])
    app.config["WTF_CSRF_ENABLED"] = False
    response = client.post(f"/cases/{world['reference']}/meetings/new", data=_schedule_data(world))
    assert response.status_code == 200 and "This case is closed" in page(response).get_text()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 0


# ---- the MDT page ---------------------------------------------------------------------------------------


def test_the_mdt_page_shows_the_details_replies_notes_and_actions(client, db, login_as, world):
    meeting = _held(world, people=[Person.of(world["users"]["involved SPoC"]),
                                   Person(email="e@charity.test", name="Ellis External", agency_name="Charity")])
    meeting.attendees[0].response = AttendeeResponse.ACCEPTED
    mdt.save_minutes(meeting, notes="Talked it through", decision="Joint visit", by=world["users"]["coordinator"])
    action = mdt.add_mdt_action(meeting, description="Visit together", agency=world["police"],
                                due_on=_future_day(7), by=world["users"]["coordinator"])
    db.session.commit()
    login_as(world["users"]["named worker"])

    soup = page(client.get(f"/meetings/{meeting.id}/mdt"))
    text = soup.get_text(" ", strip=True)

    assert "Agree a plan" in text and "Room 2, Town Hall" in text
    assert "Talked it through" in text and "Joint visit" in text
    assert soup.select_one(f"#action-{action.id}") is not None
    assert soup.select_one(f"#attendee-{meeting.attendees[0].id}").get_text(" ", strip=True).endswith("Attending")
    assert soup.select_one("#mdt-links") is None   # readers get no change links
    assert soup.select_one(".panel-case-nav a[aria-current='page']").get_text(strip=True) == "Meetings"


# ---- rescheduling ----------------------------------------------------------------------------------------


def test_the_reschedule_form_starts_with_the_current_details_and_a_change_sends_updates(client, db, login_as, world):
    meeting = _mdt(world)
    login_as(world["users"]["coordinator"])
    url = f"/meetings/{meeting.id}/mdt/reschedule"
    soup = page(client.get(url))
    assert soup.find("input", attrs={"name": "start"})["value"] == "10:00"
    assert soup.find("input", attrs={"name": "location"})["value"] == "Room 2, Town Hall"
    day = meeting.starts_at.astimezone(LONDON).date()
    # the date boxes show the day and month with a leading zero, as the agency ISA dates do ("06", "03")
    assert [i["value"] for i in soup.find_all("input", attrs={"name": "day"})] == [f"{day:%d}", f"{day:%m}",
                                                                                  f"{day:%Y}"]

    data = {"day": [str(day.day), str(day.month), str(day.year)], "start": "14:00",
            "end": "15:00", "location": "Room 2, Town Hall", "online_url": "", "purpose": "Agree a plan"}
    response = post_form(client, url, data)

    assert response.status_code == 302
    db.session.expire_all()
    assert meeting.ical_sequence == 1
    assert meeting.starts_at.astimezone(LONDON).strftime("%H:%M") == "14:00"
    assert "1 person has been sent the updated calendar invitation" in page(
        client.get(response.headers["Location"])).get_text()

    again = post_form(client, url, data)
    db.session.expire_all()
    assert again.status_code == 302 and meeting.ical_sequence == 1
    assert "Nothing was changed." in page(client.get(again.headers["Location"])).get_text()


def test_rescheduling_errors_keep_the_input(client, db, login_as, world):
    meeting = _mdt(world)
    login_as(world["users"]["coordinator"])
    day = meeting.starts_at.astimezone(LONDON).date()
    response = post_form(client, f"/meetings/{meeting.id}/mdt/reschedule", {
        "day": [str(day.day), str(day.month), str(day.year)], "start": "24:00",
        "end": "15:00", "location": "Room 5", "online_url": "ftp://x.test", "purpose": "Agree a plan"})
    assert error_summary(response) == ["Enter a real start time, like 14:00",
                                       "Enter the online link as a full address starting with https://"]
    soup = page(response)
    assert soup.find("input", attrs={"name": "location"})["value"] == "Room 5"
    assert soup.find("input", attrs={"name": "start"})["value"] == "24:00"


def test_a_meeting_that_has_happened_cannot_be_changed(client, login_as, world):
    meeting = _held(world)
    login_as(world["users"]["coordinator"])
    for path in ("reschedule", "cancel"):
        response = post_form(client, f"/meetings/{meeting.id}/mdt/{path}", {"reason": "x"},
                             token_from=f"/meetings/{meeting.id}/mdt")
        assert response.status_code == 200
        assert "This MDT has already started" in page(response).get_text()


# ---- attendees -----------------------------------------------------------------------------------------


def test_adding_removing_and_recording_replies(client, db, login_as, world):
    meeting = _mdt(world)
    login_as(world["users"]["coordinator"])
    url = f"/meetings/{meeting.id}/mdt/attendees"
    soup = page(client.get(url))
    offered = [label.get_text(" ", strip=True) for label in soup.select("input[name=users] + label")]
    assert offered == ["Hana Housing, SPoC, Housing", "Wyn Worker, named worker, Police"]

    response = post_form(client, url, {"add": "y", "users": [str(world["users"]["housing SPoC"].id)],
                                       "ext1_name": "Ellis External", "ext1_agency": "Charity",
                                       "ext1_email": "ellis@charity.test"})
    assert response.status_code == 302
    db.session.expire_all()
    emails = [a.email for a in meeting.attendees if a.current]
    assert emails == ["pat@police.test", "hana@housing.test", "ellis@charity.test"]
    assert meeting.ical_sequence == 0

    ellis = meeting.attendees[2]
    pat = meeting.attendees[0]
    replies = {f"reply_{a.id}": "needs_action" for a in meeting.attendees}
    replies.update({f"reply_{pat.id}": "accepted", f"reply_{ellis.id}": "tentative", "save_replies": "y"})
    response = post_form(client, url, replies)
    assert response.status_code == 302
    db.session.expire_all()
    assert (pat.response, ellis.response) == (AttendeeResponse.ACCEPTED, AttendeeResponse.TENTATIVE)
    assert "2 replies recorded." in page(client.get(url)).get_text()

    response = post_form(client, url, {"remove": str(ellis.id)})
    assert response.status_code == 302
    db.session.expire_all()
    assert ellis.removed_at is not None and meeting.ical_sequence == 1
    cancel = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.to_addr == "ellis@charity.test",
                                                              OutboxMessage.calendar_method == "CANCEL"))
    assert cancel is not None
    soup = page(client.get(url))
    assert "Ellis External has been taken off the list" in soup.get_text()
    assert "Ellis External" in soup.select_one("#removed").get_text()


def test_attendee_errors(client, db, login_as, world):
    meeting = _mdt(world)
    login_as(world["users"]["coordinator"])
    url = f"/meetings/{meeting.id}/mdt/attendees"
    pat = meeting.attendees[0]

    nothing = post_form(client, url, {"add": "y"})
    assert error_summary(nothing) == ["Choose someone to invite, or enter an external attendee’s details"]
    repeat = post_form(client, url, {"add": "y", "ext1_name": "Pat", "ext1_agency": "Police",
                                     "ext1_email": "pat@police.test"})
    assert error_summary(repeat) == ["pat@police.test is already on the list: remove the repeat (for the external "
                                     "attendee)"]
    assert page(repeat).find("input", attrs={"name": "ext1_name"})["value"] == "Pat"
    bad = post_form(client, url, {"save_replies": "y", f"reply_{pat.id}": "maybe"})
    assert error_summary(bad) == ["Select the reply from Pat Police from the list"]
    gone = post_form(client, url, {"remove": "99999"})
    assert gone.status_code == 302
    db.session.expire_all()
    assert pat.response == AttendeeResponse.NEEDS_ACTION and meeting.ical_sequence == 0


# ---- cancelling ----------------------------------------------------------------------------------------


def test_cancelling_needs_a_reason_and_tells_everyone(client, db, login_as, world):
    meeting = _mdt(world)
    login_as(world["users"]["coordinator"])
    url = f"/meetings/{meeting.id}/mdt/cancel"

    assert error_summary(post_form(client, url, {"reason": "  "})) == ["Enter why the MDT is cancelled"]
    long = post_form(client, url, {"reason": "x" * 501})
    assert error_summary(long) == ["The reason must be 500 characters or fewer"]
    assert page(long).find("textarea", attrs={"name": "reason"}).get_text() == "x" * 501

    response = post_form(client, url, {"reason": "The person has moved away"})
    assert response.status_code == 302
    db.session.expire_all()
    assert meeting.status == MeetingStatus.CANCELLED and meeting.ical_sequence == 1
    assert "1 person has been sent the cancellation" in page(client.get(response.headers["Location"])).get_text()

    again = post_form(client, url, {"reason": "Twice"}, token_from=f"/cases/{world['reference']}/meetings/new")
    assert again.status_code == 302
    db.session.expire_all()
    assert meeting.cancelled_reason == "The person has moved away" and meeting.ical_sequence == 1


# ---- notes, decisions and actions ---------------------------------------------------------------------


def test_notes_wait_for_the_meeting(client, login_as, world):
    meeting = _mdt(world)
    login_as(world["users"]["coordinator"])
    response = client.get(f"/meetings/{meeting.id}/mdt/notes")
    assert "can be recorded once it has begun" in page(response).get_text()
    assert page(response).find("textarea") is None


def test_notes_a_risk_decision_and_an_action_are_saved_together(client, db, login_as, world):
    meeting = _held(world)
    login_as(world["users"]["coordinator"])
    url = f"/meetings/{meeting.id}/mdt/notes"
    due = _future_day(14)
    data = {"notes": "Police visited twice.", "decision": "Joint visit next week", "risk_level": "high",
            "risk_reason": "A safe room has been found", "action_description": "Joint visit with housing",
            "action_agency_id": str(world["police"].id), "action_assignee_id": str(world["users"]["named worker"].id),
            "action_due_on": [str(due.day), str(due.month), str(due.year)]}

    response = post_form(client, url, data)

    assert response.status_code == 302
    db.session.expire_all()
    item = db.session.scalar(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id))
    assert (item.notes, item.decision) == ("Police visited twice.", "Joint visit next week")
    assert world["case"].risk_level == RiskLevel.HIGH
    action = db.session.scalar(sa.select(Action))
    assert action.meeting_id == meeting.id and action.assignee_id == world["users"]["named worker"].id
    banner = page(client.get(url)).select_one(".govuk-notification-banner").get_text(" ", strip=True)
    assert "The notes and decisions have been saved." in banner and f"Action {action.id} has been added" in banner

    again = post_form(client, url, data)   # the same form sent twice
    assert again.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Action)) == 1
    assert "That action had already been added." in page(client.get(url)).get_text()


NOTES_ERRORS = [
    ({"risk_level": "low"}, "Enter the reason for changing the risk level"),
    ({"risk_level": "extreme"}, "Select the risk level from the list"),
    ({"action_description": "Visit"}, "Select the agency responsible for the action"),
    ({"action_agency_id": "AGENCY"}, "Select the agency responsible"),
    ({"action_description": "Visit", "action_agency_id": "OTHER"}, "Enter the due date of the action"),
    ({"action_description": "Visit", "action_agency_id": "OTHER", "action_due_on": ["1", "1", "2020"]},
     "Due date must be today or in the future"),
    ({"notes": "x" * 10001}, "The notes must be 10,000 characters or fewer"),
]


@pytest.mark.parametrize("change, message", NOTES_ERRORS, ids=[str(i) for i in range(len(NOTES_ERRORS))])
def test_notes_errors_keep_the_input(client, db, login_as, world, change, message):
    meeting = _held(world)
    login_as(world["users"]["coordinator"])
    data = {"notes": "Kept <b>notes</b>", "decision": "", "risk_level": "critical"}
    data.update({k: (str(world["police"].id) if v == "OTHER" else v) for k, v in change.items()})
    response = post_form(client, f"/meetings/{meeting.id}/mdt/notes", data)
    assert message in error_summary(response)
    textarea = page(response).find("textarea", attrs={"name": "notes"}).get_text()
    assert textarea == data["notes"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AgendaItem)) == 0
    assert world["case"].risk_level == RiskLevel.CRITICAL


# ---- a fixed number of queries ----------------------------------------------------------------------


def _fill(world, meetings: int, attendees: int) -> Meeting:
    first = None
    for n in range(meetings):
        people = [Person(email=f"p{n}-{i}@x.test", name=f"Person {i}", agency_name="Charity") for i in range(attendees)]
        meeting = _held(world, ago=2 + n + meetings, people=people) if n % 2 else _mdt(world, days=10 + n + meetings,
                                                                                           people=people)
        first = first or meeting
    mdt.save_minutes(_held(world, ago=1 + meetings, people=[Person.of(world["users"]["involved SPoC"])]), notes="n",
                     decision="d",
                     by=world["users"]["coordinator"])
    db.session.commit()
    return first


def _queries(client, count_queries, url: str) -> int:
    client.get(url)   # warm up (the signed-in user, the app's first request)
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def test_the_case_meetings_page_runs_the_same_queries_for_few_or_many(client, db, login_as, world, count_queries):
    login_as(world["users"]["coordinator"])
    url = f"/cases/{world['reference']}/meetings"
    _fill(world, 2, 1)
    few = _queries(client, count_queries, url)
    _fill(world, 20, 3)
    many = _queries(client, count_queries, url)
    assert few == many


def test_the_mdt_page_runs_the_same_queries_for_few_or_many_attendees(client, db, login_as, world, count_queries):
    login_as(world["users"]["named worker"])
    small = _held(world, people=[Person.of(world["users"]["involved SPoC"])])
    big = _held(world, ago=5, people=[Person(email=f"p{i}@x.test", name=f"Person {i}", agency_name="Charity")
                               for i in range(30)] + [Person.of(world["users"]["named worker"])])
    for meeting in (small, big):
        for n in range(1 if meeting is small else 8):
            mdt.add_mdt_action(meeting, description=f"Action {n}", agency=world["police"], due_on=_future_day(7),
                               by=world["users"]["coordinator"])
    db.session.commit()
    assert _queries(client, count_queries, f"/meetings/{small.id}/mdt") == \
        _queries(client, count_queries, f"/meetings/{big.id}/mdt")
    login_as(world["users"]["coordinator"])
    for path in ("attendees", "notes"):
        assert _queries(client, count_queries, f"/meetings/{small.id}/mdt/{path}") == \
            _queries(client, count_queries, f"/meetings/{big.id}/mdt/{path}"), path


# ---- the case summary's next meeting -----------------------------------------------------------------


def _next_meeting(client, reference: str):
    soup = page(client.get(f"/cases/{reference}"))
    row = next(r for r in soup.select(".govuk-summary-list__row")
               if r.select_one(".govuk-summary-list__key").get_text(strip=True) == "Next meeting")
    return row.select_one(".govuk-summary-list__value")


def test_the_case_summary_shows_the_next_mdt_or_panel(client, db, login_as, world):
    login_as(world["users"]["coordinator"])
    assert _next_meeting(client, world["reference"]).get_text(" ", strip=True).startswith("None scheduled")

    panel = Meeting(kind=MeetingKind.PANEL, starts_at=utcnow() + timedelta(days=60),
                    ends_at=utcnow() + timedelta(days=60, hours=2))
    db.session.add(panel)
    db.session.commit()
    link = _next_meeting(client, world["reference"]).select_one("#next-meeting")
    assert link["href"] == f"/meetings/{panel.id}" and link.get_text().startswith("Monthly panel on ")

    meeting = _mdt(world, days=20)
    link = _next_meeting(client, world["reference"]).select_one("#next-meeting")
    assert link["href"] == f"/meetings/{meeting.id}/mdt" and link.get_text().startswith("MDT on ")

    login_as(world["users"]["non-involved SPoC"])   # the restricted summary has no such row
    soup = page(client.get(f"/cases/{world['reference']}"))
    assert "Next meeting" not in soup.get_text()
