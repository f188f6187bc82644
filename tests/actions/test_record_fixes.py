"""Issue 12, the action log as a user meets it: the log says what each action is; the chronology
names the action, links to it and writes dates the GOV.UK way; "Not done by the agency" needs a
reason; the CSV export opens safely in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel.actions import services
from panel.cases.views.engagement_views import short
from panel.csvsafe import filename
from panel.dates import govuk_date
from panel.forms.errors import ServiceError
from panel.models import ActionStatus, ActionUpdate, CaseEvent
from tests.actions import pages_world
from tests.actions.pages_world import today
from tests.conftest import error_summary, page, post_form

LONG = ("Arrange a joint visit with the housing officer and the community mental health nurse to agree "
        "a plan for the winter, including heating, food, the gas safety check and who visits on Sundays")


@pytest.fixture
def world(db):
    w = pages_world.build()
    db.session.commit()
    return w


def _update(**over) -> dict:
    return {"note": "", "status": "open", "due_on": ["", "", ""], "reason": "", **over}


# ---- the action log shows what each action is --------------------------------------------------


def test_the_action_log_shows_each_actions_description_shortened(client, login_as, db, world):
    long = services.create_action(world.case, description=LONG, agency=world.agencies["a"],
                                  due_on=today() + timedelta(days=20), by=world.user("coordinator"))
    db.session.commit()
    login_as(world.user("coordinator"))

    soup = page(client.get("/actions"))

    headers = [th.get_text(strip=True) for th in soup.select("table.panel-actions-table thead th")]
    assert "What will be done" in headers
    column = headers.index("What will be done")
    cells = {tr["id"]: tr.select("td, th")[column].get_text(strip=True)
             for tr in soup.select("table.panel-actions-table tbody tr")}
    assert cells[f"action-{world.action.id}"] == "Arrange a joint visit with the housing officer"
    shortened = cells[f"action-{long.id}"]
    assert shortened.endswith("...") and len(shortened) <= 160 and LONG.startswith(shortened[:-3])
    full = page(client.get(f"/actions/{long.id}")).get_text(" ", strip=True)
    assert LONG in full  # the whole text on the action's page


# ---- the chronology names the action, links to it, and writes GOV.UK dates ----------------------


def test_chronology_entries_name_the_action_link_to_it_and_use_govuk_dates(client, login_as, db, world):
    new_due = today() + timedelta(days=30)
    login_as(world.user("spoc"))
    response = post_form(client, f"/actions/{world.action.id}/update",
                         _update(due_on=[str(new_due.day), str(new_due.month), str(new_due.year)],
                                 reason="Waiting for the housing officer"))
    assert response.status_code == 302
    login_as(world.user("coordinator"))

    soup = page(client.get(f"/cases/{world.case.reference}/chronology"))

    entries = [tr for tr in soup.select("table.panel-chronology tbody tr")
               if tr.find("a", href=f"/actions/{world.action.id}")]
    texts = [" ".join(tr.select("td")[2].get_text().split()) for tr in entries]
    name = f"Action {world.action.id} (Arrange a joint visit with the housing officer)"
    assert f"{name}: due date changed to {govuk_date(new_due)}" in texts
    assert any(t.startswith(f"{name} agreed for Agency A, due ") for t in texts)
    assert all(a.get_text() == name for tr in entries for a in tr.select("a"))
    stored = db.session.scalars(sa.select(CaseEvent.summary).where(CaseEvent.case_id == world.case.id)).all()
    assert not [s for s in stored if re.search(r"\d{2}/\d{2}/\d{4}", s)]  # "17 December 2026", never 17/12/2026


def test_the_chronology_runs_the_same_queries_with_more_actions(client, login_as, db, world, count_queries):
    login_as(world.user("coordinator"))
    url = f"/cases/{world.case.reference}/chronology"
    client.get(url)
    with count_queries() as few:
        client.get(url)
    for i in range(6):
        services.create_action(world.case, description=f"Action {i}", agency=world.agencies["a"],
                               due_on=today() + timedelta(days=5), by=world.user("coordinator"))
    db.session.commit()
    with count_queries() as many:
        client.get(url)
    assert many.count == few.count


@pytest.mark.parametrize("text, expected", [
    ("Short", "Short"),
    ("word " * 30, ("word " * 12).strip() + "…"),
    ("x" * 80, "x" * 60 + "…"),
])
def test_an_actions_name_is_its_description_cut_at_a_word(text, expected):
    assert short(text) == expected


# ---- "Not done by the agency" needs a reason ----------------------------------------------------


def test_not_done_by_the_agency_without_a_reason_is_refused_with_a_govuk_message(client, login_as, db, world):
    login_as(world.user("spoc"))
    url = f"/actions/{world.action.id}/update"

    response = post_form(client, url, _update(status="not_done"))

    assert response.status_code == 200
    assert error_summary(response) == ["Enter why the agency did not do the action"]
    soup = page(response)
    assert soup.title.get_text().startswith("Error: ")
    assert soup.find(id="note-error") is not None
    assert soup.find("input", attrs={"name": "status", "value": "not_done"}).has_attr("checked")  # kept
    db.session.rollback()
    assert db.session.scalars(sa.select(ActionUpdate)).all() == []


def test_not_done_with_a_reason_is_recorded_with_it(client, login_as, db, world):
    login_as(world.user("spoc"))
    why = "Our outreach team was redeployed <b>for two weeks</b>"

    response = post_form(client, f"/actions/{world.action.id}/update", _update(status="not_done", note=why))

    assert response.status_code == 302
    db.session.rollback()
    update = db.session.scalars(sa.select(ActionUpdate)).one()
    assert (update.new_status, update.note) == (ActionStatus.NOT_DONE, why)
    html = client.get(f"/actions/{world.action.id}").get_data(as_text=True)
    assert "Our outreach team was redeployed &lt;b&gt;for two weeks&lt;/b&gt;" in html


def test_not_possible_needs_no_reason_but_not_done_does_in_the_service(db, world):
    with pytest.raises(ServiceError) as refused:
        services.update_action(world.action, by=world.user("spoc"), status=ActionStatus.NOT_DONE, note="  ")
    assert (refused.value.field, str(refused.value)) == ("note", "Enter why the agency did not do the action")
    services.update_action(world.action, by=world.user("spoc"), status=ActionStatus.NOT_POSSIBLE)
    assert world.action.status == ActionStatus.NOT_POSSIBLE


# ---- CSV exports that open safely ---------------------------------------------------------------


def _split_like_a_spreadsheet(line: str, separator: str) -> list[str]:
    """How LibreOffice and Excel read a line: a field that starts with a quote runs to the quote
    that is followed by the separator (or the end of the line); "" inside it is one quote."""
    cells, i = [], 0
    while i <= len(line):
        if i < len(line) and line[i] == '"':
            j, value = i + 1, []
            while j < len(line):
                if line[j] == '"' and j + 1 < len(line) and line[j + 1] == '"':
                    value.append('"')
                    j += 2
                elif line[j] == '"' and (j + 1 == len(line) or line[j + 1] == separator):
                    break
                else:
                    value.append(line[j])
                    j += 1
            cells.append("".join(value))
            i = j + 2
        else:
            end = line.find(separator, i)
            end = len(line) if end < 0 else end
            cells.append(line[i:end])
            i = end + 1
    return cells


def test_the_action_export_has_a_bom_quotes_every_field_and_is_named_with_the_marking(client, login_as, db,
                                                                                      world):
    hostile = ["Call the agency’s SPoC; =HYPERLINK(\"http://evil.invalid\")", "=1+1", "2;+3;-4;@SUM(A1)"]
    for text in hostile:
        services.create_action(world.case, description=text, agency=world.agencies["b"],
                               due_on=today() + timedelta(days=5), by=world.user("coordinator"))
    db.session.commit()
    # 23:30 UTC on 30 June is 00:30 on 1 July in London: the file is named by the London date
    with time_machine.travel(datetime(2027, 6, 30, 23, 30, tzinfo=timezone.utc), tick=False):
        login_as(world.user("coordinator"))
        response = client.get(f"/actions/export.csv?agency={world.agencies['b'].id}")

    assert response.headers["Content-Disposition"] == (
        'attachment; filename="caspa-actions-OFFICIAL-SENSITIVE-2027-07-01.csv"')
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "agency’s" in text
    rows = list(csv.reader(io.StringIO(text)))
    assert all(len(row) == len(rows[0]) for row in rows)
    for line in text.splitlines():
        assert line.startswith('"') and line.endswith('"')  # every field quoted
        for separator in (",", ";"):
            cells = _split_like_a_spreadsheet(line, separator)
            assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], (separator, cells)


def test_the_audit_export_is_quoted_with_a_bom_too(client, login_as):
    with time_machine.travel(datetime(2027, 6, 30, 23, 30, tzinfo=timezone.utc), tick=False):
        login_as("admin")
        response = client.get("/admin/audit.csv")
        body = response.get_data()
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="caspa-audit-OFFICIAL-SENSITIVE-2027-07-01.csv"')
    assert body.startswith(b'\xef\xbb\xbf"When (UTC)","User email"')


def test_export_file_names_carry_the_marking_and_the_date():
    assert filename("actions", date(2026, 12, 7)) == "caspa-actions-OFFICIAL-SENSITIVE-2026-12-07.csv"


def test_a_not_done_action_in_the_export_reads_as_such(client, login_as, db, world):
    services.update_action(world.action, by=world.user("spoc"), status=ActionStatus.NOT_DONE,
                           note="No worker free")
    db.session.commit()
    login_as(world.user("coordinator"))
    rows = list(csv.reader(io.StringIO(client.get("/actions/export.csv").get_data().decode("utf-8-sig"))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Status"] == "Not done by the agency"


