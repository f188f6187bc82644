"""The daily escalation sweep and its digests, with time frozen at 07:00 Europe/London each day.

Walks actions through every rung across the Easter 2027 bank holiday weekend, which is also
when the clocks go forward (Sunday 28 March, 01:00 UTC), the late-May bank holiday (31 May) and
the October change back (Sunday 31 October, 01:00 UTC); a due-date change restarts the ladder
and closing an action stops it. Digests: one email per person per London day, only when there
is something, with links and no personal data. Escalation by hand and acknowledgement. The
sweep reads only the actions that are due. Two sweeps at once record and send nothing twice.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from panel import scheduler
from panel.actions import jobs, services
from panel.extensions import db as _db
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    AuditEvent,
    CaseEvent,
    Digest,
    DigestItem,
    Escalation,
    LadderStep as S,
    OutboxMessage,
    Role,
    User,
)
from panel.dates import LONDON, london_today
from panel.forms.errors import ServiceError
from tests.cases.helpers import create_case
from tests.conftest import PG_URL
from tests.factories import create_agency, create_user, mark_spoc_absent

pytestmark = pytest.mark.real_commits  # threads, a second connection and subprocesses read what is committed

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc

GIVEN, FAMILY = "Zebedee", "Quartermaine"
NHS = "9434765919"
ADDRESS = "17 Fictional Mews, Demo Town"
DESCRIPTION = f"Visit {GIVEN} {FAMILY} at {ADDRESS} about the letter for NHS number {NHS}"
PERSONAL = [GIVEN, FAMILY, NHS, "943 476 5919", ADDRESS, "Fictional Mews", "29 February 1980", "1980-02-29",
            "29/02/1980", DESCRIPTION, "letter for NHS"]


def d(month: int, day: int, year: int = 2027) -> date:
    return date(year, month, day)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def seven_am(day: date) -> datetime:
    """07:00 Europe/London on `day`, in UTC (07:00 UTC in winter, 06:00 UTC in summer)."""
    return datetime.combine(day, time(7), tzinfo=LONDON).astimezone(UTC)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass
class World:
    police: Agency
    housing: Agency
    spoc: User
    deputy: User
    contact: User
    worker: User
    housing_spoc: User
    housing_deputy: User
    housing_contact: User
    coordinators: list[User]
    chair: User
    case: object


@pytest.fixture
def world(app, db) -> World:
    caspa = create_agency(code="caspa", name="Test CASPA Team")
    police = create_agency(code="police", name="Test Police")
    housing = create_agency(code="housing", name="Test Housing")
    people = {}
    for key, name, role, agency in (
            ("spoc", "Pat Spoc", Role.SPOC, police), ("deputy", "Dee Deputy", Role.SPOC, police),
            ("contact", "Esme Escalation", Role.SPOC, police), ("worker", "Will Worker", Role.PRACTITIONER, police),
            ("housing_spoc", "Hal Housing", Role.SPOC, housing), ("housing_deputy", "Hattie Deputy", Role.SPOC, housing),
            ("housing_contact", "Hugo Lead", Role.SPOC, housing),
            ("coordinator", "Cass Coordinator", Role.COORDINATOR, caspa),
            ("coordinator2", "Cory Coordinator", Role.COORDINATOR, caspa), ("chair", "Charlie Chair", Role.CHAIR, caspa)):
        people[key] = create_user(role=role, agency=agency, name=name, email=f"{key}@{agency.code}.test")
    create_user(role=Role.CHAIR, agency=caspa, name="Former Chair", email="former@caspa.test", active=False)
    police.spoc, police.deputy_spoc, police.escalation_contact = people["spoc"], people["deputy"], people["contact"]
    housing.spoc, housing.deputy_spoc = people["housing_spoc"], people["housing_deputy"]
    housing.escalation_contact = people["housing_contact"]
    case = create_case(lead=police, involved=(housing,), given_name=GIVEN, family_name=FAMILY)
    case.person.address, case.person.nhs_number = ADDRESS, NHS
    db.session.commit()
    return World(police, housing, people["spoc"], people["deputy"], people["contact"], people["worker"],
                 people["housing_spoc"], people["housing_deputy"], people["housing_contact"],
                 [people["coordinator"], people["coordinator2"]], people["chair"], case)


def new_action(world: World, *, due: date, on: date, agency: Agency | None = None, assignee: User | None = None,
               description: str = DESCRIPTION) -> Action:
    """An action agreed at 14:00 London on `on`, through the service, committed."""
    with time_machine.travel(datetime.combine(on, time(14), tzinfo=LONDON), tick=False):
        action = services.create_action(world.case, description=description, agency=agency or world.police,
                                        due_on=due, by=world.coordinators[0], assignee=assignee)
        _db.session.commit()
    return action


def sweep_at(moment: datetime) -> dict[str, int]:
    with time_machine.travel(moment, tick=False):
        return jobs.sweep()


def escalations(action: Action | None = None) -> list[Escalation]:
    q = sa.select(Escalation).order_by(Escalation.id)
    if action is not None:
        q = q.where(Escalation.action_id == action.id)
    return list(_db.session.scalars(q))


def outbox() -> list[OutboxMessage]:
    return list(_db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def mail_by_day() -> dict[date, list[str]]:
    """The London day each digest was queued on, and to whom (sorted)."""
    out: dict[date, list[str]] = {}
    for message in outbox():
        out.setdefault(london_today(message.created_at), []).append(message.to_addr)
    return {day: sorted(to) for day, to in out.items()}


def told(*users: User, note: str = "") -> str:
    return "\n".join([f"{u.name} <{u.email}>" for u in users] + ([f"({note})"] if note else []))


def assert_no_personal_data() -> None:
    """Neither the adult's details nor any action's text is in any email."""
    messages = outbox()
    assert messages
    values = PERSONAL + list(_db.session.scalars(sa.select(Action.description)))
    for message in messages:
        text = f"{message.subject}\n{message.body_text}"
        for value in values:
            assert value.lower() not in text.lower(), (value, text)


# ---- London days and the job table -----------------------------------------------------------


@pytest.mark.parametrize("moment, day", [
    (utc(d(3, 27), 23, 59), d(3, 27)),   # Saturday night, still GMT
    (utc(d(3, 28), 0, 30), d(3, 28)),    # 00:30 GMT Sunday
    (utc(d(3, 28), 1, 0), d(3, 28)),     # the clocks go forward: 02:00 BST
    (utc(d(3, 28), 22, 59), d(3, 28)),   # 23:59 BST Sunday
    (utc(d(3, 28), 23, 0), d(3, 29)),    # 00:00 BST Easter Monday, still Sunday in UTC
    (utc(d(10, 30), 23, 30), d(10, 31)),  # 00:30 BST Sunday 31 October
    (utc(d(10, 31), 1, 0), d(10, 31)),    # the clocks go back: 01:00 GMT
    (utc(d(10, 31), 23, 30), d(10, 31)),  # 23:30 GMT: still Sunday
])
def test_the_sweeps_day_is_londons_around_midnight_and_the_clock_changes(moment, day):
    assert london_today(moment) == day
    with time_machine.travel(moment, tick=False):
        assert london_today() == day


def test_the_sweep_is_the_escalations_job_at_seven_every_morning_london_time():
    from apscheduler.triggers.cron import CronTrigger

    job = scheduler.JOBS["escalations"]
    assert job == scheduler.Job("panel.actions.jobs:sweep", {"trigger": "cron", "hour": 7, "minute": 0})
    assert scheduler._resolve(job.path) is jobs.sweep
    trigger = CronTrigger(**{k: v for k, v in job.trigger.items() if k != "trigger"}, timezone=scheduler.TIMEZONE)
    fires = [trigger.get_next_fire_time(None, after) for after in
             (utc(d(3, 27), 8), utc(d(3, 28), 8), utc(d(10, 30), 8))]
    assert fires == [utc(d(3, 28), 6).astimezone(LONDON), utc(d(3, 29), 6).astimezone(LONDON),
                     utc(d(10, 31), 7).astimezone(LONDON)]


def test_a_sweep_just_after_london_midnight_takes_the_rungs_of_the_new_london_day(world, db):
    action = new_action(world, due=d(3, 30), on=d(3, 15))
    for moment in (utc(d(3, 22), 7), utc(d(3, 22), 23, 59)):  # Monday in London, GMT
        assert sweep_at(moment) == {"steps": 0, "digests": 0}
    assert sweep_at(utc(d(3, 23), 0, 1))["steps"] == 1  # 00:01 Tuesday 23 March: the reminder
    # after the change: 23:30 UTC on Tuesday 30 March is 00:30 BST on Wednesday 31 March
    assert sweep_at(utc(d(3, 30), 22, 59)) == {"steps": 0, "digests": 0}
    assert sweep_at(utc(d(3, 30), 23, 30))["steps"] == 1
    assert [(e.step, e.due_for) for e in escalations(action)] == [(S.REMINDER, d(3, 23)), (S.OVERDUE, d(3, 31))]


# ---- walking the ladder ------------------------------------------------------------------------

SCENARIOS = {
    # agreed, due, reminder, overdue, agency, chair, walk to; (clock change, UTC hour of 07:00 London before, after)
    "easter-and-bst-starts": (d(3, 15), d(3, 30), d(3, 23), d(3, 31), d(4, 6), d(4, 13), d(4, 20), (d(3, 28), 7, 6)),
    "late-may-bank-holiday": (d(5, 17), d(5, 28), d(5, 25), d(6, 1), d(6, 7), d(6, 14), d(6, 21), (d(1, 1), 6, 6)),
    "bst-ends-in-october": (d(10, 18), d(10, 29), d(10, 26), d(11, 1), d(11, 5), d(11, 12), d(11, 19),
                            (d(10, 31), 6, 7)),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_an_action_climbs_every_rung_once_on_its_working_day(world, db, scenario):
    agreed, due, reminder, overdue, agency, chair, last, (change, before, after) = SCENARIOS[scenario]
    action = new_action(world, due=due, on=agreed, assignee=world.worker)
    assert (action.next_step, action.next_step_on, action.ladder_round) == (S.REMINDER, reminder, 1)
    moments = {}
    results = {}
    for day in days(agreed + timedelta(days=1), last):
        moment = utc(day, before if day < change else after)
        assert moment.astimezone(LONDON).time() == time(7) and moment == seven_am(day)
        moments[day] = moment
        results[day] = sweep_at(moment)
        assert sweep_at(moment + timedelta(hours=3)) == {"steps": 0, "digests": 0}  # a second run that day
    rungs = {reminder: S.REMINDER, overdue: S.OVERDUE, agency: S.AGENCY, chair: S.CHAIR}
    assert {day: r for day, r in results.items() if r != {"steps": 0, "digests": 0}} == {
        reminder: {"steps": 1, "digests": 1}, overdue: {"steps": 1, "digests": 3},
        agency: {"steps": 1, "digests": 1}, chair: {"steps": 1, "digests": 1}}

    rows = escalations(action)
    assert [(e.step, e.round, e.due_for, e.at, e.by_id) for e in rows] == [
        (step, 1, day, moments[day], None) for day, step in rungs.items()]
    assert [e.told for e in rows] == [
        told(world.worker), told(world.spoc, *world.coordinators), told(world.contact), told(world.chair)]
    assert [e.contact_id for e in rows] == [None, None, world.contact.id, None]
    db.session.refresh(action)
    assert action.escalated_to_chair_at == moments[chair]
    assert (action.next_step, action.next_step_on, action.status) == (None, None, ActionStatus.OPEN)

    assert mail_by_day() == {
        reminder: [world.worker.email], overdue: sorted([world.spoc.email, *(c.email for c in world.coordinators)]),
        agency: [world.contact.email], chair: [world.chair.email]}
    digests = db.session.execute(sa.select(Digest.user_id, Digest.day, Digest.items).order_by(Digest.id)).all()
    assert sorted(digests) == sorted([(world.worker.id, reminder, 1), (world.spoc.id, overdue, 1),
                                      *((c.id, overdue, 1) for c in world.coordinators),
                                      (world.contact.id, agency, 1), (world.chair.id, chair, 1)])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestItem).where(DigestItem.digest_id.is_(None))) == 0
    assert_no_personal_data()


def test_the_digests_say_what_happened_with_links_and_who_may_acknowledge(world, db):
    action = new_action(world, due=d(3, 30), on=d(3, 15), assignee=world.worker)
    for day in days(d(3, 16), d(4, 13)):
        sweep_at(seven_am(day))
    reminder, overdue, agency, chair = escalations(action)
    ref, n = world.case.reference, action.id
    mail = {(m.to_addr, london_today(m.created_at)): m for m in outbox()}

    first = mail[(world.worker.email, d(3, 23))]
    assert first.subject == "Panel: your actions for 23 March 2027"
    assert first.body_text.splitlines()[:5] == [
        "Hello Will Worker,", "", "1 item on the action log needs your attention today.", "",
        f"- Action {n} on case {ref} (Test Police) is due on 30 March 2027."]
    assert f"  Open: http://localhost/actions/{n}" in first.body_text
    assert "This email holds no personal information." in first.body_text
    assert "was due on 30 March 2027 and is overdue." in mail[(world.spoc.email, d(3, 31))].body_text
    to_contact = mail[(world.contact.email, d(4, 6))].body_text
    assert "has been escalated to you as the agency’s escalation contact. Please acknowledge it." in to_contact
    assert f"  Acknowledge: http://localhost/actions/escalations/{agency.id}/acknowledge" in to_contact
    to_chair = mail[(world.chair.email, d(4, 13))].body_text
    assert "escalated to the panel chair. It will be on the next panel’s agenda." in to_chair
    assert f"  Acknowledge: http://localhost/actions/escalations/{chair.id}/acknowledge" in to_chair
    assert f"/actions/escalations/{reminder.id}/" not in first.body_text
    assert_no_personal_data()


def test_a_new_due_date_restarts_the_ladder_in_a_new_round(world, db):
    action = new_action(world, due=d(3, 30), on=d(3, 15))
    for day in days(d(3, 16), d(4, 1)):
        sweep_at(seven_am(day))
    assert [e.step for e in escalations(action)] == [S.REMINDER, S.OVERDUE]

    with pytest.raises(ServiceError, match="why the due date is changing"):
        services.update_action(action, by=world.spoc, due_on=d(4, 16), today=d(4, 1))
    with pytest.raises(ServiceError, match="today or in the future"):
        services.update_action(action, by=world.spoc, due_on=d(3, 31), reason="Late", today=d(4, 1))
    db.session.rollback()
    with time_machine.travel(datetime(2027, 4, 1, 10, 0, tzinfo=LONDON), tick=False):  # after that day's sweep
        update = services.update_action(action, by=world.spoc, due_on=d(4, 16),
                                        reason="The landlord cannot meet until after the school holidays")
        db.session.commit()
    assert (update.old_due_on, update.new_due_on, update.due_change_reason) == (
        d(3, 30), d(4, 16), "The landlord cannot meet until after the school holidays")
    assert (action.due_on, action.ladder_round, action.next_step, action.next_step_on) == (
        d(4, 16), 2, S.REMINDER, d(4, 13))

    results = {day: sweep_at(seven_am(day)) for day in days(d(4, 2), d(5, 7))}
    assert [day for day, r in results.items() if r["steps"]] == [d(4, 13), d(4, 19), d(4, 23), d(4, 30)]
    assert results[d(4, 6)] == {"steps": 0, "digests": 0}  # the first round's escalation never comes
    assert [(e.step, e.round, e.due_for) for e in escalations(action)] == [
        (S.REMINDER, 1, d(3, 23)), (S.OVERDUE, 1, d(3, 31)),
        (S.REMINDER, 2, d(4, 13)), (S.OVERDUE, 2, d(4, 19)), (S.AGENCY, 2, d(4, 23)), (S.CHAIR, 2, d(4, 30))]
    assert services.escalation_levels([action.id]) == {action.id: S.CHAIR}
    assert_no_personal_data()


def test_a_due_date_moved_inside_the_reminder_window_is_reminded_at_the_next_sweep(world, db):
    action = new_action(world, due=d(4, 20), on=d(3, 15))
    with time_machine.travel(datetime(2027, 4, 2, 11, 0, tzinfo=LONDON), tick=False):  # Friday, after 07:00
        services.update_action(action, by=world.spoc, due_on=d(4, 6), reason="Brought forward: the court date moved")
        db.session.commit()
    assert (action.next_step, action.next_step_on) == (S.REMINDER, d(4, 1))  # its date has gone
    assert sweep_at(seven_am(d(4, 3)))["steps"] == 1  # Saturday's sweep: still before the due date
    assert [(e.step, e.round, e.due_for) for e in escalations(action)] == [(S.REMINDER, 2, d(4, 1))]
    assert (action.next_step, action.next_step_on) == (S.OVERDUE, d(4, 7))


@pytest.mark.parametrize("status", [ActionStatus.DONE, ActionStatus.NOT_POSSIBLE, ActionStatus.NOT_DONE,
                                    ActionStatus.CANCELLED])
def test_closing_an_action_stops_the_ladder(world, db, status):
    action = new_action(world, due=d(3, 30), on=d(3, 15))
    for day in days(d(3, 16), d(4, 6)):
        sweep_at(seven_am(day))
    assert [e.step for e in escalations(action)] == [S.REMINDER, S.OVERDUE, S.AGENCY]
    sent = len(outbox())
    with time_machine.travel(datetime(2027, 4, 7, 15, 0, tzinfo=LONDON), tick=False):
        services.update_action(action, by=world.spoc, status=status, note="Closed at the agency (demo)")
        db.session.commit()
    assert (action.status, action.next_step, action.next_step_on) == (status, None, None)
    assert action.closed_at == datetime(2027, 4, 7, 14, 0, tzinfo=UTC)

    assert all(sweep_at(seven_am(day)) == {"steps": 0, "digests": 0} for day in days(d(4, 8), d(4, 30)))
    assert [e.step for e in escalations(action)] == [S.REMINDER, S.OVERDUE, S.AGENCY]
    assert len(outbox()) == sent and action.escalated_to_chair_at is None
    with pytest.raises(ServiceError, match="can no longer be changed"):
        services.update_action(action, by=world.spoc, due_on=d(5, 28), reason="Reopen", today=d(4, 30))
    with pytest.raises(ServiceError, match="Only an open action"):
        services.escalate_by_hand(action, to_chair=True, reason="Why", by=world.coordinators[0])


def test_an_action_done_before_its_reminder_never_sends_anything(world, db):
    action = new_action(world, due=d(3, 30), on=d(3, 15))
    with time_machine.travel(datetime(2027, 3, 18, 9, 0, tzinfo=LONDON), tick=False):
        services.update_action(action, by=world.spoc, status=ActionStatus.DONE)
        db.session.commit()
    assert all(sweep_at(seven_am(day)) == {"steps": 0, "digests": 0} for day in days(d(3, 19), d(4, 20)))
    assert escalations() == [] and outbox() == []


# ---- who is told, and the digests ---------------------------------------------------------------


def test_each_person_gets_one_digest_a_day_listing_all_their_items(world, db):
    mark_spoc_absent(world.housing)  # the deputy acts for the SPoC
    db.session.commit()
    assigned = new_action(world, due=d(3, 30), on=d(3, 15), assignee=world.worker)
    unassigned = new_action(world, due=d(3, 30), on=d(3, 15), description="Second action text")
    housing = new_action(world, due=d(3, 30), on=d(3, 16), agency=world.housing, description="Third action text")
    later = new_action(world, due=d(4, 30), on=d(3, 16), description="Fourth action text")

    results = {day: sweep_at(seven_am(day)) for day in days(d(3, 17), d(3, 31))}
    assert results[d(3, 23)] == {"steps": 3, "digests": 3}
    assert results[d(3, 31)] == {"steps": 3, "digests": 4}
    mail = mail_by_day()
    assert mail == {
        d(3, 23): sorted([world.worker.email, world.spoc.email, world.housing_deputy.email]),
        d(3, 31): sorted([world.spoc.email, world.housing_deputy.email, *(c.email for c in world.coordinators)])}
    items = dict(db.session.execute(sa.select(Digest.user_id, Digest.items).where(Digest.day == d(3, 31))).all())
    assert items == {world.spoc.id: 2, world.housing_deputy.id: 1,
                     world.coordinators[0].id: 3, world.coordinators[1].id: 3}
    body = next(m.body_text for m in outbox() if m.to_addr == world.coordinators[0].email)
    assert "3 items on the action log need your attention today." in body
    for action in (assigned, unassigned, housing):
        assert f"Action {action.id} on case {world.case.reference}" in body
    assert f"Action {later.id} " not in body
    assert [e.told for e in escalations(housing)] == [
        told(world.housing_deputy), told(world.housing_deputy, *world.coordinators)]
    assert_no_personal_data()


def test_items_after_a_persons_digest_has_gone_wait_for_tomorrows(world, db):
    first = new_action(world, due=d(3, 30), on=d(3, 15))
    second = new_action(world, due=d(5, 28), on=d(3, 15), description="Second action text")
    for day in days(d(3, 16), d(4, 6)):
        sweep_at(seven_am(day))
    assert mail_by_day()[d(4, 6)] == [world.contact.email]
    with time_machine.travel(datetime(2027, 4, 6, 10, 0, tzinfo=LONDON), tick=False):
        escalation = services.escalate_by_hand(second, to_chair=False, reason="No contact with the agency for a month",
                                               by=world.coordinators[0])
        db.session.commit()
    # an escalation by hand is emailed at once (issue 17), not kept for the digest ...
    assert mail_by_day()[d(4, 6)] == [world.contact.email] * 2
    assert "/acknowledge" in outbox()[-1].body_text
    # ... while an item waiting after the person's digest has gone (as the sweep adds them) waits
    db.session.add(DigestItem(user_id=world.contact.id, escalation_id=escalation.id,
                              created_at=datetime(2027, 4, 6, 10, 0, tzinfo=LONDON)))
    db.session.commit()
    assert sweep_at(seven_am(d(4, 6)) + timedelta(hours=5)) == {"steps": 0, "digests": 0}
    assert mail_by_day()[d(4, 6)] == [world.contact.email] * 2
    assert sweep_at(seven_am(d(4, 7))) == {"steps": 0, "digests": 1}
    message = outbox()[-1]
    assert message.to_addr == world.contact.email and london_today(message.created_at) == d(4, 7)
    assert f"The coordinator has escalated action {second.id} on case" in message.body_text
    manual = escalations(second)[0]
    assert f"Acknowledge: http://localhost/actions/escalations/{manual.id}/acknowledge" in message.body_text
    assert f"Action {first.id} " not in message.body_text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Digest).where(
        Digest.user_id == world.contact.id)) == 2


def test_without_an_escalation_contact_or_a_chair_the_coordinators_are_told(world, db):
    world.police.escalation_contact = None
    world.chair.active = False
    db.session.commit()
    action = new_action(world, due=d(3, 30), on=d(3, 15))
    for day in days(d(3, 16), d(4, 13)):
        sweep_at(seven_am(day))
    reminder, overdue, agency, chair = escalations(action)
    assert reminder.told == told(world.spoc)  # no one assigned: the SPoC
    assert agency.told == told(*world.coordinators, note="Test Police has no escalation contact")
    assert chair.told == told(*world.coordinators, note="There is no active panel chair")
    assert agency.contact_id is None and chair.contact_id is None
    assert mail_by_day()[d(4, 13)] == sorted(c.email for c in world.coordinators)
    assert world.chair.email not in {m.to_addr for m in outbox()}


def test_an_inactive_assignee_is_passed_over_and_a_user_deactivated_before_the_digest_gets_none(world, db):
    world.worker.active = False
    db.session.commit()
    action = new_action(world, due=d(3, 30), on=d(3, 15), assignee=world.worker)
    sweep_at(seven_am(d(3, 23)))
    assert escalations(action)[0].told == told(world.spoc)
    with time_machine.travel(datetime(2027, 3, 24, 10, 0, tzinfo=LONDON), tick=False):
        world.contact.active = False  # deactivated before the escalation by hand: no email now
        escalation = services.escalate_by_hand(action, to_chair=False, reason="Urgent", by=world.coordinators[0])
        # and a waiting digest line for someone deactivated before the digest goes
        db.session.add(DigestItem(user_id=world.contact.id, escalation_id=escalation.id))
        db.session.commit()
    assert sweep_at(seven_am(d(3, 25))) == {"steps": 0, "digests": 0}
    # the inactive contact gets nothing; the coordinators, told in their place, were emailed at once
    sent = [m.to_addr for m in outbox()]
    assert sent[0] == world.spoc.email and sorted(sent[1:]) == sorted(c.email for c in world.coordinators)
    assert world.contact.email not in sent
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestItem).where(
        DigestItem.digest_id.is_(None))) == 0  # consumed, not left to pile up


# ---- the run-job command ----------------------------------------------------------------------------


def test_run_job_escalations_runs_the_sweep_once_a_day(app, world, db):
    action = new_action(world, due=d(3, 30), on=d(3, 15), assignee=world.worker)
    runner = app.test_cli_runner()
    with time_machine.travel(seven_am(d(3, 23)), tick=False):
        first = runner.invoke(args=["panel", "run-job", "escalations"])
        again = runner.invoke(args=["panel", "run-job", "escalations"])
    assert first.exit_code == 0 and first.output.startswith("escalations: steps 1, digests 1 ("), first.output
    assert again.exit_code == 0 and again.output.startswith("escalations: steps 0, digests 0 ("), again.output
    db.session.expire_all()
    assert [e.step for e in escalations(action)] == [S.REMINDER]
    assert [m.to_addr for m in outbox()] == [world.worker.email]
    sweeps = db.session.scalars(sa.select(AuditEvent.summary).where(AuditEvent.object_type == "escalation_sweep")).all()
    assert len(sweeps) == 1 and '"steps": 1' in sweeps[0]


# ---- the sweep reads only what is due -------------------------------------------------------------


def _bulk_actions(world: World, count: int, *, due: date, next_step: S, next_on: date) -> list[int]:
    rows = [Action(case_id=world.case.id, description=f"Bulk action {n}", agency_id=world.police.id, due_on=due,
                   status=ActionStatus.OPEN, next_step=next_step, next_step_on=next_on) for n in range(count)]
    _db.session.add_all(rows)
    _db.session.flush()
    return [a.id for a in rows]


@pytest.mark.parametrize("due_count, not_due", [(5, 10), (5, 500), (60, 10)])
def test_the_sweep_reads_only_due_actions_in_a_fixed_number_of_queries(world, db, count_queries, monkeypatch,
                                                                       due_count, not_due):
    today = d(4, 6)
    due = _bulk_actions(world, due_count, due=d(3, 30), next_step=S.AGENCY, next_on=today)
    _bulk_actions(world, not_due, due=d(5, 28), next_step=S.REMINDER, next_on=d(5, 25))
    _bulk_actions(world, 3, due=d(3, 1), next_step=None, next_on=None)  # finished ladders
    closed = _bulk_actions(world, 4, due=d(3, 30), next_step=S.AGENCY, next_on=today)
    db.session.execute(sa.update(Action).where(Action.id.in_(closed)).values(status=ActionStatus.DONE))
    db.session.commit()
    db.session.close()  # nothing in the session: any action the sweep loaded would show below
    read: list[int] = []
    loaded: list[int] = []
    real_due_actions = jobs.due_actions

    def due_actions(today):
        found = real_due_actions(today)
        read.extend(a.id for a in found)
        return found

    def on_load(target, context):
        loaded.append(target.id)

    monkeypatch.setattr(jobs, "due_actions", due_actions)
    sa.event.listen(Action, "load", on_load)
    try:
        with count_queries() as counter:
            result = jobs.sweep(now=seven_am(today))
    finally:
        sa.event.remove(Action, "load", on_load)
    assert result == {"steps": due_count, "digests": 1}
    assert read == due and loaded == []  # only the due rows, read as plain rows
    # the sweep's lock (PostgreSQL); the due actions, their agencies, their assignees; the
    # coordinators, the chairs; the actions moved on; the escalations, the digest items; the
    # pending items, their people; the digests, the items marked, the emails; the audit row
    # (its lock on PostgreSQL, the previous hash, the insert)
    # PostgreSQL: its advisory locks, and the NOTIFY that wakes the outbox job for the digests
    expected = {"sqlite": 15, "postgresql": 18}[db.engine.dialect.name]
    assert counter.count == expected, "\n".join(counter.statements)


def test_the_due_actions_query_uses_the_ladder_index(world, db):
    if PG_URL:
        pytest.skip("SQLite's query plan; PostgreSQL chooses by table statistics")
    query = sa.select(Action.id).where(Action.next_step_on <= d(4, 6), Action.status == ActionStatus.OPEN)
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = " ".join(str(row[-1]) for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")))
    assert "ix_actions_ladder" in plan, plan


# ---- escalation by hand and acknowledgement ------------------------------------------------------


def test_the_coordinator_escalates_by_hand_once_per_press_with_a_reason(world, db):
    action = new_action(world, due=d(5, 28), on=d(3, 15))
    coordinator = world.coordinators[0]
    now = datetime(2027, 4, 6, 9, 0, tzinfo=UTC)
    for reason, message in (("", "Enter why you are escalating"), ("x" * 1001, "1000 characters or fewer")):
        with pytest.raises(ServiceError, match=message):
            services.escalate_by_hand(action, to_chair=False, reason=reason, by=coordinator, now=now)
    with time_machine.travel(now, tick=False):
        first = services.escalate_by_hand(action, to_chair=False, reason="  No reply to three emails  ",
                                          by=coordinator, now=now)
        db.session.commit()
    assert (first.step, first.round, first.due_for, first.at, first.by_id, first.reason) == (
        S.MANUAL_AGENCY, 1, d(4, 6), now, coordinator.id, "No reply to three emails")
    assert (first.told, first.contact_id) == (told(world.contact), world.contact.id)
    # the contact is emailed the acknowledgement link at once, not in tomorrow's digest
    assert db.session.scalars(sa.select(DigestItem.user_id).where(DigestItem.escalation_id == first.id)).all() == []
    assert [(m.to_addr, m.body_text.count(f"/actions/escalations/{first.id}/acknowledge")) for m in outbox()] == [
        (world.contact.email, 1)]
    # the same form sent twice: one row, and no second email
    again = services.escalate_by_hand(action, to_chair=False, reason="No reply to three emails", by=coordinator,
                                      now=now + timedelta(minutes=2))
    assert again.id == first.id
    assert len(outbox()) == 1
    # a new press later, or with another reason, is a new escalation
    later = services.escalate_by_hand(action, to_chair=False, reason="No reply to three emails", by=coordinator,
                                      now=now + timedelta(minutes=11))
    other = services.escalate_by_hand(action, to_chair=False, reason="Still nothing", by=coordinator,
                                      now=now + timedelta(minutes=12))
    assert (later.round, other.round) == (2, 3)
    assert action.escalated_to_chair_at is None
    assert (action.next_step, action.next_step_on) == (S.REMINDER, d(5, 25))  # the ladder carries on
    events = db.session.scalars(sa.select(CaseEvent.summary).where(CaseEvent.kind == "escalation")).all()
    assert events == [f"Action {action.id}: escalated by the coordinator to the agency’s escalation contact"] * 3
    audited = db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.object_type == "action", AuditEvent.object_id == str(action.id))).all()
    assert sum("manual_agency" in s for s in audited) == 3


def test_escalating_by_hand_to_the_chair_puts_the_action_on_the_agenda(world, db):
    action = new_action(world, due=d(5, 28), on=d(3, 15))
    now = datetime(2027, 4, 6, 9, 0, tzinfo=UTC)
    escalation = services.escalate_by_hand(action, to_chair=True, reason="Risk to life", by=world.coordinators[0],
                                           now=now)
    db.session.commit()
    assert (escalation.step, escalation.told, escalation.contact_id) == (S.MANUAL_CHAIR, told(world.chair), None)
    assert action.escalated_to_chair_at == now
    assert services.escalation_levels([action.id]) == {action.id: S.MANUAL_CHAIR}
    # the chair is emailed now (a link only), and not again in the next morning's digest
    (email,) = outbox()
    assert email.to_addr == world.chair.email
    assert "escalated an action on the action log to the panel chair" in email.body_text
    assert f"Acknowledge it: http://localhost/actions/escalations/{escalation.id}/acknowledge" in email.body_text
    assert world.case.reference not in email.body_text and "Test Police" not in email.body_text
    assert sweep_at(seven_am(d(4, 7))) == {"steps": 0, "digests": 0}
    assert_no_personal_data()


def test_who_may_acknowledge_which_escalation(world, db):
    action = new_action(world, due=d(3, 30), on=d(3, 15))
    for day in days(d(3, 16), d(4, 13)):
        sweep_at(seven_am(day))
    reminder, overdue, agency, chair = escalations(action)
    manual_agency = services.escalate_by_hand(action, to_chair=False, reason="Again", by=world.coordinators[0])
    manual_chair = services.escalate_by_hand(action, to_chair=True, reason="Again", by=world.coordinators[0])
    other_chair = create_user(role=Role.CHAIR, agency=world.housing)
    everyone = [world.spoc, world.deputy, world.contact, world.worker, world.housing_contact, *world.coordinators,
                world.chair, other_chair]
    allowed = {
        reminder.id: set(), overdue.id: set(),
        agency.id: {world.contact.id}, manual_agency.id: {world.contact.id},
        chair.id: {world.chair.id, other_chair.id}, manual_chair.id: {world.chair.id, other_chair.id}}
    for escalation in (reminder, overdue, agency, chair, manual_agency, manual_chair):
        assert {u.id for u in everyone if services.can_acknowledge(u, escalation)} == allowed[escalation.id], \
            escalation.step


def test_acknowledging_an_escalation_records_the_comment_once(world, db):
    action = new_action(world, due=d(3, 30), on=d(3, 15))
    for day in days(d(3, 16), d(4, 6)):
        sweep_at(seven_am(day))
    agency = escalations(action)[-1]
    assert agency.step == S.AGENCY
    for by, comment, message in ((world.contact, "  ", "Enter a comment"),
                                 (world.contact, "y" * 1001, "1000 characters or fewer"),
                                 (world.spoc, "We will do it", "You cannot acknowledge"),
                                 (world.chair, "We will do it", "You cannot acknowledge")):
        with pytest.raises(ServiceError, match=message):
            services.acknowledge(agency, by=by, comment=comment)
    assert agency.acknowledged_at is None
    at = datetime(2027, 4, 6, 13, 30, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        services.acknowledge(agency, by=world.contact, comment="  A manager will visit on Friday  ")
        db.session.commit()
    assert (agency.acknowledged_at, agency.acknowledged_by_id, agency.acknowledgement) == (
        at, world.contact.id, "A manager will visit on Friday")
    assert not services.can_acknowledge(world.contact, agency)
    with pytest.raises(ServiceError, match="already been acknowledged"):
        services.acknowledge(agency, by=world.contact, comment="Again")
    assert db.session.scalar(sa.select(CaseEvent.summary).where(CaseEvent.kind == "escalation")) == \
        f"Action {action.id}: escalation acknowledged by Esme Escalation"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "escalation", AuditEvent.object_id == str(agency.id))) == 1
    # acknowledging does not stop the ladder: the action is still overdue
    assert sweep_at(seven_am(d(4, 13)))["steps"] == 1
    assert escalations(action)[-1].step == S.CHAIR


# ---- two sweeps at once -------------------------------------------------------------------------------


def _ladder_at_every_rung(world: World) -> list[Action]:
    """Five actions each with a rung due on Tuesday 6 April 2027 (one with three to catch up)."""
    actions = [new_action(world, due=due, on=d(3, 15), assignee=assignee, description=f"Action text {n}")
               for n, (due, assignee) in enumerate(((d(4, 9), world.worker), (d(4, 9), None), (d(4, 1), None),
                                                      (d(3, 30), None), (d(3, 19), None)))]
    for action, (step, on) in zip(actions, ((S.REMINDER, d(4, 6)), (S.REMINDER, d(4, 6)), (S.OVERDUE, d(4, 6)),
                                            (S.AGENCY, d(4, 6)), (S.OVERDUE, d(3, 22))), strict=True):
        action.next_step, action.next_step_on = step, on
    _db.session.commit()
    return actions


def _two_sweeps_at_once(app, now: datetime) -> list[dict[str, int]]:
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                results.append(jobs.sweep(now=now))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(results) == 2
    return results


@pytest.mark.parametrize("advisory_lock", [True, False], ids=["with-the-lock", "unique-rows-alone"])
def test_two_sweeps_at_once_record_and_send_nothing_twice(app, world, db, monkeypatch, advisory_lock):
    if not advisory_lock:
        if not PG_URL:
            pytest.skip("SQLite's BEGIN IMMEDIATE serialises the sweeps whatever the lock")
        monkeypatch.setattr(jobs, "_lock", lambda: None)
    actions = _ladder_at_every_rung(world)
    db.session.commit()  # no transaction open here while the threads run (SQLite's write lock)

    results = _two_sweeps_at_once(app, seven_am(d(4, 6)))

    assert sorted(r["steps"] for r in results) == [0, 7], results
    assert sorted(r["digests"] for r in results) == [0, 6], results
    rows = db.session.execute(sa.select(Escalation.action_id, Escalation.step, Escalation.round)).all()
    assert len(rows) == len(set(rows)) == 7
    assert sorted((a, s) for a, s, _ in rows) == sorted(
        [(actions[0].id, S.REMINDER), (actions[1].id, S.REMINDER), (actions[2].id, S.OVERDUE),
         (actions[3].id, S.AGENCY), (actions[4].id, S.OVERDUE), (actions[4].id, S.AGENCY), (actions[4].id, S.CHAIR)])
    per_person = db.session.execute(sa.select(Digest.user_id, Digest.day)).all()
    assert len(per_person) == len(set(per_person)) == 6
    sent = sorted(m.to_addr for m in outbox())
    assert sent == sorted({world.worker.email, world.spoc.email, world.contact.email, world.chair.email,
                           world.coordinators[0].email, world.coordinators[1].email})
    # worker (reminder), spoc (reminder, overdue x2), contact (agency x2), chair, two coordinators (overdue x2)
    assert len(sent) == 6
    items = db.session.execute(sa.select(DigestItem.user_id, DigestItem.escalation_id)).all()
    assert len(items) == len(set(items))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestItem).where(
        DigestItem.digest_id.is_(None))) == 0


def test_an_action_changed_while_the_sweep_runs_keeps_its_new_ladder(app, world, db, monkeypatch):
    """PostgreSQL: a SPoC closes one action and moves another's due date, committing after the
    sweep has read them and before it moves them on. The sweep leaves both as the SPoC left them,
    and records no rung for either (nobody is told of a reminder for a closed action)."""
    if not PG_URL:
        pytest.skip("SQLite serialises the sweep and the SPoC's change (BEGIN IMMEDIATE)")
    closed = new_action(world, due=d(4, 9), on=d(3, 15))
    moved = new_action(world, due=d(4, 9), on=d(3, 15), description="Second action text")
    closed_id, moved_id = closed.id, moved.id
    real_due_actions = jobs.due_actions

    def due_actions(today):
        found = real_due_actions(today)
        assert {a.id for a in found} == {closed_id, moved_id}
        t = Action.__table__
        with db.engine.begin() as other:  # another connection: the SPoC's request, committed now
            other.execute(t.update().where(t.c.id == closed_id).values(
                status=ActionStatus.DONE, next_step=None, next_step_on=None))
            other.execute(t.update().where(t.c.id == moved_id).values(
                due_on=d(5, 28), ladder_round=2, next_step=S.REMINDER, next_step_on=d(5, 25)))
        return found

    monkeypatch.setattr(jobs, "due_actions", due_actions)
    assert jobs.sweep(now=seven_am(d(4, 6))) == {"steps": 0, "digests": 0}  # both were due when read
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestItem)) == 0
    rows = {a.id: (a.status, a.ladder_round, a.next_step, a.next_step_on)
            for a in db.session.scalars(sa.select(Action).execution_options(populate_existing=True))}
    assert rows == {closed_id: (ActionStatus.DONE, 1, None, None), moved_id: (ActionStatus.OPEN, 2, S.REMINDER, d(5, 25))}


def _flask(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "panel", "run-job", "escalations"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_run_job_processes_at_once_take_each_rung_once(app, world, db, tmp_path):
    """`flask --app wsgi panel run-job escalations` twice at the same moment, in two processes,
    on today's real date: an action 30 days overdue catches up its three rungs exactly once."""
    today = london_today()
    action = new_action(world, due=today + timedelta(days=40), on=today - timedelta(days=1))
    action.due_on, action.next_step, action.next_step_on = today - timedelta(days=30), S.OVERDUE, today - timedelta(days=29)
    db.session.commit()  # no transaction open here while the processes run
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PANEL_ENV": "testing",
           "PANEL_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONWARNINGS": "default"}
    env.pop("FLASK_APP", None)
    procs = [_flask(env), _flask(env)]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    lines = sorted(out.strip() for out, _ in outputs)
    assert lines[0].startswith("escalations: steps 0, digests 0 ("), lines
    assert lines[1].startswith("escalations: steps 3, digests "), lines
    assert [e.step for e in escalations(action)] == [S.OVERDUE, S.AGENCY, S.CHAIR]
    recipients = [m.to_addr for m in outbox()]
    assert len(recipients) == len(set(recipients)) == 5  # the SPoC, two coordinators, the contact and the chair
