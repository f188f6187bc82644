"""Subject-access requests, the services: the deadline (one calendar month, as the ICO counts
it), the bundle (every kind of record about the person and nothing about anyone else, even a
person discussed at the same panel), withholding (whole entries and passages, absent from the
PDF and the JSON file, and recorded), the release, closing, finding the person, and a fixed
number of queries whatever the amount of data."""

from __future__ import annotations

import json
import subprocess
from datetime import date

import pytest
import sqlalchemy as sa
from flask import render_template

from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.meetings.pdf import render_pdf
from panel.models import (
    AuditAction,
    AuditEvent,
    Disability,
    Referral,
    ReferralStatus,
    SubjectAccessStatus,
    SubjectAccessWithholding,
    WithholdingReason,
    utcnow,
)
from panel.reports import subject_access as services
from panel.reports import subject_access_bundle as bundles
from tests import factories
from tests.reports import subject_access_world

SECTIONS = ["about_you", "referrals", "decisions", "cases", "risk", "staff_safety", "engagement", "insight",
            "outcomes", "actions", "escalations", "meetings", "timeline", "audit"]


@pytest.fixture
def world(db):
    return subject_access_world.build()


def _open(world, received_on: date | None = None):
    sar, made = services.open_request(world.a.person, received_on=received_on or date(2027, 1, 14),
                                      by=world.coordinator, today=date(2027, 2, 1))
    assert made
    return sar


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "release.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout
    return " ".join(text.split())


def _release_pdf(release: dict, sar) -> bytes:
    return render_pdf(render_template("reports/subject_access_release.html", release=release, sar=sar))


# ---- the deadline ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("received", "due"), [
    (date(2028, 1, 31), date(2028, 2, 29)),   # no 31 February: the end of February (a leap year, a Tuesday)
    (date(2029, 1, 31), date(2029, 2, 28)),   # the end of February (a Wednesday)
    (date(2027, 3, 31), date(2027, 4, 30)),   # no 31 April: the end of April
    (date(2027, 9, 6), date(2027, 10, 6)),    # the same date next month
    (date(2027, 12, 10), date(2028, 1, 10)),  # into the next year
    (date(2027, 1, 31), date(2027, 3, 1)),    # 28 February 2027 is a Sunday: the next working day
    (date(2027, 4, 30), date(2027, 6, 1)),    # 30 May is a Sunday and 31 May a bank holiday
    (date(2027, 11, 25), date(2027, 12, 29)), # Christmas on a Saturday: both bank holidays moved on
])
def test_the_deadline_is_one_calendar_month_on_a_working_day(received, due):
    assert services.deadline(received) == due


@pytest.mark.parametrize(("due", "words"), [
    (date(2027, 2, 15), "14 days left"), (date(2027, 2, 2), "1 day left"), (date(2027, 2, 1), "Due today"),
    (date(2027, 1, 31), "1 day overdue"), (date(2027, 1, 20), "12 days overdue"),
])
def test_the_countdown_says_how_long_is_left(due, words):
    assert services.countdown(due, date(2027, 2, 1)) == words


def test_opening_a_request_records_the_deadline_and_audits_it(world):
    sar = _open(world, date(2027, 1, 31))
    assert (sar.received_on, sar.due_on, sar.status) == (date(2027, 1, 31), date(2027, 3, 1), SubjectAccessStatus.OPEN)
    entry = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "subject_access_request",
                                                           AuditEvent.action == AuditAction.CREATE)).one()
    assert json.loads(entry.summary) == {"person": world.a.person.id, "received_on": "2027-01-31",
                                         "due_on": "2027-03-01"}


def test_a_person_has_one_open_request_at_a_time(world):
    first = _open(world)
    again, made = services.open_request(world.a.person, received_on=date(2027, 1, 20), by=world.coordinator,
                                        today=date(2027, 2, 1))
    assert again.id == first.id and not made


@pytest.mark.parametrize(("received", "message"), [
    (None, "Enter the date the request was received"),
    (date(2027, 2, 2), "The date the request was received must be today or in the past"),
])
def test_a_request_needs_a_date_received_that_has_happened(world, received, message):
    with pytest.raises(ServiceError) as refused:
        services.open_request(world.a.person, received_on=received, by=world.coordinator, today=date(2027, 2, 1))
    assert (refused.value.message, refused.value.field) == (message, "received_on")


# ---- the bundle ------------------------------------------------------------------------------------


def test_the_bundle_holds_every_kind_of_record_about_the_person(world):
    bundle = bundles.gather(world.a.person.id, now=utcnow())
    by_key = {s["key"]: s for s in bundle["sections"]}
    assert list(by_key) == SECTIONS
    for key in SECTIONS:
        assert by_key[key]["entries"], f"{key} is empty"
    text = json.dumps(bundle, ensure_ascii=False)
    for written in world.a.texts:
        assert written in text, written
    for identifier in world.a.identifiers:
        assert identifier in text, identifier
    meetings = [e["heading"] for e in by_key["meetings"]["entries"]]
    assert len(meetings) == 2 and meetings[0].startswith("Monthly panel") and meetings[1].startswith("Case MDT")
    records = {f["value"] for e in by_key["audit"]["entries"] for f in e["fields"] if f["name"] == "record"}
    assert {f"Case {world.a.case.reference}", f"Referral {world.a.referral.reference}"} <= records
    whos = {f["value"] for e in by_key["audit"]["entries"] for f in e["fields"] if f["name"] == "who"}
    assert "Charlie Chair, Host Council" in whos


def test_the_bundle_holds_the_disability_recorded_on_the_person_record(world):
    """Recorded only on the person record (equality monitoring), never on a referral's copy of
    the details: special category data, so it must be in what the person is sent."""
    world.a.person.disability = Disability.YES
    db.session.flush()
    bundle = bundles.gather(world.a.person.id, now=utcnow())
    details = next(s for s in bundle["sections"] if s["key"] == "about_you")["entries"][0]["fields"]
    assert {"name": "disability", "label": "Disability", "value": "Disabled"} in details
    world.a.person.disability = None
    db.session.flush()
    again = bundles.gather(world.a.person.id, now=utcnow())
    details = next(s for s in again["sections"] if s["key"] == "about_you")["entries"][0]["fields"]
    assert "disability" not in {f["name"] for f in details}


def test_the_bundle_holds_nothing_about_another_person_discussed_at_the_same_panel(world):
    for me, other in ((world.a, world.b), (world.b, world.a)):
        text = json.dumps(bundles.gather(me.person.id, now=utcnow()), ensure_ascii=False)
        for identifier in [*other.identifiers, other.person.nhs_number]:
            assert identifier not in text, identifier
        assert "Room booking" not in text  # any other business is nobody's item
        assert me.tag in text


def test_finalised_minutes_are_taken_from_the_signed_off_record(world):
    world.a.item.notes = "Changed after the minutes were finalised"
    db.session.flush()
    bundle = bundles.gather(world.a.person.id, now=utcnow())
    meeting = next(s for s in bundle["sections"] if s["key"] == "meetings")["entries"][0]
    notes = next(f["value"] for f in meeting["fields"] if f["name"] == "notes")
    assert notes == f"{world.a.tag} panel notes"
    assert any(f["value"] == "Finalised minutes" for f in meeting["fields"])


def test_draft_minutes_are_taken_as_recorded(db):
    world = subject_access_world.build(finalise=False)
    bundle = bundles.gather(world.a.person.id, now=utcnow())
    meeting = next(s for s in bundle["sections"] if s["key"] == "meetings")["entries"][0]
    assert {"Draft minutes", f"{world.a.tag} panel notes"} <= {f["value"] for f in meeting["fields"]}
    assert world.b.tag not in json.dumps(bundle)


def test_the_referral_keeps_the_details_as_the_referrer_gave_them(world):
    copy = factories.create_referral(given_name="Winnie", family_name="Quillfeather-Old").person
    world.a.referral.referred_person = copy
    db.session.flush()
    bundle = bundles.gather(world.a.person.id, now=utcnow())
    referral = next(s for s in bundle["sections"] if s["key"] == "referrals")["entries"][0]
    fields = {f["name"]: f["value"] for f in referral["fields"]}
    assert fields["as_referred.given_name"] == "Winnie"
    assert fields["as_referred.family_name"] == "Quillfeather-Old"


def test_the_bundle_takes_the_same_number_of_queries_whatever_the_amount_of_data(world, count_queries):
    person_id = world.a.person.id
    db.session.commit()
    db.session.expire_all()
    with count_queries() as small:
        bundles.gather(person_id, now=utcnow())
    subject_access_world.more_of_everything(world.a, world, 6)
    db.session.commit()
    db.session.expire_all()
    with count_queries() as large:
        bundle = bundles.gather(person_id, now=utcnow())
    assert len(next(s for s in bundle["sections"] if s["key"] == "meetings")["entries"]) == 8
    assert large.count == small.count, large.statements
    # the person; the referrals, the cases and the agencies involved; every other kind of record
    # (one UNION ALL); the agenda items and the minutes' snapshots; the audit trail
    assert small.count <= 8, small.count


def test_the_union_looks_each_kind_up_by_the_ids_already_read_without_subqueries():
    """Each branch of the union is one lookup by a list of ids (the person's cases, referrals or
    agenda items, read just before): no subquery on the person to repeat in every branch, which
    made PostgreSQL's planning (done afresh each time) cost more than running it. Only the users'
    names are looked up in it (two a row at most: an escalation's)."""
    statement, shapes = bundles._records(bundles._RECORD_KINDS)
    sql = str(statement)
    assert [name for name, _, _, _ in shapes] == list(bundles._RECORD_KINDS)
    assert "person_id" not in sql
    assert sql.count("IN (__[POSTCOMPILE_") == len(bundles._RECORD_KINDS)
    assert sql.count("SELECT") == 1 + len(bundles._RECORD_KINDS) + 2


def test_each_kind_of_record_is_in_date_order_with_who_and_which_agency(world):
    """The kinds of record are read together (one statement) and sorted as they are read: the
    attempts written last here happened first."""
    subject_access_world.more_of_everything(world.a, world, 3)
    db.session.flush()
    sections = {s["key"]: s for s in bundles.gather(world.a.person.id, now=utcnow())["sections"]}
    for key in ("decisions", "risk", "engagement", "insight", "escalations", "timeline"):
        dates = [entry["date"] for entry in sections[key]["entries"]]
        assert len(dates) >= 3 and dates == sorted(dates), key
    escalation = {f["name"]: f["value"] for f in sections["escalations"]["entries"][-1]["fields"]}
    assert (escalation["by"], escalation["acknowledged_by"]) == (world.coordinator.name, world.chair.name)
    attempt = {f["name"]: f["value"] for f in sections["engagement"]["entries"][0]["fields"]}
    assert attempt["agency"] == world.police.name
    action = {f["name"]: f["value"] for f in sections["actions"]["entries"][-2]["fields"]}
    assert (action["agency"], action["assignee"]) == (world.police.name, world.coordinator.name)


def test_an_entry_is_found_the_same_in_its_section_alone_in_fewer_queries(world, count_queries):
    """The page withholding one entry reads only the section that can hold it: every free-text
    entry of every kind is found there as in the whole bundle (and one of no kind nowhere)."""
    subject_access_world.more_of_everything(world.a, world, 2)
    db.session.commit()
    db.session.expire_all()
    person_id = world.a.person.id
    with count_queries() as whole:
        full = bundles.gather(person_id, now=utcnow(), trail=False)
    keys = [found["field"]["key"] for found in bundles.free_text(full)]
    assert {key.split(":")[0] for key in keys} == set(bundles.SECTION_OF)
    for key in keys + ["nosuch:1:notes", f"referral:{world.b.referral.id}:risk_summary"]:
        db.session.expire_all()
        with count_queries() as alone:
            bundle = bundles.gather(person_id, now=utcnow(), trail=False, entry=key)
        assert bundles.find(bundle, key) == bundles.find(full, key), key
        # the meetings' section is drawn from nearly everything (all but the agencies involved)
        assert alone.count <= whole.count - (bundles.SECTION_OF.get(key.split(":")[0]) != "meetings"), key
        assert len(bundle["sections"]) <= 1


# ---- withholding and the release ---------------------------------------------------------------------


PASSAGE = "Mrs Jellicoe-Smythe next door"


def _with_third_party(world):
    """Engagement notes that name a neighbour, also quoted in the case's chronology."""
    from panel.models import CaseEvent, EngagementAttempt

    attempt = db.session.scalars(sa.select(EngagementAttempt).where(
        EngagementAttempt.case_id == world.a.case.id)).one()
    attempt.worker_view = f"{world.a.tag} worker view. {PASSAGE} says she shouts at night."
    db.session.add(CaseEvent(case_id=world.a.case.id, kind="note", summary=f"Call from {PASSAGE}.",
                             by_id=world.coordinator.id))
    db.session.flush()
    return attempt


def test_withheld_entries_and_passages_are_absent_from_the_pdf_and_the_json_and_recorded(world, tmp_path):
    attempt = _with_third_party(world)
    sar = _open(world)
    bundle = services.gather(sar)
    insight_key = next(f["field"]["key"] for f in bundles.free_text(bundle) if f["field"]["name"] == "upsets")
    whole, made = services.withhold(sar, bundle=bundle, key=insight_key, whole=True, passage="",
                                    reason=WithholdingReason.SERIOUS_HARM, note="Advised by the GP", by=world.coordinator)
    part, _ = services.withhold(sar, bundle=bundle, key=f"engagement_attempt:{attempt.id}:worker_view", whole=False,
                                passage=PASSAGE, reason=WithholdingReason.THIRD_PARTY, note="", by=world.coordinator)
    assert made

    release = services.create_release(sar, by=world.coordinator, service_name="Panel")
    as_json = json.dumps(release, ensure_ascii=False)
    pdf_text = _pdf_text(_release_pdf(release, sar), tmp_path)
    for text in (as_json, pdf_text):
        assert "Jellicoe" not in text                    # the passage, in the entry and in the chronology
        assert f"{world.a.tag} upsets" not in text       # the whole entry
        assert "says she shouts at night" in text         # the rest of the entry stays
        assert "withheld: information about someone else" in text
        assert "Withheld: risk of serious harm" in text
        assert "Quillfeather" in text and world.b.tag not in text and "Zanzibar" not in text
    assert [w["part"] for w in release["withheld"]] == ["All of it", "Part of it (wherever it appears)"]
    assert "Advised by the GP" not in as_json  # the coordinator's note is for the record, not the release

    kept = db.session.scalars(sa.select(SubjectAccessWithholding).order_by(SubjectAccessWithholding.id)).all()
    assert [(w.entry, w.passage, w.reason) for w in kept] == [
        (insight_key, "", WithholdingReason.SERIOUS_HARM),
        (f"engagement_attempt:{attempt.id}:worker_view", PASSAGE, WithholdingReason.THIRD_PARTY)]
    summaries = [json.loads(e.summary) for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "subject_access_withholding")).all()]
    assert summaries == [
        {"request": sar.id, "entry": insight_key, "part": "whole", "reason": "serious_harm"},
        {"request": sar.id, "entry": f"engagement_attempt:{attempt.id}:worker_view", "part": "passage",
         "reason": "third_party"}]
    assert "Jellicoe" not in " ".join(e.summary for e in db.session.scalars(sa.select(AuditEvent)))
    assert part.id != whole.id


def test_the_pdf_is_tagged_marked_and_in_plain_english(world, tmp_path):
    sar = _open(world)
    release = services.create_release(sar, by=world.coordinator, service_name="Panel")
    pdf = _release_pdf(release, sar)
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    assert "Tagged:          yes" in info
    assert "Title:           Information we hold about you" in info
    text = _pdf_text(pdf, tmp_path)
    assert text.count("OFFICIAL-SENSITIVE") >= 2
    for heading in ("About you", "Referrals made about you", "Your case record", "Contact with you",
                    "Meetings where you were discussed", "Who has looked at or changed your records",
                    "Information we have withheld"):
        assert heading in text


def test_a_reinstated_withholding_is_kept_but_no_longer_applies(world):
    attempt = _with_third_party(world)
    sar = _open(world)
    withholding, _ = services.withhold(sar, bundle=services.gather(sar), key=f"engagement_attempt:{attempt.id}:worker_view",
                                       whole=True, passage="", reason=WithholdingReason.THIRD_PARTY, note="",
                                       by=world.coordinator)
    services.create_release(sar, by=world.coordinator, service_name="Panel")
    assert services.reinstate(sar, withholding, by=world.coordinator)
    assert services.release_is_stale(sar)
    release = services.create_release(sar, by=world.coordinator, service_name="Panel")
    assert "Jellicoe" in json.dumps(release) and release["withheld"] == []
    assert withholding.reinstated_by_id == world.coordinator.id and not withholding.current


@pytest.mark.parametrize(("whole", "passage", "field", "message"), [
    (False, "", "passage", "Enter the passage to withhold, copied from the entry"),
    (False, "not in the entry at all", "passage", "The passage must be copied exactly from the entry"),
    (False, "<script>alert(1)</script>", "passage", "The passage must be copied exactly from the entry"),
    (False, "ab", "passage", "The passage must be at least 3 characters"),
])
def test_a_passage_must_be_copied_from_the_entry(world, whole, passage, field, message):
    sar = _open(world)
    bundle = services.gather(sar)
    key = bundles.free_text(bundle)[0]["field"]["key"]
    with pytest.raises(ServiceError) as refused:
        services.withhold(sar, bundle=bundle, key=key, whole=whole, passage=passage,
                          reason=WithholdingReason.THIRD_PARTY, note="", by=world.coordinator)
    assert (refused.value.field, refused.value.message) == (field, message)


def test_only_the_persons_own_entries_can_be_withheld(world):
    sar = _open(world)
    with pytest.raises(ServiceError):
        services.withhold(sar, bundle=services.gather(sar), key=f"agenda_item:{world.b.item.id}:notes", whole=True,
                          passage="", reason=WithholdingReason.THIRD_PARTY, note="", by=world.coordinator)


def test_closing_needs_the_release_and_a_date_sent_that_makes_sense(world):
    sar = _open(world, date(2027, 1, 14))
    today = date(2027, 2, 1)
    with pytest.raises(ServiceError, match="Make the release before closing"):
        services.close_request(sar, sent_on=today, by=world.coordinator, today=today)
    services.create_release(sar, by=world.coordinator, service_name="Panel")
    for sent_on, message in ((None, "Enter the date the release was sent"),
                             (date(2027, 2, 2), "must be today or in the past"),
                             (date(2027, 1, 13), "on or after the date the request was received, 14 January 2027")):
        with pytest.raises(ServiceError, match=message):
            services.close_request(sar, sent_on=sent_on, by=world.coordinator, today=today)
    services.close_request(sar, sent_on=date(2027, 1, 30), by=world.coordinator, today=today)
    assert (sar.status, sar.sent_on) == (SubjectAccessStatus.CLOSED, date(2027, 1, 30))
    closing = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.UPDATE,
                                                             AuditEvent.object_type == "subject_access_request")).one()
    assert json.loads(closing.summary) == {"status": "closed", "sent_on": "2027-01-30", "in_time": True}
    with pytest.raises(ServiceError, match="closed"):
        services.create_release(sar, by=world.coordinator, service_name="Panel")


# ---- finding the person ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["quillfeather", "Winifred Quill", "401 023 2137", "4010232137",
                                  "caspa-2027-901", "R-2027-90001", "Winie"])
def test_the_person_is_found_by_name_nhs_number_or_reference(world, text):
    found, more = services.find_people(text=text, date_of_birth=None, by=world.coordinator)
    assert [f.person.id for f in found] == [world.a.person.id] and not more


def test_the_person_is_found_by_date_of_birth_and_closed_records_too(world):
    from panel.models import CaseStatus

    world.a.case.status = CaseStatus.CLOSED
    db.session.flush()
    found, _ = services.find_people(text="", date_of_birth=date(1971, 3, 14), by=world.coordinator)
    assert [f.person.id for f in found] == [world.a.person.id]
    assert found[0].closed_only and found[0].references == [f"Case {world.a.case.reference}",
                                                            f"Referral {world.a.referral.reference}"]


def test_a_referrals_copy_of_the_details_leads_to_the_person_record(world):
    copy = factories.create_referral(given_name="Winnie", family_name="Oldname", status="draft").person
    world.a.referral.referred_person = copy
    db.session.flush()
    found, _ = services.find_people(text="Oldname", date_of_birth=None, by=world.coordinator)
    assert [f.person.id for f in found] == [world.a.person.id]


def test_drafts_and_wildcards_find_nobody_and_the_search_is_audited_without_its_words(world):
    factories.create_referral(given_name="Dora", family_name="Draft", status="draft")
    for text in ("Draft", "%", "_", "'; DROP TABLE persons; --"):
        assert services.find_people(text=text, date_of_birth=None, by=world.coordinator) == ([], False)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral).where(
        Referral.status == ReferralStatus.DRAFT)) == 1
    summaries = " ".join(e.summary for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "people_search")))
    assert "Draft" not in summaries and '"results": 0' in summaries


def test_a_search_needs_something_to_search_by(world):
    with pytest.raises(ServiceError, match="Enter a name, NHS number or case reference, or a date of birth"):
        services.find_people(text="  ", date_of_birth=None, by=world.coordinator)


def test_the_dashboard_list_is_soonest_due_first(world):
    later = _open(world, date(2027, 1, 20))
    sooner, _ = services.open_request(world.b.person, received_on=date(2027, 1, 10), by=world.coordinator,
                                      today=date(2027, 2, 1))
    assert [r.id for r in services.open_requests()] == [sooner.id, later.id]
    assert (sooner.due_on, later.due_on) == (date(2027, 2, 10), date(2027, 2, 22))  # 20 February is a Saturday
