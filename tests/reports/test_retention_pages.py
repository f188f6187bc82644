"""The retention pages: the coordinator's list of records due for anonymisation in the next 30
days, placing and lifting a legal hold (with bad and hostile input), and nobody else reaching them."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from panel.dates import govuk_date
from panel.models import AuditAction, AuditEvent, LegalHold, LegalHoldKind, ReferralStatus, Role
from panel.reports import retention
from tests import factories
from tests.conftest import PG_URL, error_summary, page, post_form
from tests.html.test_html_valid import KNOWN_WARNINGS, run_vnu
from tests.reports import retention_world
from tests.reports.retention_world import years_ago


@pytest.fixture
def world(app, db):
    built = retention_world.build()
    db.session.commit()
    return built


def _hold(db, person_id: int) -> LegalHold | None:
    return db.session.scalar(sa.select(LegalHold).where(LegalHold.person_id == person_id,
                                                        LegalHold.lifted_at.is_(None)))


# ---- who may -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role if r != Role.COORDINATOR])
def test_nobody_but_a_coordinator_reaches_the_pages(world, client, login_as, db, role):
    login_as(role)
    hold = _hold(db, world.held.person_id)

    for url in ("/retention", f"/retention/people/{world.old.person_id}/hold", f"/retention/holds/{hold.id}/lift"):
        assert client.get(url).status_code == 404, url
    for url in (f"/retention/people/{world.old.person_id}/hold", f"/retention/holds/{hold.id}/lift"):
        assert client.post(url, data={"kind": "court_case", "reason": "x"}).status_code in (400, 404), url
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LegalHold)) == 2


def test_a_coordinator_whose_agencys_agreement_has_lapsed_gets_404(world, client, login_as):
    login_as("coordinator", agency=factories.create_agency(isa="lapsed"))

    assert client.get("/retention").status_code == 404


# ---- the list --------------------------------------------------------------------------------------


def test_the_list_shows_whats_due_in_the_next_30_days_and_every_hold(world, client, login_as, db):
    login_as(world.coordinator)
    # a case closed a little under six years ago: due in twelve days
    soon = retention_world.Adult("SOONMARK", retention_world._person("SOONMARK", "Sonny", "Soonish",
                                                                     date(1980, 1, 1), "", "LU1 1AA"))
    referral = retention_world._referral(world.police, soon.person, soon.marker,
                                         status=ReferralStatus.SUBMITTED,
                                         submitted=years_ago(world.today, 6, -10))
    retention_world._declined(referral, soon.marker, years_ago(world.today, 6, -12), world.coordinator)
    db.session.commit()

    response = client.get("/retention")

    assert response.status_code == 200
    soup = page(response)
    assert soup.h1.get_text(strip=True) == "Records due for anonymisation"
    due = soup.select_one("#due")
    rows = {tr["id"]: tr.get_text(" ", strip=True) for tr in due.select("tbody tr")}
    assert set(rows) == {f"person-{world.old.person_id}", f"person-{world.held.person_id}",
                         f"person-{soon.person_id}"}
    old = rows[f"person-{world.old.person_id}"]
    assert world.old.case.reference in old and "OO" in old and "Case closed on" in old and "Due now" in old
    assert "Place a legal hold" in old
    assert "Legal hold" in rows[f"person-{world.held.person_id}"]
    assert "Lift the legal hold" in rows[f"person-{world.held.person_id}"]
    assert "Referral declined on" in rows[f"person-{soon.person_id}"]
    assert govuk_date(retention.add_years(years_ago(world.today, 6, -12), 6)) in rows[f"person-{soon.person_id}"]
    held = soup.select_one("#held").get_text(" ", strip=True)
    assert world.held.case.reference in held and "An ongoing Safeguarding Adults Review" in held
    text = response.get_data(as_text=True)
    for name in ("recent", "mixed"):
        assert getattr(world, name).referrals[0].reference not in text
    for adult in (world.old, world.held):
        assert adult.person.given_name not in text and adult.person.family_name not in text
    viewed = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_type == "retention"))
    assert viewed.action == AuditAction.VIEW and '"due": 3' in viewed.summary


def test_the_list_costs_the_same_queries_however_many_are_due(world, client, login_as, db, count_queries):
    login_as(world.coordinator)

    def cost() -> int:
        with count_queries() as counter:
            assert client.get("/retention").status_code == 200
        return counter.count

    few = cost()
    for n in range(4):
        adult = retention_world._person(f"MORE{n}MARK", "Mo", f"More{n}", date(1970, 1, 1), "", "")
        referral = retention_world._referral(world.police, adult, f"MORE{n}MARK",
                                             status=ReferralStatus.SUBMITTED,
                                             submitted=years_ago(world.today, 9))
        retention_world._declined(referral, f"MORE{n}MARK", years_ago(world.today, 9), world.coordinator)
    db.session.commit()

    assert cost() == few


def test_the_list_says_when_nothing_is_due(app, client, login_as):
    login_as("coordinator")

    soup = page(client.get("/retention"))

    assert "No records are due for anonymisation in the next 30 days." in soup.select_one("#due").get_text()
    assert "No records are under a legal hold." in soup.select_one("#held").get_text()


# ---- placing a hold ------------------------------------------------------------------------------


def test_a_coordinator_places_a_legal_hold_and_the_job_then_leaves_the_records(world, client, login_as, db):
    login_as(world.coordinator)
    url = f"/retention/people/{world.old.person_id}/hold"
    form = page(client.get(url))
    assert form.h1.get_text(strip=True) == "Place a legal hold"
    assert {i["value"] for i in form.select("input[name=kind]")} == {k.value for k in LegalHoldKind}

    response = post_form(client, url, {"kind": "court_case", "details": "Crown Court ref T2027/0142"})

    assert response.status_code == 302 and response.headers["Location"].endswith("/retention")
    hold = _hold(db, world.old.person_id)
    assert (hold.kind, hold.details, hold.placed_by_id) == (LegalHoldKind.COURT_CASE, "Crown Court ref T2027/0142",
                                                            world.coordinator.id)
    entry = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_type == "legal_hold",
                                                          AuditEvent.object_id == str(hold.id),
                                                          AuditEvent.action == AuditAction.CREATE))
    assert "T2027" not in entry.summary and '"kind": "court_case"' in entry.summary
    banner = page(client.get("/retention")).select_one(".govuk-notification-banner").get_text(" ", strip=True)
    assert "are now under a legal hold" in banner and world.old.case.reference in banner
    assert retention.run_retention(world.today) == {"anonymised": 0, "held": 2}


def test_a_double_submit_places_one_hold(world, client, login_as, db):
    login_as(world.coordinator)
    url = f"/retention/people/{world.old.person_id}/hold"
    token = page(client.get(url)).find("input", attrs={"name": "csrf_token"})["value"]
    data = {"kind": "safeguarding_adults_review", "details": "", "csrf_token": token}

    first = client.post(url, data=data)
    second = client.post(url, data=data)

    assert first.status_code == second.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LegalHold).where(
        LegalHold.person_id == world.old.person_id, LegalHold.lifted_at.is_(None))) == 1
    assert "were already under a legal hold" in page(client.get("/retention")).get_text()


@pytest.mark.parametrize(("data", "message", "field"), [
    ({}, "Select why the records must be kept", "kind"),
    ({"kind": "nonsense", "details": "x"}, "Select why the records must be kept", "kind"),
    ({"kind": "other", "details": "  \t "}, "Enter the legal reason for the hold", "details"),
    ({"kind": "other", "details": "x" * 1001}, "The details must be 1,000 characters or fewer", "details"),
])
def test_bad_input_gets_a_govuk_error_and_keeps_what_was_typed(world, client, login_as, db, data, message, field):
    login_as(world.coordinator)
    url = f"/retention/people/{world.old.person_id}/hold"

    response = post_form(client, url, data)

    assert response.status_code == 200
    assert error_summary(response) == [message]
    soup = page(response)
    assert soup.title.get_text().startswith("Error: ")
    assert soup.select_one(f"#{field}-error") is not None
    if "details" in data:
        assert soup.select_one("textarea[name=details]").get_text().strip() == data["details"].strip()
    assert _hold(db, world.old.person_id) is None


def test_hostile_details_are_kept_as_typed_and_shown_escaped(world, client, login_as, db):
    login_as(world.coordinator)
    hostile = "<script>alert('x')</script>'; DROP TABLE legal_holds; --\x07\u202e"

    response = post_form(client, f"/retention/people/{world.old.person_id}/hold", {"kind": "other", "details": hostile})

    assert response.status_code == 302
    hold = _hold(db, world.old.person_id)
    assert hold.details == "<script>alert('x')</script>'; DROP TABLE legal_holds; --"
    shown = client.get(f"/retention/holds/{hold.id}/lift").get_data(as_text=True)
    assert "<script>alert" not in shown and "&lt;script&gt;alert(" in shown


@pytest.mark.parametrize("path", ["/retention/people/999999/hold", "/retention/people/99999999999/hold",
                                  "/retention/people/abc/hold", "/retention/holds/999999/lift",
                                  "/retention/holds/-1/lift"])
def test_unknown_records_answer_404(world, client, login_as, path):
    login_as(world.coordinator)

    assert client.get(path).status_code == 404


def test_an_anonymised_person_cannot_be_held(world, client, login_as):
    retention.run_retention(world.today)
    login_as(world.coordinator)

    assert client.get(f"/retention/people/{world.old.person_id}/hold").status_code == 404


def test_a_post_without_its_csrf_token_is_refused(world, client, login_as, db):
    login_as(world.coordinator)

    response = client.post(f"/retention/people/{world.old.person_id}/hold", data={"kind": "court_case"})

    assert response.status_code == 400
    assert _hold(db, world.old.person_id) is None


# ---- lifting a hold --------------------------------------------------------------------------------


def test_a_coordinator_lifts_a_hold_with_a_reason_and_the_next_run_anonymises(world, client, login_as, db):
    login_as(world.coordinator)
    hold = _hold(db, world.held.person_id)
    url = f"/retention/holds/{hold.id}/lift"
    soup = page(client.get(url))
    assert soup.h1.get_text(strip=True) == "Lift the legal hold"
    assert "HELDMARK SAR 2027/3" in soup.get_text()

    missing = post_form(client, url, {"reason": ""})
    assert error_summary(missing) == ["Enter why the hold is being lifted"]
    too_long = post_form(client, url, {"reason": "y" * 1001})
    assert error_summary(too_long) == ["Why the hold is being lifted must be 1,000 characters or fewer"]

    token = page(client.get(url)).find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(url, data={"reason": "The review has reported", "csrf_token": token})

    assert response.status_code == 302
    db.session.expire_all()
    lifted = db.session.get(LegalHold, hold.id)
    assert lifted.lifted_at is not None and lifted.lift_reason == "The review has reported"
    assert lifted.lifted_by_id == world.coordinator.id
    again = client.post(url, data={"reason": "Again", "csrf_token": token})  # the form sent twice
    assert again.status_code == 302
    assert db.session.get(LegalHold, hold.id).lift_reason == "The review has reported"
    assert "This legal hold was lifted on" in page(client.get(url)).get_text()
    assert retention.run_retention(world.today) == {"anonymised": 2, "held": 0}


# ---- valid HTML ----------------------------------------------------------------------------------


@pytest.mark.skipif(bool(PG_URL), reason="the HTML is the same on either database: checked on SQLite")
def test_the_pages_are_valid_html(world, client, login_as, db, tmp_path):
    login_as(world.coordinator)
    hold = _hold(db, world.held.person_id)
    pages = {
        "list.html": client.get("/retention"),
        "hold.html": client.get(f"/retention/people/{world.old.person_id}/hold"),
        "hold-error.html": post_form(client, f"/retention/people/{world.old.person_id}/hold", {"kind": "other"}),
        "held-already.html": client.get(f"/retention/people/{world.held.person_id}/hold"),
        "lift.html": client.get(f"/retention/holds/{hold.id}/lift"),
        "lift-error.html": post_form(client, f"/retention/holds/{hold.id}/lift", {"reason": ""}),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        (tmp_path / name).write_text(response.get_data(as_text=True), encoding="utf-8")

    messages = run_vnu(tmp_path)

    problems = [f"{m.get('url', '').rsplit('/', 1)[-1]}: {m.get('message')}" for m in messages
                if m["type"] in ("error", "non-document-error")
                or (m["type"] == "info" and m.get("subType") == "warning" and m["message"] not in KNOWN_WARNINGS)]
    assert problems == []
