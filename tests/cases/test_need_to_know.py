"""Need to know, proved for every case URL and every kind of user.

The URLs come from app.url_map (every rule under /cases/<reference>), so a section added later
is covered without touching this file. Each page is fetched (GET) and each change is posted
(POST, CSRF off) by each of:

    who                          pages                        changes
    coordinator                  full                         allowed
    chair                        full (forms-only pages 404)  404, except the chair's own decisions
    SPoC of an involved agency   full                         allowed
    practitioner of an involved  full                         allowed
    SPoC of a non-involved       summary only; sections 404   404
    practitioner, non-involved   404                          404
    admin, board member          404                          404
    anonymous                    sent to sign in              sent to sign in

narrowed by the access table (panel.auth.policy.ACCESS) where an endpoint is for one role
(proposing closure is the coordinator's, deciding it the chair's). "Full" shows the person's
name; "summary only" their initials; every 404 is audited and changes nothing.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from panel.auth.policy import ACCESS
from panel.cases import services
from panel.models import AuditEvent, CaseEvent, Role, StaffSafetyKind
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import _make_app, page

_URL_MAP_APP = _make_app("sqlite://", Path(tempfile.mkdtemp(prefix="panel-case-url-map-")))
CASE_RULES = sorted((r for r in _URL_MAP_APP.url_map.iter_rules() if r.rule.startswith("/cases/<reference>")),
                    key=lambda r: r.rule)
CALLS = [(rule, method) for rule in CASE_RULES for method in sorted(rule.methods & {"GET", "POST"})]

# Pages that exist only to make a change: someone who may only read (a chair) gets 404 on them.
FORM_PAGES = {"cases.review_outcome", "cases.add_attempt", "cases.propose_closure", "cases.decide_closure",
              "cases.reopen_case"}

WHO = {
    "coordinator": (Role.COORDINATOR, "host"),
    "chair": (Role.CHAIR, "host"),
    "involved SPoC": (Role.SPOC, "lead"),
    "involved practitioner": (Role.PRACTITIONER, "lead"),
    "non-involved SPoC": (Role.SPOC, "other"),
    "non-involved practitioner": (Role.PRACTITIONER, "other"),
    "admin": (Role.ADMIN, "host"),
    "board": (Role.BOARD, "host"),
    "anonymous": (None, None),
}
ACCESS_BY_WHO = {"coordinator": "full", "chair": "full", "involved SPoC": "full", "involved practitioner": "full",
                 "non-involved SPoC": "restricted"}


def expected(endpoint: str, method: str, who: str) -> str:
    """'full', 'restricted', '404' or 'login' for this user on this endpoint."""
    role = WHO[who][0]
    if role is None:
        return "login"
    allowed_roles = ACCESS[endpoint]
    if role not in allowed_roles:  # type: ignore[operator]
        return "404"
    access = ACCESS_BY_WHO.get(who)
    if access is None:
        return "404"
    if access == "restricted":
        return "restricted" if endpoint == "cases.view_case" and method == "GET" else "404"
    changes = method == "POST" or endpoint in FORM_PAGES
    chairs_decision = Role.CHAIR in allowed_roles and Role.SPOC not in allowed_roles  # type: ignore[operator]
    if changes and role == Role.CHAIR and not chairs_decision:
        return "404"
    return "full"


def test_the_matrix_covers_the_case_record():
    endpoints = {rule.endpoint for rule in CASE_RULES}
    assert {"cases.view_case", "cases.edit_risk", "cases.manage_agencies", "cases.add_flag", "cases.clear_flag",
            "cases.insight", "cases.outcomes", "cases.review_outcome"} <= endpoints
    assert all(endpoint in ACCESS for endpoint in endpoints)


def test_the_expectations_read_as_the_rules_say():
    assert expected("cases.view_case", "GET", "non-involved SPoC") == "restricted"
    assert expected("cases.edit_risk", "GET", "non-involved SPoC") == "404"
    assert expected("cases.edit_risk", "GET", "chair") == "full"
    assert expected("cases.edit_risk", "POST", "chair") == "404"
    assert expected("cases.edit_risk", "POST", "involved practitioner") == "full"
    assert expected("cases.view_case", "GET", "non-involved practitioner") == "404"
    assert expected("cases.view_case", "GET", "anonymous") == "login"
    if "cases.decide_closure" in ACCESS:
        assert expected("cases.decide_closure", "POST", "chair") == "full"
        assert expected("cases.decide_closure", "POST", "coordinator") == "404"


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": False}  # the matrix is about need to know, not CSRF tokens


@pytest.fixture
def world(db):
    """A case led by one agency, another agency not involved, and one user for each row."""
    agencies = {"host": factories.create_agency(code="host-council", name="Host Council"),
                "lead": factories.create_agency(code="lead-a", name="Lead Agency"),
                "other": factories.create_agency(code="other-b", name="Other Agency")}
    case = create_case(lead=agencies["lead"], given_name="Zebedee", family_name="Quaintly")
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=agencies["host"])
    flag = services.set_staff_safety_flag(case, kind=StaffSafetyKind.HOSTILITY, details="Dog", by=coordinator)
    outcome = services.add_outcome(case, words="Stay at home", asked=True, expressed=True, by=coordinator)
    users = {who: (coordinator if who == "coordinator" else factories.create_user(role=role, agency=agencies[where]))
             for who, (role, where) in WHO.items() if role is not None}
    db.session.commit()
    return {"case_id": case.id, "reference": case.reference, "users": users,
            "args": {"reference": case.reference, "flag_id": flag.id, "outcome_id": outcome.id}}


def _url(rule, args: dict) -> str:
    unknown = set(rule.arguments) - set(args)
    if unknown:
        pytest.fail(f"add a record builder for {sorted(unknown)} ({rule.endpoint}) to the world fixture")
    return rule.build({name: args[name] for name in rule.arguments}, append_unknown=False)[1]


def _count(db, model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _problem(response, outcome: str, *, audited: bool, changed: bool) -> str | None:
    """What is wrong with the answer, or None when it is what need to know expects."""
    status = response.status_code
    text = page(response).get_text(" ", strip=True) if status == 200 else ""
    if outcome == "login":
        location = urlsplit(response.headers.get("Location", ""))
        if status != 302 or location.path != "/login" or "next" not in parse_qs(location.query):
            return f"expected a redirect to sign in, got {status}"
        return None
    if outcome == "404":
        if status != 404:
            return f"expected 404, got {status}"
        if not audited:
            return "a refusal must be audited"
        if changed:
            return "a refused change changed the record"
        return None
    if outcome == "restricted":
        if status != 200:
            return f"expected the restricted summary, got {status}"
        if "Zebedee" in text or "Quaintly" in text or "ZQ" not in text:
            return "the restricted summary must show initials, never the name"
        return None
    if status not in (200, 302):
        return f"expected the full record, got {status}"
    if status == 200 and "Zebedee Quaintly" not in text:
        return "the full record must show the person's name"
    return None


@pytest.mark.parametrize("rule, method", CALLS, ids=[f"{method} {rule.rule}" for rule, method in CALLS])
def test_need_to_know(app, db, rule, method, world):
    url = _url(rule, world["args"])
    problems = []
    for who in WHO:
        outcome = expected(rule.endpoint, method, who)
        client = app.test_client()
        if who != "anonymous":
            _sign_in(client, world["users"][who])
        audits, events = _count(db, AuditEvent), _count(db, CaseEvent)
        response = client.open(url, method=method, data={} if method == "POST" else None)
        db.session.rollback()
        problem = _problem(response, outcome, audited=_count(db, AuditEvent) > audits,
                           changed=_count(db, CaseEvent) != events)
        if response.status_code >= 500:
            problem = f"server error {response.status_code}"
        if problem:
            problems.append(f"{who}: {problem}")
    assert not problems, f"{method} {url}:\n" + "\n".join(problems)


def _sign_in(client, user) -> None:
    """Sign a fresh client in, as the login_as fixture does."""

    with client.session_transaction() as session:
        session["_user_id"] = user.session_token
        session["_fresh"] = True
        session["signed_in_at"] = time.time()
        session["last_seen"] = time.time()
