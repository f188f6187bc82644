"""A case's pages read the same number of queries whatever the case holds (issue 18).

At ten years the chair's and the coordinator's case pages read one to three more queries on the
longest case than on the demo's: the user's own agency was loaded lazily unless the case
involved it; the closure pages read the persistence record (twice) only when closure was for
non-engagement, and the step-down agency and the people named only when there were some; the
case's meetings page counted MDT attendees only when the case had MDTs; the insight page
counted and read the earlier versions only when there was a latest. Two cases that differ in
all of these must read alike, page by page, for each role."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from panel.models import (
    AttendeeResponse,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    Involvement,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    Role,
)
from panel.cases import services
from tests import factories
from tests.cases.helpers import create_case

UTC = timezone.utc
PAGES = ["", "/risk", "/agencies", "/staff-safety", "/engagement", "/engagement/patterns", "/meetings", "/insight",
         "/outcomes", "/chronology", "/chronology?print=1", "/chronology?print=1&all=y", "/closure"]


@pytest.fixture
def cases(db):
    """Two closure-proposed cases: `bare` holds as little as a case can; `full` involves the
    signed-in users' agency, has an MDT with attendees, and is proposed for closure for
    non-engagement with a step-down agency and who proposed it."""
    hub = factories.create_agency(code="hub", name="Coordination Hub")
    lead = factories.create_agency(code="lead", name="Lead Agency")
    step_down = factories.create_agency(code="step", name="Step-down Agency")
    proposer = factories.create_user(role=Role.COORDINATOR, agency=hub, name="Pat Proposer")
    bare = create_case(lead=lead, status=CaseStatus.CLOSURE_PROPOSED)
    full = create_case(lead=lead, status=CaseStatus.CLOSURE_PROPOSED)
    db.session.add(Involvement(case=full, agency_id=hub.id))
    full.closure_for_non_engagement = True
    full.closure_rationale = "Stepped down"
    full.step_down_agency_id = step_down.id
    full.step_down_accepted_by, full.step_down_accepted_on = "Sam Smith, team manager", date(2026, 3, 1)
    full.closure_proposed_by_id = proposer.id
    full.closure_proposed_at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    start = datetime(2026, 2, 10, 10, tzinfo=UTC)
    mdt = Meeting(kind=MeetingKind.MDT, case_id=full.id, starts_at=start, ends_at=start + timedelta(hours=1))
    db.session.add(mdt)
    db.session.flush()
    db.session.add_all([
        MeetingAttendee(meeting_id=mdt.id, user_id=proposer.id, name=proposer.name, email=proposer.email,
                        response=AttendeeResponse.ACCEPTED),
        MeetingAttendee(meeting_id=mdt.id, name="Alex Outside", email="alex@outside.invalid"),
    ])
    db.session.add_all([
        EngagementAttempt(case_id=full.id, agency_id=lead.id, method=method, outcome=EngagementOutcome.NO_ANSWER,
                          occurred_at=start - timedelta(days=n), persons_words="", worker_view="")
        for n, method in enumerate([EngagementMethod.PHONE, EngagementMethod.LETTER, EngagementMethod.HOME_VISIT])])
    for n in range(3):  # insight versions: the latest and two earlier
        services.record_insight(full, answers={key: f"Answer {n}" for key in services.INSIGHT_QUESTIONS}, by=proposer)
    db.session.commit()
    return {"hub": hub, "bare": bare.reference, "full": full.reference}


@pytest.mark.parametrize("role", ["coordinator", "chair"])
def test_each_case_page_reads_as_many_queries_whatever_the_case_holds(client, login_as, db, count_queries, cases,
                                                                       role):
    login_as(role, agency=cases["hub"])
    paths = PAGES + (["/closure/decision"] if role == "chair" else [])

    def measure(reference: str, path: str) -> tuple[int, list[str]]:
        db.session.commit()
        db.session.expunge_all()  # as a new request finds it: nothing loaded yet
        with count_queries() as counter:
            response = client.get(f"/cases/{reference}{path}")
        assert response.status_code == 200, (reference, path)
        return counter.count, counter.statements

    for path in paths:
        client.get(f"/cases/{cases['full']}{path}")  # warm
        bare, bare_statements = measure(cases["bare"], path)
        full, full_statements = measure(cases["full"], path)
        assert bare == full, (path, bare_statements, full_statements)
