"""Search over 5,000 people with near-duplicate names (and 2,000 cases): the right person comes
first for misspellings, hyphens, accents, spacing and swapped names, as for the repeat-referral
matcher's cases; dates of birth in every common form and NHS numbers with or without spaces find
exactly the right people. (The same number of SQL queries at a handful of people as at 5,000:
test_crowd_queries.py.)
"""

from __future__ import annotations

import sqlalchemy as sa

from panel.extensions import db
from panel.models import Case, Person, Role
from tests import factories
from tests.conftest import page
from tests.search.crowd import BORN, SEARCHES, build
from tests.shared_world import shared_world


def _crowd(app) -> dict[str, int]:
    agencies = [factories.create_agency(name=f"Crowd Agency {n}") for n in range(3)]
    return build(agencies, crowd=5000, cases=2000)


# The crowd is built once for the module (seconds of bulk inserts); each test runs in a savepoint
# rolled back after it, so every test finds the crowd as built.
_crowd_world, crowd, app = shared_world(_crowd, name="crowd")


def _first(client, q: str) -> tuple[str, int]:
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    people = page(response).select("#people > li")
    assert people, f"nothing found for {q!r}"
    return people[0].select_one("h3").get_text(strip=True), int(people[0]["id"].removeprefix("person-"))


def test_the_crowd_is_big_and_full_of_near_duplicates(app, crowd):
    assert db.session.scalar(sa.select(sa.func.count(Person.id))) > 5000
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 2000
    smiths = db.session.scalar(sa.select(sa.func.count(Person.id)).where(Person.family_name.like("Sm%")))
    assert smiths > 300


def test_the_right_person_comes_first(client, login_as, crowd):
    """Each search of SEARCHES brings its person first (all are tried; every miss is reported)."""
    login_as(Role.COORDINATOR)
    misses = []
    for key, q in SEARCHES:
        name, person_id = _first(client, q)
        if person_id != crowd[key]:
            misses.append(f"{q!r} found {name} first")
    assert misses == []


DATE_FORMS = ["3/4/1980", "03-04-1980", "3 April 1980", "1980-04-03", "3rd Apr 1980", "03.04.80", "April 3, 1980",
              "03041980"]


def test_every_form_of_a_date_of_birth_finds_the_same_people(client, login_as, crowd):
    login_as(Role.COORDINATOR)
    expected = set(db.session.scalars(sa.select(Person.id).where(Person.date_of_birth == BORN)))
    assert crowd["born"] in expected and len(expected) >= 4  # and its near-duplicates born the same day
    for q in DATE_FORMS:
        response = client.get("/search", query_string={"q": q})
        ids = {int(li["id"].removeprefix("person-")) for li in page(response).select("#people > li")}
        assert ids == expected, q
        said = " ".join(page(response).select_one("#searched-for").get_text(" ").split())
        assert said.startswith("Searched for date of birth 3 April 1980"), q


def test_an_nhs_number_with_or_without_spaces_finds_only_that_person(client, login_as, crowd):
    login_as(Role.COORDINATOR)
    for q in ("943 476 5919", "9434765919", "943-476-5919"):
        response = client.get("/search", query_string={"q": q})
        assert [li["id"] for li in page(response).select("#people > li")] == [f"person-{crowd['born']}"], q


def test_a_postcode_with_or_without_its_space(client, login_as, crowd):
    login_as(Role.COORDINATOR)
    for q in ("lu73qp", "LU7 3QP"):
        response = client.get("/search", query_string={"q": q})
        assert [li["id"] for li in page(response).select("#people > li")] == [f"person-{crowd['born']}"], q


def test_a_common_name_shows_the_first_fifty_and_says_there_are_more(client, login_as, crowd):
    login_as(Role.COORDINATOR)
    response = client.get("/search", query_string={"q": "smith"})
    assert len(page(response).select("#people > li")) == 50
    assert "More people match" in response.get_data(as_text=True)
