"""Issue 14: GET /meetings/<id> wrote agenda rows, and GET .../minutes and .../attendance wrote
agenda and attendance rows. No GET changes data: the pages offer a POST ("Bring the agenda up to
date"), the job "agenda-sync" keeps upcoming agendas in line, an agency with no attendance row is
shown "Not recorded" without one (finalising makes the rows), and a crawl of every page and file
as every demo role changes no table but the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urldefrag, urlsplit

import sqlalchemy as sa
from bs4 import BeautifulSoup

from panel.extensions import db
from panel.meetings import agenda
from panel.meetings.panels import sync_upcoming_agendas
from panel.models import AgendaItem, User, utcnow
from panel.scheduler import JOBS
from tests.conftest import page, post_form
from tests.html.conftest import load_demo
from tests.html.crawl import DEMO_ROLES, crawl, shape, sign_in
from tests.meetings import agenda_world
from tests.meetings.agenda_world import awaiting_referral


def _rows() -> list[tuple]:
    db.session.expire_all()
    return [tuple(r) for r in db.session.execute(sa.select(AgendaItem.id, AgendaItem.kind, AgendaItem.position,
                                                           AgendaItem.referral_id, AgendaItem.case_id))]


def test_get_meeting_writes_no_agenda_rows_even_when_the_agenda_is_out_of_date(client, login_as):
    w = agenda_world.build(cases=2, actions=2)
    db.session.commit()
    login_as(w.coordinator)
    url = f"/meetings/{w.meeting.id}"

    for _ in range(2):
        assert client.get(url).status_code == 200
    assert _rows() == []  # never built by a GET
    assert post_form(client, f"{url}/agenda/update", {}, token_from=url).status_code == 302
    built = _rows()
    assert built

    awaiting_referral(w.housing, submitted_at=utcnow() - timedelta(days=9))  # the data moves on
    db.session.commit()
    response = client.get(url)
    assert page(response).find("form", id="update-agenda") is not None
    assert _rows() == built  # still nothing written by the GET


def test_the_update_needs_its_csrf_token(client, login_as):
    w = agenda_world.build(cases=1, actions=0)
    db.session.commit()
    login_as(w.coordinator)
    assert client.post(f"/meetings/{w.meeting.id}/agenda/update").status_code == 400
    assert _rows() == []


def test_the_agenda_sync_job_builds_upcoming_agendas_and_is_idempotent(app):
    w = agenda_world.build(cases=2, actions=0)
    db.session.commit()
    assert JOBS["agenda-sync"].path == "panel.meetings.panels:sync_upcoming_agendas"
    assert sync_upcoming_agendas()["changed"] >= 1
    first = _rows()
    assert first and not agenda.out_of_date(w.meeting)
    assert sync_upcoming_agendas()["changed"] == 0
    assert _rows() == first


# ---- every GET of every page, as every role ---------------------------------------------------

FILES = re.compile(r"\.(pdf|ics|csv|json)$|/export")


def _everything_but_the_audit_trail() -> dict[str, list[tuple]]:
    """Every row of every table (the audit trail aside: viewing a record is rightly audited)."""
    db.session.expire_all()
    dump = {}
    for table in db.metadata.sorted_tables:
        if table.name == "audit_events":
            continue
        dump[table.name] = [tuple(row) for row in db.session.execute(
            sa.select(table).order_by(*table.primary_key.columns))]
    return dump


def _files_linked_from(pages: dict[str, str]) -> list[str]:
    """The PDFs, CSVs, calendar files and exports the pages link to, one of each shape."""
    seen, links = set(), []
    for html in pages.values():
        for link in BeautifulSoup(html, "html.parser").select("a[href]"):
            href = urldefrag(link["href"])[0]
            path = urlsplit(href).path
            if href.startswith("/") and not href.startswith(("//", "/calendar/")) and FILES.search(path) \
                    and shape(path) not in seen:
                seen.add(shape(path))
                links.append(href)
    return links


def test_no_get_of_any_page_or_file_changes_any_data_for_any_demo_role(app):
    load_demo(app)
    before = _everything_but_the_audit_trail()
    fetched = 0
    for email in DEMO_ROLES.values():
        user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one()
        client = app.test_client()
        sign_in(client, user)
        pages = crawl(client, shape_limit=1)
        for href in _files_linked_from(pages):
            assert client.get(href).status_code < 500, href
            fetched += 1
        fetched += len(pages)
    assert fetched > 100  # the crawl really reached the service
    after = _everything_but_the_audit_trail()
    changed = {name: (len(before[name]), len(after[name])) for name in before if before[name] != after[name]}
    assert changed == {}, f"GET requests changed these tables (rows before, after): {changed}"
