"""The self-building agenda: its order, the cut-off, risk order, closures, escalations and
long-running cases; reordering, own items and time boxes; keeping the coordinator's work when
the data changes; publishing to the SPoCs and the "agenda-publish" job; fixed queries."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel.meetings import agenda, pack, panels
from panel.models import (
    Action,
    ActionStatus,
    AgendaItem,
    AgendaItemKind,
    AuditAction,
    AuditEvent,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    Involvement,
    OutboxMessage,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    utcnow,
)
from panel.scheduler import JOBS
from panel.dates import LONDON
from panel.forms.errors import ServiceError
from tests import factories
from tests.cases.helpers import create_case
from tests.meetings import agenda_world
from tests.meetings.agenda_world import awaiting_referral, london, panel_meeting

UTC = timezone.utc


@pytest.fixture
def world(app, db):
    w = agenda_world.build(cases=4, actions=8)
    db.session.commit()
    return w


def _items(db, meeting) -> list[AgendaItem]:
    return list(db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
                                   .order_by(AgendaItem.position)))


def _kinds(items) -> list[str]:
    return [str(i.kind) for i in items]


def _case_refs(items, kind=AgendaItemKind.CASE) -> list[str]:
    return [i.case.reference for i in items if i.kind == kind]


# ---- building it ------------------------------------------------------------------------------


def test_the_agenda_is_built_in_its_fixed_order(db, world):
    referral = awaiting_referral(world.police, submitted_at=utcnow() - timedelta(days=20))
    closing = create_case(lead=world.housing, risk=RiskLevel.LOW, status=CaseStatus.CLOSURE_PROPOSED)
    db.session.commit()

    assert agenda.sync_agenda(world.meeting) is True
    db.session.commit()

    items = _items(db, world.meeting)
    assert _kinds(items) == ["welcome", "last_minutes", "referral", "case", "case", "case", "case", "closure",
                             "escalations", "aob"]
    assert [i.kind.section for i in items] == [1, 2, 3, 4, 4, 4, 4, 5, 6, 7]
    assert [i.position for i in items] == list(range(1, 11))
    assert items[2].referral_id == referral.id
    assert items[7].case_id == closing.id
    assert items[0].title == "Welcome, introductions and the confidentiality statement"
    # time boxes: fixed items as set, each case 15 minutes by default
    assert [i.minutes for i in items] == [5, 10, 15, 15, 15, 15, 15, 10, 10, 5]
    sections = agenda.agenda_view(world.meeting, date.today()).sections()
    assert [(number, title) for number, title, _ in sections] == [
        (1, "Welcome and confidentiality"), (2, "The last panel"), (3, "New referrals for decision"),
        (4, "Updates on open cases"), (5, "Cases proposed for closure"), (6, "Escalations and long-running cases"),
        (7, "Any other business")]


def test_cases_come_highest_risk_first(db, world):
    agenda.sync_agenda(world.meeting)
    db.session.commit()

    items = _items(db, world.meeting)
    risks = [i.case.risk_level for i in items if i.kind == AgendaItemKind.CASE]
    assert risks == [RiskLevel.CRITICAL, RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW]


def test_cases_of_the_same_risk_come_longest_in_the_pathway_first(db, world):
    older = create_case(lead=world.health, risk=RiskLevel.CRITICAL)
    older.accepted_on = date.today() - timedelta(days=300)
    db.session.commit()
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    assert _case_refs(_items(db, world.meeting))[0] == older.reference


def test_closed_and_withdrawn_are_not_on_the_agenda(db, world):
    closed = create_case(lead=world.health, risk=RiskLevel.CRITICAL, status=CaseStatus.CLOSED)
    decided = awaiting_referral(world.police, submitted_at=utcnow() - timedelta(days=20))
    decided.status = ReferralStatus.DECLINED
    db.session.commit()
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    items = _items(db, world.meeting)
    assert closed.id not in {i.case_id for i in items}
    assert not [i for i in items if i.kind == AgendaItemKind.REFERRAL]


def test_only_referrals_received_by_the_end_of_the_cut_off_day_are_on_it(db, world):
    meeting = world.meeting
    cutoff = meeting.cutoff_on
    on_time = awaiting_referral(world.police, submitted_at=london(cutoff, 23, 59))
    early = awaiting_referral(world.housing, submitted_at=london(cutoff - timedelta(days=3), 9))
    late = awaiting_referral(world.health, submitted_at=london(cutoff + timedelta(days=1), 0, 1))
    not_ready = awaiting_referral(world.health, submitted_at=london(cutoff - timedelta(days=3), 9))
    not_ready.status = ReferralStatus.SUBMITTED  # still in triage
    db.session.commit()

    agenda.sync_agenda(meeting)
    db.session.commit()

    referrals = [i.referral_id for i in _items(db, meeting) if i.kind == AgendaItemKind.REFERRAL]
    assert referrals == [early.id, on_time.id]  # in the order received
    assert late.id not in referrals and not_ready.id not in referrals


def test_cases_proposed_for_closure_are_in_section_five_only(db, world):
    case = world.cases[1]  # critical
    case.status = CaseStatus.CLOSURE_PROPOSED
    db.session.commit()

    agenda.sync_agenda(world.meeting)
    db.session.commit()

    items = _items(db, world.meeting)
    about = [i for i in items if i.case_id == case.id]
    assert [(str(i.kind), i.kind.section) for i in about] == [("closure", 5)]


def test_escalated_actions_since_the_last_panel_and_long_cases_are_in_section_six(db, world):
    previous = panel_meeting(utcnow() - timedelta(days=20))
    earlier = panel_meeting(utcnow() - timedelta(days=50))
    cancelled = panel_meeting(utcnow() - timedelta(days=5))
    cancelled.status = "cancelled"
    recent, old, never = world.actions[0], world.actions[1], world.actions[2]
    recent.escalated_to_chair_at = utcnow() - timedelta(days=3)
    old.escalated_to_chair_at = utcnow() - timedelta(days=25)       # before the last panel
    long_case = world.cases[2]
    long_case.accepted_on = date.today() - timedelta(days=400)
    agreed = Action(case_id=world.cases[0].id, description="Agreed last time", agency_id=world.police.id,
                    due_on=date.today() + timedelta(days=3), meeting_id=previous.id)
    done = Action(case_id=world.cases[0].id, description="Done already", agency_id=world.police.id,
                  due_on=date.today(), meeting_id=previous.id, status=ActionStatus.DONE)
    older = Action(case_id=world.cases[0].id, description="From the panel before", agency_id=world.police.id,
                   due_on=date.today(), meeting_id=earlier.id)
    db.session.add_all([agreed, done, older])
    db.session.commit()

    agenda.sync_agenda(world.meeting)
    view = agenda.agenda_view(world.meeting, date.today())

    assert view.previous.id == previous.id  # the cancelled one does not count
    assert [a.id for a in view.escalated_actions] == [recent.id]
    assert never.id not in [a.id for a in view.escalated_actions]
    assert [c.id for c in view.long_cases] == [long_case.id]
    assert [a.id for a in view.last_panel_actions] == [agreed.id]
    escalations = [i for i in view.items if i.kind == AgendaItemKind.ESCALATIONS]
    assert len(escalations) == 1 and escalations[0].kind.section == 6


def test_the_view_gathers_each_cases_actions_risk_change_and_engagement(db, world):
    previous = panel_meeting(utcnow() - timedelta(days=28))
    case = world.cases[1]
    db.session.add_all([
        RiskChange(case_id=case.id, from_level=None, to_level=RiskLevel.HIGH, at=utcnow() - timedelta(days=60)),
        RiskChange(case_id=case.id, from_level=RiskLevel.HIGH, to_level=RiskLevel.CRITICAL,
                   at=utcnow() - timedelta(days=10), reason="Worse"),
    ])
    for days, outcome in ((40, EngagementOutcome.ENGAGED), (10, EngagementOutcome.ENGAGED),
                          (5, EngagementOutcome.NO_ANSWER), (4, EngagementOutcome.PARTLY_ENGAGED),
                          (-15, EngagementOutcome.ENGAGED)):  # after this panel: not counted
        db.session.add(EngagementAttempt(case_id=case.id, agency_id=world.police.id, method=EngagementMethod.PHONE,
                                         occurred_at=utcnow() - timedelta(days=days), outcome=outcome))
    db.session.commit()
    agenda.sync_agenda(world.meeting)

    view = agenda.agenda_view(world.meeting, date.today())
    section = view.cases[case.id]
    assert view.previous.id == previous.id
    assert section.last_risk_change.to_level == RiskLevel.CRITICAL
    assert section.last_risk_change.from_level == RiskLevel.HIGH
    # since the last panel (28 days ago) and before this one: 3 attempts, 2 reached
    assert section.attempts == 3 and section.reached == 2
    assert dict(section.outcome_counts())[EngagementOutcome.NO_ANSWER] == 1
    assert all(a.case_id == case.id and a.status == ActionStatus.OPEN for a in section.open_actions)
    assert [a.due_on for a in section.open_actions] == sorted(a.due_on for a in section.open_actions)
    assert section.overdue(date.today()) == sum(1 for a in section.open_actions if a.due_on < date.today())
    assert [s.case.id for s in view.case_sections()] == [i.case_id for i in view.items if i.case_id]


def test_the_packs_view_reads_the_same_and_every_attempt_ever_in_the_same_statements(db, world, count_queries):
    """agenda_view(pack=True), as the chair's pack reads it: the same counts since the last panel,
    with every contact attempt ever by method (the closure checklists) read in the same statement,
    and the previous panel with its stored minutes (none here: not finalised)."""
    previous = panel_meeting(utcnow() - timedelta(days=28))
    case = world.cases[1]
    attempts = ((40, EngagementMethod.PHONE, True), (10, EngagementMethod.PHONE, False),
                (5, EngagementMethod.LETTER, False), (4, EngagementMethod.HOME_VISIT, False))
    for days, method, out_of_hours in attempts:
        db.session.add(EngagementAttempt(case_id=case.id, agency_id=world.police.id, method=method,
                                         out_of_hours=out_of_hours, occurred_at=utcnow() - timedelta(days=days),
                                         outcome=EngagementOutcome.ENGAGED))
    db.session.add(RiskChange(case_id=case.id, from_level=RiskLevel.HIGH, to_level=RiskLevel.CRITICAL,
                              at=utcnow() - timedelta(days=10), reason="Worse"))
    db.session.commit()
    agenda.sync_agenda(world.meeting)

    plain = agenda.agenda_view(world.meeting, date.today())
    with count_queries() as plain_count:
        agenda.agenda_view(world.meeting, date.today())
    with count_queries() as pack_count:
        view = agenda.agenda_view(world.meeting, date.today(), pack=True)

    section = view.cases[case.id]
    assert view.previous.id == previous.id and view.previous_minutes is None
    assert section.attempts == plain.cases[case.id].attempts == 3  # the one 40 days ago is before the last panel
    assert section.last_risk_change.to_level == RiskLevel.CRITICAL
    assert section.attempts_ever == {(EngagementMethod.PHONE, True): 1, (EngagementMethod.PHONE, False): 1,
                                     (EngagementMethod.LETTER, False): 1, (EngagementMethod.HOME_VISIT, False): 1}
    assert plain.cases[case.id].attempts_ever == {}
    assert pack_count.count == plain_count.count  # read with the same statements, not in more


def test_the_pack_shows_each_cases_last_successful_contact(db, world):
    """The chair's pack's last successful contact: the newest attempt in which the person engaged,
    fully or partly (a later unanswered one is not it; of two at the same moment the first
    recorded); none for a case without one."""
    panel_meeting(utcnow() - timedelta(days=28))
    engaged, quiet = world.cases[1], world.cases[2]
    moment = utcnow() - timedelta(days=3)
    rows = [(engaged, 20, EngagementOutcome.ENGAGED, EngagementMethod.LETTER),
            (engaged, 3, EngagementOutcome.PARTLY_ENGAGED, EngagementMethod.PHONE),   # the one: first at that moment
            (engaged, 3, EngagementOutcome.ENGAGED, EngagementMethod.HOME_VISIT),
            (engaged, 1, EngagementOutcome.NO_ANSWER, EngagementMethod.PHONE),        # later, but not reached
            (quiet, 2, EngagementOutcome.NO_ANSWER, EngagementMethod.PHONE)]
    made = []
    for case, days, outcome, method in rows:
        attempt = EngagementAttempt(case_id=case.id, agency_id=world.police.id, method=method, outcome=outcome,
                                    occurred_at=moment if days == 3 else utcnow() - timedelta(days=days))
        db.session.add(attempt)
        db.session.flush()
        made.append(attempt.id)
    db.session.commit()
    agenda.sync_agenda(world.meeting)

    view = pack.chairs_pack(world.meeting, world.coordinator, today=date.today()).view

    last = view.cases[engaged.id].last_contact
    assert last.id == made[1] and last.method == EngagementMethod.PHONE and last.agency.name == world.police.name
    assert view.cases[quiet.id].last_contact is None


# ---- the coordinator's changes --------------------------------------------------------------------


def test_items_move_up_and_down_within_their_section(db, world):
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    items = _items(db, world.meeting)
    cases = [i for i in items if i.kind == AgendaItemKind.CASE]
    first, second = cases[0], cases[1]

    assert agenda.move_item(second, up=True, by=world.coordinator) is True
    db.session.commit()
    assert _case_refs(_items(db, world.meeting))[:2] == [second.case.reference, first.case.reference]

    # the first case cannot go above the last referral or the last panel's item: sections stay in order
    assert agenda.move_item(second, up=True, by=world.coordinator) is False
    last_case = [i for i in _items(db, world.meeting) if i.kind == AgendaItemKind.CASE][-1]
    assert agenda.move_item(last_case, up=False, by=world.coordinator) is False
    welcome = _items(db, world.meeting)[0]
    assert agenda.move_item(welcome, up=True, by=world.coordinator) is False
    db.session.commit()
    assert [i.kind.section for i in _items(db, world.meeting)] == sorted(i.kind.section for i in items)
    moves = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "agenda",
                                                           AuditEvent.summary.contains('"moved"'))).all()
    assert len(moves) == 1 and moves[0].user_id == world.coordinator.id


def test_an_own_item_goes_before_any_other_business_and_can_follow_it(db, world):
    agenda.sync_agenda(world.meeting)
    db.session.commit()

    item = agenda.add_item(world.meeting, title="  Training   update ", minutes=20, by=world.coordinator)
    db.session.commit()

    items = _items(db, world.meeting)
    assert _kinds(items)[-2:] == ["other", "aob"]
    assert item.title == "Training update" and item.minutes == 20 and item.added_by_id == world.coordinator.id
    assert agenda.move_item(item, up=False, by=world.coordinator) is True  # same section as AOB
    db.session.commit()
    assert _kinds(_items(db, world.meeting))[-2:] == ["aob", "other"]


@pytest.mark.parametrize("title, minutes, message", [
    ("", 10, "Enter a title for the item"),
    ("x" * 201, 10, "The title must be 200 characters or fewer"),
    ("Fine", 0, "The time box must be between 1 and 180 minutes"),
    ("Fine", 181, "The time box must be between 1 and 180 minutes"),
])
def test_an_own_item_needs_a_title_and_a_sensible_time_box(db, world, title, minutes, message):
    with pytest.raises(ValueError, match=message):
        agenda.add_item(world.meeting, title=title, minutes=minutes, by=world.coordinator)


def test_time_boxes_add_up_and_warn_when_over_the_meeting_length(db, world):
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    view = agenda.agenda_view(world.meeting, date.today())
    # 5 + 10 + 4 cases x 15 + 10 + 5 = 90 of 150 minutes
    assert view.total_minutes == 90 and not view.over_time

    case_item = next(i for i in view.items if i.kind == AgendaItemKind.CASE)
    agenda.set_time_box(case_item, minutes=75, by=world.coordinator)
    db.session.commit()
    view = agenda.agenda_view(world.meeting, date.today())
    assert view.total_minutes == 150 and not view.over_time  # exactly the length is fine
    agenda.set_time_box(case_item, minutes=76, by=world.coordinator)
    view = agenda.agenda_view(world.meeting, date.today())
    assert view.total_minutes == 151 and view.over_time
    starts = view.start_times()
    assert starts[view.items[0].id] == world.meeting.starts_at
    assert starts[view.items[1].id] == world.meeting.starts_at + timedelta(minutes=5)
    with pytest.raises(ValueError):
        agenda.set_time_box(case_item, minutes=0, by=world.coordinator)


def test_syncing_again_keeps_the_manual_order_own_items_time_boxes_and_minutes(db, world):
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    cases = [i for i in _items(db, world.meeting) if i.kind == AgendaItemKind.CASE]
    critical, high, medium, low = cases
    agenda.move_item(low, up=True, by=world.coordinator)       # low above medium
    agenda.set_time_box(high, minutes=30, by=world.coordinator)
    own = agenda.add_item(world.meeting, title="Budget", minutes=5, by=world.coordinator)
    db.session.commit()
    assert agenda.sync_agenda(world.meeting) is False  # nothing new in the data

    # new data: a critical case, a medium case closed with minutes written, a high case closed without
    new_case = create_case(lead=world.health, risk=RiskLevel.CRITICAL)
    new_case.accepted_on = date.today()  # newer than the critical case already there
    medium.notes = "Discussed before closing"
    medium.case.status = CaseStatus.CLOSED
    high.case.status = CaseStatus.CLOSED
    db.session.commit()
    assert agenda.sync_agenda(world.meeting) is True
    db.session.commit()

    items = _items(db, world.meeting)
    refs = _case_refs(items)
    assert refs == [critical.case.reference, new_case.reference, low.case.reference, medium.case.reference]
    assert high.id not in {i.id for i in items}           # gone: no minutes against it
    assert any(i.id == medium.id and i.notes for i in items)  # kept: minutes were written
    assert own.id in {i.id for i in items}
    assert [i.position for i in items] == list(range(1, len(items) + 1))


def test_a_finalised_or_cancelled_agenda_is_frozen(db, world):
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    create_case(lead=world.health, risk=RiskLevel.CRITICAL)
    world.meeting.minutes_finalised_at = utcnow()
    assert agenda.sync_agenda(world.meeting) is False
    world.meeting.minutes_finalised_at = None
    world.meeting.status = "cancelled"
    assert agenda.sync_agenda(world.meeting) is False


def test_once_the_panel_has_started_the_page_does_not_rebuild_it(db, world):
    meeting = world.meeting
    assert agenda.should_sync(meeting, meeting.starts_at - timedelta(minutes=1), has_items=True)
    assert not agenda.should_sync(meeting, meeting.starts_at, has_items=True)
    assert agenda.should_sync(meeting, meeting.starts_at + timedelta(hours=1), has_items=False)
    meeting.minutes_finalised_at = utcnow()
    assert not agenda.should_sync(meeting, meeting.starts_at - timedelta(days=1), has_items=False)


# ---- publishing ----------------------------------------------------------------------------------


def _outbox(db) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.to_addr)))


def test_publishing_emails_each_spoc_a_link_once(app, db, world):
    deputy = factories.create_user(role="spoc", agency=world.police, email="deputy.police@test.invalid")
    world.police.deputy_spoc = deputy
    factories.mark_spoc_absent(world.police)
    agenda.sync_agenda(world.meeting)
    db.session.commit()

    told = panels.publish_agenda(world.meeting, by=world.coordinator)
    db.session.commit()

    messages = _outbox(db)
    assert told == 3
    assert [m.to_addr for m in messages] == ["deputy.police@test.invalid", "spoc.health@test.invalid",
                                             "spoc.housing@test.invalid"]
    link = f"http://localhost/meetings/{world.meeting.id}"
    for message in messages:
        assert link in message.body_text
        for case in world.cases:
            assert case.reference not in message.body_text + message.subject
            assert case.person.family_name not in message.body_text
    assert world.meeting.agenda_published_at is not None
    assert world.meeting.agenda_published_by_id == world.coordinator.id

    assert panels.publish_agenda(world.meeting, by=world.coordinator) is None  # already published
    db.session.commit()
    assert len(_outbox(db)) == 3
    assert panels.publish_agenda(world.meeting, by=world.coordinator, again=True) == 3
    db.session.commit()
    assert len(_outbox(db)) == 6
    assert sum("(sent again)" in m.subject for m in _outbox(db)) == 3


def test_a_cancelled_panel_is_not_published(db, world):
    world.meeting.status = "cancelled"
    with pytest.raises(ServiceError, match="cancelled"):
        panels.publish_agenda(world.meeting, by=world.coordinator)


def test_the_agenda_publish_job_publishes_on_the_cut_off_day_once(app, db, world):
    meeting = world.meeting
    not_yet = panel_meeting(meeting.starts_at + timedelta(days=28), cutoff_days=7)
    cutoff_morning = datetime.combine(meeting.cutoff_on, datetime.min.time(), tzinfo=LONDON).replace(hour=7, minute=15)
    db.session.commit()
    meeting_id, not_yet_id = meeting.id, not_yet.id
    assert JOBS["agenda-publish"].path == "panel.meetings.panels:publish_due_agendas"
    assert JOBS["agenda-publish"].trigger == {"trigger": "cron", "hour": 7, "minute": 15}

    runner = app.test_cli_runner()
    with time_machine.travel(cutoff_morning - timedelta(days=1), tick=False):
        before = runner.invoke(args=["panel", "run-job", "agenda-publish"])
    with time_machine.travel(cutoff_morning, tick=False):
        first = runner.invoke(args=["panel", "run-job", "agenda-publish"])
        again = runner.invoke(args=["panel", "run-job", "agenda-publish"])

    assert "agenda-publish: published 0, emails 0" in before.output
    assert "agenda-publish: published 1, emails 3" in first.output, first.output
    assert "agenda-publish: published 0, emails 0" in again.output
    db.session.expire_all()
    published = db.session.get(type(meeting), meeting_id)
    assert published.agenda_published_at == cutoff_morning.astimezone(UTC)
    assert published.agenda_published_by_id is None
    assert db.session.get(type(meeting), not_yet_id).agenda_published_at is None
    assert len(_items(db, published)) > 0  # built from the data before it was sent
    assert len(_outbox(db)) == 3


def test_the_job_catches_up_a_missed_cut_off_but_not_a_panel_that_has_started(app, db, world):
    late = world.meeting
    started = panel_meeting(utcnow() - timedelta(minutes=30))
    db.session.commit()
    with time_machine.travel(datetime.combine(late.cutoff_on + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
                             .replace(hour=8), tick=False):
        result = panels.publish_due_agendas()
    assert result == {"published": 1, "emails": 3}
    assert started.agenda_published_at is None


# ---- moving and cancelling -----------------------------------------------------------------------


def test_moving_a_panel_tells_everyone_expected_with_the_date_and_a_link(app, db, world):
    inactive = factories.create_user(role="chair", agency=world.host, email="gone@test.invalid",
                                                  active=False)
    db.session.commit()
    new_start = world.meeting.starts_at + timedelta(days=1, hours=2)

    told = panels.move_panel(world.meeting, starts_at=new_start, ends_at=new_start + timedelta(hours=2),
                             reason="Room flooded (Mr Smith's flat above)", by=world.coordinator)
    db.session.commit()

    messages = _outbox(db)
    assert told == len(messages) == 5
    assert {m.to_addr for m in messages} == {"chair@test.invalid", "coordinator@test.invalid",
                                             "spoc.health@test.invalid", "spoc.housing@test.invalid",
                                             "spoc.police@test.invalid"}
    assert inactive.email not in {m.to_addr for m in messages}
    for message in messages:
        assert f"/meetings/{world.meeting.id}" in message.body_text
        assert "Smith" not in message.body_text + message.subject  # never the reason
    assert world.meeting.starts_at == new_start
    assert world.meeting.moved_reason.startswith("Room flooded")
    assert world.meeting.ical_sequence == 1
    audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "meeting",
                                                           AuditEvent.summary.contains('"moved"'))).one()
    assert audit.action == AuditAction.UPDATE and audit.user_id == world.coordinator.id


@pytest.mark.parametrize("change, message", [
    ({"reason": ""}, "Enter the reason for moving the panel"),
    ({"reason": "x" * 501}, "500 characters or fewer"),
    ({"hours": -1}, "must end after it starts"),
    ({"start_days": -20}, "must be in the future"),
    ({"start_days": 0, "hours": 2.5}, "the same as now"),
])
def test_moving_a_panel_refuses_what_cannot_be(db, world, change, message):
    meeting = world.meeting
    start = meeting.starts_at + timedelta(days=change.get("start_days", 1))
    with pytest.raises(ServiceError, match=message):
        panels.move_panel(meeting, starts_at=start, ends_at=start + timedelta(hours=change.get("hours", 2)),
                          reason=change.get("reason", "A reason"), by=world.coordinator)


def test_cancelling_a_panel_tells_everyone_and_then_nothing_more_can_change(app, db, world):
    told = panels.cancel_panel(world.meeting, reason="No quorum", by=world.coordinator)
    db.session.commit()
    assert told == 5 and all("cancelled" in m.subject for m in _outbox(db))
    assert world.meeting.cancelled and world.meeting.cancelled_reason == "No quorum"
    with pytest.raises(ServiceError, match="cancelled"):
        panels.cancel_panel(world.meeting, reason="Again", by=world.coordinator)
    with pytest.raises(ServiceError, match="cancelled"):
        panels.move_panel(world.meeting, starts_at=world.meeting.starts_at + timedelta(days=1),
                          ends_at=world.meeting.ends_at + timedelta(days=1), reason="x", by=world.coordinator)


def test_a_panel_that_has_started_cannot_be_moved_or_cancelled(db, world):
    now = world.meeting.starts_at + timedelta(minutes=1)
    with pytest.raises(ServiceError, match="already started"):
        panels.cancel_panel(world.meeting, reason="Late", by=world.coordinator, now=now)
    with pytest.raises(ServiceError, match="already started"):
        panels.move_panel(world.meeting, starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=1, hours=1),
                          reason="Late", by=world.coordinator, now=now)


# ---- fixed queries -------------------------------------------------------------------------------


def _grow(db, w, *, cases: int, actions: int, previous) -> None:
    """Add cases (risk levels mixed, the police involved in half), open actions over all the
    cases (some agreed at the last panel, some escalated to the chair), a risk change and an
    engagement attempt per case."""
    start = len(w.cases)
    for n in range(start, start + cases):
        case = create_case(lead=w.housing if n % 2 else w.health, involved=(w.police,) if n % 2 else (),
                           risk=agenda_world.RISKS[n % 4], given_name=f"Given{n}", family_name=f"Family{n}")
        w.cases.append(case)
        db.session.add(RiskChange(case_id=case.id, from_level=RiskLevel.HIGH, to_level=case.risk_level))
        db.session.add(EngagementAttempt(case_id=case.id, agency_id=case.lead_agency_id, method=EngagementMethod.PHONE,
                                         occurred_at=utcnow() - timedelta(days=3), outcome=EngagementOutcome.ENGAGED))
    assignee = w.police_spoc
    for n in range(actions):
        case = w.cases[n % len(w.cases)]
        db.session.add(Action(case_id=case.id, description=f"Extra action {n}", agency_id=case.lead_agency_id,
                              assignee_id=assignee.id if n % 2 else None,
                              due_on=date.today() + timedelta(days=(n % 20) - 10),
                              meeting_id=previous.id if n % 4 == 0 else None,
                              escalated_to_chair_at=utcnow() - timedelta(days=2) if n % 5 == 0 else None))
    db.session.flush()


@pytest.mark.parametrize("as_role", ["coordinator", "chair", "spoc"])
def test_the_meeting_page_runs_a_fixed_number_of_queries(app, db, client, login_as, count_queries, as_role):
    w = agenda_world.build(cases=1, actions=0)
    previous = panel_meeting(utcnow() - timedelta(days=25))
    awaiting_referral(w.police, submitted_at=utcnow() - timedelta(days=9))
    _grow(db, w, cases=1, actions=5, previous=previous)   # 2 cases, 5 actions
    db.session.commit()
    login_as({"coordinator": w.coordinator, "chair": w.chair, "spoc": w.police_spoc}[as_role])
    url = f"/meetings/{w.meeting.id}"

    def measure() -> int:
        assert client.get(url).status_code == 200  # the coordinator's view builds the agenda first
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200
        assert w.cases[-1].reference in response.get_data(as_text=True)
        return counter.count

    agenda.sync_agenda(w.meeting)
    db.session.commit()
    small = measure()
    _grow(db, w, cases=13, actions=295, previous=previous)  # 15 cases, 300 actions
    agenda.sync_agenda(w.meeting)
    db.session.commit()
    large = measure()
    assert small == large, f"{small} queries with 2 cases and 5 actions, {large} with 15 and 300"


@pytest.mark.parametrize("as_role, pages", [("coordinator", ["", "/agenda"]), ("chair", ["", "/agenda"]),
                                            ("spoc", ["", "/agenda/agency"])])
def test_the_agenda_pages_read_as_many_queries_whether_or_not_a_case_involves_the_readers_agency(
        app, db, client, login_as, count_queries, as_role, pages):
    """The reader's own agency (need to know and the sharing agreement read it) is loaded in a
    query of its own: loaded when first read, it cost a query only when no case on the agenda
    had loaded it, so the pages' counts depended on the agenda (issue 18)."""
    w = agenda_world.build(cases=1, actions=2)  # the police involved; not the host, not housing
    agenda.sync_agenda(w.meeting)
    db.session.commit()
    reader = {"coordinator": w.coordinator, "chair": w.chair, "spoc": w.housing_spoc}[as_role]
    agency_id, case_id = reader.agency_id, w.cases[0].id
    login_as(reader)
    url = f"/meetings/{w.meeting.id}"

    def measure() -> dict[str, int]:
        counts = {}
        for page in pages:
            assert client.get(url + page).status_code == 200
            db.session.commit()
            db.session.expunge_all()  # as a new request finds it: nothing loaded yet
            with count_queries() as counter:
                assert client.get(url + page).status_code == 200
            counts[page] = counter.count
        return counts

    apart = measure()
    db.session.add(Involvement(case_id=case_id, agency_id=agency_id))
    db.session.commit()
    involved = measure()
    assert apart == involved
