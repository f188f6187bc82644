"""The printed minutes (/meetings/<id>/minutes.pdf): the PDF's text read back with poppler's
pdftotext, page by page: OFFICIAL-SENSITIVE at the top and bottom of every page, "Page N of M",
what was minuted in agenda order; the document title, tagging and language from pdfinfo; the
view audited; chairs and coordinators only."""

from __future__ import annotations

import re
import subprocess
import zlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import minutes as services
from panel.models import (
    Action,
    ActionStatus,
    AgendaItem,
    AgendaItemKind,
    AttendanceStatus,
    AuditAction,
    AuditEvent,
    RiskLevel,
)
from tests.cases.helpers import create_case
from tests.meetings import minutes_world


@pytest.fixture
def world(db):
    return minutes_world.build()


def _pages(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "minutes.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True).stdout
    return [p for p in text.split("\f") if p.strip()]


def _streams(pdf: bytes) -> bytes:
    """The PDF with its compressed streams inflated (the catalogue may sit in an object stream)."""
    out = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            pass
    return b"\n".join(out)


def _info(pdf: bytes, tmp_path) -> dict[str, str]:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def _minute(world) -> None:
    w = world
    case_item = w.item(AgendaItemKind.CASE)
    services.record_item_minutes(case_item, notes="Housing visited twice; the person is settling.", by=w.coordinator)
    services.decide_risk(case_item, level=RiskLevel.MEDIUM, reason="Now has a safe place to stay", by=w.coordinator)
    services.add_item_action(case_item, description="Joint visit with the tenancy officer", agency=w.housing,
                             due_on=w.today + timedelta(days=14), by=w.coordinator, assignee=w.housing_spoc)
    services.record_last_action(w.meeting, w.last_action, status=ActionStatus.DONE, note="Visited",
                                by=w.coordinator)
    services.record_attendance(services.attendance_row(w.meeting, w.police), status=AttendanceStatus.PRESENT,
                               by=w.coordinator, attendee_name="Pat Police", confidentiality_acknowledged=True)
    services.decide_referral(w.item(AgendaItemKind.REFERRAL), accept=False, by=w.chair, rationale="Below threshold")


def _many_items(world, n: int) -> None:
    for i in range(n):
        case = create_case(lead=world.police, involved=(world.housing,), risk=RiskLevel.MEDIUM)
        db.session.add(AgendaItem(meeting_id=world.meeting.id, kind=AgendaItemKind.CASE, case_id=case.id,
                                  position=200 + i, notes=f"Discussion {i}. " + "The panel talked it through. " * 12))
        for j in range(3):
            db.session.add(Action(case_id=case.id, meeting_id=world.meeting.id, description=f"Action {i}.{j}",
                                  agency_id=world.housing.id, due_on=world.today, status=ActionStatus.OPEN))
    db.session.flush()


def test_the_minutes_pdf_has_the_marking_and_numbering_on_every_page(client, login_as, world, tmp_path):
    _minute(world)
    _many_items(world, 12)
    services.finalise(world.meeting, by=world.chair)
    services.amend(world.meeting, item=world.item(AgendaItemKind.CASE), text="Two visits, not one.",
                   reason="Corrected by Housing", by=world.chair)
    login_as(world.chair)

    response = client.get(f"/meetings/{world.meeting.id}/minutes.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    pages = _pages(response.data, tmp_path)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert lines[0] == "OFFICIAL-SENSITIVE", f"page {number} has no marking at the top"
        assert any("OFFICIAL-SENSITIVE" in line for line in lines[-2:]), f"page {number} has no marking at the bottom"
        assert f"Page {number} of {len(pages)}" in lines[-1] or f"Page {number} of {len(pages)}" in lines[-2]

    text = " ".join("\n".join(pages).split())  # words as read, whatever the line breaks
    day = services.panel_day(world.meeting)
    assert f"Minutes of the panel on {day.day} {day:%B %Y}" in text
    assert "Finalised by Charlie Chair" in text
    assert "Pat Police" in text and "Acknowledged" in text
    assert "Risk level changed from High to Medium: Now has a safe place to stay" in text
    assert "Joint visit with the tenancy officer" in text and "Harper Housing" in text
    assert "Declined: Below threshold" in text
    assert "Done: Visited" in text
    assert "Two visits, not one." in text and "Corrected by Housing" in text
    order = [text.index(f"Case {world.case.reference}"), text.index("Discussion 0."), text.index("Discussion 11.")]
    assert order == sorted(order)  # items in agenda order


def test_the_pdf_is_tagged_with_its_title_and_language(client, login_as, world, tmp_path):
    login_as(world.coordinator)

    response = client.get(f"/meetings/{world.meeting.id}/minutes.pdf")

    info = _info(response.data, tmp_path)
    day = services.panel_day(world.meeting)
    assert info["Title"] == f"Minutes of the panel on {day.day} {day:%B %Y}"
    assert info["Tagged"] == "yes"
    inside = _streams(response.data)
    assert b"/Lang (en-GB)" in inside and b"/StructTreeRoot" in inside
    assert "Draft: not finalised." in " ".join("\n".join(_pages(response.data, tmp_path)).split())


def test_printing_is_audited(client, login_as, world):
    login_as(world.chair)

    client.get(f"/meetings/{world.meeting.id}/minutes.pdf")

    db.session.rollback()
    summaries = db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "meeting",
        AuditEvent.object_id == str(world.meeting.id))).all()
    assert summaries == ['{"page": "minutes.pdf"}']


@pytest.mark.parametrize("who", ["police_spoc", "practitioner"])
def test_only_chairs_and_coordinators_print_the_minutes(client, login_as, world, who):
    services.finalise(world.meeting, by=world.chair)
    login_as(getattr(world, who))

    assert client.get(f"/meetings/{world.meeting.id}/minutes.pdf").status_code == 404
