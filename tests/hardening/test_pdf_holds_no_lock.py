"""Drawing a PDF takes seconds (WeasyPrint lays out every page); no transaction is open meanwhile,
so on SQLite, where a transaction holds the one write lock, nobody waits behind a printout.
Everything is read and the view audited and committed before the drawing starts."""

from __future__ import annotations

import pytest

from panel.extensions import db
from panel.meetings import pdf
from tests.meetings import minutes_world


@pytest.fixture
def drawn(monkeypatch):
    """Each PDF drawn, with whether a transaction was open while it was."""
    seen: list[bool] = []
    real = pdf.render_pdf

    def watched(html: str, *args, **kwargs) -> bytes:
        seen.append(db.session().in_transaction())
        return real(html, *args, **kwargs)

    monkeypatch.setattr(pdf, "render_pdf", watched)
    return seen


@pytest.mark.parametrize("who, path", [("chair", "/agenda.pdf"), ("chair", "/minutes.pdf"),
                                        ("coordinator", "/minutes.pdf")])
def test_no_transaction_is_open_while_a_panel_pdf_is_drawn(client, login_as, db, drawn, who, path):
    world = minutes_world.build()
    login_as(getattr(world, who))

    response = client.get(f"/meetings/{world.meeting.id}{path}")

    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert drawn == [False]


def test_no_transaction_is_open_while_the_boards_pack_is_drawn(client, login_as, db, drawn):
    login_as("board")

    response = client.get("/reports/pack.pdf")

    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert drawn == [False]
