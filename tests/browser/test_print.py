"""The browser's own printout (issue 15): Chromium's print to PDF of any page, not only the pack's
PDF, carries OFFICIAL-SENSITIVE on every printed page and "Page N of M" (static/css/print.css for
every page on the layout, static/print/pack.css for the pack's print view), and the print view
of the pack keeps its cover, contents and each case on a page of its own."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

from panel.extensions import db
from panel.meetings import agenda
from panel.models import utcnow
from tests.browser.conftest import assert_accessible, sign_in
from tests.meetings import agenda_world


def _world() -> dict:
    w = agenda_world.build(cases=6, actions=90)
    agenda_world.awaiting_referral(w.housing, submitted_at=utcnow() - timedelta(days=9))
    agenda_world.panel_meeting(utcnow() - timedelta(days=25))
    agenda.sync_agenda(w.meeting)
    ids = {"meeting": w.meeting.id, "cases": [c.reference for c in w.cases]}
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)
    return ids


def _printed_pages(page, tmp_path, name: str) -> list[str]:
    path = tmp_path / f"{name}.pdf"
    page.pdf(path=str(path), format="A4")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def _every_page_is_marked_and_numbered(pages: list[str], what: str) -> None:
    assert len(pages) >= 2, f"{what}: a long page should print on several sheets"
    for number, text in enumerate(pages, start=1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert "OFFICIAL-SENSITIVE" in lines[0], f"{what}, page {number}: nothing marked at the top"
        assert "OFFICIAL-SENSITIVE" in lines[-1], f"{what}, page {number}: nothing marked at the bottom"
        assert re.search(rf"Page {number} of {len(pages)}$", lines[-1]), f"{what}, page {number}: {lines[-1]!r}"


def test_printing_any_page_marks_every_sheet(page, app, tmp_path):
    ids = _world()
    sign_in(page, "chair@test.invalid")

    page.goto(f"/meetings/{ids['meeting']}")
    assert_accessible(page)
    _every_page_is_marked_and_numbered(_printed_pages(page, tmp_path, "meeting"), "the panel's page")

    page.goto(f"/meetings/{ids['meeting']}/agenda")
    assert_accessible(page)
    pages = _printed_pages(page, tmp_path, "pack")
    _every_page_is_marked_and_numbered(pages, "the pack's print view")
    for reference in ids["cases"]:
        starts = [n for n, text in enumerate(pages) if re.search(rf"^\s*Case {reference}\s*$", text, re.M)]
        assert len(starts) == 1, reference
        first = [line.strip() for line in pages[starts[0]].splitlines() if line.strip()]
        assert first[1] == f"Case {reference}", "each case starts a new sheet"
    assert "Download this pack as a PDF" not in "".join(pages)  # the screen's links are not printed
