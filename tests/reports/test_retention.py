"""Retention with the clock moved on: what is due, what the job erases and keeps, that the
Board's figures and everyone else's rows are unchanged, the audit trail (no personal data,
still verifiable), legal holds, the dry run, and a second run that changes nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel import audit
from panel.audit import verify_trail
from panel.extensions import db as _db
from panel.models import (
    Action,
    Anonymisation,
    Attendance,
    AuditAction,
    AuditEvent,
    Case,
    EngagementAttempt,
    Escalation,
    LegalHold,
    LegalHoldKind,
    MinutesSnapshot,
    Person,
    PersonalOutcome,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RetentionRule,
    RiskChange,
    SubjectAccessRequest,
    SubjectAccessStatus,
)
from panel.reports import retention
from panel.scheduler import run_job
from tests.reports import retention_world
from tests.reports.retention_world import where_found, years_ago


@pytest.fixture
def app_config(tmp_path):
    return {"AUDIT_ANCHOR_PATH": str(tmp_path / "anchors.jsonl")}


@pytest.fixture
def world(app, db):
    built = retention_world.build()
    db.session.commit()
    return built


def _run(today: date) -> dict[str, int]:
    return retention.run_retention(today)


# ---- what is due ---------------------------------------------------------------------------------


def test_only_adults_whose_every_record_is_past_retention_are_due_held_ones_flagged(world):
    found = {a.person_id: a for a in retention.due(world.today)}

    assert set(found) == {world.old.person_id, world.held.person_id}
    old = found[world.old.person_id]
    assert old.rule == RetentionRule.CASE_CLOSED and old.ended_on == years_ago(world.today, 7)
    assert old.due_on == retention.add_years(old.ended_on, 6) and old.hold is None
    assert set(old.references) == {world.old.case.reference, *(r.reference for r in world.old.referrals)}
    assert found[world.held.person_id].hold.kind == LegalHoldKind.SAFEGUARDING_ADULTS_REVIEW


def test_the_setting_decides_the_years(world, app):
    app.config["RETENTION_YEARS"] = 8

    assert retention.due(world.today) == []
    assert _run(world.today) == {"anonymised": 0, "held": 0}

    app.config["RETENTION_YEARS"] = 0
    with pytest.raises(ValueError, match="RETENTION_YEARS"):
        retention.due(world.today)


def test_a_referral_declined_long_ago_goes_by_its_decision_date(app, db):
    world = retention_world.build()
    mixed_old = world.mixed.referrals[1]
    mixed_old.status = ReferralStatus.WITHDRAWN  # the open one is withdrawn too, seven years ago
    mixed_old.decided_at = retention_world.at(years_ago(world.today, 7))
    db.session.commit()

    found = next(a for a in retention.due(world.today) if a.person_id == world.mixed.person_id)

    assert found.rule == RetentionRule.REFERRAL_WITHDRAWN and found.ended_on == years_ago(world.today, 7)


# ---- the job ---------------------------------------------------------------------------------------


def test_the_job_erases_everything_about_the_old_adult_and_keeps_the_facts(world):
    before = where_found(world.old.personal)
    assert len(before) > 40  # the world really holds them everywhere

    assert _run(world.today) == {"anonymised": 1, "held": 1}

    assert where_found(world.old.personal) == []
    person = _db.session.get(Person, world.old.person_id)
    assert (person.given_name, person.family_name, person.date_of_birth, person.nhs_number, person.address) == \
        ("", "", None, "", "")
    assert (person.postcode, person.age_band) == ("LU1", "55_64")
    assert (person.gender, person.ethnicity, person.first_language, person.interpreter_needed) == \
        ("Female", "White British", "Polish", True)
    assert person.anonymised_at is not None
    record = _db.session.scalars(sa.select(Anonymisation)).one()
    assert record.person_id == world.old.person_id and record.rule == RetentionRule.CASE_CLOSED
    assert (record.ended_on, record.retention_years, record.by_id) == (years_ago(world.today, 7), 6, None)
    assert sorted(record.what["referrals"]) == sorted(r.id for r in world.old.referrals)
    assert record.what["cases"] == [world.old.case.id]
    assert "nhs_number" in record.what["columns"]["persons"]


def test_held_recent_and_mixed_adults_are_untouched(world):
    others = {name: where_found(getattr(world, name).personal) for name in ("recent", "mixed", "held")}

    _run(world.today)

    for name, found in others.items():
        assert where_found(getattr(world, name).personal) == found, name
        assert found, name
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Anonymisation)) == 1


def _allowed_changes() -> dict[str, set[str]]:
    allowed = {table: set(columns) for table, columns in retention.erased_columns().items()}
    allowed["persons"] |= {"postcode", "age_band", "anonymised_at"}
    allowed["minutes_snapshots"] = {"document"}
    allowed["report_data_version"] = {"token"}  # rows the Board's reports count were written
    return allowed


def test_nothing_changes_but_the_erased_columns_of_the_old_adults_rows(world):
    before = retention_world.dump()

    _run(world.today)
    after = retention_world.dump()

    allowed = _allowed_changes()
    changed_rows = []
    for table, rows in before.items():
        if table not in ("audit_events", "anonymisations"):
            assert set(after[table]) == set(rows), f"rows added to or deleted from {table}"
        for pk, row in rows.items():
            changed = {c for c, v in row.items() if after[table][pk][c] != v}
            assert changed <= allowed.get(table, set()), f"{table}#{pk}: {changed}"
            if changed:
                changed_rows.append((table, pk, row))
    # the rows that changed are the old adult's: none held another adult's words
    for table, pk, row in changed_rows:
        text = json.dumps(row, default=str)
        assert not any(m in text for m in ("RITAMARK", "MIXMARK", "HELDMARK")) or table == "minutes_snapshots", \
            (table, pk)
    # new rows: the anonymisation's record and its audit entries, appended
    assert set(before["audit_events"]) < set(after["audit_events"])
    assert len(after["anonymisations"]) == 1


def test_the_other_adults_parts_of_the_shared_minutes_are_kept_word_for_word(world):
    before = {s.meeting_id: s.document for s in _db.session.scalars(sa.select(MinutesSnapshot))}

    _run(world.today)

    after = {s.meeting_id: s.document for s in _db.session.scalars(sa.select(MinutesSnapshot))}
    assert set(after) == {m.id for m in world.panels}
    for meeting_id, document in before.items():
        new = after[meeting_id]
        text, new_text = json.dumps(document), json.dumps(new)
        assert "OLIVEMARK" in text and "OLIVEMARK" not in new_text
        assert text.count("RITAMARK") == new_text.count("RITAMARK") > 0
        assert "Olive" not in new_text and "OO" not in new_text.replace("OLIVEMARK", "")
        for old_item, new_item in zip(document["agenda"], new["agenda"], strict=True):
            if (old_item["case"] or {}).get("id") != world.old.case.id:
                assert new_item == old_item
            else:
                assert (new_item["notes"], new_item["decisions"], new_item["case"]["initials"]) == ("", [], "")
                assert new_item["case"]["reference"] == world.old.case.reference
        for old_action, new_action in zip(document["last_actions"], new["last_actions"], strict=True):
            if old_action["case_id"] != world.old.case.id:
                assert new_action == old_action
            else:
                assert new_action == {**old_action, "description": "", "note": ""}
        assert {k: v for k, v in new.items() if k not in ("agenda", "last_actions")} == \
            {k: v for k, v in document.items() if k not in ("agenda", "last_actions")}


def _figures() -> dict[str, list]:
    """What the Board's reports count, by SQL aggregate."""
    def rows(query) -> list:
        return sorted((tuple(str(v) for v in row) for row in _db.session.execute(query)), key=str)

    year = sa.extract("year", Case.closed_on)
    return {
        "cases closed by year": rows(sa.select(year, sa.func.count()).where(Case.closed_on.is_not(None)).group_by(year)),
        "cases by lead agency and risk": rows(sa.select(Case.lead_agency_id, Case.risk_level, Case.status,
                                                        sa.func.count()).group_by(Case.lead_agency_id, Case.risk_level,
                                                                                  Case.status)),
        "referrals by agency and outcome": rows(sa.select(Referral.referring_agency_id, Referral.status,
                                                          sa.func.count()).group_by(Referral.referring_agency_id,
                                                                                    Referral.status)),
        "referral dates": rows(sa.select(Referral.id, Referral.submitted_at, Referral.decided_at, Referral.needs,
                                         Referral.risk_level, Referral.consent_given)),
        "decisions": rows(sa.select(ReferralDecision.outcome, ReferralDecision.to_status, sa.func.count())
                          .group_by(ReferralDecision.outcome, ReferralDecision.to_status)),
        "engagement": rows(sa.select(EngagementAttempt.method, EngagementAttempt.outcome, EngagementAttempt.out_of_hours,
                                     sa.func.count()).group_by(EngagementAttempt.method, EngagementAttempt.outcome,
                                                               EngagementAttempt.out_of_hours)),
        "outcomes": rows(sa.select(PersonalOutcome.review, sa.func.count()).group_by(PersonalOutcome.review)),
        "risk changes": rows(sa.select(RiskChange.from_level, RiskChange.to_level, sa.func.count())
                             .group_by(RiskChange.from_level, RiskChange.to_level)),
        "actions": rows(sa.select(Action.agency_id, Action.status, Action.due_on, Action.closed_at)),
        "escalations": rows(sa.select(Escalation.step, sa.func.count()).group_by(Escalation.step)),
        "attendance": rows(sa.select(Attendance.agency_id, Attendance.status, sa.func.count())
                           .group_by(Attendance.agency_id, Attendance.status)),
        "equality": rows(sa.select(Person.gender, Person.ethnicity, Person.first_language, Person.interpreter_needed,
                                   sa.func.count()).group_by(Person.gender, Person.ethnicity, Person.first_language,
                                                             Person.interpreter_needed)),
        "rows": [(t.name, _db.session.scalar(sa.select(sa.func.count()).select_from(t)))
                 for t in _db.metadata.sorted_tables if t.name not in ("audit_events", "anonymisations")],
    }


def test_the_boards_figures_are_the_same_before_and_after(world):
    before = _figures()

    _run(world.today)

    assert _figures() == before


def test_the_audit_trail_holds_no_personal_data_before_or_after_and_verifies(world, app):
    everyone = [s for name in ("old", "recent", "mixed", "held") for s in getattr(world, name).personal]

    def trail() -> list[str]:
        return [json.dumps([e.object_type, e.object_id, e.summary, e.user_agent]) for e in
                _db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]

    before = trail()
    assert len(before) > 20
    assert [line for line in before if any(s in line for s in everyone)] == []

    _run(world.today)

    after = trail()
    assert after[:len(before)] == before
    assert [line for line in after if any(s in line for s in everyone)] == []
    entry = _db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "person")).one()
    summary = json.loads(entry.summary)
    assert entry.object_id == str(world.old.person_id) and summary["anonymised"] is True
    assert summary["rule"] == "case_closed" and summary["cases"] == [world.old.case.id]
    assert "nhs_number" in summary["fields"]["persons"]
    assert verify_trail().ok
    verified = app.test_cli_runner().invoke(args=["panel", "audit-verify"])
    assert verified.exit_code == 0, verified.output
    assert "Audit trail intact" in verified.output


def test_a_second_run_changes_nothing(world):
    _run(world.today)
    once = retention_world.dump()

    assert _run(world.today) == {"anonymised": 0, "held": 1}

    assert retention_world.dump() == once


def test_anonymising_a_stale_list_twice_adds_no_second_record(world):
    found = [a for a in retention.due(world.today) if a.hold is None]
    retention.anonymise(found, today=world.today)
    _db.session.commit()
    once = retention_world.dump()

    retention.anonymise(found, today=world.today)  # the same adults, read before the first run
    _db.session.commit()

    again = retention_world.dump()
    # the trail, and the reports' token (the second run wrote the same values again), aside
    bookkeeping = ("audit_events", "report_data_version")
    assert {k: v for k, v in again.items() if k not in bookkeeping} == \
        {k: v for k, v in once.items() if k not in bookkeeping}


def test_moving_the_clock_on_anonymises_the_recent_case_when_its_years_have_run(world):
    _run(world.today)
    due_day = retention.add_years(years_ago(world.today, 1), 6)

    assert _run(due_day - timedelta(days=1)) == {"anonymised": 0, "held": 1}
    assert where_found(world.recent.personal)
    assert _run(due_day) == {"anonymised": 1, "held": 1}

    assert where_found(world.recent.personal) == []
    assert where_found(world.mixed.personal)  # an open referral: never, whatever the date
    assert where_found(world.held.personal)


def test_lifting_the_hold_lets_the_next_run_anonymise(world):
    hold = _db.session.scalars(sa.select(LegalHold).where(LegalHold.person_id == world.held.person_id)).one()
    retention.lift_hold(hold, reason="The review has reported", by=world.coordinator)
    _db.session.commit()

    assert _run(world.today) == {"anonymised": 2, "held": 0}

    assert where_found(world.held.personal) == []
    assert _db.session.get(LegalHold, hold.id).details == ""


def test_an_open_subject_access_request_keeps_the_records(world):
    request = _db.session.scalars(sa.select(SubjectAccessRequest)).one()
    request.status = SubjectAccessStatus.OPEN
    _db.session.commit()

    assert world.old.person_id not in {a.person_id for a in retention.due(world.today)}
    assert _run(world.today)["anonymised"] == 0
    assert where_found(world.old.personal)


def test_person_records_linked_by_a_referral_count_as_one_adult(app, db):
    world = retention_world.build()
    copy = retention_world._person("COPYMARK", "Olivia", "Oldrecord", date(1961, 2, 28), "", "LU1 2AB")
    # the coordinator linked the declined referral to the person record; its own copy stayed
    world.old.referrals[0].referred_person_id = copy.id
    db.session.commit()
    copy_strings = ["COPYMARK", "Olivia"]

    found = next(a for a in retention.due(world.today) if a.person_id == world.old.person_id)
    assert set(found.person_ids) == {world.old.person_id, copy.id}
    _run(world.today)

    assert where_found(copy_strings) == [] and where_found(world.old.personal) == []
    assert db.session.get(Person, copy.id).age_band == "55_64"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Anonymisation)) == 2


def test_an_open_referral_on_a_linked_person_record_keeps_both(app, db):
    world = retention_world.build()
    # the mixed adult's open referral was the referrer's copy of the old adult, linked to them
    world.mixed.referrals[1].person_id = world.old.person_id
    world.mixed.referrals[1].referred_person_id = world.mixed.person_id
    db.session.commit()

    assert world.old.person_id not in {a.person_id for a in retention.due(world.today)}
    _run(world.today)
    assert where_found(world.old.personal)


def test_pages_still_show_an_anonymised_case_and_referral(world, client, login_as):
    _run(world.today)
    login_as(world.coordinator)

    for url in (f"/cases/{world.old.case.reference}", f"/cases/{world.old.case.reference}/chronology",
                f"/referrals/{world.old.referrals[0].id}", f"/cases/{world.old.case.reference}/engagement"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not any(s in response.get_data(as_text=True) for s in world.old.personal), url


# ---- the job table and the commands ------------------------------------------------------------


def test_run_job_retention_says_what_it_did(world):
    summary = run_job("retention")

    assert summary.startswith("retention: anonymised 1, held 1 (")


def test_the_dry_run_lists_ids_references_and_the_rule_and_changes_nothing(world, app):
    old_id, held_id, reference = world.old.person_id, world.held.person_id, world.old.case.reference
    everyone = [s for name in ("old", "recent", "mixed", "held") for s in getattr(world, name).personal]
    before = retention_world.dump()

    result = app.test_cli_runner().invoke(args=["panel", "retention", "--dry-run"])

    assert result.exit_code == 0, result.output
    _db.session.remove()
    assert retention_world.dump() == before
    lines = result.output.splitlines()
    old = next(line for line in lines if line.startswith(f"person {old_id}:"))
    assert reference in old and "case closed on " + years_ago(world.today, 7).isoformat() in old
    held = next(line for line in lines if line.startswith(f"person {held_id}:"))
    assert "legal hold" in held
    assert lines[-1] == "Dry run: 1 would be anonymised, 1 kept under a legal hold. Nothing was changed."
    assert not any(s in result.output for s in everyone)


def test_the_command_without_dry_run_anonymises(world, app):
    result = app.test_cli_runner().invoke(args=["panel", "retention"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "Anonymised 1; 1 kept under a legal hold."
    _db.session.remove()
    assert where_found(world.old.personal) == []


# ---- the pieces ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("postcode", "district"), [
    ("LU1 2AB", "LU1"), ("lu12ab", "LU1"), ("SW1A 1AA", "SW1A"), ("M1 1AE", "M1"), ("EC1A1BB", "EC1A"),
    ("  W1A 0AX ", "W1A"), ("", ""), ("not a postcode", ""), ("<script>", ""), ("LU1", "LU1")])
def test_postcode_district(postcode, district):
    assert retention.postcode_district(postcode) == district


@pytest.mark.parametrize(("born", "on", "band"), [
    (date(2000, 6, 2), date(2018, 6, 1), "under_18"), (date(2000, 6, 1), date(2018, 6, 1), "18_24"),
    (date(1961, 2, 28), date(2019, 2, 27), "55_64"), (date(1961, 2, 28), date(2026, 2, 28), "65_74"),
    (date(1930, 1, 1), date(2027, 1, 1), "85_plus"), (None, date(2027, 1, 1), "")])
def test_age_band(born, on, band):
    assert retention.age_band(born, on) == band


def test_add_years_takes_a_leap_day_to_the_first_of_march():
    assert retention.add_years(date(2024, 2, 29), 6) == date(2030, 3, 1)
    assert retention.add_years(date(2024, 2, 28), 6) == date(2030, 2, 28)
    assert retention.add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)


def _declined_long_ago(count: int, today: date) -> None:
    agency = retention_world.factories.create_agency()
    for n in range(count):
        person = retention_world._person(f"BATCH{n}MARK", "Bea", f"Batch{n}", date(1970, 1, 1), "", "LU5 1AA")
        referral = retention_world._referral(agency, person, f"BATCH{n}MARK", status=ReferralStatus.SUBMITTED,
                                             submitted=years_ago(today, 9))
        retention_world._declined(referral, f"BATCH{n}MARK", years_ago(today, 9), None)


def test_a_batch_costs_the_same_statements_whatever_its_size_but_two_audit_ones_a_person(app, db, count_queries):
    today = retention_world.london_today()

    def cost(count: int) -> int:
        _declined_long_ago(count, today)
        db.session.commit()
        found = retention.due(today)
        assert len(found) == count
        with count_queries() as counter:
            retention.anonymise(found, today=today)
        db.session.commit()
        return counter.count

    one, five = cost(1), cost(5)
    with count_queries() as entry:  # one audit entry: (the chain's lock,) its last hash, the entry
        audit.record(AuditAction.VIEW, "test", "")

    assert five - one == 4 * entry.count


def test_the_name_search_index_forgets_the_anonymised_names(world, db):
    if db.engine.dialect.name != "sqlite" or not sa.inspect(db.engine).has_table("person_search_words"):
        pytest.skip("the SQLite full-text index of names (on PostgreSQL an expression index, kept by the database)")

    def matches(word: str) -> set[int]:
        return set(db.session.scalars(sa.text("SELECT rowid FROM person_search_words WHERE person_search_words "
                                              "MATCH :q"), {"q": word}))

    assert world.old.person_id in matches("oldrecord")

    _run(world.today)

    assert matches("oldrecord") == set() and matches("olive") == set()
    assert world.recent.person_id in matches("recentone")
