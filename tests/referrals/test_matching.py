"""Repeat-referral detection: matches by NHS number or by date of birth and a similar name, the
three-in-twelve-months flag, and linking a referral to a matched person."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import (
    AuditAction, AuditEvent, Case, CaseEvent, CaseStatus, Person, Referral, RiskLevel, Role, utcnow,
)
from panel.referrals import linking, matching
from panel.referrals.rules import name_key
from tests import factories
from tests.conftest import error_summary, page, post_form

DOB = date(1985, 6, 14)
ANY_FORM = "/account/password"  # a page with a form, for a CSRF token


@pytest.fixture
def agency(app):
    return factories.create_agency()


def person(given="Sam", family="Demo-Person", dob=DOB, nhs="") -> Person:
    p = Person(given_name=given, family_name=family, date_of_birth=dob, nhs_number=nhs)
    db.session.add(p)
    db.session.flush()
    return p


def refer(agency, who: Person, status="submitted", days_ago=1, **kwargs) -> Referral:
    return factories.create_referral(agency=agency, person=who, status=status,
                                     submitted_at=utcnow() - timedelta(days=days_ago), **kwargs)


# ---- who matches --------------------------------------------------------------------------


def test_the_same_nhs_number_matches_whatever_the_name_and_date_of_birth(agency):
    earlier = refer(agency, person("Alex", "Other", date(1970, 1, 1), nhs="9434765919"), "declined", 100)
    new = refer(agency, person("Sam", "Demo-Person", DOB, nhs="9434765919"))

    history = matching.history(new)

    assert [(m.person.id, m.reason) for m in history.matches] == [(earlier.person_id, "Same NHS number")]
    assert [(i.referral.id, i.reason) for i in history.referrals] == [(earlier.id, "Same NHS number")]


@pytest.mark.parametrize("given, family", [
    ("Zoë", "Demo-Person"),          # an accent
    ("SAM", "DEMO-PERSON"),          # case
    ("Sam", "Demo Person"),          # a hyphen
    ("Sam", "Demo-Persen"),          # a typo
    ("Samuel", "Demo-Person"),       # a longer form of the name
    ("Demo-Person", "Sam"),          # given and family name swapped
])
def test_the_same_date_of_birth_and_a_similar_name_matches(agency, given, family):
    base = person("Zoe" if given == "Zoë" else "Sam", "Demo-Person")
    earlier = refer(agency, base, "withdrawn", 50)
    new = refer(agency, person(given, family))

    matches = matching.history(new).matches

    assert [m.person.id for m in matches] == [earlier.person_id]
    assert matches[0].reason.startswith("Same date of birth and similar name (")
    assert matches[0].reason.endswith("%)")
    assert matches[0].ratio >= matching.THRESHOLD


def test_the_reason_gives_the_similarity_as_a_whole_percentage(agency):
    refer(agency, person("Sam", "Demo-Person"), "declined", 30)
    new = refer(agency, person("Samuel", "Demo-Person"))
    assert matching.history(new).matches[0].reason == "Same date of birth and similar name (90%)"


def test_accents_that_do_not_decompose_are_folded_too():
    assert name_key("Łukasz", "Ærøskøbing") == name_key("Lukasz", "Aeroskobing") == "lukasz aeroskobing"


def test_a_different_date_of_birth_does_not_match_even_with_the_same_name(agency):
    refer(agency, person("Sam", "Demo-Person", date(1985, 6, 15)), "declined", 30)
    new = refer(agency, person("Sam", "Demo-Person", DOB))
    assert matching.history(new).matches == []


def test_a_dissimilar_name_with_the_same_date_of_birth_does_not_match(agency):
    refer(agency, person("Dana", "Example"), "declined", 30)
    new = refer(agency, person("Sam", "Demo-Person"))
    assert matching.history(new).matches == []


def test_the_threshold_is_a_ratio_of_at_least_085(agency):
    # 17 of 20 characters alike in each name: exactly 0.85; 16 of 19: 0.842.
    at = refer(agency, person("Abcdefghij", "Klmnopxyz"), "declined", 30)
    other_dob = date(1990, 3, 3)
    refer(agency, person("Abcdefghi", "Klmnopxyz", other_dob), "declined", 30)
    new_at = refer(agency, person("Abcdefghij", "Klmnopqrs"))
    new_below = refer(agency, person("Abcdefghi", "Klmnopqrs", other_dob))

    assert matching.name_ratio(new_at.person, at.person) == 0.85
    assert [m.person.id for m in matching.history(new_at).matches] == [at.person_id]
    assert matching.history(new_below).matches == []


def test_a_blank_name_never_matches_on_date_of_birth_alone(agency):
    refer(agency, person("", ""), "declined", 30)
    new = refer(agency, person("", ""))
    assert matching.history(new).matches == []


def test_a_person_known_only_through_someone_elses_draft_is_not_shown(agency):
    refer(agency, person("Sam", "Demo-Person", nhs="9434765919"), "draft")
    new = refer(agency, person("Sam", "Demo-Person", nhs="9434765919"))
    history = matching.history(new)
    assert (history.matches, history.referrals, history.cases) == ([], [], [])


def test_earlier_cases_are_in_the_history_with_why_they_matched(agency):
    accepted = refer(agency, person("Sam", "Demo-Person", nhs="9434765919"), "accepted", 300)
    case = Case(reference="CASPA-2026-007", person_id=accepted.person_id, referral=accepted,
                status=CaseStatus.CLOSED, lead_agency=agency, risk_level=RiskLevel.HIGH,
                accepted_on=date.today() - timedelta(days=290))
    db.session.add(case)
    new = refer(agency, person("Sam", "Demo-Person", nhs="9434765919"))

    history = matching.history(new)

    assert [(i.case.reference, i.reason) for i in history.cases] == [("CASPA-2026-007", "Same NHS number")]


def test_other_referrals_of_the_same_person_record_are_history_too(agency):
    sam = person()
    earlier = refer(agency, sam, "declined", 40)
    new = refer(agency, sam)
    history = matching.history(new)
    assert history.matches == []
    assert [(i.referral.id, i.reason) for i in history.referrals] == [(earlier.id, "Same person record")]


# ---- three or more in twelve months ----------------------------------------------------------------


def test_three_referrals_in_twelve_months_across_matched_persons_are_flagged(agency):
    refer(agency, person("Sam", "Demo-Person", nhs="9434765919"), "declined", 200)
    refer(agency, person("Samuel", "Demo-Person"), "withdrawn", 90)
    new = refer(agency, person("Sam", "Demo-Person", nhs="9434765919"))

    history = matching.history(new)
    flags = matching.flags([new])[new.id]

    assert history.referred_last_year == 3 and history.repeat
    assert flags.repeat and flags.referred_last_year == 3 and flags.possible_match


def test_referrals_older_than_twelve_months_or_drafts_do_not_count(agency):
    refer(agency, person(nhs="9434765919"), "declined", 366)
    refer(agency, person(nhs="9434765919"), "withdrawn", 100)
    refer(agency, person(nhs="9434765919"), "draft")
    new = refer(agency, person(nhs="9434765919"))

    assert matching.history(new).referred_last_year == 2
    assert not matching.history(new).repeat
    assert not matching.flags([new])[new.id].repeat


def test_flags_for_a_list_agree_with_the_history_and_use_a_fixed_number_of_queries(agency, count_queries):
    def batch(n: int) -> list[Referral]:
        made = []
        for i in range(n):
            dob = DOB + timedelta(days=i + 1000 * n)
            refer(agency, person("Sam", f"Person{i}", dob), "declined", 30)
            refer(agency, person("Sam", f"Person{i}", dob), "withdrawn", 20)
            made.append(refer(agency, person("Sam", f"Person{i}", dob)))
        for r in made:
            db.session.refresh(r, ["person"])
        return made

    small, large = batch(2), batch(12)
    with count_queries() as few:
        few_flags = matching.flags(small)
    with count_queries() as many:
        many_flags = matching.flags(large)

    assert few.count == many.count <= 3
    assert all(f.repeat and f.possible_match for f in [*few_flags.values(), *many_flags.values()])
    assert matching.history(large[0]).referred_last_year == many_flags[large[0].id].referred_last_year


def test_staff_safety_and_consent_flags(agency):
    safe = refer(agency, person("A", "One", date(1990, 1, 1)))
    risky = refer(agency, person("B", "Two", date(1990, 1, 2)), staff_hostility=True, consent_given=False)
    flags = matching.flags([safe, risky])
    assert (flags[safe.id].staff_safety, flags[safe.id].no_consent) == (False, False)
    assert (flags[risky.id].staff_safety, flags[risky.id].no_consent) == (True, True)


# ---- linking ----------------------------------------------------------------------------------------


def _linked(new, earlier, *, take=()):
    coordinator = factories.create_user(role=Role.COORDINATOR)
    taken = linking.link_person(new, to=earlier.person, by=coordinator, take=take)
    return coordinator, taken


def _last_audit(object_type: str) -> AuditEvent:
    return db.session.execute(sa.select(AuditEvent).where(AuditEvent.object_type == object_type)
                              .order_by(AuditEvent.id.desc())).scalars().first()


def test_linking_moves_the_history_and_keeps_everything_the_referrer_wrote(agency):
    earlier = refer(agency, person(nhs="9434765919"), "declined", 100)
    earlier.person.address, earlier.person.gender = "1 Old Road", "Female"
    new = refer(agency, person(nhs="9434765919"))
    new.person.address, new.person.gender = "22 New Street", "Male"
    written = new.person_id

    _, taken = _linked(new, earlier)

    assert taken == [] and new.person_id == earlier.person_id and new.referred_person_id == written
    assert (new.as_referred.address, new.as_referred.gender) == ("22 New Street", "Male")  # the referrer's words
    assert (earlier.person.address, earlier.person.gender) == ("1 Old Road", "Female")     # the record's own
    assert json.loads(_last_audit("referral").summary) == {
        "linked_person": earlier.person_id, "was": written, "person_record_took": [],
        "person_record_kept": ["gender", "address"]}
    history = matching.history(new)
    assert history.matches == []  # the referral's own copy is not another person record
    assert [(i.referral.id, i.reason) for i in history.referrals] == [(earlier.id, "Same person record")]


def test_the_person_record_takes_only_the_details_the_coordinator_chose(agency):
    earlier = refer(agency, person(nhs="9434765919"), "accepted", 100)
    case = Case(reference="CASPA-2026-009", person_id=earlier.person_id, referral=earlier, status=CaseStatus.ACTIVE,
                lead_agency=agency, risk_level=RiskLevel.HIGH, accepted_on=date.today())
    db.session.add(case)
    earlier.person.address, earlier.person.gender = "1 Old Road", "Female"
    new = refer(agency, person(nhs="9434765919"))
    new.person.address, new.person.gender = "22 New Street", "Male"

    coordinator, taken = _linked(new, earlier, take={"address"})

    assert taken == ["address"]
    assert (earlier.person.address, earlier.person.gender) == ("22 New Street", "Female")
    assert (new.as_referred.address, new.as_referred.gender) == ("22 New Street", "Male")
    assert json.loads(_last_audit("person").summary) == {"fields": ["address"], "from_referral": new.reference}
    event = db.session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)).scalar_one()
    assert event.summary == (f"Referral {new.reference} linked to this person record; the person record took "
                             "the referral’s address; kept its own gender.")
    assert (event.kind, event.by_id, event.ref_type, event.ref_id) == ("referral", coordinator.id, "referral", new.id)


def test_a_detail_that_does_not_differ_cannot_be_taken(agency):
    earlier = refer(agency, person(nhs="9434765919"), "declined", 100)
    new = refer(agency, person(nhs="9434765919"))
    with pytest.raises(ServiceError) as raised:
        _linked(new, earlier, take={"nhs_number"})
    assert raised.value.field == "nhs_number"
    assert new.person_id != earlier.person_id


def test_each_person_record_is_listed_once(agency):
    sam = person(nhs="9434765919")
    twice = [sam, sam, person("Samuel", "Demo-Person")]
    assert [m.person.id for m in matching._matches_among(person(nhs="9434765919"), twice)] == [
        sam.id, twice[2].id]


def test_a_linked_referrals_own_copy_never_shows_as_another_person_record(agency):
    earlier = refer(agency, person(nhs="9434765919"), "declined", 100)
    new = refer(agency, person(nhs="9434765919"))
    _linked(new, earlier)
    latest = refer(agency, person(nhs="9434765919"))

    matches = matching.history(latest).matches

    assert [m.person.id for m in matches] == [earlier.person_id]


def _differing_pair(agency, address="22 New Street"):
    earlier = refer(agency, person(nhs="9434765919"), "declined", 100)
    earlier.person.address, earlier.person.gender = "1 Old Road", "Female"
    new = refer(agency, person("Samuel", "Demo-Person", nhs="9434765919"))
    new.person.address, new.person.gender = address, "Male"
    db.session.commit()
    return earlier, new


def test_the_coordinator_compares_the_details_and_chooses_field_by_field(client, login_as, agency):
    coordinator = login_as("coordinator")
    earlier, new = _differing_pair(agency)
    url = f"/referrals/{new.id}"
    links = page(client.get(url)).select("#matches a")
    assert [a["href"] for a in links] == [f"{url}/link-person?person_id={earlier.person_id}"]

    soup = page(client.get(links[0]["href"]))

    rows = [[c.get_text(" ", strip=True) for c in tr.select("th, td")] for tr in soup.select("#differences tbody tr")]
    assert rows == [["First name", "Samuel", "Sam"], ["Gender", "Male", "Female"],
                    ["Address", "22 New Street", "1 Old Road"]]
    assert "last name, other names, date of birth" in soup.select_one("#same").get_text()
    assert "NHS number" in soup.select_one("#same").get_text()
    assert [f["value"] for f in soup.select("input[name=address]")] == ["record", "referral"]

    data = {"person_id": str(earlier.person_id), "given_name": "record", "gender": "record"}
    missing = post_form(client, f"{url}/link-person", data, token_from=links[0]["href"])
    assert missing.status_code == 200
    assert page(missing).title.get_text().startswith("Error: ")
    assert error_summary(missing) == ["Select what the person record keeps for address"]
    assert page(missing).select_one("input[name=gender][value=record]").has_attr("checked")  # kept as chosen

    done = post_form(client, f"{url}/link-person", {**data, "address": "referral"}, token_from=links[0]["href"])

    assert done.status_code == 302 and done.headers["Location"] == url
    db.session.expire_all()
    linked = db.session.get(Referral, new.id)
    record = db.session.get(Person, earlier.person_id)
    assert linked.person_id == earlier.person_id
    assert (record.given_name, record.gender, record.address) == ("Sam", "Female", "22 New Street")
    shown = page(client.get(url))
    assert "Samuel" in shown.select_one("#linked-person").find_next("dl").get_text()  # the referrer's words
    assert "Male" in shown.select_one("#linked-person").find_next("dl").get_text()
    again = post_form(client, f"{url}/link-person", {**data, "address": "referral"}, token_from=ANY_FORM,
                      follow_redirects=True)  # a double click
    assert "already linked" in again.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.user_id == coordinator.id, AuditEvent.action == AuditAction.UPDATE)).scalar_one() == 2


def test_hostile_details_are_shown_as_text_on_the_comparison(client, login_as, agency):
    login_as("coordinator")
    earlier, new = _differing_pair(agency, address="<script>alert(1)</script>'; DROP TABLE persons;--")
    response = client.get(f"/referrals/{new.id}/link-person?person_id={earlier.person_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_comparison_page_runs_a_fixed_number_of_queries(client, login_as, agency, count_queries):
    login_as("coordinator")
    earlier, new = _differing_pair(agency)
    url = f"/referrals/{new.id}/link-person?person_id={earlier.person_id}"
    client.get(url)
    with count_queries() as few:
        client.get(url)
    for days in range(5):
        refer(agency, earlier.person, "declined", 200 + days)
    db.session.commit()
    with count_queries() as many:
        client.get(url)
    assert many.count == few.count


@pytest.mark.parametrize("person_id", ["999999", "abc", "", "-1", "1" * 40])
def test_linking_to_a_person_who_is_not_a_match_is_refused(client, login_as, agency, person_id):
    login_as("coordinator")
    stranger = refer(agency, person("Dana", "Example", date(1960, 2, 2)), "declined", 10)
    new = refer(agency, person())
    db.session.commit()
    url = f"/referrals/{new.id}"
    value = str(stranger.person_id) if person_id == "999999" else person_id
    shown = client.get(f"{url}/link-person", query_string={"person_id": value}, follow_redirects=True)
    assert "not one of the possible matches" in shown.get_data(as_text=True)
    response = post_form(client, f"{url}/link-person", {"person_id": value}, token_from=ANY_FORM,
                         follow_redirects=True)
    assert response.status_code == 200
    assert "not one of the possible matches" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Referral, new.id).person_id == new.person_id


def test_the_same_details_link_with_nothing_to_choose(client, login_as, agency):
    login_as("coordinator")
    earlier = refer(agency, person(nhs="9434765919"), "declined", 100)
    new = refer(agency, person(nhs="9434765919"))
    db.session.commit()
    url = f"/referrals/{new.id}/link-person"
    soup = page(client.get(url, query_string={"person_id": earlier.person_id}))
    assert soup.select_one("#same") and not soup.select("#differences")
    response = post_form(client, url, {"person_id": str(earlier.person_id)}, token_from=ANY_FORM)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Referral, new.id).person_id == earlier.person_id


def test_a_decided_referral_cannot_be_linked(client, login_as, agency):
    login_as("coordinator")
    earlier = refer(agency, person(nhs="9434765919"), "declined", 100)
    new = refer(agency, person(nhs="9434765919"), "declined")
    db.session.commit()
    url = f"/referrals/{new.id}"
    assert not page(client.get(url)).select("#matches a")
    response = post_form(client, f"{url}/link-person", {"person_id": str(earlier.person_id)},
                         token_from=ANY_FORM, follow_redirects=True)
    assert "can no longer be linked" in response.get_data(as_text=True)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_a_coordinator_may_link(client, login_as, agency, method):
    login_as("chair")
    earlier = refer(agency, person(nhs="9434765919"), "declined", 100)
    new = refer(agency, person(nhs="9434765919"))
    db.session.commit()
    soup = page(client.get(f"/referrals/{new.id}"))
    assert soup.select("#matches tbody tr") and not soup.select("#matches a")
    url = f"/referrals/{new.id}/link-person"
    if method == "GET":
        response = client.get(url, query_string={"person_id": earlier.person_id})
    else:
        response = post_form(client, url, {"person_id": str(earlier.person_id)}, token_from=ANY_FORM)
    assert response.status_code == 404


def test_the_case_made_from_this_referral_is_not_listed_as_history(agency):
    accepted = refer(agency, person(nhs="9434765919"), "accepted", 30)
    db.session.add(Case(reference="CASPA-2026-008", person_id=accepted.person_id, referral=accepted,
                        status=CaseStatus.ACTIVE, lead_agency=agency, risk_level=RiskLevel.HIGH,
                        accepted_on=date.today()))
    db.session.flush()
    assert matching.history(accepted).cases == []
    later = refer(agency, person(nhs="9434765919"))
    assert [i.case.reference for i in matching.history(later).cases] == ["CASPA-2026-008"]
