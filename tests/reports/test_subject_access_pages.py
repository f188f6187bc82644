"""Subject-access requests, the pages: coordinators only (everyone else, and a coordinator whose
agency's information sharing agreement is not current, gets 404); the journey through the test
client (search by POST, open a request, the deadline on the home page, review and withhold,
make and download the release, close); GOV.UK error messages for bad and hostile input, with
what was typed kept; every view and download audited; a fixed number of queries."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from panel.dates import govuk_date, london_today
from panel.extensions import db
from panel.models import AuditAction, AuditEvent, Role, SubjectAccessRequest, SubjectAccessStatus
from panel.reports import subject_access as services
from tests import factories
from tests.conftest import error_summary, page, post_form
from tests.reports import subject_access_world

ROLES = [r for r in Role if r != Role.COORDINATOR]


@pytest.fixture
def world(db):
    return subject_access_world.build()


def _d(day) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def _sar(world, days_ago: int = 10) -> SubjectAccessRequest:
    sar, _ = services.open_request(world.a.person, received_on=london_today() - timedelta(days=days_ago),
                                   by=world.coordinator)
    db.session.commit()
    return sar


def _base(world, sar) -> str:
    return f"/people/{world.a.person.id}/subject-access/{sar.id}"


def _entry_url(world, sar, field: str = "worker_view") -> str:
    from panel.models import EngagementAttempt

    attempt = db.session.scalars(sa.select(EngagementAttempt).where(EngagementAttempt.case_id == world.a.case.id)).one()
    return f"{_base(world, sar)}/withhold?entry=engagement_attempt:{attempt.id}:{field}"


def _text(response) -> str:
    return page(response).get_text(" ", strip=True)


# ---- who may -------------------------------------------------------------------------------------


def _pages(world, sar) -> list[str]:
    return ["/people/subject-access", f"/people/{world.a.person.id}/subject-access", _base(world, sar),
            f"{_base(world, sar)}/review", _entry_url(world, sar), f"{_base(world, sar)}/release.pdf",
            f"{_base(world, sar)}/release.json"]


def test_a_coordinator_reaches_every_page(world, client, login_as):
    sar = _sar(world)
    services.create_release(sar, by=world.coordinator, service_name="Panel")
    db.session.commit()
    login_as(world.coordinator)
    for url in _pages(world, sar):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_everyone_else_gets_404_from_every_page_and_every_form(world, client, login_as, role):
    sar = _sar(world)
    login_as(role, agency=world.host)
    for url in _pages(world, sar):
        assert client.get(url).status_code == 404, url
    for url in (f"{_base(world, sar)}/release", f"{_base(world, sar)}/close",
                f"{_base(world, sar)}/withheld/1/reinstate", f"/people/{world.a.person.id}/subject-access"):
        assert post_form(client, url, {}, token_from="/logout").status_code == 404, url
    assert db.session.scalar(sa.select(SubjectAccessRequest.release_document).where(
        SubjectAccessRequest.id == sar.id)) is None


def test_a_coordinator_whose_agency_cannot_open_case_records_gets_404(world, client, login_as):
    sar = _sar(world)
    login_as("coordinator", agency=factories.create_agency(isa="lapsed"))
    for url in _pages(world, sar):
        assert client.get(url).status_code == 404, url
    assert "Subject-access requests" not in _text(client.get("/"))


def test_records_that_are_not_there_answer_404(world, client, login_as):
    sar = _sar(world)
    draft_person = factories.create_referral(status="draft").person_id
    db.session.commit()
    login_as(world.coordinator)
    for url in (f"/people/{draft_person}/subject-access", f"/people/{world.b.person.id}/subject-access/{sar.id}",
                "/people/99999999/subject-access", f"{_base(world, sar)}/withhold?entry=agenda_item:{world.b.item.id}:notes",
                f"{_base(world, sar)}/withhold?entry=engagement_attempt:1:nonsense", f"/people/{2**40}/subject-access"):
        assert client.get(url).status_code == 404, url
    without_entry = client.get(f"{_base(world, sar)}/withhold")
    assert without_entry.status_code == 302 and without_entry.headers["Location"].endswith("/review")


# ---- the journey --------------------------------------------------------------------------------


def test_a_coordinator_finds_the_person_opens_a_request_and_sees_the_deadline(world, client, login_as):
    login_as(world.coordinator)
    found = post_form(client, "/people/subject-access", {"q": "quillfeather", "date_of_birth": ["", "", ""]})
    assert found.status_code == 200
    link = page(found).select_one("#people-found a")
    assert link.get_text(strip=True) == "Winifred Quillfeather"
    assert "Zanzibar" not in _text(found)
    assert page(found).select_one("#person-search")["method"] == "post"  # what was searched for never goes in an address

    received = london_today() - timedelta(days=3)
    opened = post_form(client, link["href"], {"received_on": _d(received)})
    assert opened.status_code == 302
    sar = db.session.scalars(sa.select(SubjectAccessRequest)).one()
    assert opened.headers["Location"].endswith(_base(world, sar))
    due = services.deadline(received)
    shown = _text(client.get(opened.headers["Location"]))
    assert f"due by {govuk_date(due)}" in shown
    assert services.countdown(due, london_today()) in shown

    home = page(client.get("/"))
    row = home.select_one("#subject-access tbody tr").get_text(" ", strip=True)
    assert f"Request {sar.id}" in row and "WQ" in row and services.countdown(due, london_today()) in row
    assert "Quillfeather" not in home.get_text()  # initials only on the home page


def test_the_review_withholding_release_and_closing_by_the_pages(world, client, login_as, tmp_path):
    sar = _sar(world)
    login_as(world.coordinator)
    review = page(client.get(f"{_base(world, sar)}/review"))
    assert "Aardvarkian worker view" in review.get_text()
    assert "Bumblewick" not in review.get_text() and "Zanzibar" not in review.get_text()
    withhold_links = review.select("a[href*='/withhold?entry=']")
    assert _entry_url(world, sar) in {unquote(a["href"]) for a in withhold_links}
    assert len(withhold_links) == len(world.a.texts)  # every free text about them, nobody else's

    done = post_form(client, _entry_url(world, sar), {"part": "part", "passage": "worker view",
                                                      "reason": "third_party", "note": ""})
    assert done.status_code == 302
    assert "Partly withheld" in _text(client.get(f"{_base(world, sar)}/review"))
    assert "Information about someone else" in _text(client.get(_base(world, sar)))

    made = post_form(client, f"{_base(world, sar)}/release", {}, token_from=_base(world, sar))
    assert made.status_code == 302
    pdf = client.get(f"{_base(world, sar)}/release.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.headers["Cache-Control"] == "private, no-store"
    assert pdf.headers["Content-Disposition"] == f'inline; filename="subject-access-{sar.id}.pdf"'
    download = client.get(f"{_base(world, sar)}/release.json")
    assert download.headers["Content-Disposition"] == f'attachment; filename="subject-access-{sar.id}.json"'
    release = json.loads(download.get_data(as_text=True))
    assert release["marking"] == "OFFICIAL-SENSITIVE" and release["for"] == "Winifred Quillfeather"
    assert "Aardvarkian worker view" not in json.dumps(release) and "Aardvarkian persons words" in json.dumps(release)
    files = [json.loads(e.summary)["file"] for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.EXPORT, AuditEvent.object_type == "subject_access_request"))]
    assert files == ["pdf", "json"]

    closed = post_form(client, f"{_base(world, sar)}/close", {"sent_on": _d(london_today())},
                       token_from=_base(world, sar), follow_redirects=True)
    assert f"the release was sent on {govuk_date(london_today())}" in _text(closed)
    db.session.expire_all()
    assert db.session.get(SubjectAccessRequest, sar.id).status == SubjectAccessStatus.CLOSED
    assert "Withhold" not in [a.get_text(strip=True) for a in page(client.get(f"{_base(world, sar)}/review")).select("a")]
    refused = post_form(client, _entry_url(world, sar, "persons_words"), {"part": "all", "reason": "third_party"},
                        token_from="/logout")
    assert refused.status_code == 200 and db.session.scalar(sa.select(sa.func.count()).select_from(
        sa.table("subject_access_withholdings"))) == 1


def test_making_the_release_again_after_reinstating(world, client, login_as):
    sar = _sar(world)
    login_as(world.coordinator)
    post_form(client, _entry_url(world, sar), {"part": "all", "reason": "serious_harm", "note": "GP advice"})
    post_form(client, f"{_base(world, sar)}/release", {}, token_from=_base(world, sar))
    withholding = db.session.scalars(sa.select(SubjectAccessRequest)).one().withholdings[0]
    post_form(client, f"{_base(world, sar)}/withheld/{withholding.id}/reinstate", {}, token_from=_base(world, sar))
    shown = _text(client.get(_base(world, sar)))
    assert "What is withheld has changed since the release was made" in shown
    refused = post_form(client, f"{_base(world, sar)}/close", {"sent_on": _d(london_today())},
                        token_from=_base(world, sar))
    assert error_summary(refused) == ["What is withheld has changed since the release was made. Make the release "
                                      "again before closing the request"]


# ---- bad and hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    ({"q": "", "date_of_birth": ["", "", ""]}, "Enter a name, NHS number or case reference, or a date of birth"),
    ({"q": "<script>alert(1)</script>"}, "The search must not include the characters < or >"),
    ({"q": "x" * 101}, "The search must be 100 characters or fewer"),
    ({"q": "Ann\x07"}, None),  # a control character is cleaned away, not an error
    ({"q": "", "date_of_birth": ["31", "2", "1980"]}, "Date of birth must be a real date"),
    ({"q": "", "date_of_birth": ["1", "", "1980"]}, "Date of birth must include a month"),
])
def test_bad_searches_get_a_message_and_keep_what_was_typed(world, client, login_as, data, message):
    login_as(world.coordinator)
    response = post_form(client, "/people/subject-access", data)
    assert response.status_code == 200
    if message is None:
        assert error_summary(response) == [] and "0 people found" in _text(response)
        return
    assert error_summary(response) == [message]
    assert page(response).title.get_text().startswith("Error: ")
    if data.get("q"):
        assert page(response).select_one("#person-search input[name=q]")["value"] == data["q"]


def test_a_search_like_sql_finds_nothing_and_breaks_nothing(world, client, login_as):
    login_as(world.coordinator)
    response = post_form(client, "/people/subject-access", {"q": "' OR 1=1; DROP TABLE persons; --"})
    assert "0 people found" in _text(response)
    assert "Quillfeather" in _text(post_form(client, "/people/subject-access", {"q": "Quillfeather"}))


@pytest.mark.parametrize(("value", "message"), [
    (["", "", ""], "Enter the date the request was received"),
    (["31", "2", "2027"], "The date the request was received must be a real date"),
    (["<b>", "1", "2027"], "The date the request was received must be a real date"),
    ("future", "The date the request was received must be today or in the past"),
])
def test_opening_a_request_needs_a_real_past_date(world, client, login_as, value, message):
    login_as(world.coordinator)
    if value == "future":
        value = _d(london_today() + timedelta(days=1))
    response = post_form(client, f"/people/{world.a.person.id}/subject-access", {"received_on": value})
    assert error_summary(response) == [message]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SubjectAccessRequest)) == 0
    assert [i["value"] for i in page(response).select("input[name=received_on]")] == value


def test_opening_twice_makes_one_request(world, client, login_as):
    login_as(world.coordinator)
    url = f"/people/{world.a.person.id}/subject-access"
    data = {"received_on": _d(london_today())}
    post_form(client, url, data)
    again = post_form(client, url, data, token_from="/people/subject-access", follow_redirects=True)
    assert "was already open for this person" in _text(again)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SubjectAccessRequest)) == 1


@pytest.mark.parametrize(("data", "messages"), [
    ({}, ["Select how much of it is withheld", "Select why it is withheld"]),
    ({"part": "part", "passage": "", "reason": "third_party"}, ["Enter the passage to withhold, copied from the entry"]),
    ({"part": "part", "passage": "<script>x</script>", "reason": "third_party"},
     ["The passage must be copied exactly from the entry"]),
    ({"part": "all", "reason": "wizardry"}, ["Select why it is withheld"]),
    ({"part": "some", "reason": "third_party"}, ["Select how much of it is withheld"]),
    ({"part": "all", "reason": "third_party", "note": "n" * 501}, ["The note must be 500 characters or fewer"]),
])
def test_withholding_needs_what_and_why(world, client, login_as, data, messages):
    sar = _sar(world)
    login_as(world.coordinator)
    response = post_form(client, _entry_url(world, sar), data)
    assert response.status_code == 200
    assert error_summary(response) == messages
    assert services.current_withholdings(sar) == []
    if data.get("passage"):
        assert page(response).select_one("textarea[name=passage]").get_text() == data["passage"]


def test_closing_before_the_release_or_with_a_bad_date_says_why(world, client, login_as):
    sar = _sar(world)
    login_as(world.coordinator)
    refused = post_form(client, f"{_base(world, sar)}/close", {"sent_on": _d(london_today())},
                        token_from=_base(world, sar))
    assert error_summary(refused) == ["Make the release before closing the request"]
    post_form(client, f"{_base(world, sar)}/release", {}, token_from=_base(world, sar))
    for value, message in ((["", "", ""], "Enter the date the release was sent"),
                           (["99", "99", "2027"], "The date the release was sent must be a real date"),
                           (_d(london_today() - timedelta(days=30)),
                            "The date the release was sent must be on or after the date the request was received, "
                            f"{govuk_date(london_today() - timedelta(days=10))}")):
        response = post_form(client, f"{_base(world, sar)}/close", {"sent_on": value}, token_from=_base(world, sar))
        assert error_summary(response) == [message]
        assert page(response).title.get_text().startswith("Error: ")
    db.session.expire_all()
    assert db.session.get(SubjectAccessRequest, sar.id).status == SubjectAccessStatus.OPEN


# ---- audit and queries ----------------------------------------------------------------------------


def test_every_page_view_is_audited_without_personal_data(world, client, login_as):
    sar = _sar(world)
    login_as(world.coordinator)
    for url in _pages(world, sar)[1:5]:
        client.get(url)
    post_form(client, "/people/subject-access", {"q": "Quillfeather"})
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.VIEW,
                                                          AuditEvent.user_id == world.coordinator.id)).all()
    pages = [json.loads(r.summary).get("page") for r in rows if r.object_type in ("subject_access_request", "person")]
    assert {"subject_access", "request", "review", "withhold", "find"} <= set(pages)
    everything = " ".join(r.summary + r.object_id for r in db.session.scalars(sa.select(AuditEvent)))
    for words in ("Quillfeather", "Winifred", "Aardvarkian", "4010232137"):
        assert words not in everything


@pytest.mark.parametrize("suffix", ["", "/review"])
def test_the_request_pages_take_a_fixed_number_of_queries(world, client, login_as, count_queries, suffix):
    sar = _sar(world)
    login_as(world.coordinator)
    url = _base(world, sar) + suffix
    client.get(url)
    with count_queries() as small:
        assert client.get(url).status_code == 200
    subject_access_world.more_of_everything(world.a, world, 5)
    db.session.commit()
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert large.count == small.count


def test_the_demo_data_has_one_open_request_on_the_coordinators_home_page(app, db, client):
    from panel.models import User
    from tests.html.conftest import load_demo
    from tests.html.crawl import sign_in

    load_demo(app)
    sar = db.session.scalars(sa.select(SubjectAccessRequest)).one()
    assert sar.status == SubjectAccessStatus.OPEN and sar.person.full_name == "Alex Sample"
    assert sar.due_on == services.deadline(sar.received_on)
    sign_in(client, db.session.scalars(sa.select(User).where(User.email == "coordinator@demo.invalid")).one())
    row = page(client.get("/")).select_one("#subject-access tbody tr").get_text(" ", strip=True)
    assert f"Request {sar.id}" in row and "AS" in row and services.countdown(sar.due_on, london_today()) in row


def test_the_request_page_counts_each_part_as_the_release_holds_it(world, client, login_as):
    """The request page reads the bundle without the audit trail's section (which grows with
    every view of the request's pages) and counts that section instead: the counts are the
    release's, the trail's included, however often the pages were viewed."""
    from panel.models import utcnow
    from panel.reports import subject_access_bundle as bundles

    sar = _sar(world)
    login_as(world.coordinator)
    for _ in range(3):
        assert client.get(f"{_base(world, sar)}/review").status_code == 200
    full = bundles.gather(world.a.person.id, now=utcnow())  # as the page reads it, before its own view
    db.session.rollback()
    shown = page(client.get(_base(world, sar)))
    rows = [[cell.get_text(strip=True) for cell in tr.select("th, td")] for tr in shown.select("#counts tbody tr")]
    assert rows == [[heading, str(number)] for heading, number in bundles.counts(full)]
    assert rows[-1][0] == bundles.TRAIL and int(rows[-1][1]) >= 4  # the request's own views are in it
