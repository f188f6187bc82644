"""Search finds exactly what each user could open, and nothing else, for every role.

The world: a case led by agency A, a case led by B, a closed case of A's, referrals from A and B
in several statuses (one written by A's practitioner, one by a colleague), each practitioner's
own draft, and a referral from B linked to an earlier person record (its copy of the person as
referred is searched too). Each person is searched for by name, date of birth, NHS number,
postcode and reference, as every kind of user; what is found must be what the records' own
rules allow (panel.auth.policy), and each record found must open for that user while each one
not found answers 404. A SPoC whose agency is not involved in a case finds it only by its
reference, and then only as the restricted view.
"""

from __future__ import annotations

import pytest

from panel.auth.policy import can_view_referral, case_access
from panel.extensions import db
from panel.models import CaseStatus, ReferralStatus, Role
from panel.dates import london_today
from tests import factories
from tests.conftest import page
from tests.search import world


@pytest.fixture
def setting(app):
    host, a, b = factories.create_agency(name="Host Council"), factories.create_agency(name="Agency A"), \
        factories.create_agency(name="Agency B")
    lapsed = factories.create_agency(name="Lapsed Agency", isa="lapsed")
    users = {
        "coordinator": factories.create_user(role=Role.COORDINATOR, agency=host),
        "chair": factories.create_user(role=Role.CHAIR, agency=host),
        "SPoC A": factories.create_user(role=Role.SPOC, agency=a),
        "SPoC B": factories.create_user(role=Role.SPOC, agency=b),
        "practitioner A": factories.create_user(role=Role.PRACTITIONER, agency=a),
        "colleague A": factories.create_user(role=Role.PRACTITIONER, agency=a),
        "practitioner B": factories.create_user(role=Role.PRACTITIONER, agency=b),
        "lapsed SPoC": factories.create_user(role=Role.SPOC, agency=lapsed),
        "admin": factories.create_user(role=Role.ADMIN, agency=host),
        "board": factories.create_user(role=Role.BOARD, agency=host),
    }
    pa, ca, pb = users["practitioner A"], users["colleague A"], users["practitioner B"]
    people = {
        "case A": world.person("Quentin", "Alderwood", nhs="1000000001", postcode="AB1 1AA"),
        "case B": world.person("Rosalind", "Birchall", nhs="1000000002", postcode="AB2 2AA"),
        "closed A": world.person("Sebastian", "Cedarholm", nhs="1000000003", postcode="AB3 3AA"),
        "referral A": world.person("Theodora", "Dunmore", nhs="1000000004", postcode="AB4 4AA"),
        "colleague's": world.person("Ulysses", "Elmsworth", nhs="1000000005", postcode="AB5 5AA"),
        "referral B": world.person("Violetta", "Fairweather", nhs="1000000006", postcode="AB6 6AA"),
        "draft A": world.person("Winifred", "Galbraith", nhs="1000000007", postcode="AB7 7AA"),
        "draft B": world.person("Xanthe", "Hollingsworth", nhs="1000000008", postcode="AB8 8AA"),
        "linked B": world.person("Yusuf", "Ingleby", nhs="1000000009", postcode="AB9 9AA"),
        "as referred": world.person("Yusef", "Inglebey", nhs="1000000010", postcode="AC1 1AA"),
    }
    records = {
        "case A": world.case(people["case A"], lead=a, by=pa),
        "case B": world.case(people["case B"], lead=b, by=pb),
        "closed A": world.case(people["closed A"], lead=a, by=ca, status=CaseStatus.CLOSED, step_down=b),
        "referral A": world.referral(people["referral A"], agency=a, by=pa),
        "colleague's": world.referral(people["colleague's"], agency=a, by=ca, status=ReferralStatus.DECLINED),
        "referral B": world.referral(people["referral B"], agency=b, by=pb, status=ReferralStatus.AWAITING_PANEL),
        "draft A": world.referral(people["draft A"], agency=a, by=pa, status=ReferralStatus.DRAFT),
        "draft B": world.referral(people["draft B"], agency=b, by=pb, status=ReferralStatus.DRAFT),
        "linked B": world.referral(people["linked B"], agency=b, by=pb, status=ReferralStatus.WAITING,
                                   copy=people["as referred"]),
    }
    db.session.commit()
    return {"users": users, "people": people, "records": records}


def expected_links(user, records) -> tuple[set[str], set[str]]:
    """(links to records the user may open in full, links to cases they may see only as a summary),
    from the records' own rules."""
    today = london_today()
    full, summary = set(), set()
    for record in records.values():
        if hasattr(record, "lead_agency"):
            access = case_access(user, {i.agency_id for i in record.involvements}, today)
            if access == "full":
                full.add(f"/cases/{record.reference}")
                if can_view_referral(user, record.referral, today):
                    full.add(f"/referrals/{record.referral.id}")
            elif access == "restricted":
                summary.add(f"/cases/{record.reference}")
            elif can_view_referral(user, record.referral, today):
                full.add(f"/referrals/{record.referral.id}")
        elif can_view_referral(user, record, today):
            full.add(f"/referrals/{record.id}")
    return full, summary


def _searches(people, records) -> list[str]:
    out = []
    for who in people.values():
        out += [f"{who.given_name} {who.family_name}", f"{who.family_name}, {who.given_name}",
                f"{who.date_of_birth:%d/%m/%Y}", who.nhs_number, who.postcode.lower().replace(" ", "")]
    out += [r.reference for r in records.values() if hasattr(r, "lead_agency")]
    out += [(r.referral if hasattr(r, "lead_agency") else r).reference for r in records.values()
            if (r.referral if hasattr(r, "lead_agency") else r).reference]
    return out


WHO = ["coordinator", "chair", "SPoC A", "SPoC B", "practitioner A", "colleague A", "practitioner B", "lapsed SPoC"]


@pytest.mark.parametrize("who", WHO)
def test_search_finds_exactly_what_the_user_could_open(client, login_as, setting, who):
    user = login_as(setting["users"][who])
    full, summary = expected_links(user, setting["records"])

    seen_full, seen_summary = set(), set()
    for q in _searches(setting["people"], setting["records"]):
        response = client.get("/search", query_string={"q": q})
        assert response.status_code == 200, q
        shown = world.found(response)
        seen_full |= set(shown["links"])
        seen_summary |= set(shown["summary_only"])
        assert set(shown["links"]) <= full, (q, set(shown["links"]) - full)
        assert set(shown["summary_only"]) <= summary, q

    assert seen_full == full
    assert seen_summary == summary
    for link in full:
        assert client.get(link).status_code in (200, 302), link  # a draft opens at its answers
    for link in summary:
        assert "Your agency is not involved in this case" in client.get(link).get_data(as_text=True)
    every = {f"/cases/{r.reference}" for r in setting["records"].values() if hasattr(r, "lead_agency")} | {
        f"/referrals/{(r.referral if hasattr(r, 'lead_agency') else r).id}" for r in setting["records"].values()}
    for link in every - full - summary:
        assert client.get(link).status_code == 404, link


def test_the_expectations_are_not_empty_or_all(setting):
    """The matrix means something: each kind of user sees some records and not others."""
    records = setting["records"]
    sizes = {who: expected_links(setting["users"][who], records) for who in WHO}
    assert len(sizes["coordinator"][0]) > len(sizes["SPoC A"][0]) > len(sizes["practitioner A"][0]) > 0
    assert sizes["practitioner A"][0] - sizes["SPoC A"][0] == {f"/referrals/{records['draft A'].id}"}
    assert sizes["SPoC B"][1] == {f"/cases/{records['case A'].reference}", f"/cases/{records['closed A'].reference}"}
    assert sizes["lapsed SPoC"] == (set(), set())
    assert f"/referrals/{records['draft A'].id}" in sizes["practitioner A"][0]
    assert f"/referrals/{records['draft A'].id}" not in sizes["coordinator"][0]


def test_a_spoc_not_involved_finds_a_case_by_reference_only_and_only_its_summary(client, login_as, setting):
    login_as(setting["users"]["SPoC B"])
    case_a, person = setting["records"]["case A"], setting["people"]["case A"]

    for q in ("Quentin Alderwood", "alderwood", "1000000001", "AB1 1AA", f"{person.date_of_birth:%d %B %Y}"):
        shown = world.found(client.get("/search", query_string={"q": q}))
        assert shown == {"names": [], "links": [], "summary_only": []}, q

    response = client.get("/search", query_string={"q": case_a.reference.lower()})
    html = response.get_data(as_text=True)
    assert world.found(response)["summary_only"] == [f"/cases/{case_a.reference}"]
    row = page(response).select_one("#summary-only ~ div tbody tr").get_text(" ", strip=True)
    assert "QA" in row and "Agency A" in row
    for secret in ("Quentin", "Alderwood", "1000000001", "AB1 1AA", person.date_of_birth.strftime("%Y")):
        assert secret not in html


def test_the_copy_of_a_linked_referral_is_found_by_the_name_as_referred(client, login_as, setting):
    login_as(setting["users"]["SPoC B"])
    linked = setting["records"]["linked B"]
    response = client.get("/search", query_string={"q": "Yusef Inglebey"})
    shown = world.found(response)
    assert shown["names"][0] == "Yusef Inglebey" and shown["links"][0] == f"/referrals/{linked.id}"
    assert f"As referred in referral {linked.reference}" in page(response).select_one("#people li").get_text(" ")


@pytest.mark.parametrize("who", ["admin", "board"])
def test_board_and_admin_get_404_and_no_search_box(client, login_as, setting, who):
    login_as(setting["users"][who])
    assert client.get("/search", query_string={"q": "Quentin"}).status_code == 404
    assert page(client.get("/")).select_one("#header-search") is None


@pytest.mark.parametrize("who", ["coordinator", "chair", "SPoC A", "practitioner A"])
def test_every_other_role_has_the_search_box_in_the_header(client, login_as, setting, who):
    login_as(setting["users"][who])
    box = page(client.get("/")).select_one("header ~ div form[role=search] input#header-search")
    assert box is not None and box["name"] == "q"


def test_an_agency_without_a_current_isa_is_told_why_and_finds_nothing(client, login_as, setting):
    login_as(setting["users"]["lapsed SPoC"])
    response = client.get("/search", query_string={"q": "Quentin Alderwood"})
    assert "information sharing agreement" in response.get_data(as_text=True)
    assert world.found(response) == {"names": [], "links": [], "summary_only": []}

