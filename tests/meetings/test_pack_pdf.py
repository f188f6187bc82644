"""The chair's pack as a PDF, read back as a chair and a screen reader would (issue 15): a
fifteen-case pack with five new referrals and 300 open actions (tests/meetings/pack_world.py).

- Its text (pdftotext): a section on a page of its own for every referral and case with what
  the panel decides on, every staff-safety warning first in its section, the closures with their
  checklists, the escalations with their agency and days overdue, the same consecutive numbers
  in the contents, the agenda and the sections.
- Its structure (pikepdf and pdfplumber): every table header with its scope, the running header
  and footer and the dot leaders as artifacts, the marking once in the tag tree as text, no text
  that is neither, links that say what they lead to, no table row split over two pages.
- Its pages as pictures (pdftoppm) and its word boxes: no text outside the paper's content area,
  the 5,000-character referral text included.
One render per test (WeasyPrint takes seconds): each test checks several things.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from panel.dates import govuk_date, london_today
from panel.models import NEED_LABELS, LawfulBasis, Need
from tests.meetings import pack_world
from tests.meetings.pdf_structure import (
    MM,
    artifacts,
    ink_outside,
    lines,
    link_descriptions,
    pages_text,
    png_pages,
    table_rows,
    tag_tree,
    words,
)

# The pages of a rendered PDF are the same whatever the database: checked in the SQLite pass.
pytestmark = pytest.mark.sqlite_pass

NUMBERED = re.compile(r"^(\d+(?:\.\d+)?)\s+(?:\S+\s+)?(New referral R-TEST-\d+|Case CASPA-\d{4}-\d+)\b")


@pytest.fixture
def packed(app, db, client, login_as):
    world = pack_world.build()
    db.session.commit()
    login_as(world.chair)
    response = client.get(f"/meetings/{world.meeting.id}/agenda.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    html = client.get(f"/meetings/{world.meeting.id}/agenda").get_data(as_text=True)
    return world, response.data, html


def _flat(text: str) -> str:
    return " ".join(text.split())


def _sections(pages: list[str]) -> dict[str, str]:
    """Each referral's and case's section (its heading is the first line under the marking of the
    page it starts on), as flat text up to the next section."""
    starts = []
    for number, page in enumerate(pages):
        first = lines(page)[1]
        if re.fullmatch(r"(New referral R-TEST-\d+|Case CASPA-\d{4}-\d+|\d Escalations and long-running cases)",
                        first):
            starts.append((first, number))
    out = {}
    for (title, begin), (_, end) in zip(starts, starts[1:] + [("", len(pages))], strict=True):
        out[title] = _flat("\n".join(pages[begin:end]))
    return out


def _a_section_for_every_referral_with_its_details(world, sections: dict[str, str], rows: list[list[str]]) -> None:
    for n, referral in enumerate(world.referrals):
        text = sections[f"New referral {referral.reference}"]
        person = referral.person
        assert f"Initials {person.initials}" in text and f"Date of birth {govuk_date(person.date_of_birth)}" in text
        assert f"Referred by {referral.referring_agency.name} (Referrer {n})" in text
        assert f"Received {govuk_date(referral.submitted_at)}" in text
        for need in referral.needs:
            assert NEED_LABELS[Need(need)] in text
        assert f"Risk level (the referrer’s) {referral.risk_level.label}" in text
        assert _flat(referral.risk_summary)[:200] in text
        assert referral.tried_already in text and referral.rapport in text
        assert f"Housing Trust Worker {n}-0 Yes" in text and f"Health Trust Worker {n}-1 No" in text
        assert referral.persons_views in text and all(o in text for o in referral.desired_outcomes)
        assert referral.capacity in text
        if referral.consent_given:
            assert "The person consented to information being shared." in text
        else:
            assert f"Shared without consent. Lawful basis: {LawfulBasis.SAFEGUARDING_INDIVIDUALS.label}." in text
            assert referral.consent_reason in text
        assert person.given_name not in text and person.family_name not in text  # initials only
    repeat = sections[f"New referral {world.referrals[3].reference}"]
    assert "Repeat referral: referred 3 times in the last 12 months." in repeat
    for earlier, outcome in zip(world.earlier, ("Declined", "Withdrawn"), strict=True):
        assert [earlier.reference, govuk_date(earlier.submitted_at), "Police Service",
                f"{outcome} on {govuk_date(earlier.decided_at)}", "Same NHS number"] in rows
    assert "Referred 1 time in the last 12 months. No earlier referrals." in sections[
        f"New referral {world.referrals[0].reference}"]
    hostile = sections[f"New referral {world.referrals[1].reference}"]
    assert hostile.index("WARNING: STAFF SAFETY") < hostile.index("Who and when")
    assert "Hostility or aggression towards staff" in hostile and "Never visit alone; shouts at callers." in hostile


def _a_section_for_every_case_with_its_warnings_first(world, sections: dict[str, str], rows: list[list[str]]) -> None:
    flagged = {flag.case_id: flag for flag in world.flags}
    assert len(flagged) >= 3
    for n, case in enumerate(world.cases):
        text = sections[f"Case {case.reference}"]
        flag = flagged.get(case.id)
        if flag is not None:
            warning = text.index("WARNING: STAFF SAFETY")
            assert warning < text.index("The case Initials"), "the warning comes first"
            assert f"{flag.kind.label}. {flag.details} Set by Casey Coordinator on {govuk_date(flag.set_at)}." in text
        else:
            assert "STAFF SAFETY" not in text
        assert f"Date of birth {govuk_date(case.person.date_of_birth)}" in text
        assert case.person.given_name not in text
        assert f"Risk summary for {case.reference}" in text and f"Contingency for {case.reference}" in text
        assert f"Why: Reason {n}: new information" in text
        if n % 2 == 0:
            assert f"Decision {n} on {case.reference}: keep open" in text
        else:
            assert "No decision was recorded on this case at the last panel" in text
        outcome = "Done: Visited twice" if n % 3 == 0 else "Still open"
        due = govuk_date(london_today() - timedelta(days=2))
        assert [f"Agreed last time for {case.reference}", case.lead_agency.name, due, outcome] in rows
        reviewed = govuk_date(london_today() - timedelta(days=5 + n))
        assert f"“Outcome 1 of {case.reference} in my words”: achieved, reviewed {reviewed}." in text
        assert f"“Outcome 2 of {case.reference} in my words”: not yet reviewed." in text
        assert f"Last reviewed: {reviewed}." in text
        assert "All attempts 6" in text and re.search(r"Last successful contact: \d+ \w+ \d{4} at ", text)
        assert re.search(r"Open actions \d+ open actions?, \d+ overdue", text)
    for case in world.closing:
        text = sections[f"Case {case.reference}"]
        assert "Closure proposed" in text and "The closure checklist as it stands" in text
        assert "Met A step-down agency is named" in text
        if case.closure_for_non_engagement:
            assert "Not met Only 2 phone attempts: at least three are needed" in text
        else:
            assert "Met The step-down agency’s acceptance is recorded" in text


def _escalations_with_agency_and_days_overdue(world, rows: list[list[str]]) -> None:
    escalated = [a for a in world.actions if a.escalated_to_chair_at is not None]
    assert len(escalated) >= 5
    assert any(a.due_on < london_today() for a in escalated) and any(a.due_on > london_today() for a in escalated)
    for action in escalated:
        days = (london_today() - action.due_on).days
        assert [action.case.reference,
                f"{action.description} (escalated to the chair on {govuk_date(action.escalated_to_chair_at)})",
                action.agency.name, govuk_date(action.due_on),
                f"{days} days" if days > 0 else "Not overdue (open)"] in rows, action.id


def _numbers_are_consecutive_and_the_same_everywhere(world, pages: list[str]) -> None:
    contents, agenda_rows, headed = {}, {}, {}
    for page in pages:
        for line in lines(page):
            found = NUMBERED.match(line)
            if found and "...." in line:
                contents[found.group(2)] = found.group(1)
            elif found and re.match(r"^\d+(\.\d+)?\s+(\d|midday)", line):
                agenda_rows[found.group(2)] = found.group(1)
        item = re.search(r"^Agenda item (\d+\.\d+),", page, re.M)
        if item:
            headed[lines(page)[1]] = item.group(1)
    expected = {f"New referral {r.reference}": f"3.{n}" for n, r in enumerate(world.referrals, start=1)}
    def in_risk_order(cases):  # highest risk first, then longest in the pathway
        return sorted(cases, key=lambda c: (c.risk_level.rank, c.accepted_on))

    active = in_risk_order(c for c in world.cases if c not in world.closing)
    expected |= {f"Case {c.reference}": f"4.{n}" for n, c in enumerate(active, start=1)}
    expected |= {f"Case {c.reference}": f"5.{n}" for n, c in enumerate(in_risk_order(world.closing), start=1)}
    assert contents == expected
    assert agenda_rows == expected
    assert headed == expected
    sections = [int(m.group(1)) for page in pages for m in re.finditer(r"^(\d)\. [A-Z]", page, re.M)]
    assert sections == [1, 2, 3, 4, 5, 6, 7]


def test_a_fifteen_case_pack_holds_what_the_panel_decides_on_in_numbers_that_agree(packed, tmp_path):
    world, pdf, _ = packed
    pages = pages_text(pdf, tmp_path)
    for number, page in enumerate(pages, start=1):
        found = lines(page)
        assert found[0] == "OFFICIAL-SENSITIVE", f"page {number} top: {found[0]!r}"
        assert re.fullmatch(rf"OFFICIAL-SENSITIVE\s+Page {number} of {len(pages)}", found[-1]), found[-1]
    cover = _flat(pages[0])
    day = govuk_date(world.meeting.starts_at)
    for fact in (f"Date {day}", "Time 10am to 12:30pm (UK time)", "Place To be confirmed", "Chair Chris Chair",
                 "Confidentiality statement The information discussed at this meeting"):
        assert fact in cover, fact
    sections = _sections(pages)
    assert len([t for t in sections if t.startswith("New referral")]) == 5
    assert len([t for t in sections if t.startswith("Case")]) == 15
    rows = table_rows(pdf)
    _a_section_for_every_referral_with_its_details(world, sections, rows)
    _a_section_for_every_case_with_its_warnings_first(world, sections, rows)
    _escalations_with_agency_and_days_overdue(world, rows)
    _numbers_are_consecutive_and_the_same_everywhere(world, pages)


def test_the_pack_is_tagged_for_a_screen_reader(packed):
    world, pdf, html = packed
    tree = tag_tree(pdf)
    found, sizes = words(pdf)
    # every table header says whether it heads a row or a column
    headers = tree.of("/TH")
    assert len(headers) > 150
    assert {h.attributes.get("/Scope") for h in headers} == {"/Row", "/Column"}
    # the running header and footer are pagination artifacts; the leaders layout artifacts
    marks = artifacts(pdf)
    for number, page in enumerate(marks):
        subtypes = [m.get("/Subtype") for m in page if m.get("/Type") == "/Pagination"]
        assert subtypes.count("/Footer") == 2, number  # the marking and "Page N of M"
        assert subtypes.count("/Header") == (0 if number == 0 else 1), number
    assert any(m.get("/Type") == "/Layout" for m in marks[0])
    reachable = tree.reachable
    for word in found:
        assert word.tag == "Artifact" or (word.page, word.mcid) in reachable, \
            f"page {word.page + 1}: {word.text!r} is neither an artifact nor in the tag tree"
        if re.fullmatch(r"\.{3,}\d*", word.text) or word.text in ("Page",):
            assert word.tag == "Artifact", word
    height = sizes[0][1]
    running = [w for w in found if w.text == "OFFICIAL-SENSITIVE" and (w.top < 22 * MM or w.bottom > height - 22 * MM)]
    assert len(running) == 2 * len(sizes)
    tagged = [w for w in running if w.tag != "Artifact"]
    assert [(w.page, w.top < 22 * MM) for w in tagged] == [(0, True)], "the marking is read once, on page 1"
    second = next(w for w in running if w.page == 1 and w.top < 22 * MM)
    assert abs(tagged[0].top - second.top) < 1.5 and abs(tagged[0].x0 - second.x0) < 1.5, "where the header is"
    # links say where they go
    described = link_descriptions(pdf)
    assert described and not [d for d in described if not d or d.startswith(("case-", "referral-", "#"))]
    for case in world.cases:
        assert f"Case {case.reference}" in described
        assert any(re.fullmatch(rf"\d\.\d+ Case {case.reference} \(GF\), \w+ risk", d) for d in described), case
    # no table row is split over two pages: each body row of the HTML is one row in the PDF
    rows = BeautifulSoup(html, "html.parser").select("tbody > tr")
    assert len([e for e in tree.of("/TR") if e.parent.role == "/TBody"]) == len(rows)


def test_every_page_keeps_its_text_on_the_paper(packed, tmp_path):
    world, pdf, _ = packed
    found, sizes = words(pdf)
    for width, height in sizes:
        assert (round(width / MM), round(height / MM)) == (210, 297)
    left, right = 16 * MM - 1, sizes[0][0] - 16 * MM + 1
    for word in found:
        width, height = sizes[word.page]
        assert 0 <= word.top and word.bottom <= height, word
        assert left <= word.x0 and word.x1 <= right, f"page {word.page + 1}: {word.text[:40]!r} runs off the page"
    assert [w for w in found if pack_world.UNBROKEN.startswith(w.text[:30]) and len(w.text) > 30]
    images = png_pages(pdf, tmp_path)
    assert len(images) == len(sizes)
    for number, image in enumerate(images, start=1):
        width, height = image.size
        assert abs(height / width - 297 / 210) < 0.01
        assert not ink_outside(image, left_mm=12, right_mm=12), f"page {number} has ink in its side margin"
