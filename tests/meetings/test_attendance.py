"""Attendance: the expected agencies, the coordinator's record, a SPoC's apologies (own agency,
before the panel, apologies only), read-only once the minutes are finalised, the six-panel
history in two queries, and the pages with their permissions and hostile input."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import minutes as services
from panel.models import Attendance, AttendanceStatus, AuditAction, AuditEvent, MeetingStatus, Role, utcnow
from panel.forms.errors import ServiceError
from tests import factories
from tests.conftest import error_summary, page, post_form
from tests.meetings import minutes_world
from tests.meetings.minutes_world import panel


@pytest.fixture
def world(db):
    return minutes_world.build()


@pytest.fixture
def upcoming(db):
    return minutes_world.build(starts_in=timedelta(days=3))


def _row(meeting, agency) -> Attendance:
    return db.session.scalar(sa.select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                         Attendance.agency_id == agency.id))


# ---- services ------------------------------------------------------------------------------


def test_every_agency_with_a_spoc_is_expected(world):
    names = [a.name for a in services.expected_agencies(world.meeting)]

    assert names == ["Host Council", "Housing", "Police"]  # not Fire and Rescue: no SPoC


def test_attendance_rows_are_made_once_per_agency(world):
    assert services.ensure_attendance_rows(world.meeting, by=world.coordinator) == 3
    assert services.ensure_attendance_rows(world.meeting, by=world.coordinator) == 0

    rows = services.attendance_rows(world.meeting)
    assert [r.agency.name for r in rows] == ["Host Council", "Housing", "Police"]
    assert all(r.status is None for r in rows)


def test_no_rows_are_made_for_a_cancelled_or_finalised_panel(world):
    world.meeting.status = MeetingStatus.CANCELLED
    assert services.ensure_attendance_rows(world.meeting) == 0
    world.meeting.status = MeetingStatus.SCHEDULED
    world.meeting.minutes_finalised_at = utcnow()
    assert services.ensure_attendance_rows(world.meeting) == 0


def test_the_coordinator_records_each_status(world):
    services.ensure_attendance_rows(world.meeting)
    police, housing, host = (_row(world.meeting, a) for a in (world.police, world.housing, world.host))

    services.record_attendance(police, status=AttendanceStatus.PRESENT, by=world.coordinator, attendee_name="Pat Police",
                               deputised_by="", confidentiality_acknowledged=True, written_update="ignored")
    services.record_attendance(housing, status=AttendanceStatus.APOLOGIES_WITH_UPDATE, by=world.coordinator,
                               written_update="Tenancy visit done.", attendee_name="ignored")
    services.record_attendance(host, status=AttendanceStatus.ABSENT, by=world.coordinator,
                               confidentiality_acknowledged=True)

    assert (police.status, police.attendee_name, police.confidentiality_acknowledged, police.written_update) == (
        AttendanceStatus.PRESENT, "Pat Police", True, "")
    assert (housing.status, housing.written_update, housing.attendee_name) == (
        AttendanceStatus.APOLOGIES_WITH_UPDATE, "Tenancy visit done.", "")
    assert (host.status, host.confidentiality_acknowledged) == (AttendanceStatus.ABSENT, False)
    assert police.recorded_by_id == world.coordinator.id and police.recorded_at is not None
    audited = db.session.scalars(sa.select(AuditEvent.summary).where(AuditEvent.object_type == "attendance",
                                                                     AuditEvent.action == AuditAction.UPDATE)).all()
    assert len(audited) == 3 and all("Pat Police" not in s for s in audited)


def test_a_deputy_counts_as_attending(world):
    row = services.attendance_row(world.meeting, world.police)

    services.record_attendance(row, status=AttendanceStatus.PRESENT, by=world.coordinator, deputised_by="Dee Deputy")

    assert (row.attendee_name, row.deputised_by) == ("", "Dee Deputy")


@pytest.mark.parametrize("status, kwargs, message", [
    (None, {}, "Select whether the agency attended"),
    (AttendanceStatus.PRESENT, {}, "Enter who attended, or who deputised for the SPoC"),
    (AttendanceStatus.APOLOGIES_WITH_UPDATE, {"written_update": "   "}, "Enter the written update"),
    (AttendanceStatus.PRESENT, {"attendee_name": "x" * 121}, "Who attended must be 120 characters or fewer"),
])
def test_attendance_needs_what_the_status_needs(world, status, kwargs, message):
    row = services.attendance_row(world.meeting, world.police)

    with pytest.raises(ServiceError, match=message):
        services.record_attendance(row, status=status, by=world.coordinator, **kwargs)


def test_a_spoc_sends_their_own_agencys_apologies_before_the_panel(upcoming):
    w = upcoming
    row = services.attendance_row(w.meeting, w.police)

    services.record_attendance(row, status=AttendanceStatus.APOLOGIES_WITH_UPDATE, by=w.police_spoc,
                               written_update="Warrant executed; no further contact.")

    assert row.status == AttendanceStatus.APOLOGIES_WITH_UPDATE
    assert row.recorded_by_id == w.police_spoc.id


def test_a_spoc_cannot_mark_their_agency_present_or_absent(upcoming):
    row = services.attendance_row(upcoming.meeting, upcoming.police)
    for status in (AttendanceStatus.PRESENT, AttendanceStatus.ABSENT):
        with pytest.raises(ServiceError, match="Select whether you are sending a written update"):
            services.record_attendance(row, status=status, by=upcoming.police_spoc, attendee_name="Pat")


def test_a_spoc_cannot_record_for_another_agency(upcoming):
    row = services.attendance_row(upcoming.meeting, upcoming.housing)

    with pytest.raises(ServiceError, match="cannot record attendance for this agency"):
        services.record_attendance(row, status=AttendanceStatus.APOLOGIES, by=upcoming.police_spoc)


def test_a_spoc_cannot_send_apologies_once_the_panel_has_started(world):
    row = services.attendance_row(world.meeting, world.police)

    with pytest.raises(ServiceError, match="cannot record attendance"):
        services.record_attendance(row, status=AttendanceStatus.APOLOGIES, by=world.police_spoc)
    assert services.can_send_apologies(world.police_spoc, world.police.id, world.meeting) is False


def test_the_deputy_sends_apologies_while_the_spoc_is_absent(upcoming):
    w = upcoming
    deputy = factories.create_user(role=Role.SPOC, agency=w.police)
    w.police.deputy_spoc = deputy
    row = services.attendance_row(w.meeting, w.police)
    with pytest.raises(ServiceError):
        services.record_attendance(row, status=AttendanceStatus.APOLOGIES, by=deputy)  # the SPoC is not absent

    factories.mark_spoc_absent(w.police)
    services.record_attendance(row, status=AttendanceStatus.APOLOGIES, by=deputy)

    assert row.status == AttendanceStatus.APOLOGIES
    with pytest.raises(ServiceError):
        services.record_attendance(row, status=AttendanceStatus.APOLOGIES, by=w.police_spoc)  # now not acting


def test_attendance_is_read_only_once_the_minutes_are_finalised(world):
    row = services.attendance_row(world.meeting, world.police)
    services.finalise(world.meeting, by=world.chair)

    with pytest.raises(ServiceError, match="finalised"):
        services.record_attendance(row, status=AttendanceStatus.PRESENT, by=world.coordinator, attendee_name="Pat")


def test_the_history_covers_the_last_six_panels_held(world):
    w = world
    start = w.previous.starts_at
    older = [panel(start - timedelta(days=28 * n)) for n in range(1, 7)]  # six more before the previous one
    upcoming = panel(utcnow() + timedelta(days=20))
    cancelled = panel(w.meeting.starts_at - timedelta(days=7))
    cancelled.status = MeetingStatus.CANCELLED
    held = sorted([w.meeting, w.previous, *older], key=lambda m: m.starts_at)[-6:]
    statuses = [AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.APOLOGIES,
                AttendanceStatus.ABSENT, AttendanceStatus.APOLOGIES_WITH_UPDATE, None]
    for meeting, status in zip(held, statuses, strict=True):
        db.session.add(Attendance(meeting_id=meeting.id, agency_id=w.police.id, status=status))
    db.session.add(Attendance(meeting_id=older[-1].id, agency_id=w.police.id, status=AttendanceStatus.ABSENT))  # 7th back
    db.session.add(Attendance(meeting_id=upcoming.id, agency_id=w.police.id, status=AttendanceStatus.APOLOGIES))
    db.session.add(Attendance(meeting_id=held[0].id, agency_id=w.nospoc.id, status=AttendanceStatus.PRESENT))
    db.session.flush()

    history = services.attendance_history()

    assert [m.id for m in history.panels] == [m.id for m in held]
    rows = {r.agency.name: r for r in history.rows}
    assert list(rows) == ["Fire and Rescue", "Host Council", "Housing", "Police"]
    assert rows["Police"].statuses == statuses
    assert (rows["Police"].absent, rows["Police"].apologies, rows["Police"].present) == (2, 2, 1)
    assert rows["Housing"].statuses == [None] * 6
    assert rows["Fire and Rescue"].statuses[0] == AttendanceStatus.PRESENT  # no SPoC now, but it came


def test_the_history_takes_two_queries_whatever_the_size(world, count_queries):
    def measure() -> int:
        db.session.expire_all()
        with count_queries() as counter:
            services.attendance_history()
        return counter.count

    small = measure()
    for n in range(1, 8):
        meeting = panel(world.previous.starts_at - timedelta(days=28 * n))
        for _ in range(3):
            agency = factories.create_agency()
            agency.spoc = factories.create_user(role=Role.SPOC, agency=agency)
            db.session.add(Attendance(meeting_id=meeting.id, agency_id=agency.id, status=AttendanceStatus.PRESENT))
    db.session.flush()

    assert measure() == small == 2


# ---- pages ---------------------------------------------------------------------------------


def test_the_coordinator_sees_every_expected_agency(client, login_as, world):
    login_as(world.coordinator)

    response = client.get(f"/meetings/{world.meeting.id}/attendance")

    assert response.status_code == 200
    soup = page(response)
    assert [legend.get_text(strip=True) for legend in soup.select("form legend")] == ["Host Council", "Housing", "Police"]
    assert "acknowledge this statement" in soup.get_text()
    assert [i["value"] for i in soup.select(f"input[name=status-{world.police.id}]")] == [
        "present", "apologies_with_update", "apologies", "absent"]
    assert soup.select_one("form:has(legend)")["action"].endswith(f"/meetings/{world.meeting.id}/attendance")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "meeting",
        AuditEvent.object_id == str(world.meeting.id))) == 1


def test_the_coordinator_records_attendance_on_a_page(client, login_as, world):
    login_as(world.coordinator)
    url = f"/meetings/{world.meeting.id}/attendance/{world.police.id}"

    response = post_form(client, url, {"status": "present", "attendee_name": "Pat Police", "deputised_by": "",
                                       "confidentiality_acknowledged": "y", "written_update": ""})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/meetings/{world.meeting.id}/attendance")
    db.session.rollback()
    row = _row(world.meeting, world.police)
    assert (row.status, row.attendee_name, row.confidentiality_acknowledged) == (AttendanceStatus.PRESENT, "Pat Police", True)
    listing = page(client.get(f"/meetings/{world.meeting.id}/attendance"))
    assert "Attendance recorded for Police." in listing.get_text(" ", strip=True)
    assert listing.select_one(f"#status-{world.police.id}").has_attr("checked")  # present
    assert listing.select_one(f"#attendee_name-{world.police.id}")["value"] == "Pat Police"
    assert listing.select_one(f"#confidentiality_acknowledged-{world.police.id}").has_attr("checked")


def test_an_agency_without_a_spoc_that_came_can_be_recorded(client, login_as, world):
    login_as(world.coordinator)

    post_form(client, f"/meetings/{world.meeting.id}/attendance/{world.nospoc.id}",
              {"status": "present", "attendee_name": "Fenn Fire"})

    db.session.rollback()
    assert _row(world.meeting, world.nospoc).attendee_name == "Fenn Fire"


@pytest.mark.parametrize("data, message", [
    ({"deputised_by": "Kept Deputy"}, "Select whether the agency attended"),
    ({"status": "bogus", "deputised_by": "Kept Deputy"}, "Select whether the agency attended"),
    ({"status": "present", "written_update": "Kept words"}, "Enter who attended, or who deputised for the SPoC"),
    ({"status": "apologies_with_update", "deputised_by": "Kept Deputy"}, "Enter the written update"),
    ({"status": "present", "attendee_name": "A" * 121, "deputised_by": "Kept Deputy"},
     "Who attended must be 120 characters or fewer"),
    ({"status": "apologies_with_update", "written_update": "w" * 5001},
     "The written update must be 5,000 characters or fewer"),
])
def test_bad_attendance_gets_a_govuk_error_and_keeps_what_was_typed(client, login_as, world, data, message):
    login_as(world.coordinator)

    response = post_form(client, f"/meetings/{world.meeting.id}/attendance/{world.police.id}", data)

    assert response.status_code == 200
    assert error_summary(response) == [message]
    soup = page(response)
    for name, value in data.items():
        if name == "status":
            continue
        field = soup.select_one(f"#{name}")
        assert (field.get("value") if field.name == "input" else field.get_text()) == value, name
    db.session.rollback()
    row = _row(world.meeting, world.police)
    assert row is None or row.status is None


def test_hostile_text_is_stored_as_typed_and_shown_escaped(client, login_as, world):
    login_as(world.coordinator)
    name = "<script>alert(1)</script>'; DROP TABLE attendance;--\x00\x07"

    post_form(client, f"/meetings/{world.meeting.id}/attendance/{world.police.id}",
              {"status": "present", "attendee_name": name})

    db.session.rollback()
    assert _row(world.meeting, world.police).attendee_name == "<script>alert(1)</script>'; DROP TABLE attendance;--"
    html = client.get(f"/meetings/{world.meeting.id}/attendance").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_a_spoc_sends_apologies_on_their_page(client, login_as, upcoming):
    w = upcoming
    login_as(w.police_spoc)

    listing = page(client.get(f"/meetings/{w.meeting.id}/attendance"))
    assert [th.get_text(strip=True) for th in listing.select("tbody th")] == ["Police"]  # their own row only
    form = page(client.get(f"/meetings/{w.meeting.id}/apologies"))
    assert [i["value"] for i in form.select("input[name=status]")] == ["apologies_with_update", "apologies"]
    assert not form.select("#attendee_name")

    response = post_form(client, f"/meetings/{w.meeting.id}/apologies",
                         {"status": "apologies_with_update", "written_update": "Visited on Monday."})

    assert response.status_code == 302
    db.session.rollback()
    row = _row(w.meeting, w.police)
    assert (row.status, row.written_update) == (AttendanceStatus.APOLOGIES_WITH_UPDATE, "Visited on Monday.")


def test_a_spoc_cannot_post_present(client, login_as, upcoming):
    login_as(upcoming.police_spoc)

    response = post_form(client, f"/meetings/{upcoming.meeting.id}/apologies", {"status": "present"})

    assert error_summary(response) == ["Select whether you are sending a written update"]


def test_a_spoc_is_told_apologies_are_closed_once_the_panel_starts(client, login_as, world):
    login_as(world.police_spoc)
    url = f"/meetings/{world.meeting.id}/apologies"

    shown = page(client.get(url)).get_text(" ", strip=True)
    response = post_form(client, url, {"status": "apologies"}, token_from="/account/password")

    assert "only before the panel starts" in shown
    assert response.status_code == 302
    db.session.rollback()
    assert _row(world.meeting, world.police) is None or _row(world.meeting, world.police).status is None


def test_a_spoc_who_is_not_acting_cannot_send_apologies(client, login_as, upcoming):
    w = upcoming
    other = factories.create_user(role=Role.SPOC, agency=w.police)  # a SPoC-role user, not the agency's SPoC
    login_as(other)

    shown = page(client.get(f"/meetings/{w.meeting.id}/apologies")).get_text(" ", strip=True)
    post_form(client, f"/meetings/{w.meeting.id}/apologies", {"status": "apologies"},
              token_from="/account/password")

    assert "Only your agency’s acting SPoC sends its apologies." in shown
    db.session.rollback()
    row = _row(w.meeting, w.police)
    assert row is None or row.status is None


@pytest.mark.parametrize("who", ["spoc", "chair"])
def test_only_the_coordinator_records_an_agencys_attendance(client, login_as, world, who):
    login_as(world.police_spoc if who == "spoc" else world.chair)

    assert client.get(f"/meetings/{world.meeting.id}/attendance/{world.police.id}").status_code == 404


@pytest.mark.parametrize("role", ["practitioner", "board", "admin"])
def test_others_get_404(client, login_as, world, role):
    login_as(role)
    for url in (f"/meetings/{world.meeting.id}/attendance", f"/meetings/{world.meeting.id}/apologies",
                "/meetings/attendance-history"):
        assert client.get(url).status_code == 404, url


def test_a_meeting_that_is_not_there_is_404(client, login_as, world):
    login_as(world.coordinator)

    assert client.get("/meetings/999999/attendance").status_code == 404
    assert client.get(f"/meetings/{world.meeting.id}/attendance/999999").status_code == 404


def test_the_chair_reads_the_history_in_words(client, login_as, world):
    db.session.add(Attendance(meeting_id=world.previous.id, agency_id=world.police.id, status=AttendanceStatus.ABSENT))
    db.session.add(Attendance(meeting_id=world.meeting.id, agency_id=world.police.id,
                              status=AttendanceStatus.APOLOGIES_WITH_UPDATE))
    login_as(world.chair)

    soup = page(client.get("/meetings/attendance-history"))

    police = next(tr for tr in soup.select("tbody tr") if tr.th.get_text(strip=True) == "Police")
    cells = [td.get_text(strip=True) for td in police.select("td")]
    assert cells == ["Absent", "Apologies, written update sent", "1 of 2", "1 of 2"]
    headers = [th.get_text(strip=True) for th in soup.select("thead th")]
    assert headers[0] == "Agency" and headers[-2:] == ["Absent", "Apologies"]


def test_a_spoc_cannot_see_the_history(client, login_as, world):
    login_as(world.police_spoc)

    assert client.get("/meetings/attendance-history").status_code == 404


# ---- every agency on one page, one post ----------------------------------------------------


def _sheet(world, **rows) -> dict[str, str]:
    """The attendance form's fields: rows by agency attribute name, each a dict of field -> value."""
    data: dict[str, str] = {"save_attendance": "y"}
    for agency_name, fields in rows.items():
        agency_id = getattr(world, agency_name).id
        data.update({f"{name}-{agency_id}": value for name, value in fields.items()})
    return data


def test_the_sheet_records_every_agency_with_one_service_call(world):
    entries = {
        world.police.id: services.AttendanceEntry("present", "Pat Police", "", "", True),
        world.housing.id: services.AttendanceEntry("apologies_with_update", "", "", "Tenancy secure."),
        world.host.id: services.AttendanceEntry("absent"),
    }

    changed, problems = services.record_attendance_sheet(world.meeting, entries, by=world.coordinator)

    assert (changed, problems) == (3, {})
    police, housing, host = (_row(world.meeting, a) for a in (world.police, world.housing, world.host))
    assert (police.status, police.attendee_name, police.confidentiality_acknowledged) == (
        AttendanceStatus.PRESENT, "Pat Police", True)
    assert (housing.status, housing.written_update) == (AttendanceStatus.APOLOGIES_WITH_UPDATE, "Tenancy secure.")
    assert host.status == AttendanceStatus.ABSENT
    # sent again unchanged (a double submission): nothing is written again
    assert services.record_attendance_sheet(world.meeting, entries, by=world.coordinator) == (0, {})


def test_the_sheet_reports_each_rows_problem_against_its_own_field(world):
    entries = {
        world.police.id: services.AttendanceEntry("present"),
        world.housing.id: services.AttendanceEntry("apologies_with_update"),
        world.host.id: services.AttendanceEntry("bogus", attendee_name="Kept"),
    }

    changed, problems = services.record_attendance_sheet(world.meeting, entries, by=world.coordinator)

    assert problems == {
        f"attendee_name-{world.police.id}": "Enter who attended, or who deputised for the SPoC",
        f"written_update-{world.housing.id}": "Enter the written update",
        f"status-{world.host.id}": "Select whether the agency attended",
    }


def test_the_sheet_leaves_an_unanswered_agency_and_keeps_the_spocs_apologies(upcoming):
    w = upcoming
    services.record_attendance(services.attendance_row(w.meeting, w.housing), by=w.housing_spoc,
                               status=AttendanceStatus.APOLOGIES_WITH_UPDATE, written_update="Sent by housing.")
    housing = _row(w.meeting, w.housing)
    sent = services.sheet_entry(housing)  # the form pre-filled from the apologies

    changed, problems = services.record_attendance_sheet(
        w.meeting, {w.housing.id: sent, w.police.id: services.AttendanceEntry()}, by=w.coordinator)

    assert (changed, problems) == (0, {})
    assert housing.recorded_by_id == w.housing_spoc.id  # not rewritten as the coordinator's
    assert _row(w.meeting, w.police) is None  # no answer: nothing made


def test_only_the_coordinator_records_the_sheet_and_not_once_finalised(world):
    with pytest.raises(ServiceError):
        services.record_attendance_sheet(world.meeting, {}, by=world.chair)
    world.meeting.minutes_finalised_at = utcnow()
    with pytest.raises(ServiceError):
        services.record_attendance_sheet(world.meeting, {}, by=world.coordinator)


def test_the_coordinator_saves_every_agency_with_one_post(client, login_as, world):
    login_as(world.coordinator)
    url = f"/meetings/{world.meeting.id}/attendance"

    response = post_form(client, url, _sheet(
        world, police={"status": "present", "attendee_name": "Pat Police", "deputised_by": "Dee Deputy",
                       "confidentiality_acknowledged": "y"},
        housing={"status": "apologies_with_update", "written_update": "Tenancy secure."},
        host={"status": "absent"}))

    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    db.session.rollback()
    police, housing, host = (_row(world.meeting, a) for a in (world.police, world.housing, world.host))
    assert (police.status, police.attendee_name, police.deputised_by, police.confidentiality_acknowledged) == (
        AttendanceStatus.PRESENT, "Pat Police", "Dee Deputy", True)
    assert (housing.status, housing.written_update) == (AttendanceStatus.APOLOGIES_WITH_UPDATE, "Tenancy secure.")
    assert host.status == AttendanceStatus.ABSENT
    shown = page(client.get(url))
    assert "Attendance saved." in shown.get_text(" ", strip=True)
    assert shown.select_one(f"#written_update-{world.housing.id}").get_text() == "Tenancy secure."


def test_a_double_submitted_sheet_records_once(client, login_as, world):
    login_as(world.coordinator)
    url = f"/meetings/{world.meeting.id}/attendance"
    data = _sheet(world, police={"status": "absent"})

    post_form(client, url, data)
    second = post_form(client, url, data, follow_redirects=True)

    assert "nothing had changed" in page(second).get_text(" ", strip=True)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "attendance", AuditEvent.action == AuditAction.UPDATE)) == 1


def test_a_bad_sheet_shows_each_rows_error_keeps_everything_typed_and_saves_nothing(client, login_as, world):
    login_as(world.coordinator)
    hostile = "<script>alert(1)</script>'; DROP TABLE attendance;--"

    response = post_form(client, f"/meetings/{world.meeting.id}/attendance", _sheet(
        world, police={"status": "present", "attendee_name": "A" * 121, "deputised_by": hostile},
        housing={"status": "apologies_with_update"},
        host={"status": "absent"}))

    assert response.status_code == 200
    # in the page's order (agencies by name): Housing, then Police
    assert error_summary(response) == ["Enter the written update", "Who attended must be 120 characters or fewer"]
    soup = page(response)
    assert [a["href"] for a in soup.select(".govuk-error-summary a")] == [
        f"#written_update-{world.housing.id}", f"#attendee_name-{world.police.id}"]
    assert soup.select_one(f"#attendee_name-{world.police.id}")["value"] == "A" * 121
    assert soup.select_one(f"#deputised_by-{world.police.id}")["value"] == hostile
    assert soup.select_one(f"#status-{world.host.id}-4").has_attr("checked")  # absent, kept
    assert soup.select_one(f"#attendee_name-{world.police.id}-error")
    assert "<script>alert(1)" not in response.get_data(as_text=True)
    db.session.rollback()
    assert all(_row(world.meeting, a) is None for a in (world.police, world.housing, world.host))


@pytest.mark.parametrize("who", ["chair", "spoc"])
def test_only_the_coordinator_posts_the_sheet(client, login_as, world, who):
    login_as(world.chair if who == "chair" else world.police_spoc)

    response = post_form(client, f"/meetings/{world.meeting.id}/attendance", _sheet(world, police={"status": "absent"}),
                         token_from="/account/password")

    assert response.status_code == 404
    db.session.rollback()
    assert _row(world.meeting, world.police) is None


def test_the_sheet_of_a_finalised_panel_is_refused(client, login_as, world):
    login_as(world.coordinator)
    url = f"/meetings/{world.meeting.id}/attendance"
    token_page = page(client.get(url))
    assert token_page.select_one("form:has(legend)")
    world.meeting.minutes_finalised_at = utcnow()
    db.session.commit()

    shown = page(client.get(url))
    response = post_form(client, url, _sheet(world, police={"status": "absent"}), token_from="/account/password")

    assert not shown.select_one("form:has(legend)")
    assert response.status_code == 302
    db.session.rollback()
    assert _row(world.meeting, world.police) is None


def test_the_sheet_takes_the_same_queries_whatever_the_number_of_agencies(client, login_as, world, count_queries):
    login_as(world.coordinator)
    url = f"/meetings/{world.meeting.id}/attendance"

    def measure() -> int:
        client.get(url)
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    small = measure()
    for _ in range(4):
        agency = factories.create_agency()
        agency.spoc = factories.create_user(role=Role.SPOC, agency=agency)
        db.session.add(Attendance(meeting_id=world.meeting.id, agency_id=agency.id, status=AttendanceStatus.ABSENT))
    db.session.commit()

    assert measure() == small


# ---- the sheet's markup ------------------------------------------------------------------------

# The sheet's rows as they were drawn with GOV.UK Frontend's macros, before issue 18 wrote the
# markup out (sixty agencies' rows took a third of a second): the written-out rows must stay
# the same markup, so the pages keep their semantics (labels, hints, errors, described-by).
GOVUK_SHEET = """
{% from "govuk_frontend_jinja/components/radios/macro.html" import govukRadios %}
{% from "govuk_frontend_jinja/components/input/macro.html" import govukInput %}
{% from "govuk_frontend_jinja/components/checkboxes/macro.html" import govukCheckboxes %}
{% from "govuk_frontend_jinja/components/textarea/macro.html" import govukTextarea %}
{% for row in rows %}
{% set aid = row.agency_id %}{% set entry = entries[aid] %}
{% set hidden %}<span class="govuk-visually-hidden"> for {{ row.agency.name }}</span>{% endset %}
{% set err = problems.get('status-' ~ aid) %}
{% set items = [] %}{% for s in statuses %}{% set _ = items.append({'value': s.value, 'text': s.label, 'checked': entry.status == s.value}) %}{% endfor %}
<div class="govuk-!-margin-bottom-8 panel-attendance-row" id="agency-{{ aid }}">
{{ govukRadios({
  'idPrefix': 'status-' ~ aid, 'name': 'status-' ~ aid, 'classes': 'govuk-radios--small',
  'fieldset': {'legend': {'text': row.agency.name, 'classes': 'govuk-fieldset__legend--m'}},
  'hint': {'text': 'SPoC: ' ~ (row.agency.acting_spoc.name if row.agency.acting_spoc else 'none named')},
  'errorMessage': {'text': err} if err else None, 'items': items}) }}
{% for name, label, hint in [('attendee_name', 'Who attended', 'Their name and role, if the agency attended.'),
                             ('deputised_by', 'Who deputised for the SPoC (if anyone)', '')] %}
{% set field_err = problems.get(name ~ '-' ~ aid) %}
{{ govukInput({'id': name ~ '-' ~ aid, 'name': name ~ '-' ~ aid, 'value': entry[name],
  'label': {'html': label ~ hidden}, 'hint': {'text': hint} if hint else None,
  'classes': 'govuk-!-width-two-thirds', 'spellcheck': false, 'autocomplete': 'off',
  'errorMessage': {'text': field_err} if field_err else None}) }}
{% endfor %}
{{ govukCheckboxes({'idPrefix': 'confidentiality_acknowledged-' ~ aid, 'name': 'confidentiality_acknowledged-' ~ aid,
  'classes': 'govuk-checkboxes--small',
  'items': [{'value': 'y', 'html': 'The attendee acknowledged the confidentiality statement' ~ hidden,
             'checked': entry.confidentiality_acknowledged}]}) }}
{% set update_err = problems.get('written_update-' ~ aid) %}
{{ govukTextarea({'id': 'written_update-' ~ aid, 'name': 'written_update-' ~ aid, 'value': entry.written_update, 'rows': 3,
  'label': {'html': 'Written update' ~ hidden}, 'hint': {'text': 'Only for apologies with a written update.'},
  'errorMessage': {'text': update_err} if update_err else None}) }}
</div>
{% endfor %}
"""


def test_the_sheet_is_the_markup_the_govuk_macros_draw(app):
    from types import SimpleNamespace

    from tests.meetings.markup import elements

    police = SimpleNamespace(name="Police & <Co>", acting_spoc=SimpleNamespace(name="Sam O'Spoc"))
    housing = SimpleNamespace(name="Housing", acting_spoc=None)
    rows = [SimpleNamespace(agency_id=7, agency=police), SimpleNamespace(agency_id=9, agency=housing)]
    Entry = services.AttendanceEntry
    states = [
        ({7: Entry(), 9: Entry()}, {}),
        ({7: Entry("present", 'Pat "P" <x>', "Dee Deputy", "", True),
          9: Entry("apologies_with_update", "", "", "Line one\nline <two>", False)}, {}),
        ({7: Entry("", "Pat", "", "", False), 9: Entry("absent", "", "Dee", "An update", True)},
         {"status-7": "Select whether the agency attended", "attendee_name-9": "Too long",
          "deputised_by-9": "Not a name", "written_update-9": "Only with apologies"}),
    ]
    with app.test_request_context("/"):
        sheet = app.jinja_env.get_template("meetings/_attendance_sheet.html").module.attendance_sheet_rows
        govuk = app.jinja_env.from_string(GOVUK_SHEET)
        for entries, problems in states:
            ours = str(sheet(rows, entries, problems, list(AttendanceStatus)))
            theirs = govuk.render(rows=rows, entries=entries, problems=problems, statuses=list(AttendanceStatus))
            assert elements(ours) == elements(theirs), (entries, problems)
            assert len(elements(ours)) > 70
