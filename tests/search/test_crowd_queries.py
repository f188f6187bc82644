"""A search runs the same number of SQL queries at a handful of people as at 5,000 (the crowd of
tests/search/crowd.py, built here in each test's own transaction: small first, then big)."""

from __future__ import annotations

import pytest

from panel.models import Role
from tests import factories
from tests.search.crowd import build


@pytest.fixture
def agencies(app):
    return [factories.create_agency(name=f"Crowd Agency {n}") for n in range(3)]


QUERIES = ["Bartholemew Fairbrother", "smith", "3 April 1980", "Abigail Thornbury 3/4/1980", "943 476 5919", "lu73qp",
           "LU1", "smith lu1", "CASPA-2026-002", "R-2026-00001"]


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.SPOC, Role.PRACTITIONER])
def test_a_search_runs_the_same_queries_at_a_handful_of_people_as_at_5000(client, login_as, agencies, count_queries,
                                                                        role):
    login_as(role, agency=agencies[1])
    build(agencies, crowd=20, cases=5)
    few = {}
    for q in QUERIES:
        with count_queries() as counter:
            assert client.get("/search", query_string={"q": q}).status_code == 200
        few[q] = counter.count
    build(agencies, crowd=5000, cases=2000, seed=17)
    for q in QUERIES:
        with count_queries() as counter:
            response = client.get("/search", query_string={"q": q})
        assert response.status_code == 200
        assert counter.count == few[q], (q, "\n".join(counter.statements))
