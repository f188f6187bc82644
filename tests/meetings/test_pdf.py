"""The chair's agenda and case pack as a PDF, read back with poppler's pdftotext and pdfinfo:
the OFFICIAL-SENSITIVE marking at the top and bottom of every page, "Page N of M" on every
page, the confidentiality statement and contents, every open case in risk order with its
actions (overdue said in words), risk change and engagement figures; A4, tagged PDF/UA-1 with
a title and language; who may have it."""

from __future__ import annotations

import re
import subprocess
import zlib
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.meetings import agenda
from panel.models import (
    Action,
    AuditAction,
    AuditEvent,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    RiskChange,
    RiskLevel,
    utcnow,
)
from panel.dates import govuk_date
from tests.meetings import agenda_world
from tests.meetings.agenda_world import add_actions, awaiting_referral, panel_meeting


@pytest.fixture
def world(app, db):
    w = agenda_world.build(cases=8, actions=0)
    today = date.today()
    for n, case in enumerate(w.cases):
        add_actions(case, case.lead_agency, 4 + n, today=today, overdue_every=3,
                    assignee=w.housing_spoc if n % 2 else None)
    w.closing = w.cases[5]
    w.closing.status = CaseStatus.CLOSURE_PROPOSED
    raised = w.cases[1]
    db.session.add(RiskChange(case_id=raised.id, from_level=RiskLevel.HIGH, to_level=RiskLevel.CRITICAL,
                              at=utcnow() - timedelta(days=12), reason="Worse"))
    for days, outcome in ((3, EngagementOutcome.ENGAGED), (4, EngagementOutcome.NO_ANSWER),
                          (6, EngagementOutcome.NO_ANSWER)):
        db.session.add(EngagementAttempt(case_id=raised.id, agency_id=w.police.id, method=EngagementMethod.PHONE,
                                         occurred_at=utcnow() - timedelta(days=days), outcome=outcome))
    panel_meeting(utcnow() - timedelta(days=25))
    awaiting_referral(w.housing, submitted_at=utcnow() - timedelta(days=12), given_name="Quentin", family_name="Zed")
    agenda.sync_agenda(w.meeting)
    db.session.commit()
    return w


def _pages(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "pack.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return pages


def _info(pdf: bytes, tmp_path) -> dict[str, str]:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}


def _streams(pdf: bytes) -> bytes:
    """Every compressed stream of the PDF, inflated (the catalogue and XMP metadata are in them)."""
    out = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        end = pdf.find(b"endstream", match.end())
        try:
            out.append(zlib.decompress(pdf[match.end():end]))
        except zlib.error:
            continue
    return b"\n".join(out)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.fixture
def pdf(client, login_as, world):
    login_as(world.chair)
    response = client.get(f"/meetings/{world.meeting.id}/agenda.pdf")
    assert response.status_code == 200
    return response


def _the_pack_is_an_inline_uncached_pdf(pdf, world):
    assert pdf.mimetype == "application/pdf"
    day = world.meeting.starts_at.date()
    assert pdf.headers["Content-Disposition"] == f'inline; filename="panel-agenda-{day:%Y-%m-%d}.pdf"'
    assert pdf.headers["Cache-Control"] == "private, no-store"
    assert pdf.data.startswith(b"%PDF-")


def _every_page_is_marked_top_and_bottom_and_numbered(pdf, tmp_path):
    pages = _pages(pdf.data, tmp_path)
    total = len(pages)
    assert total >= 9  # a cover with the agenda, then at least a page per case
    for number, text in enumerate(pages, start=1):
        lines = _lines(text)
        assert lines[0] == "OFFICIAL-SENSITIVE", f"page {number} top: {lines[0]!r}"
        assert "OFFICIAL-SENSITIVE" in lines[-1], f"page {number} bottom: {lines[-1]!r}"
        assert re.search(rf"\bPage {number} of {total}$", lines[-1]), f"page {number} numbering: {lines[-1]!r}"
        assert sum("Page " in line and " of " in line for line in lines) == 1


def _the_first_page_has_the_statement_and_the_contents(pdf, world, tmp_path, app):
    first = " ".join(_lines(_pages(pdf.data, tmp_path)[0]))
    assert "Monthly panel: agenda and case pack" in first
    assert "Confidentiality statement" in first
    statement = " ".join(app.config["PANEL_CONFIDENTIALITY_STATEMENT"].split())
    assert statement in " ".join(first.split())
    assert "Contents" in first
    for case in world.cases:
        assert re.search(rf"Case {case.reference} \(\w+\), \w+ risk \.+ \d+", first), case.reference


def _every_open_case_has_its_section_in_risk_order(pdf, world, tmp_path):
    pages = _pages(pdf.data, tmp_path)
    starts = []  # the reference of each case section's heading, in page order
    for text in pages:
        for line in _lines(text):
            match = re.fullmatch(r"Case (CASPA-\d{4}-\d{3,})", line)
            if match:
                starts.append(match.group(1))
    active = sorted((c for c in world.cases if c is not world.closing), key=lambda c: (c.risk_level.rank, c.accepted_on))
    assert starts == [c.reference for c in active] + [world.closing.reference]
    ranks = [next(c for c in world.cases if c.reference == ref).risk_level.rank for ref in starts[:-1]]
    assert ranks == sorted(ranks)
    # each case starts on a new page
    for reference in starts:
        page = next(p for p in pages if re.search(rf"^\s*Case {reference}\s*$", p, re.M))
        assert _lines(page)[1] == f"Case {reference}"


def _each_case_section_has_its_facts_actions_and_figures(pdf, world, tmp_path):
    text = "\f".join(_pages(pdf.data, tmp_path))
    raised = world.cases[1]
    section = text[text.index(f"Case {raised.reference}\n"):]
    section = section[:section.index("OFFICIAL-SENSITIVE", section.index("Open actions"))]
    flat = re.sub(r"\s+", " ", section)
    assert f"Initials {raised.person.initials}" in flat
    assert "Risk level Critical" in flat
    assert f"Raised from high to critical on {govuk_date(utcnow() - timedelta(days=12))}" in flat
    assert f"Lead agency {raised.lead_agency.name}" in flat
    assert "Involved agencies" in flat and world.police.name in flat
    assert "All attempts 3" in flat and "Engaged or partly engaged 1" in flat and "No answer 2" in flat
    assert raised.person.given_name not in text  # initials only, never the name
    assert "Quentin" not in text and "QZ" in text


def _overdue_actions_are_marked_in_words(pdf, db, world, tmp_path):
    text = "\n".join(_pages(pdf.data, tmp_path))
    today = date.today()
    actions = db.session.scalars(sa.select(Action)).all()
    assert any(a.due_on < today for a in actions) and any(a.due_on >= today for a in actions)
    for action in actions:
        line = next(line for line in text.splitlines() if re.search(rf"\b{re.escape(action.description)}\s", line))
        if action.due_on < today:
            assert line.rstrip().endswith("Overdue"), line
        else:
            assert line.rstrip().endswith("Open") and "Overdue" not in line, line
        assert govuk_date(action.due_on) in line and action.agency.name in line
        if action.assignee is not None:
            assert action.assignee.name in text


def _the_pdf_is_a4_tagged_pdf_ua_with_a_title_and_language(pdf, world, tmp_path):
    info = _info(pdf.data, tmp_path)
    assert info["Tagged"] == "yes"
    assert info["Title"] == f"Panel agenda and case pack, {govuk_date(world.meeting.starts_at)}"
    assert info["Page size"].endswith("(A4)")
    inside = _streams(pdf.data)
    assert b"/Lang (en-GB)" in inside
    assert b'pdfuaid:part="1"' in inside
    assert b"/StructTreeRoot" in inside


def _the_pdf_view_is_audited(pdf, db, world):
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "meeting",
                                                           AuditEvent.action == AuditAction.VIEW)).one()
    assert event.object_id == str(world.meeting.id) and '"agenda.pdf"' in event.summary
    assert event.user_id == world.chair.id


# One render per test (WeasyPrint takes a second or two): each test checks several things.


def test_the_pages_marking_numbering_statement_contents_and_case_order(app, pdf, world, tmp_path):
    _every_page_is_marked_top_and_bottom_and_numbered(pdf, tmp_path)
    _the_first_page_has_the_statement_and_the_contents(pdf, world, tmp_path, app)
    _every_open_case_has_its_section_in_risk_order(pdf, world, tmp_path)


def test_the_case_sections_facts_figures_and_overdue_actions(pdf, db, world, tmp_path):
    _each_case_section_has_its_facts_actions_and_figures(pdf, world, tmp_path)
    _overdue_actions_are_marked_in_words(pdf, db, world, tmp_path)


def test_the_file_inline_a4_tagged_pdf_ua_titled_and_audited(pdf, db, world, tmp_path):
    _the_pack_is_an_inline_uncached_pdf(pdf, world)
    _the_pdf_is_a4_tagged_pdf_ua_with_a_title_and_language(pdf, world, tmp_path)
    _the_pdf_view_is_audited(pdf, db, world)


@pytest.mark.parametrize("role, status", [("coordinator", 200), ("chair", 200), ("police_spoc", 404),
                                          ("practitioner", 404), ("board", 404), ("admin", 404)])
def test_only_coordinators_and_chairs_get_the_pack(client, login_as, world, role, status):
    login_as(getattr(world, role))
    response = client.get(f"/meetings/{world.meeting.id}/agenda.pdf")
    assert response.status_code == status
    if status == 404:
        assert not response.data.startswith(b"%PDF")


def test_the_pdf_loads_nothing_from_outside_the_static_folder(app):
    from panel.meetings.pdf import local_fetcher, render_pdf

    fetcher, static = local_fetcher(), app.static_folder
    for url in ("http://example.com/x.css", "file:///etc/passwd", f"file://{static}/../panel/config.py",
                f"file://{static}-other/x.css", "file://host/etc/passwd"):
        with pytest.raises(ValueError):
            fetcher(url)
    response = fetcher(f"file://{static}/print/pack.css")  # the app's own stylesheet loads
    assert b"OFFICIAL-SENSITIVE" in response.read()
    response.close()
    # a page that asks for anything else still renders, without it
    html = ('<html lang="en-GB"><head><title>T</title><link rel="stylesheet" href="file:///etc/passwd"></head>'
            '<body><img src="http://example.com/x.png" alt="x"><p>Hello</p></body></html>')
    assert render_pdf(html).startswith(b"%PDF-")
