"""The demo-data command: every named demo user can sign in; a non-empty database is refused."""

from __future__ import annotations

import pytest

from panel.auth.policy import isa_block_reason
from panel.models import Agency, AgencyKind, Role, User
from tests.conftest import post_form
from tests.shared_world import shared_world

DEMO_PASSWORD = "demo-sign-in-2027"
NAMED = {
    "admin@demo.invalid": Role.ADMIN,
    "coordinator@demo.invalid": Role.COORDINATOR,
    "chair@demo.invalid": Role.CHAIR,
    "spoc.police@demo.invalid": Role.SPOC,
    "spoc.housing@demo.invalid": Role.SPOC,
    "practitioner.health@demo.invalid": Role.PRACTITIONER,
    "board@demo.invalid": Role.BOARD,
}


def _load(app):
    result = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD])
    assert result.exit_code == 0, result.output
    return result


# The demo is loaded once for the module; each test runs in a savepoint rolled back after it.
_demo_world, demo, app = shared_world(_load, name="demo")


def _recent():
    """The demo's referrals of this year, not the retention demo's from six years ago (panel/demo/retention.py)."""
    from datetime import timedelta

    from panel.models import Referral, utcnow

    return Referral.submitted_at >= utcnow() - timedelta(days=5 * 365)


def _not_history(model):
    """Referrals (or cases) of the demo's own people, not the year of history made for the Board's
    reports (panel/demo/history.py, whose people are all of its FAMILIES)."""
    from panel.demo.history import FAMILIES
    from panel.models import Person

    return ~model.person.has(Person.family_name.in_(FAMILIES))


def test_demo_data_prints_the_named_sign_ins(demo):
    for email in NAMED:
        assert email in demo.output


def test_demo_data_creates_agencies_of_every_kind_with_spoc_deputy_and_escalation_contact(demo, db):
    agencies = db.session.execute(db.select(Agency)).scalars().all()
    assert {a.kind for a in agencies} >= set(AgencyKind) - {AgencyKind.OTHER}
    assert {"police", "housing", "asc", "mental-health", "health"} <= {a.code for a in agencies}
    for agency in agencies:
        assert agency.spoc is not None and agency.spoc.agency_id == agency.id
        assert agency.deputy_spoc is not None and agency.deputy_spoc.agency_id == agency.id
        assert agency.escalation_contact is not None


def test_demo_isa_register_shows_current_lapsed_and_unsigned_agreements(demo, db):
    from datetime import date

    by_code = {a.code: a for a in db.session.execute(db.select(Agency)).scalars()}
    today = date.today()
    assert by_code["police"].isa_current(today)
    assert "past its review date" in isa_block_reason(by_code["voluntary"], today)
    assert "has not signed" in isa_block_reason(by_code["sab"], today)


@pytest.mark.parametrize("email", sorted(NAMED))
def test_every_named_demo_user_can_sign_in_with_the_demo_password(demo, db, client, email):
    user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one()
    assert user.role == NAMED[email]
    response = post_form(client, "/login", {"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    home = client.get("/")
    assert home.status_code == 200
    assert f"Signed in as {user.name}" in home.get_data(as_text=True)


def test_demo_data_refuses_a_database_that_is_not_empty(demo, app):
    again = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD])
    assert again.exit_code == 1
    assert "--force" in again.output


def test_demo_data_with_force_adds_nothing_twice(demo, app, db):
    before = db.session.execute(db.select(db.func.count()).select_from(User)).scalar_one()
    again = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD, "--force"])
    assert again.exit_code == 0, again.output
    db.session.remove()
    assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar_one() == before


def test_demo_data_needs_a_long_enough_password(app):
    result = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", "short"])
    assert result.exit_code == 2
    assert "12 characters" in result.output


# ---- referrals and cases ------------------------------------------------------------------


def test_demo_pathway_is_exactly_full_with_one_referral_waiting(demo, db):
    from panel import pathway
    from panel.models import Referral, ReferralStatus

    occupancy = pathway.occupancy()
    assert occupancy.words == "15 of 15 places used"
    assert (occupancy.referrals, occupancy.cases) == (9, 6)
    waiting = pathway.waiting_list()
    assert len(waiting) == 1 and waiting[0].person.full_name == "Reese Standby"
    statuses = [r.status for r in db.session.execute(
        db.select(Referral).where(_recent(), _not_history(Referral))).scalars()]
    for status, count in ((ReferralStatus.SUBMITTED, 2), (ReferralStatus.INFO_REQUESTED, 2),
                          (ReferralStatus.AWAITING_PANEL, 5), (ReferralStatus.ACCEPTED, 6),
                          (ReferralStatus.DECLINED, 2), (ReferralStatus.WITHDRAWN, 2)):
        assert statuses.count(status) == count, status
    assert ReferralStatus.DRAFT not in statuses


def test_demo_cases_span_agencies_with_one_proposed_for_closure(demo, db):
    from panel.models import Case, CaseStatus

    cases = db.session.execute(db.select(Case)).scalars().all()
    assert sorted(c.status for c in cases).count(CaseStatus.CLOSURE_PROPOSED) == 1
    assert len({c.lead_agency_id for c in cases}) == 6
    assert all(c.reference.startswith("CASPA-") and c.involvements for c in cases)


def test_demo_repeat_person_is_flagged_three_times_in_the_year(demo, db):
    from panel.models import Person, Referral, ReferralStatus
    from panel.referrals import matching

    open_one = db.session.execute(
        db.select(Referral).join(Referral.person).where(Person.family_name == "Demo-Person",
                                                        Referral.status == ReferralStatus.SUBMITTED)).scalar_one()
    history = matching.history(open_one)
    assert history.repeat and history.referred_last_year == 3
    # linked to the first record (same NHS number) in the demo: the other record is still to compare
    assert sorted(m.reason.split(" (")[0] for m in history.matches) == ["Same date of birth and similar name"]
    assert {i.referral.status for i in history.referrals} == {ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN}
    assert matching.flags([open_one])[open_one.id].repeat


def test_demo_decisions_are_real_and_dated_in_the_past(demo, db):
    from panel.audit import verify_chain
    from panel.models import Referral, ReferralDecision, utcnow

    declined = db.session.execute(db.select(ReferralDecision).filter_by(outcome="declined")
                                  .join(ReferralDecision.referral).where(_not_history(Referral))).scalar_one()
    assert declined.reason and declined.signposting and declined.by.email == "coordinator@demo.invalid"
    assert declined.at < utcnow()
    referrals = db.session.execute(db.select(Referral)).scalars().all()
    assert len({r.reference for r in referrals}) == len(referrals)
    assert all(r.submitted_at < utcnow() for r in referrals)
    assert verify_chain().ok


def test_demo_data_with_force_adds_no_referrals_twice(demo, app, db):
    from panel.models import Referral

    before = db.session.execute(db.select(db.func.count()).select_from(Referral)).scalar_one()
    app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD, "--force"])
    db.session.remove()
    assert db.session.execute(db.select(db.func.count()).select_from(Referral)).scalar_one() == before
    assert db.session.execute(db.select(db.func.count()).select_from(Referral)
                              .where(_recent(), _not_history(Referral))).scalar_one() == 20


def test_demo_users_see_the_demo_referrals(demo, db, app):
    for email, path, expect in (("coordinator@demo.invalid", "/", "15 of 15 places used"),
                                ("chair@demo.invalid", "/referrals/triage", "15 of 15 places used"),
                                ("coordinator@demo.invalid", "/referrals/waiting", "1 waiting"),
                                ("practitioner.health@demo.invalid", "/referrals", "2 referrals"),
                                ("spoc.housing@demo.invalid", "/referrals", "3 referrals")):
        client = app.test_client()
        post_form(client, "/login", {"email": email, "password": DEMO_PASSWORD})
        response = client.get(path)
        assert response.status_code == 200 and expect in response.get_data(as_text=True), (email, path)


# ---- the case record --------------------------------------------------------------------


def test_demo_case_records_are_rich_with_one_hostile_flag_and_one_case_ready_to_close(demo, app, db):
    from panel.cases import services
    from panel.models import (Case, CaseEvent, CaseStatus, EngagementAttempt, InsightVersion, OutcomeReview,
                              PersonalOutcome, RiskChange, StaffSafetyFlag, StaffSafetyKind, utcnow)

    cases = db.session.execute(db.select(Case).where(_not_history(Case)).order_by(Case.reference)).scalars().all()
    assert cases
    reviews = set()
    for case in cases:
        attempts = db.session.execute(db.select(EngagementAttempt).filter_by(case_id=case.id)).scalars().all()
        assert len(attempts) >= 24, case.reference
        assert len({a.agency_id for a in attempts}) >= 2 and len({a.method for a in attempts}) >= 4
        assert {a.out_of_hours for a in attempts} == {True, False}
        assert len({a.occurred_at.weekday() for a in attempts}) >= 5
        assert any(a.small_step for a in attempts) and any(a.non_engagement for a in attempts)
        assert any(a.persons_words for a in attempts) and all(a.worker_view for a in attempts)
        assert any(a.outcome.succeeded for a in attempts) and not all(a.outcome.succeeded for a in attempts)
        assert all(a.occurred_at < utcnow() for a in attempts)
        assert db.session.execute(db.select(InsightVersion).filter_by(case_id=case.id)).first()
        assert db.session.execute(db.select(RiskChange).filter_by(case_id=case.id)).first()
        assert case.risk_summary and case.contingency_plan
        outcomes = db.session.execute(db.select(PersonalOutcome).filter_by(case_id=case.id)).scalars().all()
        assert len(outcomes) >= 2
        reviews |= {o.review for o in outcomes}
        kinds = set(db.session.execute(db.select(CaseEvent.kind).filter_by(case_id=case.id)).scalars())
        assert {"engagement", "risk", "insight", "outcome"} <= kinds
    assert OutcomeReview.OPEN in reviews and len(reviews) >= 3  # some reviewed, some not yet
    flags = db.session.execute(db.select(StaffSafetyFlag).where(StaffSafetyFlag.cleared_at.is_(None))).scalars().all()
    assert [f.kind for f in flags if f.kind == StaffSafetyKind.HOSTILITY] == [StaffSafetyKind.HOSTILITY]
    proposed = [c for c in cases if c.status == CaseStatus.CLOSURE_PROPOSED]
    assert len(proposed) == 1 and services.closure_check(proposed[0]).ready

    client = app.test_client()
    post_form(client, "/login", {"email": "coordinator@demo.invalid", "password": DEMO_PASSWORD})
    for case in cases:
        for section in ("engagement", "engagement/patterns", "chronology", "closure"):
            assert client.get(f"/cases/{case.reference}/{section}").status_code == 200, (case.reference, section)
    before = db.session.execute(db.select(db.func.count(EngagementAttempt.id))).scalar_one()
    app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD, "--force"])
    db.session.remove()
    assert db.session.execute(db.select(db.func.count(EngagementAttempt.id))).scalar_one() == before


# ---- the action log ------------------------------------------------------------------------


def test_demo_actions_are_at_every_stage_of_the_escalation_ladder(demo, app, db):
    from datetime import date, timedelta

    from panel.actions import jobs, services
    from panel.cases.services import closure_check
    from panel.models import (Action, ActionStatus, ActionUpdate, Case, CaseStatus, DigestItem, Escalation,
                              LadderStep, OutboxMessage, utcnow)

    today = date.today()
    actions = db.session.execute(db.select(Action).order_by(Action.id)).scalars().all()
    levels = services.escalation_levels([a.id for a in actions])
    escalations = db.session.execute(db.select(Escalation).order_by(Escalation.id)).scalars().all()
    by_action: dict[int, list] = {}
    for e in escalations:
        by_action.setdefault(e.action_id, []).append(e)

    def one(what, test):
        found = [a for a in actions if test(a)]
        assert found, what
        return found[0]

    # every closing status, and open actions at each rung
    for status in ActionStatus:
        one(status, lambda a, wanted=status: a.status == wanted)
    one("not yet due", lambda a: a.is_open and a.id not in by_action and a.due_on > today
        and a.next_step == LadderStep.REMINDER)
    one("reminder sent", lambda a: a.is_open and levels.get(a.id) == LadderStep.REMINDER and a.due_on >= today)
    one("overdue notice", lambda a: a.is_open and levels.get(a.id) == LadderStep.OVERDUE and a.due_on < today)
    agency = [e for e in escalations if e.step == LadderStep.AGENCY and e.action.is_open]
    assert any(e.acknowledged_at and e.acknowledgement and e.acknowledged_by_id == e.contact_id for e in agency)
    assert any(e.acknowledged_at is None and e.contact_id for e in agency)
    chair = one("escalated to the chair", lambda a: a.is_open and levels.get(a.id) == LadderStep.CHAIR)
    assert chair.escalated_to_chair_at is not None and chair.next_step is None
    moved = one("due date changed", lambda a: a.is_open and a.ladder_round == 2)
    change = db.session.execute(db.select(ActionUpdate).filter_by(action_id=moved.id)
                                .where(ActionUpdate.new_due_on.is_not(None))).scalar_one()
    assert change.due_change_reason and change.old_due_on < today <= change.new_due_on == moved.due_on
    assert {e.round for e in by_action[moved.id]} == {1} and moved.next_step == LadderStep.REMINDER
    by_hand = [e for e in escalations if e.step in (LadderStep.MANUAL_AGENCY, LadderStep.MANUAL_CHAIR)]
    assert by_hand and all(e.reason and e.by.email == "coordinator@demo.invalid" for e in by_hand)
    for status in (ActionStatus.DONE, ActionStatus.NOT_POSSIBLE, ActionStatus.NOT_DONE, ActionStatus.CANCELLED):
        closed = one(status, lambda a, wanted=status: a.status == wanted)
        assert closed.closed_at is not None and closed.next_step is None
        assert db.session.execute(db.select(ActionUpdate).filter_by(action_id=closed.id, new_status=status)).scalar_one().note

    # assigned to named demo users; owned by agencies involved in the case; the rows are real
    assert {"spoc.police@demo.invalid", "practitioner.health@demo.invalid"} <= {
        a.assignee.email for a in actions if a.assignee}
    for action in actions:
        assert action.agency_id in {inv.agency_id for inv in action.case.involvements}
        assert action.created_at < utcnow()
        if action.is_open and action.next_step is not None:
            assert action.next_step_on is not None
    assert all(e.at <= utcnow() and e.due_for <= today and e.told for e in escalations)
    rungs = [(e.action_id, e.step, e.round) for e in escalations]
    assert len(rungs) == len(set(rungs))
    # the ladder is climbed up to today; no digest was emailed for the past, and only today's
    # (and yesterday afternoon's) items wait for the next digest
    assert jobs._climb(today, utcnow()) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.subject.contains("your actions"))) == 0
    assert all(item.created_at.date() >= today - timedelta(days=1) for item in
               db.session.execute(db.select(DigestItem).where(DigestItem.digest_id.is_(None))).scalars())
    db.session.rollback()
    # the case proposed for closure keeps its checklist met: its actions are all closed
    proposed = db.session.execute(db.select(Case).filter_by(status=CaseStatus.CLOSURE_PROPOSED)).scalar_one()
    assert closure_check(proposed).ready
    assert db.session.scalar(db.select(db.func.count()).select_from(Action).filter_by(case_id=proposed.id)) >= 2

    before = len(actions)
    app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD, "--force"])
    db.session.remove()
    assert db.session.scalar(db.select(db.func.count()).select_from(Action)) == before


def test_demo_meetings_show_a_finalised_past_panel_an_upcoming_agenda_and_mdts(demo, app, db):
    from panel.meetings import minutes
    from panel.models import (Action, AgendaItemKind, AttendanceStatus, Meeting, MeetingKind, MeetingStatus,
                              OutboxMessage, utcnow)

    now = utcnow()
    meetings = db.session.execute(db.select(Meeting).order_by(Meeting.starts_at)).scalars().all()
    panels = [m for m in meetings if m.kind == MeetingKind.PANEL]
    held = [p for p in panels if p.ends_at < now]
    upcoming = [p for p in panels if p.starts_at > now]
    assert len(upcoming) >= 12 and len(held) >= 1
    last = held[-1]
    assert last.finalised and last.minutes_finalised_by.email == "chair@demo.invalid"
    statuses = {row.status for row in last.attendance}
    assert {AttendanceStatus.PRESENT, AttendanceStatus.ABSENT} <= statuses
    assert any(i.notes for i in last.items if i.kind == AgendaItemKind.CASE)
    agreed = db.session.execute(db.select(Action).filter_by(meeting_id=last.id)).scalars().all()
    assert any(a.is_open for a in agreed), "the next agenda shows the last panel's incomplete action"
    history = minutes.attendance_history()
    assert history is not None
    # the next panel: its agenda built from the data in section order, invitations sent
    nxt = upcoming[0]
    kinds = [i.kind for i in nxt.items]
    assert kinds[0] == AgendaItemKind.WELCOME and kinds[-1] == AgendaItemKind.AOB
    assert AgendaItemKind.CASE in kinds and AgendaItemKind.OTHER in kinds
    assert [i.kind.section for i in nxt.items] == sorted(i.kind.section for i in nxt.items)
    assert nxt.attendees and all(a.invited_sequence == 0 for a in nxt.attendees)
    invites = db.session.execute(db.select(OutboxMessage).where(OutboxMessage.calendar_method == "REQUEST")).scalars().all()
    assert {a.email for a in nxt.attendees} <= {m.to_addr for m in invites}
    # MDTs: one held with notes and an action, one upcoming with an external attendee, one cancelled
    mdts = [m for m in meetings if m.kind == MeetingKind.MDT]
    assert any(m.status == MeetingStatus.CANCELLED and m.cancelled_reason for m in mdts)
    held_mdt = [m for m in mdts if m.status == MeetingStatus.SCHEDULED and m.ends_at < now]
    assert held_mdt and any(i.notes and i.decision for i in held_mdt[0].items)
    assert db.session.execute(db.select(Action).filter_by(meeting_id=held_mdt[0].id)).scalars().all()
    future_mdt = [m for m in mdts if m.status == MeetingStatus.SCHEDULED and m.starts_at > now]
    assert future_mdt and any(a.user_id is None and a.agency_name for a in future_mdt[0].attendees)
    # no mail about the past was left queued
    assert not [m for m in invites if m.to_addr in {a.email for a in held_mdt[0].attendees}
                and "MDT" in m.subject and m.created_at < held_mdt[0].starts_at]
