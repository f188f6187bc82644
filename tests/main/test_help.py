"""/help: readable signed out and by every role, linked from every page's footer; who the
coordinator is (settings, with defaults), the accessibility statement the regulations require, and
how information is protected. The waiting-list page says how to contact the coordinator."""

from __future__ import annotations

import pytest

from panel.auth.policy import ACCESS, PUBLIC
from panel.models import ReferralStatus, Role
from tests import factories
from tests.conftest import page


def _text(response) -> str:
    return page(response).get_text(" ", strip=True)


def test_help_is_public_and_readable_signed_out(client):
    response = client.get("/help")

    assert ACCESS["main.help"] is PUBLIC
    assert response.status_code == 200
    soup = page(response)
    assert soup.find("h1").get_text(strip=True) == "Help with Panel"
    assert [h.get("id") for h in soup.find_all("h2") if h.get("id")] == [
        "help-contents", "about", "roles", "contact", "signed-out", "data", "accessibility"]


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_help_and_finds_its_own_jobs(client, login_as, role):
    login_as(role)

    response = client.get("/help")

    assert response.status_code == 200
    headings = [h.get_text(strip=True) for h in page(response).find_all("h3")]
    assert role.label in headings


def test_the_coordinators_contact_details_come_from_the_settings(app, client):
    app.config.update(COORDINATOR_CONTACT_NAME="Priya Shah, Safeguarding Panel coordinator",
                      COORDINATOR_CONTACT_EMAIL="safeguarding.panel@council.example",
                      COORDINATOR_CONTACT_PHONE="01582 546000")

    soup = page(client.get("/help"))

    contact = soup.find(id="contact").find_next("ul")
    assert "Priya Shah, Safeguarding Panel coordinator" in contact.get_text()
    assert contact.find("a", href="mailto:safeguarding.panel@council.example") is not None
    assert contact.find("a", href="tel:01582546000").get_text() == "01582 546000"


def test_without_settings_the_coordinator_is_reached_at_the_service_mailbox(app, client):
    app.config.update(COORDINATOR_CONTACT_NAME="", COORDINATOR_CONTACT_EMAIL="", COORDINATOR_CONTACT_PHONE="",
                      MAIL_FROM="Safeguarding Panel <panel.coordinator@council.example>")

    contact = page(client.get("/help")).find(id="contact").find_next("ul")

    assert "The panel coordinator" in contact.get_text()
    assert contact.find("a", href="mailto:panel.coordinator@council.example") is not None
    assert "Telephone" not in contact.get_text()


def test_the_accessibility_statement_has_what_the_regulations_require(client):
    text = _text(client.get("/help"))

    for words in (
        "Accessibility statement for Panel",
        "partially compliant with the Web Content Accessibility Guidelines version 2.2 AA standard",
        "Non-compliance with the accessibility regulations",
        "2.2.1 (Timing Adjustable)",
        "axe-core", "Nu Html Checker", "keyboard alone",
        "Reporting accessibility problems with this service",
        "Equality and Human Rights Commission (EHRC)",
        "Equality Advisory and Support Service (EASS)",
        "Equality Commission for Northern Ireland (ECNI)",
        "Public Sector Bodies (Websites and Mobile Applications) (No. 2) Accessibility Regulations 2018",
        "This statement was prepared on 7 December 2026",
    ):
        assert words in text, words


def test_help_says_how_information_is_protected(client):
    section = page(client.get("/help")).find(id="data").find_next("ul").get_text(" ", strip=True)

    for words in ("OFFICIAL-SENSITIVE", "need to know", "audited", "anonymised 6 years later", "information sharing"):
        assert words in section, words


def test_every_page_links_to_help_from_its_footer(client, login_as):
    signed_out = page(client.get("/login")).select("footer a.govuk-footer__link")
    login_as("spoc")
    signed_in = page(client.get("/account")).select("footer a.govuk-footer__link")

    for links in (signed_out, signed_in):
        assert {a["href"]: a.get_text(strip=True) for a in links} == {
            "/help": "Help", "/help#contact": "Contact the coordinator",
            "/help#accessibility": "Accessibility statement", "/help#data": "How information is protected"}


def test_the_waiting_list_page_says_how_to_contact_the_coordinator(app, client, db, login_as):
    app.config.update(COORDINATOR_CONTACT_EMAIL="safeguarding.panel@council.example",
                      COORDINATOR_CONTACT_PHONE="01582 546000")
    user = login_as("practitioner")
    referral = factories.create_referral(by=user, status=ReferralStatus.WAITING)
    db.session.commit()

    soup = page(client.get(f"/referrals/{referral.id}/submitted"))

    urgent = soup.find("p", string=lambda s: s and "contact the coordinator" in s)
    assert urgent is not None
    contact = urgent.find_next("ul")
    assert contact.find("a", href="mailto:safeguarding.panel@council.example") is not None
    assert contact.find("a", href="tel:01582546000") is not None
