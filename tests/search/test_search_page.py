"""The search page: every search audited with its words; hostile, empty or overlong input gets a
GOV.UK error message (never a 500) and keeps what was typed; the words never reach a log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.models import AuditAction, AuditEvent, CaseStatus, ReferralStatus, Role
from panel.ops import logs
from tests import factories
from tests.conftest import PG_URL, error_summary, page
from tests.html.test_html_valid import KNOWN_WARNINGS, run_vnu
from tests.search import world


def _searches() -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "search")
                                   .order_by(AuditEvent.id)))


def test_every_search_is_audited_with_its_words_and_how_many_it_found(client, login_as):
    user = login_as(Role.COORDINATOR)
    factories.create_referral(given_name="Perpetua", family_name="Winterbottom")
    db.session.commit()

    client.get("/search", query_string={"q": "Perpetua Winterbotom"})
    client.get("/search", query_string={"q": "Nobody Atall"})

    first, second = _searches()
    assert (first.action, first.user_id) == (AuditAction.VIEW, user.id)
    assert '"q": "Perpetua Winterbotom"' in first.summary and '"results": 1' in first.summary
    assert '"q": "Nobody Atall"' in second.summary and '"results": 0' in second.summary


def test_the_page_without_words_is_only_the_form_and_is_not_audited(client, login_as):
    login_as(Role.SPOC)
    response = client.get("/search")
    assert response.status_code == 200
    assert page(response).select_one("h1 label[for=q]").get_text(strip=True) == "Search"
    assert _searches() == []


@pytest.mark.parametrize("q, message", [
    ("", "Enter a name, date of birth, NHS number, postcode or case or referral reference"),
    ("   ", "Enter a name, date of birth, NHS number, postcode or case or referral reference"),
    ("-- 12 !", "Enter a name, date of birth, NHS number, postcode or case or referral reference"),
    ("x" * 10000, "Search must be 100 characters or fewer"),
    ("31/2/1980", "Enter a real date of birth, for example 3/4/1980 or 3 April 1980"),
])
def test_nothing_to_search_by_or_too_much_is_an_error_that_keeps_what_was_typed(client, login_as, q, message):
    login_as(Role.COORDINATOR)
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    assert error_summary(response) == [message]
    assert page(response).title.get_text().startswith("Error: ")
    assert page(response).select_one("input#q")["value"] == q.strip()
    assert _searches() == []


HOSTILE = [
    "<script>alert('x')</script>", "\"><img src=x onerror=alert(1)>", "'; DROP TABLE persons; --",
    "' OR '1'='1", "Robert'); DELETE FROM referrals;--", 'NEAR("a" "b") OR * ^ :', '"', "\x00\x01\x7f",
    "name\u202eevil", "%_\\", "𝔍𝔬𝔥𝔫 🙂", "Ω" * 99, "CASPA-9999-99999", "R-0000-0", "99/99/9999",
    "0000000000", "ZZ99 9ZZ", "a" * 100, "‮‭", "\t\n\r", "ﷺ", "Āā Ǆ ǅ",
]


@pytest.mark.parametrize("q", HOSTILE)
@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.SPOC])
def test_hostile_input_is_never_a_500_and_is_shown_escaped(client, login_as, q, role):
    login_as(role)
    factories.create_referral(given_name="Perpetua", family_name="Winterbottom")
    db.session.commit()
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "Winterbottom" not in html or q.startswith("𝔍")  # nothing unasked for


def test_a_hostile_search_is_audited_as_typed_less_control_characters(client, login_as):
    login_as(Role.COORDINATOR)
    client.get("/search", query_string={"q": "<b>Smith\x00</b>"})
    [row] = _searches()
    assert "<b>Smith</b>" in row.summary


def test_the_words_are_never_in_a_log_line(app, client, login_as, caplog):
    login_as(Role.COORDINATOR)
    caplog.set_level(logging.INFO)
    client.get("/search", query_string={"q": "Perpetua Winterbottom 3/4/1980"})

    [record] = [r for r in caplog.records if r.name == "panel.request"]
    assert record.endpoint == "search.search"
    for log_format in ("text", "json"):
        line = logs.make_formatter(log_format).format(record)
        assert "Perpetua" not in line and "1980" not in line
    # the development server's access line, as werkzeug writes it, loses its query string
    access = logging.getLogger("werkzeug").makeRecord(
        "werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s -',
        ("127.0.0.1", "GET /search?q=Perpetua+Winterbottom+3%2F4%2F1980 HTTP/1.1", "200"), None)
    line = logs.make_formatter("text").format(access)
    assert "Perpetua" not in line and "/search?[query]" in line


def test_results_say_what_was_searched_for_and_link_to_each_record(client, login_as):
    login_as(Role.COORDINATOR)
    agency = factories.create_agency(name="Agency Under Test")
    who = world.person("Perpetua", "Winterbottom", nhs="9434765919", postcode="LU1 2AB")
    case = world.case(who, lead=agency)
    db.session.commit()

    response = client.get("/search", query_string={"q": "winterbottom 943 476 5919"})
    said = " ".join(page(response).select_one("#searched-for").get_text(" ").split())
    assert said.startswith("Searched for the name “winterbottom”, NHS number 943 476 5919.")
    links = world.found(response)["links"]
    assert links == [f"/cases/{case.reference}", f"/referrals/{case.referral_id}"]
    item = " ".join(page(response).select_one("#people li").get_text(" ").split())
    assert "Agency Under Test" in item and "Postcode LU1 2AB" in item and "9434765919" not in item


@pytest.mark.skipif(bool(PG_URL), reason="the HTML is the same on either database: checked on SQLite")
def test_the_search_and_filter_pages_in_every_state_are_valid_html(client, login_as, tmp_path):
    """The Nu HTML Checker over each state the crawl of tests/html does not reach."""
    a, b = factories.create_agency(name="Agency A"), factories.create_agency(name="Agency B")
    spoc = factories.create_user(role=Role.SPOC, agency=b)
    who = world.person("Perpetua", "Winterbottom", other="Pet")
    case = world.case(who, lead=a, status=CaseStatus.CLOSED, step_down=b)
    world.referral(world.person("Perpetua", "Winterbotham"), agency=b, by=spoc, status=ReferralStatus.DRAFT)
    db.session.commit()
    pages = {}
    login_as(Role.COORDINATOR)
    for q in ("Winterbottom", "nobody", "", "x" * 101, case.reference):
        pages[f"coordinator {q[:20]!r}"] = client.get("/search", query_string={"q": q})
    pages["closed cases"] = client.get("/cases?show=closed")
    pages["referral filters with an error"] = client.get("/referrals?from=2027-02-31&panel=1")
    login_as(spoc)
    pages["spoc summary only"] = client.get("/search", query_string={"q": case.reference})
    pages["spoc draft"] = client.get("/search", query_string={"q": "Winterbotham"})
    for n, (name, response) in enumerate(pages.items()):
        assert response.status_code == 200, name
        (tmp_path / f"{n:02d}.html").write_text(response.get_data(as_text=True), encoding="utf-8")

    messages = run_vnu(tmp_path)

    problems = [f"{list(pages)[int(Path(m['url']).stem)]}: {m['message']}" for m in messages
                if m["type"] in ("error", "non-document-error")
                or (m.get("subType") == "warning" and m["message"] not in KNOWN_WARNINGS)]
    assert problems == []
