"""Migration 0007 on data: a database at 0006 with minutes finalised before snapshots existed is
upgraded; each finalised panel gets its snapshot, built from the data as at the panel where the
history allows (the risk level before a later change, the agencies involved by then, the due date
before a later change, the outcome recorded by the finalising), and is frozen from then on."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from panel.extensions import db as _db
from panel.meetings import record as records
from panel.models import ActionStatus, AgendaItemKind, AttendanceStatus, MinutesSnapshot, RiskLevel
from tests.migration_rows import insert_row
from tests.conftest import _make_app

pytestmark = pytest.mark.real_commits  # its own database file, migrated step by step

def _old_database(connection) -> dict[str, int]:
    """Minutes finalised on 12 March 2026 for the panel of 10 March, and what happened after."""
    ids: dict[str, int] = {}
    ids["host"] = insert_row(connection, "agencies", name="Host Council", code="host", kind="local_authority")
    ids["police"] = insert_row(connection, "agencies", name="Police", code="police", kind="police")
    ids["housing"] = insert_row(connection, "agencies", name="Housing", code="housing", kind="housing")
    ids["chair"] = insert_row(connection, "users", email="chair@test.invalid", name="Charlie Chair", role="chair",
                           agency_id=ids["host"], password_hash="x", session_token="t1")
    person = insert_row(connection, "persons", given_name="Zebedee", family_name="Quaintly")
    referral = insert_row(connection, "referrals", reference="R-2026-00001", status="accepted", person_id=person,
                       referring_agency_id=ids["police"], risk_level="critical", needs=[], desired_outcomes=[])
    ids["case"] = insert_row(connection, "cases", reference="CASPA-2026-001", person_id=person, referral_id=referral,
                          status="active", lead_agency_id=ids["police"], risk_level="high",
                          accepted_on=date(2026, 1, 5), created_at=datetime(2026, 1, 5, 12))
    insert_row(connection, "involvements", case_id=ids["case"], agency_id=ids["police"], named_worker="",
            created_at=datetime(2026, 1, 5, 12))
    insert_row(connection, "involvements", case_id=ids["case"], agency_id=ids["housing"], named_worker="",
            created_at=datetime(2026, 4, 1, 12))  # involved after the panel
    insert_row(connection, "risk_changes", case_id=ids["case"], from_level="critical", to_level="high", reason="Later",
            at=datetime(2026, 4, 2, 9))  # lowered at a later panel
    ids["previous"] = insert_row(connection, "meetings", kind="panel", status="scheduled", ical_uid="a@panel",
                              starts_at=datetime(2026, 2, 10, 10), ends_at=datetime(2026, 2, 10, 12, 30),
                              created_at=datetime(2026, 1, 1))
    ids["meeting"] = insert_row(connection, "meetings", kind="panel", status="scheduled", ical_uid="b@panel",
                             starts_at=datetime(2026, 3, 10, 10), ends_at=datetime(2026, 3, 10, 12, 30),
                             created_at=datetime(2026, 1, 1), minutes_finalised_at=datetime(2026, 3, 12, 9),
                             minutes_finalised_by_id=ids["chair"])
    ids["draft"] = insert_row(connection, "meetings", kind="panel", status="scheduled", ical_uid="c@panel",
                           starts_at=datetime(2026, 4, 14, 10), ends_at=datetime(2026, 4, 14, 12, 30),
                           created_at=datetime(2026, 1, 1))
    insert_row(connection, "agenda_items", meeting_id=ids["meeting"], position=1, kind="welcome", title="Welcome",
            notes="Statement read.", decision="")
    ids["item"] = insert_row(connection, "agenda_items", meeting_id=ids["meeting"], position=2, kind="case",
                          case_id=ids["case"], notes="Discussed the tenancy.", decision="Agreed a joint visit")
    insert_row(connection, "attendance", meeting_id=ids["meeting"], agency_id=ids["police"], status="present",
            attendee_name="Pat Police", confidentiality_acknowledged=True)
    agreed = insert_row(connection, "actions", case_id=ids["case"], meeting_id=ids["meeting"], description="Joint visit",
                     agency_id=ids["police"], due_on=date(2026, 3, 24), status="open",
                     created_at=datetime(2026, 3, 10, 13))
    insert_row(connection, "action_updates", action_id=agreed, at=datetime(2026, 3, 20, 9), note="",
            old_due_on=date(2026, 3, 24), new_due_on=date(2026, 4, 30), due_change_reason="Leave")
    last = insert_row(connection, "actions", case_id=ids["case"], meeting_id=ids["previous"], description="Call the GP",
                   agency_id=ids["police"], due_on=date(2026, 3, 1), status="done",
                   created_at=datetime(2026, 2, 10, 13), closed_at=datetime(2026, 3, 1, 9))
    insert_row(connection, "action_updates", action_id=last, at=datetime(2026, 3, 1, 9), note="Called",
            old_status="open", new_status="done")
    return ids


def _migration():
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0007_minutes_record.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_upgrading_snapshots_minutes_finalised_before_from_the_data_as_at_the_panel(tmp_path):
    application = _make_app(f"sqlite:///{tmp_path / 'old.db'}", tmp_path)
    with application.app_context():
        try:
            upgrade(revision="0006")
            with _db.engine.begin() as connection:
                ids = _old_database(connection)

            upgrade(revision="0007")

            snapshots = _db.session.scalars(sa.select(MinutesSnapshot)).all()
            assert [(s.meeting_id, s.source, s.version) for s in snapshots] == [(ids["meeting"], "upgrade", 1)]
            record = records.MinutesRecord.from_json(snapshots[0].document)
            assert record.finalised_by == "Charlie Chair"
            assert [i.title for i in record.agenda] == ["Welcome", "Case CASPA-2026-001"]
            case_item = record.agenda[1]
            assert case_item.case.risk_level == RiskLevel.CRITICAL  # as presented, before the later change
            assert case_item.case.agencies == ("Police",) and case_item.case.initials == "ZQ"
            assert case_item.notes == "Discussed the tenancy." and case_item.decisions == ("Agreed a joint visit",)
            assert [(a.description, a.due_on) for a in case_item.actions] == [("Joint visit", date(2026, 3, 24))]
            assert [(a.description, a.status, a.note) for a in record.last_actions] == [
                ("Call the GP", ActionStatus.DONE, "Called")]
            assert [(a.agency, a.status, a.attendee_name) for a in record.attendance] == [
                ("Police", AttendanceStatus.PRESENT, "Pat Police")]
            assert case_item.kind == AgendaItemKind.CASE

            # frozen from now on: the app reads the snapshot, whatever the data says (named
            # columns only: later revisions may add columns these tables do not have yet)
            _db.session.execute(sa.text("UPDATE cases SET risk_level = 'low'"))
            _db.session.execute(sa.text("UPDATE agencies SET name = 'Renamed' WHERE code = 'police'"))
            assert records.stored_minutes_record(ids["meeting"]) == record
            rebuilt = records.build_minutes_record(ids["meeting"])
            assert rebuilt.attendance[0].agency == "Renamed" and rebuilt != record
            _db.session.rollback()

            # running the step again takes none (the draft panel never gets one from it)
            with _db.engine.begin() as connection:
                assert _migration().snapshot_finalised_minutes(connection) == 0
        finally:
            _db.session.remove()
            _db.engine.dispose()
