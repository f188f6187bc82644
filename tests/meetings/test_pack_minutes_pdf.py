"""The printed minutes (issue 15): a draft carries DRAFT in the running header of every page and a
diagonal watermark, so it can never pass for the record; the finalised minutes carry neither,
anywhere. Both state the marking once as text for a screen reader and repeat it as artifacts,
and every table header has its scope."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from panel.meetings import minutes as services
from tests.meetings import minutes_world
from tests.meetings.pdf_structure import MM, artifacts, lines, pages_text, tag_tree, words
from tests.meetings.test_minutes_pdf import _many_items

# The pages of a rendered PDF are the same whatever the database: checked in the SQLite pass.
pytestmark = pytest.mark.sqlite_pass


@pytest.fixture
def world(db):
    w = minutes_world.build()
    _many_items(w, 12)  # several pages
    return w


def _print(client, login_as, world) -> bytes:
    login_as(world.chair)
    response = client.get(f"/meetings/{world.meeting.id}/minutes.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return response.data


def _watermarks(found) -> dict[int, list]:
    """Per page, the big letters of the watermark: artifacts, well inside the page, each letter
    higher up the page than the one before (it runs diagonally)."""
    out = defaultdict(list)
    for word in found:
        if word.tag == "Artifact" and word.text in ("D", "R", "A", "F", "T") and word.bottom - word.top > 40:
            out[word.page].append(word)
    return out


def test_draft_minutes_say_draft_on_every_page_in_the_header_and_across_the_page(client, login_as, world, tmp_path):
    pdf = _print(client, login_as, world)

    pages = pages_text(pdf, tmp_path)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        top = lines(text)[0]
        assert re.fullmatch(r"DRAFT\s+OFFICIAL-SENSITIVE\s+DRAFT", top), f"page {number} header: {top!r}"
        assert re.search(rf"OFFICIAL-SENSITIVE\s+Page {number} of {len(pages)}$", lines(text)[-1])
    found, sizes = words(pdf)
    header = [w for w in found if w.text == "DRAFT" and w.top < 22 * MM]
    assert sorted({w.page for w in header}) == list(range(len(pages)))
    assert all(w.tag == "Artifact" for w in header) and len(header) == 2 * len(pages)
    marks = _watermarks(found)
    assert sorted(marks) == list(range(len(pages))), "a watermark on every page"
    for page, letters in marks.items():
        assert "".join(w.text for w in sorted(letters, key=lambda w: w.x0)) == "DRAFT"
        tops = [w.top for w in sorted(letters, key=lambda w: w.x0)]
        assert tops == sorted(tops, reverse=True) and tops[0] - tops[-1] > 100, "diagonal, rising"
        width, height = sizes[page]
        assert all(20 * MM < w.x0 and w.x1 < width - 20 * MM for w in letters)
    # a screen reader hears that it is a draft once, from the text, not from every page's header
    assert "Draft: not finalised." in " ".join(" ".join(pages).split())


def test_final_minutes_say_draft_nowhere(client, login_as, world, tmp_path):
    services.finalise(world.meeting, by=world.chair)
    pdf = _print(client, login_as, world)

    pages = pages_text(pdf, tmp_path)
    assert "DRAFT" not in "".join(pages).upper()
    found, _ = words(pdf)
    assert not [w for w in found if "DRAFT" in w.text.upper()]
    assert not _watermarks(found)
    for number, text in enumerate(pages, start=1):
        assert lines(text)[0] == "OFFICIAL-SENSITIVE", number


def test_the_minutes_state_their_marking_once_and_head_their_tables_with_scope(client, login_as, world):
    services.finalise(world.meeting, by=world.chair)
    pdf = _print(client, login_as, world)

    found, sizes = words(pdf)
    running = [w for w in found if w.text == "OFFICIAL-SENSITIVE" and (w.top < 22 * MM or w.bottom > sizes[0][1] - 22 * MM)]
    assert len(running) == 2 * len(sizes)
    assert [(w.page, w.top < 22 * MM) for w in running if w.tag != "Artifact"] == [(0, True)]
    tree = tag_tree(pdf)
    assert (0, next(w for w in running if w.tag != "Artifact").mcid) in tree.reachable
    headers = tree.of("/TH")
    assert headers and all(h.attributes.get("/Scope") in ("/Row", "/Column") for h in headers)
    for number, page in enumerate(artifacts(pdf)):
        kinds = [(m.get("/Type"), m.get("/Subtype")) for m in page]
        assert ("/Pagination", "/Footer") in kinds, number
        assert (("/Pagination", "/Header") in kinds) == (number > 0), number
