"""Each role's home page: what needs them today, each item linking to where it is dealt with and
counting what that page lists (the test opens the page and counts it there too); need to know
as the records' own pages; and the ISA warning."""

from __future__ import annotations

import re

import pytest

from panel.extensions import db
from tests import factories
from tests.conftest import page
from tests.main import home_world


@pytest.fixture
def world(app):
    built = home_world.build()
    db.session.commit()
    return built


def _count(soup, element_id: str) -> int:
    """The number a home page gives for one of its items (its link's data-count)."""
    return int(soup.select_one(f"#{element_id}")["data-count"])


def _href(soup, element_id: str) -> str:
    return soup.select_one(f"#{element_id}")["href"]


def _action_total(client, url: str) -> int:
    """The action log's or "our actions"' own count: "2 actions." or "No actions ..."."""
    text = page(client.get(url)).select_one("#action-count").get_text(" ", strip=True)
    found = re.match(r"(?:Showing \d+ to \d+ of )?(\d+) action", text)
    return int(found.group(1)) if found else 0


def _rows(soup, selector: str) -> list[str]:
    return [tr.get_text(" ", strip=True) for tr in soup.select(f"{selector} tbody tr")]


# ---- the coordinator ---------------------------------------------------------------------------


def test_the_coordinators_counts_are_those_of_the_pages_they_lead_to(client, login_as, world):
    login_as(world.users["coordinator"])
    home = page(client.get("/"))

    assert _count(home, "today-triage") == 2 and _href(home, "today-triage") == "/referrals/triage#to-triage"
    triage = page(client.get("/referrals/triage"))
    assert len(triage.select("table[aria-labelledby=to-triage] tbody tr")) == 2

    assert _count(home, "today-waiting") == 1 and _href(home, "today-waiting") == "/referrals/waiting"
    assert len(_rows(page(client.get("/referrals/waiting")), "#waiting")) == 1

    assert _count(home, "today-escalated") == 1
    assert _action_total(client, _href(home, "today-escalated")) == 1
    overdue = _count(home, "today-overdue")
    assert overdue >= 1 and _href(home, "today-overdue") == "/actions?overdue=y"
    assert _action_total(client, _href(home, "today-overdue")) == overdue

    mdt = world.meetings["mdt"]
    assert _count(home, "today-replies") == 3
    [row] = _rows(home, "#mdt-replies")
    assert world.cases["ours"].reference in row and row.endswith("3")
    link = home.select_one("#mdt-replies a")["href"]
    assert link == f"/meetings/{mdt.id}#invitations"
    attendees = _rows(page(client.get(f"/meetings/{mdt.id}")), "#attendees")
    assert sum("No reply yet" in row for row in attendees) == 3

    prep = home.select_one("#panel-prep").get_text(" ", strip=True)
    assert "Not published yet" in prep and "Sent to 3 people" in prep
    apologies = home.select_one("#prep-apologies")
    assert apologies.get_text(" ", strip=True) == "2 of 3 agencies, 1 with a written update"
    assert apologies["href"] == f"/meetings/{world.meetings['panel'].id}/attendance"
    assert _apologies_on_the_attendance_page(client, apologies["href"]) == 2
    assert "N of M" not in home.get_text() and home.select_one("#occupancy").get_text(strip=True).endswith(
        "places used")


def _apologies_on_the_attendance_page(client, url: str) -> int:
    soup = page(client.get(url))
    ticked = soup.select("input[type=radio][checked][value^=apologies]")
    if ticked or soup.select("input[type=radio]"):
        return len(ticked)
    return sum("Apologies" in row for row in _rows(soup, "main"))


def test_the_coordinator_finds_the_way_to_spoc_cover(client, login_as, world):
    login_as(world.users["coordinator"])
    links = [a["href"] for a in page(client.get("/")).select("#pathway-links a")]
    assert "/agencies" in links


# ---- the chair -------------------------------------------------------------------------------------


def test_the_chair_has_a_home_of_their_own_with_the_counts_of_the_pages(client, login_as, world):
    login_as(world.users["chair"])
    home = page(client.get("/"))

    assert _count(home, "today-escalations") == 2
    assert _action_total(client, _href(home, "today-escalations")) == 2
    listed = {a.get_text(strip=True) for a in home.select("#escalations a")}
    assert listed == {f"Action {world.actions['housing overdue'].id}", f"Action {world.actions['theirs overdue'].id}"}

    closing = world.cases["closing"]
    assert _count(home, "today-closures") == 1
    assert home.select_one("#closures a")["href"] == f"/cases/{closing.reference}/closure/decision"
    cases = _rows(page(client.get("/cases")), "main table")
    assert sum("Closure proposed" in row for row in cases) == 1

    held = world.meetings["held"]
    assert _count(home, "today-minutes") == 1
    assert [a["href"] for a in home.select("#minutes-to-finalise a")] == [f"/meetings/{held.id}/minutes"]
    past = _rows(page(client.get("/meetings")), "#past")
    assert sum(not ("Minutes final" in row or "Cancelled" in row) for row in past) == 1

    panel = world.meetings["panel"]
    assert [a["href"] for a in home.select("#pack-links a")] == [
        f"/meetings/{panel.id}/agenda", f"/meetings/{panel.id}/agenda.pdf"]
    assert "subject-access" not in str(home.select_one("main"))  # the coordinator's, not the chair's
    assert home.select_one("#today-triage") is None


# ---- SPoCs ------------------------------------------------------------------------------------------


def test_the_spocs_counts_are_those_of_the_pages_they_lead_to(client, login_as, world):
    login_as(world.users["spoc"])
    home = page(client.get("/"))

    assert _count(home, "today-overdue") == 2 and _href(home, "today-overdue") == "/actions/ours?overdue=y"
    assert _action_total(client, "/actions/ours?overdue=y") == 2
    assert _count(home, "today-due") == 1 and _action_total(client, _href(home, "today-due")) == 1

    assert _count(home, "today-info") == 1
    assert _href(home, "today-info") == "/referrals?status=info_requested"
    assert len(_rows(page(client.get(_href(home, "today-info"))), "#referrals")) == 1
    pats = world.referrals["pat's info"]
    assert [a.get_text(strip=True) for a in home.select("#info-requested a")] == [f"Referral {pats.reference}"]

    ours = [tr.select_one("a").get_text(strip=True) for tr in home.select("#our-cases tbody tr")]
    assert ours == [f"Case {world.cases['ours'].reference}", f"Case {world.cases['closing'].reference}"]
    assert int(home.select_one("#our-cases")["data-count"]) == 2
    full_rows = [r for r in _rows(page(client.get("/cases")), "main table") if "summary only" not in r]
    assert len(full_rows) == 2

    assert _count(home, "today-invitations") == 1
    assert [a["href"] for a in home.select("#invitations-awaiting a")] == [
        f"/meetings/{world.meetings['mdt'].id}/reply"]
    assert "has sent apologies, with a written update" in home.select_one("#apologies").get_text(" ", strip=True)
    assert home.select_one("#agency-agenda")["href"] == f"/meetings/{world.meetings['panel'].id}/agenda/agency"


def test_a_spoc_sees_nothing_of_cases_and_referrals_their_agency_is_not_in(client, login_as, world):
    login_as(world.users["spoc"])
    text = page(client.get("/")).select_one("main").get_text(" ", strip=True)
    for hidden in (world.cases["theirs"].reference, world.cases["closed"].reference,
                   world.referrals["housing info"].reference, "Thea", "Theirs", "Ivo", "Olive", "Ourcase"):
        assert hidden not in text, hidden
    assert "OO" in text  # initials of the police's own case, not the name


def test_the_deputy_sees_the_agencys_actions_while_acting_and_their_own_otherwise(client, login_as, world):
    deputy = world.users["deputy"]
    login_as(deputy)
    home = page(client.get("/"))
    assert _count(home, "today-overdue") == 0 and home.select_one("#acting-notice") is None

    factories.mark_spoc_absent(world.agencies["police"])
    db.session.commit()
    home = page(client.get("/"))
    assert _count(home, "today-overdue") == 2 == _action_total(client, "/actions/ours?overdue=y")
    notice = home.select_one("#acting-notice").get_text(" ", strip=True)
    assert "You are acting as Home Police’s SPoC while Sam Spoc is away" in notice
    assert home.select_one("#apologies a")["href"] == f"/meetings/{world.meetings['panel'].id}/apologies"


def test_the_absent_spoc_is_told_who_acts_for_them(client, login_as, world):
    factories.mark_spoc_absent(world.agencies["police"])
    db.session.commit()
    login_as(world.users["spoc"])
    home = page(client.get("/"))
    notice = home.select_one("#acting-notice").get_text(" ", strip=True)
    assert "You are recorded as away" in notice and "Dee Deputy acts for you" in notice
    assert _count(home, "today-overdue") == 0  # the agency's actions are the deputy's while away
    assert home.select_one("#apologies a") is None


def test_our_actions_is_in_the_top_menu_for_spocs_and_practitioners(client, login_as, world):
    for who, text in (("spoc", "Our actions"), ("practitioner", "Your actions")):
        login_as(world.users[who])
        nav = {a.get_text(strip=True): a["href"] for a in page(client.get("/")).select(".govuk-service-navigation__link")}
        assert nav[text] == "/actions/ours", who
    for who in ("coordinator", "chair", "board", "admin"):
        login_as(world.users[who])
        nav = [a.get_text(strip=True) for a in page(client.get("/")).select(".govuk-service-navigation__link")]
        assert "Our actions" not in nav and "Your actions" not in nav, who


# ---- practitioners ------------------------------------------------------------------------------------


def test_the_practitioners_counts_are_those_of_the_pages_they_lead_to(client, login_as, world):
    login_as(world.users["practitioner"])
    home = page(client.get("/"))

    assert int(home.select_one("#my-referrals")["data-count"]) == 2
    assert len(_rows(page(client.get("/referrals")), "#referrals")) == 2
    statuses = {tr.select("td")[2].get_text(strip=True) for tr in home.select("#my-referrals tbody tr")}
    assert statuses == {"More information requested", "Awaiting panel"}

    assert _count(home, "today-drafts") == 2 and _href(home, "today-drafts") == "/referrals/drafts"
    assert len(_rows(page(client.get("/referrals/drafts")), "main table")) == 2

    assert [a.get_text(strip=True) for a in home.select("#named-cases tbody a")] == [
        f"Case {world.cases['ours'].reference}"]
    assert _count(home, "today-overdue") == 1 == _action_total(client, "/actions/ours?overdue=y")
    assert _count(home, "today-due") == 1 == _action_total(client, "/actions/ours?due_this_week=y")
    assert _count(home, "today-invitations") == 1
    text = home.select_one("main").get_text(" ", strip=True)
    for hidden in (world.referrals["police submitted"].reference, world.cases["closing"].reference, "Olive"):
        assert hidden not in text, hidden


def test_the_isa_warning_stays_and_no_record_is_shown(client, login_as, world):
    lapsed = factories.create_agency(isa="lapsed")
    for role in ("coordinator", "chair", "spoc", "practitioner"):
        login_as(role, agency=lapsed)
        home = page(client.get("/"))
        assert "past its review date" in home.select_one(".govuk-warning-text").get_text(), role
        assert home.select_one("#places") is None and home.select_one("#our-cases") is None
        assert home.select_one("#today-overdue") is None and home.select_one("#today-triage") is None
        assert world.cases["ours"].reference not in home.get_text(), role


def test_every_home_link_opens(client, login_as, world):
    """Each link on each role's home answers 200 for that role (none leads to a refusal)."""
    for who in ("coordinator", "chair", "spoc", "deputy", "practitioner", "board", "admin"):
        login_as(world.users[who])
        for a in page(client.get("/")).select("main a[href^='/']"):
            target = a["href"].split("#")[0]
            if target.endswith(".pdf"):
                continue  # the chair's PDF pack is drawn by WeasyPrint: tested with the pack
            assert client.get(target).status_code == 200, (who, target)
