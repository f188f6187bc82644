"""The referrer's drafts: the list (with a fixed number of queries), resuming, deleting, and
answers that outlive the session they were typed in."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from panel.dates import LONDON
from panel.extensions import db
from panel.models import (
    AgencyKind,
    AuditAction,
    AuditEvent,
    Involvement,
    Person,
    Referral,
    ReferralStatus,
    RiskLevel,
    Role,
)
from panel.referrals import services
from tests import factories
from tests.conftest import csrf_token, page, post_form


@pytest.fixture
def agency(app):
    return factories.create_agency(code="police", name="Test Police", kind=AgencyKind.POLICE)


@pytest.fixture
def practitioner(login_as, agency):
    return login_as("practitioner", agency=agency, email="pat@police.test")


def _draft(user, agency, *, given="", family="", complete=False) -> Referral:
    referral = services.start_draft(by=user)
    if complete:
        given, family = given or "Ada", family or "Lovelace"
    person = {"given_name": given, "family_name": family}
    answers = {}
    involvements = None
    if complete:
        person.update(date_of_birth=date(1980, 2, 29), interpreter_needed=False, address="1 High Street",
                      postcode="LU1 2AB")
        answers = {"lives_in_area": True, "single_agency_tried": True, "needs": ["housing"],
                   "risk_level": RiskLevel.HIGH, "risk_summary": "Risks", "tried_already": "Tried",
                   "consent_given": True, "manager_name": "Morgan Manager"}
        involvements = [{"agency_id": agency.id, "named_worker": "PC Beat"}]
    services.update_answers(referral, by=user, person=person, answers=answers, involvements=involvements)
    return referral


def _rows(response) -> list:
    return page(response).select("table tbody tr")


def _link(row, text: str):
    return next((a for a in row.select("a") if a.get_text(" ", strip=True).startswith(text)), None)


def test_the_drafts_list_shows_each_draft_without_the_persons_name(client, practitioner, agency):
    named = _draft(practitioner, agency, given="Zebedee", family="Quartermain")
    unnamed = _draft(practitioner, agency)
    db.session.commit()

    response = client.get("/referrals/drafts")

    rows = _rows(response)
    assert len(rows) == 2
    labels = sorted(r.th.get_text(" ", strip=True) for r in rows)
    # the London date of when each draft was stamped (by the database clock, which time_machine does
    # not move), not the server's date: from 23:00 UTC in summer it is already tomorrow in London
    started = [r.created_at.astimezone(LONDON).date() for r in (unnamed, named)]
    assert labels == sorted([f"Draft started {started[0].day} {started[0]:%B %Y}",
                             f"Draft started {started[1].day} {started[1]:%B %Y} (Z Q)"])
    assert "Zebedee" not in response.get_data(as_text=True)
    for a in page(response).select("table a"):
        assert "Zebedee" not in a["href"] and "Quartermain" not in a["href"]


def test_continue_goes_to_the_first_unanswered_page_or_check_answers(client, practitioner, agency):
    named = _draft(practitioner, agency, given="Zebedee", family="Quartermain")
    done = _draft(practitioner, agency, given="Ada", family="Done", complete=True)
    empty = _draft(practitioner, agency)
    db.session.commit()

    response = client.get("/referrals/drafts")

    links = {r.th.get_text(" ", strip=True): _link(r, "Continue")["href"] for r in _rows(response)}
    by_initials = {k.split("(")[-1].rstrip(")") if "(" in k else "": v for k, v in links.items()}
    assert by_initials["Z Q"] == f"/referrals/{named.id}/date-of-birth"
    assert by_initials["A D"] == f"/referrals/{done.id}/check"
    assert by_initials[""] == f"/referrals/{empty.id}/about-the-person"
    assert client.get(by_initials["A D"]).status_code == 200


def test_only_your_own_drafts_and_referrals_sent_back_are_listed(client, practitioner, agency):
    mine = _draft(practitioner, agency, complete=True)
    sent_back = _draft(practitioner, agency, given="Ben", family="Back", complete=True)
    submitted = _draft(practitioner, agency, given="Sam", family="Sent", complete=True)
    colleague = factories.create_user(agency=agency)
    _draft(colleague, agency, given="Col", family="League")
    services.submit(sent_back, by=practitioner)
    services.submit(submitted, by=practitioner)
    coordinator = factories.create_user(role=Role.COORDINATOR)
    services.request_information(sent_back, by=coordinator, request="More please")
    db.session.commit()

    response = client.get("/referrals/drafts")

    rows = {r.th.get_text(" ", strip=True): r for r in _rows(response)}
    assert len(rows) == 2
    back_label = f"Referral {sent_back.reference} (B B)"
    assert back_label in rows
    assert "More information requested" in rows[back_label].get_text()
    assert _link(rows[back_label], "Delete") is None  # sent back: withdraw, not delete
    assert "C L" not in response.get_data(as_text=True)
    assert mine.id


def test_a_draft_is_deleted_after_confirming(client, practitioner, agency):
    referral = _draft(practitioner, agency, given="Zebedee", family="Quartermain")
    referral_id, person_id = referral.id, referral.person_id
    db.session.commit()

    confirm = client.get(f"/referrals/{referral_id}/delete")
    assert confirm.status_code == 200
    assert page(confirm).h1.get_text(strip=True) == "Are you sure you want to delete this draft?"
    response = post_form(client, f"/referrals/{referral_id}/delete", {}, follow_redirects=True)

    assert "The draft has been deleted." in page(response).get_text()
    assert _rows(response) == []
    db.session.expire_all()
    assert db.session.get(Referral, referral_id) is None
    assert db.session.get(Person, person_id) is None
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.DELETE, AuditEvent.object_id == str(referral_id))).scalar_one() == 1


def test_a_draft_with_agencies_is_deleted_with_them(client, practitioner, agency):
    referral_id = _draft(practitioner, agency, complete=True).id
    db.session.commit()
    post_form(client, f"/referrals/{referral_id}/delete", {})
    assert db.session.execute(sa.select(sa.func.count()).select_from(Involvement)).scalar_one() == 0


def test_only_the_author_can_delete_a_draft(app, client, login_as, agency):
    author = factories.create_user(agency=agency)
    referral_id = _draft(author, agency).id
    db.session.commit()
    login_as("spoc", agency=agency)
    token = csrf_token(client, "/account/password")
    assert client.get(f"/referrals/{referral_id}/delete").status_code == 404
    assert client.post(f"/referrals/{referral_id}/delete", data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Referral, referral_id) is not None


def test_a_referral_sent_back_cannot_be_deleted(client, practitioner, agency):
    referral = _draft(practitioner, agency, complete=True)
    services.submit(referral, by=practitioner)
    services.request_information(referral, by=factories.create_user(role=Role.COORDINATOR), request="More")
    referral_id = referral.id
    db.session.commit()
    token = csrf_token(client, "/account/password")
    assert client.get(f"/referrals/{referral_id}/delete").status_code == 404
    assert client.post(f"/referrals/{referral_id}/delete", data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Referral, referral_id).status == ReferralStatus.INFO_REQUESTED


def test_answers_survive_signing_out_and_in_again(client, agency):
    factories.create_user(agency=agency, email="pat@police.test")
    db.session.commit()
    post_form(client, "/login", {"email": "pat@police.test", "password": factories.PASSWORD})
    response = post_form(client, "/referrals/new", {})
    referral_id = int(re.search(r"/referrals/(\d+)/", response.headers["Location"]).group(1))
    post_form(client, f"/referrals/{referral_id}/about-the-person", {"given_name": "Zebedee", "family_name": "Q"})
    post_form(client, f"/referrals/{referral_id}/address", {"address": "1 High Street", "postcode": "lu1 2ab"})

    post_form(client, "/logout", {})
    assert client.get("/referrals/drafts").status_code == 302  # signed out
    post_form(client, "/login", {"email": "pat@police.test", "password": factories.PASSWORD})

    drafts = client.get("/referrals/drafts")
    assert len(_rows(drafts)) == 1
    form = page(client.get(f"/referrals/{referral_id}/about-the-person"))
    assert form.select_one("input[name=given_name]")["value"] == "Zebedee"
    form = page(client.get(f"/referrals/{referral_id}/address"))
    assert form.select_one("input[name=postcode]")["value"] == "LU1 2AB"


def test_no_drafts(client, practitioner):
    response = client.get("/referrals/drafts")
    assert "You have no drafts." in page(response).get_text()


def test_an_agency_without_a_current_isa_sees_why_not_its_drafts(client, login_as):
    login_as("practitioner", agency=factories.create_agency(isa="lapsed"))
    response = client.get("/referrals/drafts")
    assert "past its review date" in page(response).get_text()


def _count_list_queries(client, count_queries) -> int:
    with count_queries() as counter:
        response = client.get("/referrals/drafts")
    assert response.status_code == 200
    return counter.count


def test_the_drafts_list_runs_the_same_queries_for_2_and_20_drafts(client, practitioner, agency, count_queries):
    other = factories.create_agency(code="housing", name="Test Housing")
    for i in range(2):
        _draft(practitioner, agency, given=f"G{i}", family="F", complete=True)
    db.session.commit()
    few = _count_list_queries(client, count_queries)

    for i in range(18):
        referral = _draft(practitioner, agency, given=f"H{i}", family="F", complete=i % 2 == 0)
        services.update_answers(referral, by=practitioner, involvements=[{"agency_id": agency.id},
                                                                          {"agency_id": other.id}])
    db.session.commit()
    many = _count_list_queries(client, count_queries)

    assert len(_rows(client.get("/referrals/drafts"))) == 20
    assert few == many
