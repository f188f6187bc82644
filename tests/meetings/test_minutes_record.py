"""The signed-off record (issue 12): finalising stores what the minutes show; the finalised
minutes page and its PDF are the same, word for word, after the case's risk, agencies, lead
agency, the actions, the attendance, names and statuses change; draft minutes show the facts as
at the panel (risk from the risk history, the agencies involved by then, no case that entered
the pathway later); an amendment tells the SPoCs, the attendees and the coordinators by a
link-only email."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from bs4 import BeautifulSoup

from panel.actions import services as action_services
from panel.cases import services as case_services
from panel.dates import LONDON
from panel.extensions import db
from panel.meetings import minutes as services
from panel.meetings import record as records
from panel.meetings.agenda import sync_agenda
from panel.models import (
    Action,
    ActionStatus,
    AgendaItem,
    AgendaItemKind,
    AttendanceStatus,
    AuditAction,
    AuditEvent,
    Case,
    Involvement,
    Meeting,
    MeetingAttendee,
    MinutesSnapshot,
    OutboxMessage,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    Role,
    utcnow,
)
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import page, post_form
from tests.meetings import minutes_world


@pytest.fixture
def world(db):
    return minutes_world.build()


def _minute(w) -> Action:
    """Minutes as a coordinator writes them at the panel; returns the action agreed."""
    case_item = w.item(AgendaItemKind.CASE)
    services.record_item_minutes(case_item, notes="Housing visited twice; the person is settling.", by=w.coordinator)
    services.decide_risk(case_item, level=RiskLevel.MEDIUM, reason="Now has a safe place to stay", by=w.coordinator)
    action = services.add_item_action(case_item, description="Joint visit with the tenancy officer", agency=w.housing,
                                      due_on=w.today + timedelta(days=14), by=w.coordinator, assignee=w.housing_spoc)
    services.record_last_action(w.meeting, w.last_action, status=ActionStatus.DONE, note="Visited", by=w.coordinator)
    services.record_attendance(services.attendance_row(w.meeting, w.police), status=AttendanceStatus.PRESENT,
                               by=w.coordinator, attendee_name="Pat Police", confidentiality_acknowledged=True)
    services.decide_referral(w.item(AgendaItemKind.REFERRAL), accept=False, by=w.chair, rationale="Below threshold")
    return action


def _change_everything(w, action: Action) -> None:
    """After the minutes are finalised, the world moves on (through the services where there are
    some, directly where the data could only change by hand)."""
    case_services.change_risk(w.case, level=RiskLevel.CRITICAL, reason="Eviction notice served", by=w.coordinator)
    case_services.add_agency(w.case, agency=w.nospoc, named_worker="", has_rapport=False, by=w.coordinator)
    case_services.set_lead_agency(w.case, agency=w.housing, by=w.coordinator)
    action_services.update_action(action, by=w.coordinator, due_on=w.today + timedelta(days=40),
                                  reason="Officer on leave")
    action_services.update_action(action, by=w.coordinator, status=ActionStatus.DONE, note="Done")
    action.description = "Something else entirely"
    w.last_action.description = "Rewritten later"
    row = services.attendance_row(w.meeting, w.police)
    row.status, row.attendee_name = AttendanceStatus.ABSENT, "Somebody Else"
    w.housing.name = "Renamed Housing Service"
    w.case.person.given_name = "Xavier"
    w.referral.status = ReferralStatus.WITHDRAWN
    w.chair.name = "A Different Chair"
    later = create_case(lead=w.police, involved=(w.housing,), risk=RiskLevel.CRITICAL)
    later.accepted_on = w.today
    db.session.flush()


def _pdf_text(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True).stdout


def _main(response) -> str:
    assert response.status_code == 200
    return str(page(response).find("main"))


# ---- finalising stores the record --------------------------------------------------------------


def test_finalising_stores_the_record_of_what_the_minutes_show(world):
    action = _minute(world)

    services.finalise(world.meeting, by=world.chair)

    snapshot = db.session.scalars(sa.select(MinutesSnapshot)).one()
    assert (snapshot.meeting_id, snapshot.source, snapshot.taken_by_id, snapshot.version) == (
        world.meeting.id, "finalised", world.chair.id, 1)
    record = records.MinutesRecord.from_json(snapshot.document)
    assert record == records.build_minutes_record(world.meeting.id, now=record.made_at)
    assert record.finalised_by == "Charlie Chair" and record.finalised_at == world.meeting.minutes_finalised_at
    case_entry = next(i for i in record.agenda if i.kind == AgendaItemKind.CASE)
    assert case_entry.case.risk_level == RiskLevel.HIGH  # as presented: the panel then lowered it
    assert case_entry.decisions == ("Risk level changed from High to Medium: Now has a safe place to stay",)
    assert case_entry.case.agencies == ("Housing", "Police") and case_entry.case.lead_agency == "Police"
    assert case_entry.actions == (records.RecordAction(
        id=action.id, case_id=world.case.id, description="Joint visit with the tenancy officer", agency="Housing",
        assignee="Harper Housing", due_on=world.today + timedelta(days=14)),)
    assert [(a.description, a.outcome, a.note) for a in record.last_actions] == [
        ("Arrange a joint visit with housing", "Done", "Visited")]
    assert ("Police", AttendanceStatus.PRESENT, "Pat Police", True) in [
        (a.agency, a.status, a.attendee_name, a.acknowledged) for a in record.attendance]
    audited = db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.object_type == "meeting", AuditEvent.action == AuditAction.UPDATE)).all()
    assert f'"snapshot": {snapshot.id}' in audited[-1]


def test_the_record_survives_the_json_round_trip_exactly(world):
    _minute(world)
    record = records.build_minutes_record(world.meeting.id)

    assert records.MinutesRecord.from_json(record.to_json()) == record


def test_the_stored_record_is_what_later_readers_get(world):
    _minute(world)
    services.finalise(world.meeting, by=world.chair)
    stored = records.minutes_record(world.meeting)

    case_services.change_risk(world.case, level=RiskLevel.CRITICAL, reason="Worse", by=world.coordinator)

    assert records.minutes_record(world.meeting) == stored
    assert records.build_minutes_record(world.meeting.id) != stored  # the data did change


# ---- the finalised minutes page and PDF never change -------------------------------------------


def test_the_finalised_page_and_pdf_are_unchanged_after_the_world_moves_on(client, login_as, world, tmp_path):
    action = _minute(world)
    services.finalise(world.meeting, by=world.chair)
    login_as(world.chair)
    url = f"/meetings/{world.meeting.id}/minutes"

    with time_machine.travel(utcnow() + timedelta(minutes=5), tick=False):  # "Printed ..." stays the same
        page_before = _main(client.get(url))
        pdf_before = _pdf_text(client.get(url + ".pdf").data, tmp_path, "before.pdf")
        _change_everything(world, action)
        db.session.commit()
        page_after = _main(client.get(url))
        pdf_after = _pdf_text(client.get(url + ".pdf").data, tmp_path, "after.pdf")

    assert page_after == page_before
    assert pdf_after == pdf_before
    words = " ".join(pdf_before.split())
    for shown in ("Risk level at the panel: High", "Lead agency: Police", "Involved: Housing, Police",
                  "Joint visit with the tenancy officer", "Housing (Harper Housing)", "Pat Police",
                  "Finalised by Charlie Chair", "Declined: Below threshold", "Done: Visited"):
        assert shown in words, shown
    for moved_on in ("Critical", "Fire and Rescue", "Renamed", "Something else", "Rewritten", "Somebody Else",
                     "A Different Chair", "Withdrawn"):
        assert moved_on not in words, moved_on
    text = BeautifulSoup(page_after, "html.parser").get_text(" ", strip=True)
    assert "Risk level at the panel High" in text and "Renamed Housing Service" not in text


def test_an_amendment_is_the_only_change_to_finalised_minutes(client, login_as, world):
    _minute(world)
    services.finalise(world.meeting, by=world.chair)
    login_as(world.coordinator)
    url = f"/meetings/{world.meeting.id}/minutes"
    before = page(client.get(url)).get_text(" ", strip=True)

    services.amend(world.meeting, item=None, text="Fire and Rescue also attended.", reason="Left off", by=world.chair)
    db.session.commit()

    after = page(client.get(url)).get_text(" ", strip=True)
    assert after.startswith(before.split("Amendments to the minutes")[0][:200])
    assert "Fire and Rescue also attended." in after and "Why: Left off" in after


def test_need_to_know_is_decided_today_while_the_words_stay(client, login_as, world):
    """An agency involved after the panel reads the item in full now (as it reads the case
    record), but the item still lists the agencies involved at the panel."""
    services.record_item_minutes(world.item(AgendaItemKind.CASE), notes="Agreed a joint plan.", by=world.coordinator)
    services.finalise(world.meeting, by=world.chair)
    fire_spoc = factories.create_user(role=Role.SPOC, agency=world.nospoc, email="fire.spoc@test.invalid")
    world.nospoc.spoc = fire_spoc
    login_as(fire_spoc)
    url = f"/meetings/{world.meeting.id}/minutes"
    item_id = world.item(AgendaItemKind.CASE).id

    restricted = page(client.get(url)).find(id=f"item-{item_id}").parent.get_text(" ", strip=True)
    case_services.add_agency(world.case, agency=world.nospoc, named_worker="", has_rapport=False, by=world.coordinator)
    db.session.commit()
    full = page(client.get(url)).find(id=f"item-{item_id}").parent.get_text(" ", strip=True)

    assert "only this summary is shown" in restricted and "Agreed a joint plan." not in restricted
    assert "Agreed a joint plan." in full
    assert "Involved agencies Housing, Police" in full and "Fire and Rescue" not in full


# ---- draft minutes: the facts as at the panel ---------------------------------------------------


def test_draft_minutes_show_the_risk_level_presented_at_the_panel(world):
    world.case.risk_level = RiskLevel.CRITICAL
    case_services.change_risk(world.case, level=RiskLevel.HIGH, reason="Safer now", by=world.coordinator)  # after it began

    view = services.minutes_view(world.meeting, world.coordinator)

    entry = next(e for e in view.items if e.item.kind == AgendaItemKind.CASE)
    assert entry.case.risk_level == RiskLevel.CRITICAL and world.case.risk_level == RiskLevel.HIGH


def test_risk_as_at_reads_the_history():
    start = datetime(2026, 9, 8, 9, 30, tzinfo=LONDON)

    def change(frm, to, days):
        return RiskChange(from_level=frm, to_level=to, at=start + timedelta(days=days))

    history = [change(RiskLevel.HIGH, RiskLevel.CRITICAL, -20), change(RiskLevel.CRITICAL, RiskLevel.MEDIUM, 30)]
    assert records.risk_as_at(RiskLevel.MEDIUM, history, start) == RiskLevel.CRITICAL
    assert records.risk_as_at(RiskLevel.MEDIUM, history, start - timedelta(days=30)) == RiskLevel.HIGH
    assert records.risk_as_at(RiskLevel.MEDIUM, history, start + timedelta(days=31)) == RiskLevel.MEDIUM
    assert records.risk_as_at(RiskLevel.LOW, [], start) == RiskLevel.LOW


def _past_panel(w, days_ago: int):
    starts = (utcnow() - timedelta(days=days_ago)).replace(microsecond=0)
    return minutes_world.panel(starts)


def test_a_past_panels_draft_lists_only_cases_in_the_pathway_by_its_date(world):
    september = _past_panel(world, 60)
    day = services.panel_day(september)
    earlier = create_case(lead=world.police, risk=RiskLevel.HIGH)
    october = create_case(lead=world.police, risk=RiskLevel.CRITICAL)
    earlier.accepted_on, october.accepted_on = day - timedelta(days=5), day + timedelta(days=20)
    db.session.flush()

    sync_agenda(september, by=world.coordinator)
    built = {i.case_id for i in september.items if i.case_id}
    # an agenda built before the fix, or an item added by hand, is not minuted either
    db.session.add(AgendaItem(meeting_id=september.id, kind=AgendaItemKind.CASE, case_id=october.id, position=99))
    db.session.flush()
    record = records.build_minutes_record(september.id)

    assert earlier.id in built and october.id not in built
    shown = {i.case.id for i in record.agenda if i.case}
    assert earlier.id in shown and october.id not in shown
    assert [i.number for i in record.agenda] == list(range(1, len(record.agenda) + 1))


def test_a_past_panels_draft_lists_the_agencies_involved_by_its_date(world):
    september = _past_panel(world, 60)
    case = create_case(lead=world.police, risk=RiskLevel.HIGH)
    case.accepted_on = services.panel_day(september) - timedelta(days=30)
    db.session.add(AgendaItem(meeting_id=september.id, kind=AgendaItemKind.CASE, case_id=case.id, position=1))
    db.session.flush()
    accepted_at = september.starts_at - timedelta(days=30)
    db.session.execute(sa.update(Involvement).where(Involvement.case_id == case.id).values(created_at=accepted_at))
    db.session.execute(sa.update(Case).where(Case.id == case.id).values(created_at=accepted_at))
    case_services.add_agency(case, agency=world.housing, named_worker="", has_rapport=False, by=world.coordinator)

    record = records.build_minutes_record(september.id)

    assert record.agenda[0].case.agencies == ("Police",)


def test_a_case_accepted_at_the_panel_keeps_the_agencies_it_was_accepted_with(world):
    case = services.decide_referral(world.item(AgendaItemKind.REFERRAL), accept=True, by=world.coordinator,
                                    lead_agency=world.housing)

    record = records.build_minutes_record(world.meeting.id)

    entry = next(i for i in record.agenda if i.kind == AgendaItemKind.REFERRAL)
    assert entry.case.id == case.id and "Housing" in entry.case.agencies
    assert entry.title == f"New referral {world.referral.reference}"


def test_an_action_due_date_changed_after_finalising_is_shown_as_agreed(world):
    action = _minute(world)
    agreed = action.due_on
    services.finalise(world.meeting, by=world.chair)
    db.session.delete(db.session.scalars(sa.select(MinutesSnapshot)).one())  # as if finalised before snapshots
    db.session.flush()
    action_services.update_action(action, by=world.coordinator, due_on=agreed + timedelta(days=9), reason="Leave")

    record = records.minutes_record(world.meeting)

    assert next(i for i in record.agenda if i.actions).actions[0].due_on == agreed


# ---- amendments: a link-only email -------------------------------------------------------------


def test_an_amendment_tells_the_spocs_attendees_and_coordinators_by_a_link_only(world):
    worker = factories.create_user(role=Role.PRACTITIONER, agency=world.housing, email="named.worker@test.invalid")
    db.session.add_all([
        MeetingAttendee(meeting_id=world.meeting.id, name="Dr Ash Example", email="gp@surgery.invalid"),  # external
        MeetingAttendee(meeting_id=world.meeting.id, user_id=worker.id, name=worker.name, email="old@test.invalid"),
        MeetingAttendee(meeting_id=world.meeting.id, name="Gone", email="gone@test.invalid", removed_at=utcnow()),
    ])
    services.record_item_minutes(world.item(AgendaItemKind.CASE), notes="Zebedee is settling.", by=world.coordinator)
    services.finalise(world.meeting, by=world.chair)
    db.session.query(OutboxMessage).delete()

    services.amend(world.meeting, item=world.item(AgendaItemKind.CASE), text="Zebedee Quaintly moved to LU1 2AB.",
                   reason=f"Case {world.case.reference}: address was wrong", by=world.coordinator)
    services.amend(world.meeting, item=world.item(AgendaItemKind.CASE), text="Zebedee Quaintly moved to LU1 2AB.",
                   reason=f"Case {world.case.reference}: address was wrong", by=world.coordinator)  # sent twice

    messages = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.to_addr)).all()
    # the named worker at their account's address; the external GP is not sent minutes (issue 17)
    assert [m.to_addr for m in messages] == ["coordinator@test.invalid", "housing.spoc@test.invalid",
                                            "named.worker@test.invalid", "police.spoc@test.invalid"]
    day = services.panel_day(world.meeting)
    for message in messages:
        text = message.subject + "\n" + message.body_text
        assert message.subject == f"Panel minutes amended: {day.day} {day:%B %Y}"
        assert f"http://localhost/meetings/{world.meeting.id}/minutes" in text
        for secret in ("Zebedee", "Quaintly", "LU1", world.case.reference, "address", "Casey", "Rowena"):
            assert secret not in text, secret


def test_recording_an_amendment_on_its_page_sends_the_emails(client, login_as, world):
    services.finalise(world.meeting, by=world.chair)
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    login_as(world.chair)

    response = post_form(client, f"/meetings/{world.meeting.id}/minutes/amend",
                         {"item_id": "", "text": "Fire and Rescue also attended.", "reason": "Left off"})

    assert response.status_code == 302
    db.session.rollback()
    subjects = set(db.session.scalars(sa.select(OutboxMessage.subject)))
    assert subjects == {f"Panel minutes amended: {services.panel_day(world.meeting).day} "
                        f"{services.panel_day(world.meeting):%B %Y}"}


# ---- the pages ---------------------------------------------------------------------------------


def test_the_draft_page_says_the_facts_are_as_at_the_panel(client, login_as, world):
    world.case.risk_level = RiskLevel.CRITICAL
    case_services.change_risk(world.case, level=RiskLevel.LOW, reason="Moved away", by=world.coordinator)
    login_as(world.coordinator)

    soup = page(client.get(f"/meetings/{world.meeting.id}/minutes"))

    section = soup.find(id=f"item-{world.item(AgendaItemKind.CASE).id}").parent.get_text(" ", strip=True)
    assert "Risk level at the panel Critical" in section
    assert "each case as it was at the panel" in soup.get_text(" ", strip=True)


@pytest.mark.parametrize("who", ["coordinator", "housing_spoc"])
def test_the_finalised_page_runs_a_fixed_number_of_queries(client, login_as, world, count_queries, who):
    services.ensure_attendance_rows(world.meeting)
    for i in range(2):
        case = create_case(lead=world.police, involved=(world.housing,), risk=RiskLevel.MEDIUM)
        db.session.add(AgendaItem(meeting_id=world.meeting.id, kind=AgendaItemKind.CASE, case_id=case.id,
                                  position=50 + i, notes=f"Notes {i}"))
    db.session.flush()
    services.finalise(world.meeting, by=world.chair)
    login_as(getattr(world, who))
    db.session.commit()
    url = f"/meetings/{world.meeting.id}/minutes"
    client.get(url)

    def measure() -> int:
        db.session.commit()
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    few = measure()
    snapshot = db.session.scalars(sa.select(MinutesSnapshot)).one()  # a bigger record, as if 30 more cases
    document = dict(snapshot.document)
    extra = [dict(document["agenda"][-1], id=10_000 + n, number=100 + n) for n in range(30)]
    document["agenda"] = document["agenda"] + extra
    snapshot.document = document
    db.session.commit()
    many = measure()

    assert many == few


def test_finalising_on_the_page_stores_the_record(client, login_as, world):
    login_as(world.chair)

    post_form(client, f"/meetings/{world.meeting.id}/minutes/finalise", {})

    db.session.rollback()
    assert db.session.scalar(sa.select(MinutesSnapshot.source).where(
        MinutesSnapshot.meeting_id == world.meeting.id)) == "finalised"


def test_the_demo_minutes_are_snapshotted_with_the_cases_of_their_day(app, db):
    result = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", "demo-sign-in-2027"])
    assert result.exit_code == 0, result.output
    db.session.remove()

    finalised = db.session.scalars(sa.select(Meeting).where(Meeting.minutes_finalised_at.is_not(None))).all()
    snapshots = {s.meeting_id: s for s in db.session.scalars(sa.select(MinutesSnapshot))}
    accepted = dict(db.session.execute(sa.select(Case.id, Case.accepted_on)).all())

    assert finalised and set(snapshots) == {m.id for m in finalised}
    # The year of history before the demo's own panels (panel/demo/history.py) records their
    # attendance only; the demo's own minuted panels discussed cases.
    minuted = [m for m in finalised if m.items]
    assert len(minuted) >= 2
    for meeting in finalised:
        record = records.MinutesRecord.from_json(snapshots[meeting.id].document)
        assert record.finalised and record.finalised_by
        listed = [i.case for i in record.agenda if i.kind in (AgendaItemKind.CASE, AgendaItemKind.CLOSURE)]
        assert listed or meeting not in minuted, "the demo panels discussed cases"
        for case in listed:
            assert accepted[case.id] <= record.panel_date, (case.reference, accepted[case.id], record.panel_date)
