"""The Board's reports on the demo data: a year of history gives every report figures, some of them
suppressed; nothing suppressed can be worked out from any table; and a board member, crawling
every page they can reach and downloading every file, sees no demo person's name, date of birth,
NHS number, address or case reference anywhere."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.dates import govuk_date, london_today
from panel.extensions import db
from panel.models import Case, Person, Referral, User
from panel.reports import pack, periods
from panel.reports.disclosure import Shown
from tests.html.conftest import load_demo
from tests.shared_world import shared_world
from tests.html.crawl import crawl, sign_in
from tests.reports.board_attack import determined_by_totals, possible_values


# The demo is loaded once for the module; each test runs in a savepoint rolled back after it.
_demo_world, demo, app = shared_world(load_demo, name="demo")


def test_a_year_of_demo_history_gives_every_report_figures_some_suppressed(demo):
    today = london_today()
    year = periods.Period(today - timedelta(days=364), today)

    report = pack.build(year)

    states = [c.state for t in report.tables for c in t.counts]
    assert Shown.SMALL in states and Shown.WITHHELD in states and Shown.SHOWN in states
    for table in report.tables:
        assert table.rows and not table.whole_table_withheld, table.key
        assert any(c.number for c in table.counts), f"{table.key} shows no figure of 5 or more"
    assert max(w.places for w in pack.figures_module.occupancy(year, pack.figures_module.Days())) <= report.cap
    for key in ("time-to-decision", "time-in-pathway"):
        assert report.table(key).extra_total[0] not in (pack.NONE, pack.NOT_SHOWN), key


def test_the_default_quarter_of_the_demo_has_every_report(demo):
    report = pack.build(periods.default(london_today()))

    empty = [t.key for t in report.tables if not t.rows or not any(c.raw for c in t.counts)]
    assert empty == []


@pytest.mark.parametrize("which", [0, 4])  # the last complete quarter; the financial year to date
def test_nothing_suppressed_in_the_demo_reports_can_be_worked_out(demo, which):
    report = pack.build(periods.presets(london_today())[which])

    for table in report.tables:
        assert determined_by_totals(table.grid) == [], table.key
        if len(table.grid.suppressed()) <= 14:  # the full search, where it is quick
            values = possible_values(table.grid)
            assert all(len(v) >= 2 for v in values.values()), table.key


def _secrets() -> list[re.Pattern]:
    """Everything that would identify a demo person or their case."""
    words: set[str] = set()
    for person in db.session.scalars(sa.select(Person)):
        if person.given_name and person.family_name:
            words.add(f"{person.given_name} {person.family_name}")
        if len(person.family_name) >= 5:
            words.add(person.family_name)
        words.update(w for w in (person.nhs_number, person.postcode, person.address) if w)
        if person.date_of_birth:
            words.add(govuk_date(person.date_of_birth))
    words.update(db.session.scalars(sa.select(Case.reference)))
    words.update(r for r in db.session.scalars(sa.select(Referral.reference)) if r)
    return [re.compile(rf"(?<![\w-]){re.escape(w)}(?![\w-])") for w in words]


def test_the_board_sees_no_demo_person_anywhere_it_can_reach(demo, app, tmp_path):
    board = db.session.scalars(sa.select(User).filter_by(email="board@demo.invalid")).one()
    client = app.test_client()
    sign_in(client, board)
    secrets = _secrets()
    assert len(secrets) > 100

    pages = crawl(client)
    assert "/reports" in pages
    texts = dict(pages)
    for preset in periods.presets(london_today()):
        query = f"from={preset.start.isoformat()}&to={preset.end.isoformat()}"
        texts[f"/reports?{query}"] = client.get(f"/reports?{query}").get_data(as_text=True)
        texts[f"/reports/export.csv?{query}"] = client.get(f"/reports/export.csv?{query}").get_data(as_text=True)
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(client.get("/reports/pack.pdf").data)
    texts["/reports/pack.pdf"] = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                                                text=True).stdout

    assert {url.split("?")[0] for url in texts} >= {"/", "/reports", "/reports/export.csv", "/reports/pack.pdf"}
    for url, text in texts.items():
        found = [p.pattern for p in secrets if p.search(text)]
        assert found == [], url
