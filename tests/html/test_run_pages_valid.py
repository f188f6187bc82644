"""The Nu HTML Checker finds no error on run mode's pages while a panel is under way (the demo's
crawl sees them only before the panel starts): the welcome item with the attendance sheet, the
last panel's item with its actions, a referral, a case with its forms and one sent back with
problems, and the chair's closure page."""

from __future__ import annotations

import pytest

from panel.models import AgendaItemKind
from tests.conftest import PG_URL, post_form
from tests.html.test_html_valid import KNOWN_WARNINGS, run_vnu
from tests.meetings import minutes_world

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="the HTML is the same on either database: checked on SQLite")


def test_run_mode_pages_are_valid_html(client, login_as, db, tmp_path):
    w = minutes_world.build()
    login_as(w.coordinator)
    base = f"/meetings/{w.meeting.id}/run"
    pages = {}
    for kind in (AgendaItemKind.WELCOME, AgendaItemKind.LAST_MINUTES, AgendaItemKind.REFERRAL, AgendaItemKind.CASE):
        response = client.get(f"{base}/{w.item(kind).id}")
        assert response.status_code == 200
        pages[f"coordinator-{kind}"] = response.get_data(as_text=True)
    problems = post_form(client, f"{base}/{w.item(AgendaItemKind.CASE).id}",
                         {"notes": "x", "level": "medium", "action1-description": "Visit", "go": "next"})
    assert problems.status_code == 200
    pages["coordinator-case-problems"] = problems.get_data(as_text=True)
    login_as(w.chair)
    pages["chair-closure"] = client.get(f"{base}/{w.item(AgendaItemKind.CLOSURE).id}").get_data(as_text=True)
    for name, html in pages.items():
        (tmp_path / f"{name}.html").write_text(html, encoding="utf-8")

    messages = run_vnu(tmp_path)

    errors = [f"{m.get('url', '').rsplit('/', 1)[-1]}: {m.get('message')} «{m.get('extract', '')[:120]}»"
              for m in messages if m["type"] in ("error", "non-document-error")
              or (m["type"] == "info" and m.get("subType") == "warning" and m["message"] not in KNOWN_WARNINGS)]
    assert errors == [], "\n".join(errors)
