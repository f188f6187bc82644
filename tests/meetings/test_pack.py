"""The chair's pack as data and as the print view (issue 15): what panel.meetings.pack reads, in
a fixed number of queries; the closure checklist as the case rule has it; the last panel read
from its finalised minutes; full names only with the setting; the agenda's numbers; and the
coordinator told before publishing an agenda that runs past the panel's end. The PDF itself is
read back in test_pack_pdf.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from panel.cases import services as case_services
from panel.dates import london_today
from panel.extensions import db as database
from panel.meetings import agenda, pack
from panel.models import (
    Action,
    ActionStatus,
    AgendaItem,
    AgendaItemKind,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    OutboxMessage,
    OutcomeReview,
    PersonalOutcome,
    ReferralStatus,
    RiskLevel,
    utcnow,
)
from tests.conftest import page, post_form
from tests.meetings import pack_world


@pytest.fixture
def world(db):
    w = pack_world.build(cases=4, referrals=2, actions=12)
    db.session.commit()
    return w


def _url(world, suffix: str = "") -> str:
    return f"/meetings/{world.meeting.id}{suffix}"


def test_the_pack_runs_a_fixed_number_of_queries_whatever_its_size(app, db, client, login_as, count_queries):
    w = pack_world.build(cases=2, referrals=1, actions=4, long_text=False)
    db.session.commit()
    login_as(w.chair)

    def measure() -> int:
        with count_queries() as counter:
            response = client.get(_url(w, "/agenda"))
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert w.cases[-1].reference in text and w.referrals[-1].reference in text
        # the cases' and the referrals' involved agencies are read by one statement, not one each
        assert sum(1 for s in counter.statements if "FROM involvements" in s) == 1
        return counter.count

    small = measure()
    pack_world.grow(w, cases=13, referrals=4, actions=296)   # 15 cases, 5 referrals, 300 actions
    db.session.commit()
    large = measure()
    assert small == large, f"{small} queries with 2 cases, 1 referral and 4 actions; {large} with 15, 5 and 300"


def test_each_part_of_the_pack_is_read_for_every_case_and_referral(app, db, world):
    chairs = pack.chairs_pack(world.meeting, world.chair, today=london_today())

    assert [s.referral.id for s in chairs.referrals] == [r.id for r in world.referrals]
    second = chairs.referrals[1]
    assert second.staff_safety == ["Hostility or aggression towards staff", "Lone working is restricted"]
    assert [(i.agency.name, i.named_worker, i.has_rapport) for i in second.involvements] == [
        ("Housing Trust", "Worker 1-0", True), ("Health Trust", "Worker 1-1", False)]
    for section in chairs.view.cases.values():
        case = section.case
        assert [o.words for o in section.outcomes] == [f"Outcome 1 of {case.reference} in my words",
                                                        f"Outcome 2 of {case.reference} in my words"]
        assert section.outcomes_reviewed_on is not None
        assert section.last_contact is not None and section.last_contact.outcome.succeeded
        assert [a.description for a in section.last_actions] == [f"Agreed last time for {case.reference}"]
    assert {f.case_id for f in world.flags} == {cid for cid, s in chairs.view.cases.items() if s.staff_flags}
    closing = {c.id for c in world.closing}
    assert {cid for cid, s in chairs.view.cases.items() if s.closure is not None} == closing
    assert chairs.chair == "Chris Chair" and chairs.last_minutes_final is True
    escalated = {a.id for a in world.actions if a.escalated_to_chair_at is not None}
    assert {e.action.id for e in chairs.escalations} == escalated


def test_a_repeat_referral_brings_its_history_and_flag(app, db):
    w = pack_world.build(cases=1, referrals=4, actions=0, long_text=False)   # the fourth is a repeat
    chairs = pack.chairs_pack(w.meeting, w.chair, today=london_today())

    repeat = chairs.referrals[3]
    assert repeat.repeat and repeat.referred_last_year == 3
    assert [(e.referral.id, e.reason) for e in repeat.earlier] == [
        (w.earlier[1].id, "Same NHS number"), (w.earlier[0].id, "Same NHS number")]
    first = chairs.referrals[0]
    assert not first.repeat and first.referred_last_year == 1 and first.earlier == []


def _checklist(case, open_actions: int):
    outcomes = [o.review for o in database.session.scalars(
        sa.select(PersonalOutcome).where(PersonalOutcome.case_id == case.id))]
    tally = {"phone": 0, "phone_out_of_hours": 0, "letter": 0, "home_visit": 0}
    for attempt in database.session.scalars(sa.select(EngagementAttempt).where(EngagementAttempt.case_id == case.id)):
        if attempt.method == EngagementMethod.PHONE:
            tally["phone"] += 1
            tally["phone_out_of_hours"] += attempt.out_of_hours
        elif attempt.method == EngagementMethod.LETTER:
            tally["letter"] += 1
        elif attempt.method in pack.VISITS:
            tally["home_visit"] += 1
    return pack.closure_checklist(case, open_actions=open_actions, reviews=outcomes, persistence=tally)


def test_the_packs_closure_checklist_is_the_case_rules(app, db, world):
    case = world.closing[0]
    states = [
        lambda: None,
        lambda: setattr(case, "closure_for_non_engagement", True),
        lambda: db.session.add(EngagementAttempt(case_id=case.id, agency_id=case.lead_agency_id,
                                                 method=EngagementMethod.PHONE, occurred_at=utcnow(), out_of_hours=True,
                                                 outcome=EngagementOutcome.NO_ANSWER)),
        lambda: setattr(case, "risk_level", RiskLevel.CRITICAL),
        lambda: db.session.execute(sa.update(PersonalOutcome).where(PersonalOutcome.case_id == case.id)
                                   .values(review=OutcomeReview.ACHIEVED)),
        lambda: db.session.execute(sa.update(Action).where(Action.case_id == case.id)
                                   .values(status=ActionStatus.DONE)),
        lambda: setattr(case, "closure_rationale", "  "),
    ]
    seen = set()
    for change in states:
        change()
        db.session.flush()
        open_actions = db.session.scalar(sa.select(sa.func.count()).select_from(Action).where(
            Action.case_id == case.id, Action.status == ActionStatus.OPEN))
        ours, theirs = _checklist(case, open_actions), case_services.closure_check(case)
        assert (ours.met, ours.unmet) == (theirs.met, theirs.unmet)
        seen.add(tuple(theirs.unmet))
    assert len(seen) >= 5  # the states above meet and miss different conditions


def test_the_last_panel_is_read_from_its_finalised_minutes(app, db, client, login_as, world):
    item = db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == world.previous.id,
                                                          AgendaItem.decision != "")).first()
    said = item.decision
    item.decision = "Changed after the minutes were finalised"
    db.session.commit()
    login_as(world.chair)

    text = client.get(_url(world, "/agenda")).get_data(as_text=True)

    assert said in text and "Changed after the minutes were finalised" not in text


@pytest.mark.parametrize("setting, role, shown", [(False, "chair", False), (True, "chair", True),
                                                  (True, "coordinator", True)])
def test_full_names_only_where_the_setting_is_on(app, db, client, login_as, world, monkeypatch, setting, role, shown):
    monkeypatch.setitem(app.config, "PACK_FULL_NAMES", setting)
    login_as(getattr(world, role))

    soup = BeautifulSoup(client.get(_url(world, "/agenda")).get_data(as_text=True), "html.parser")

    text = soup.get_text(" ", strip=True)
    for referral in world.referrals:
        assert (referral.person.full_name in text) is shown
        assert referral.person.initials in text
    assert (world.cases[0].person.full_name in text) is shown
    assert bool(soup.find("th", string="Full name")) is shown


def test_the_print_view_numbers_every_section_and_heads_every_table(app, db, client, login_as, world):
    login_as(world.chair)
    soup = page(client.get(_url(world, "/agenda")))

    assert [h.get_text(strip=True)[:2] for h in soup.select("#agenda h3")] == [f"{n}." for n in range(1, 8)]
    numbers = [th.get_text(strip=True) for th in soup.select(".agenda-table tbody th")]
    assert numbers == ["1", "2", "3.1", "3.2", "4.1", "4.2", "5.1", "5.2", "6", "7.1"]
    assert all(th.get("scope") in ("row", "col") for th in soup.find_all("th"))
    assert [a.get_text(" ", strip=True).split(" ")[0] for a in soup.select(".contents ul a")] == numbers[2:8]
    lines = [p.get_text(strip=True) for p in soup.select(".item-line")]
    assert [line.split(",")[0] for line in lines] == [f"Agenda item {n}" for n in numbers[2:8]]
    assert soup.select(".pack-referral .staff-safety") and soup.select(".pack-case .staff-safety")


def test_an_empty_section_keeps_its_number(app, db, client, login_as, world):
    for referral in world.referrals:
        referral.status = ReferralStatus.DECLINED
    db.session.commit()
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    login_as(world.chair)

    soup = page(client.get(_url(world, "/agenda")))

    assert [h.get_text(strip=True) for h in soup.select("#agenda h3")][2] == "3. New referrals for decision"
    assert "3 New referrals for decision: none this month" in soup.select_one(".contents").get_text(" ", strip=True)
    numbers = [th.get_text(strip=True) for th in soup.select(".agenda-table tbody th")]
    assert numbers == ["1", "2", "4.1", "4.2", "5.1", "5.2", "6", "7.1"]


# ---- told before publishing ---------------------------------------------------------------------


def test_the_coordinator_is_told_before_publishing_an_agenda_that_runs_over(app, db, client, login_as, world):
    item = next(i for i in world.meeting.items if i.kind == AgendaItemKind.CASE)
    agenda.set_time_box(item, minutes=90, by=world.coordinator)
    db.session.commit()
    total = sum(i.minutes for i in world.meeting.items)
    over = total - world.meeting.length_minutes
    assert over > 0
    login_as(world.coordinator)

    soup = page(client.get(_url(world)))
    form = soup.find("form", id="publish")
    warning = form.select_one(".govuk-warning-text").get_text(" ", strip=True)
    assert f"Before you publish: the agenda runs {over} minutes over the panel’s 150 minutes" in warning
    assert form.find("input", attrs={"name": "over_time_seen"})["value"] == str(total)
    assert form.find("button").get_text(strip=True) == "Publish the agenda as it is"

    unseen = post_form(client, _url(world, "/publish"), {}, token_from=_url(world), follow_redirects=True)
    stale = post_form(client, _url(world, "/publish"), {"over_time_seen": str(total - 5)}, token_from=_url(world),
                      follow_redirects=True)
    for response in (unseen, stale):
        banner = page(response).select_one(".govuk-notification-banner").get_text(" ", strip=True)
        assert f"The agenda was not published. Its time boxes add up to {total} minutes, {over} more" in banner
    db.session.rollback()
    assert world.meeting.agenda_published_at is None
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))

    seen = post_form(client, _url(world, "/publish"), {"over_time_seen": str(total)}, token_from=_url(world),
                     follow_redirects=True)
    assert "The agenda has been published" in page(seen).select_one(".govuk-notification-banner").get_text()


def test_an_agenda_within_time_publishes_without_the_warning(app, db, client, login_as, world):
    for item in world.meeting.items:
        item.minutes = 5
    db.session.commit()
    login_as(world.coordinator)

    form = page(client.get(_url(world))).find("form", id="publish")
    assert form.select_one(".govuk-warning-text") is None and not form.find("input", attrs={"name": "over_time_seen"})
    response = post_form(client, _url(world, "/publish"), {}, token_from=_url(world), follow_redirects=True)
    assert "The agenda has been published" in page(response).select_one(".govuk-notification-banner").get_text()


# ---- the demo data's next panel ------------------------------------------------------------------


def test_the_demo_next_panel_has_five_new_referrals_in_full_and_a_staff_safety_warning(app, db):
    result = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", "demo-sign-in-2027"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    from panel.meetings.views.agenda_views import next_panel
    from panel.models import User

    with app.test_request_context():
        meeting = next_panel()
    chair = db.session.scalar(sa.select(User).where(User.email == "chair@demo.invalid"))
    chairs = pack.chairs_pack(meeting, chair, today=london_today())

    assert len(chairs.referrals) == 5
    for section in chairs.referrals:
        r = section.referral
        for value in (r.risk_summary, r.risk_assessment, r.tried_already, r.rapport, r.persons_views, r.capacity,
                      r.manager_name, r.referrer_name):
            assert value and value.strip(), r.reference
        assert r.needs and r.desired_outcomes and r.risk_level and section.involvements
        assert r.consent_given or r.consent_lawful_basis
    assert any(s.staff_safety for s in chairs.referrals)
    assert any(s.staff_flags for s in chairs.view.cases.values())
    assert any(s.case.status == CaseStatus.CLOSURE_PROPOSED and s.closure for s in chairs.view.cases.values())
    assert timedelta(0) < meeting.starts_at - utcnow()
