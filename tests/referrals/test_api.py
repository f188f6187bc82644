"""The referral intake API: POST /api/referrals and /api/openapi.json.

The happy path uses the example body from the issue (with the blanks a real referral must fill
in filled in); the rest sends it bad tokens, bad content types, malformed and oversized bodies,
wrong types, unknown fields, broken rules, repeats and floods, and checks each gets a clear JSON
answer, never a 500, and an audit entry without personal data.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel import audit
from panel.extensions import db
from panel.models import (
    AgencyKind,
    ApiToken,
    AuditAction,
    AuditEvent,
    Involvement,
    OutboxMessage,
    Person,
    Referral,
    ReferralStatus,
    utcnow,
)
from panel.referrals import api_schema, tokens
from tests import factories

URL = "/api/referrals"

# The example body exactly as the issue gives it.
ISSUE_EXAMPLE = json.loads("""
{"person": {"given_name": "Alex", "family_name": "Example", "other_names": "",
            "date_of_birth": "1980-02-29", "gender": "", "ethnicity": "",
            "first_language": "English", "interpreter_needed": false,
            "communication_needs": "", "address": "1 High Street", "postcode": "LU1 2AB",
            "nhs_number": "9434765919"},
 "referrer": {"name": "", "email": "", "phone": "", "manager_name": ""},
 "needs": ["dual_diagnosis", "mental_health"],
 "risk_level": "critical",
 "risk_summary": "", "risk_assessment": "", "tried_already": "",
 "agencies_involved": ["police", "housing"], "rapport": "", "persons_views": "",
 "desired_outcomes": [""], "capacity": "",
 "consent": {"given": true, "lawful_basis": null, "reason": null},
 "staff_safety": {"hostility": false, "lone_working_restricted": false, "details": ""}}
""")


def issue_body() -> dict:
    """The issue's example with the answers the rules require filled in."""
    body = copy.deepcopy(ISSUE_EXAMPLE)
    body["referrer"] = {"name": "Robin Referrer", "email": "robin.referrer@asc.test", "phone": "",
                        "manager_name": "Morgan Manager"}
    body["risk_summary"] = "Repeated crises and declining all single-agency offers."
    body["tried_already"] = "Outreach visits and a housing support referral."
    return body


@pytest.fixture
def app_config():
    return {"CASE_CAP": 2}


@pytest.fixture
def referring_agency(app):
    factories.create_agency(code="police", name="Test Police", kind=AgencyKind.POLICE)
    factories.create_agency(code="housing", name="Test Housing", kind=AgencyKind.HOUSING)
    return factories.create_agency(code="asc", name="Test Adult Social Care", kind=AgencyKind.ADULT_SOCIAL_CARE)


@pytest.fixture
def token(referring_agency) -> str:
    _, plain = tokens.create_token(agency=referring_agency, label="Case system")
    db.session.commit()
    return plain


def post(client, body=None, *, token: str | None = None, raw: bytes | str | None = None,
         content_type: str = "application/json", headers: dict | None = None):
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type, headers=all_headers)


def referral_count() -> int:
    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one()


def api_audit() -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.object_type == "api_token").order_by(AuditEvent.id)).scalars())


# ---- the happy path --------------------------------------------------------------------


def test_the_issues_example_makes_a_submitted_referral(client, token, referring_agency):
    response = post(client, issue_body(), token=token)

    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert set(data) == {"reference", "status", "url"}
    assert data["status"] == "submitted"
    assert data["reference"] == f"R-{date.today().year}-00001"
    referral = db.session.execute(sa.select(Referral)).scalar_one()
    assert data["url"] == f"http://localhost/referrals/{referral.id}"
    assert response.headers["Location"] == data["url"]
    assert response.mimetype == "application/json"

    assert referral.status == ReferralStatus.SUBMITTED
    assert referral.source == "api"
    assert referral.created_by_id is None
    assert referral.referring_agency_id == referring_agency.id
    assert referral.api_token_id is not None
    assert referral.needs == ["dual_diagnosis", "mental_health"]
    assert referral.desired_outcomes == []
    assert referral.consent_given is True and referral.consent_lawful_basis is None
    person = referral.person
    assert (person.given_name, person.family_name, person.date_of_birth) == ("Alex", "Example", date(1980, 2, 29))
    assert (person.postcode, person.nhs_number, person.interpreter_needed) == ("LU1 2AB", "9434765919", False)
    involved = db.session.execute(sa.select(Involvement).where(Involvement.referral_id == referral.id)).scalars()
    assert sorted(inv.agency.code for inv in involved) == ["housing", "police"]
    assert db.session.get(ApiToken, referral.api_token_id).last_used_at is not None


def test_the_referrer_gets_an_email_with_a_link_only(client, token):
    body = issue_body()
    response = post(client, body, token=token)

    assert response.status_code == 201
    message = db.session.execute(sa.select(OutboxMessage)).scalar_one()
    assert message.to_addr == "robin.referrer@asc.test"
    assert response.get_json()["url"] in message.body_text
    assert response.get_json()["reference"] in message.subject
    text = message.subject + message.body_text
    for personal in ("Alex", "Example", "1980", "9434765919", "LU1", "High Street"):
        assert personal not in text


def test_a_referral_is_waiting_when_the_pathway_is_full(client, token):
    statuses = []
    for n in range(3):
        body = issue_body()
        body["person"]["given_name"] = f"Person{n}"
        response = post(client, body, token=token)
        assert response.status_code == 201
        statuses.append(response.get_json()["status"])

    assert statuses == ["submitted", "submitted", "waiting"]
    waiting = db.session.execute(sa.select(Referral).where(Referral.status == ReferralStatus.WAITING)).scalar_one()
    assert waiting.person.given_name == "Person2"
    emails = db.session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    assert "waiting list" in emails[-1].subject


def test_text_is_cleaned_and_normalised_like_the_form(client, token):
    body = issue_body()
    body["person"]["given_name"] = "  Al\x00ex\u202e\x07 "
    body["person"]["postcode"] = "lu12ab"
    body["person"]["nhs_number"] = "943 476 5919"
    body["risk_summary"] = "First line\r\nSecond\tline\x1b"
    body["desired_outcomes"] = ["", "A safe home", "  "]

    response = post(client, body, token=token)

    assert response.status_code == 201, response.get_json()
    referral = db.session.execute(sa.select(Referral)).scalar_one()
    assert referral.person.given_name == "Alex"
    assert referral.person.postcode == "LU1 2AB"
    assert referral.person.nhs_number == "9434765919"
    assert referral.risk_summary == "First line\nSecond\tline"
    assert referral.desired_outcomes == ["A safe home"]


def test_html_and_script_are_kept_as_text(client, token):
    body = issue_body()
    script = "<script>alert('x')</script> & <b>bold</b> '; DROP TABLE referrals; --"
    body["risk_summary"] = script
    body["person"]["other_names"] = "<img src=x onerror=alert(1)>"

    response = post(client, body, token=token)

    assert response.status_code == 201
    referral = db.session.execute(sa.select(Referral)).scalar_one()
    assert referral.risk_summary == script
    assert referral.person.other_names == "<img src=x onerror=alert(1)>"


def test_lone_surrogates_are_dropped_rather_than_breaking_the_database(client, token):
    raw = json.dumps(issue_body()).replace('"Alex"', '"Al\\ud800ex"')

    response = post(client, raw=raw, token=token)

    assert response.status_code == 201
    assert db.session.execute(sa.select(Person.given_name)).scalar_one() == "Alex"


def test_repeated_codes_count_once(client, token):
    body = issue_body()
    body["needs"] = ["offending", "offending", "housing"]
    body["agencies_involved"] = ["police", "police"]

    assert post(client, body, token=token).status_code == 201
    referral = db.session.execute(sa.select(Referral)).scalar_one()
    assert referral.needs == ["offending", "housing"]
    assert len(referral.involvements) == 1


# ---- authentication --------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    None,
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer ",
    "Bearer pnl_" + "A" * 43,
    "Bearer not-a-token-at-all",
    "Bearer " + "x" * 5000,
    "Token pnl_" + "A" * 43,
])
def test_calls_without_a_valid_token_get_401(client, token, header):
    headers = {"Authorization": header} if header is not None else {}

    response = post(client, issue_body(), headers=headers)

    assert response.status_code == 401
    assert response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert referral_count() == 0
    [entry] = api_audit()[1:]  # the first is the token's creation
    assert entry.action == AuditAction.DENIED and entry.object_id == "" and entry.user_id is None
    assert json.loads(entry.summary)["status"] == 401


def test_a_revoked_token_gets_401(client, token):
    row = tokens.find_token(token)
    tokens.revoke_token(row)
    db.session.commit()
    token_id = row.id

    response = post(client, issue_body(), token=token)

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert referral_count() == 0
    entry = api_audit()[-1]
    assert (entry.action, entry.object_id) == (AuditAction.DENIED, str(token_id))


def test_a_session_cookie_does_not_stand_in_for_a_token(client, login_as, referring_agency):
    login_as("coordinator")

    response = post(client, issue_body())

    assert response.status_code == 401
    assert api_audit()[-1].user_id is None


def test_calls_are_audited_without_a_user_even_with_a_session_cookie(client, login_as, token):
    login_as("coordinator")

    assert post(client, issue_body(), token=token).status_code == 201
    db.session.rollback()
    created = db.session.execute(sa.select(AuditEvent).where(AuditEvent.object_type.in_(("api_token", "referral")),
                                                             AuditEvent.action != AuditAction.LOGIN)).scalars().all()
    assert created and all(e.user_id is None for e in created)


# ---- transport errors ------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""])
def test_a_body_that_is_not_json_gets_415(client, token, content_type):
    response = post(client, issue_body(), token=token, content_type=content_type)

    assert response.status_code == 415
    assert "application/json" in response.get_json()["error"]
    assert referral_count() == 0


def test_json_with_a_charset_is_accepted(client, token):
    response = post(client, issue_body(), token=token, content_type="application/json; charset=utf-8")

    assert response.status_code == 201


@pytest.mark.parametrize("raw", [
    b"", b"{", b'{"person": }', b"[1,", b"nul", b"{'single': 'quotes'}", b"\xff\xfe\x00{",
    b'{"risk_level": NaN}', b'{"a": Infinity}', b'{"needs": [], "needs": []}',
    b'{"person": {"given_name": "a", "given_name": "b"}}', b"[" * 20000 + b"]" * 20000,
    b'{"n": ' + b"9" * 5000 + b"}", "{\"a\": \"caf\xe9\"}".encode("latin-1"),
], ids=lambda raw: repr(raw[:20]))
def test_malformed_json_gets_400(client, token, raw):
    response = post(client, raw=raw, token=token)

    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]
    assert referral_count() == 0


def test_a_body_over_64_kb_gets_413(client, token):
    body = issue_body()
    body["risk_summary"] = "x" * (64 * 1024)

    response = post(client, body, token=token)

    assert response.status_code == 413
    assert response.mimetype == "application/json"
    assert "64 KB" in response.get_json()["error"]
    assert referral_count() == 0


def test_a_body_over_the_app_wide_limit_gets_the_same_json_413(client, token):
    response = post(client, raw=b"{" + b" " * (3 * 1024 * 1024) + b"}", token=token)

    assert response.status_code == 413
    assert response.get_json()["error"]


def test_a_body_just_under_64_kb_is_read(client, token):
    body = issue_body()
    body["risk_summary"] = ""
    padding = 64 * 1024 - len(json.dumps(body)) - 10
    body["risk_assessment"] = "y" * padding

    response = post(client, body, token=token)

    assert response.status_code == 422  # read and checked: the risk summary is required, the assessment too long
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert fields == {"risk_summary", "risk_assessment"}


def test_other_methods_are_not_allowed(client):
    assert client.get(URL).status_code == 405
    assert client.put(URL, json={}).status_code == 405


# ---- validation ------------------------------------------------------------------------


def _set(path: str, value):
    def change(body):
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        target[last] = value
    return change


def _drop(path: str):
    def change(body):
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        del target[last]
    return change


def _both(*changes):
    def change(body):
        for c in changes:
            c(body)
    return change


SEVENTEEN = (date.today() - timedelta(days=17 * 366)).isoformat()

INVALID = [
    # unknown fields at every level
    ("unknown top-level field", _set("priority", "urgent"), "priority"),
    ("unknown person field", _set("person.middle_name", "X"), "person.middle_name"),
    ("unknown consent field", _set("consent.signed", True), "consent.signed"),
    ("unknown staff-safety field", _set("staff_safety.dog", True), "staff_safety.dog"),
    ("unknown referrer field", _set("referrer.team", "A"), "referrer.team"),
    # wrong types
    ("string for boolean", _set("consent.given", "true"), "consent.given"),
    ("number for boolean", _set("staff_safety.hostility", 0), "staff_safety.hostility"),
    ("string for nullable boolean", _set("person.interpreter_needed", "no"), "person.interpreter_needed"),
    ("number for string", _set("person.given_name", 42), "person.given_name"),
    ("number for NHS number", _set("person.nhs_number", 9434765919), "person.nhs_number"),
    ("boolean for string", _set("risk_summary", True), "risk_summary"),
    ("list for object", _set("person", ["Alex"]), "person"),
    ("string for object", _set("consent", "yes"), "consent"),
    ("object for list", _set("needs", {"mental_health": True}), "needs"),
    ("string for list", _set("agencies_involved", "police"), "agencies_involved"),
    ("object in a list of strings", _set("desired_outcomes", [{"text": "x"}]), "desired_outcomes"),
    ("number for enum", _set("risk_level", 1), "risk_level"),
    ("null name", _set("person.family_name", None), "person.family_name"),
    ("null needs", _set("needs", None), "needs"),
    ("null risk level", _set("risk_level", None), "risk_level"),
    ("null boolean", _set("staff_safety.hostility", None), "staff_safety.hostility"),
    ("null object", _set("referrer", None), "referrer"),
    ("null in a list", _set("needs", ["housing", None]), "needs"),
    # dates
    ("not a real date", _set("person.date_of_birth", "1981-02-29"), "person.date_of_birth"),
    ("month 13", _set("person.date_of_birth", "1980-13-01"), "person.date_of_birth"),
    ("British date order", _set("person.date_of_birth", "29/02/1980"), "person.date_of_birth"),
    ("date with a time", _set("person.date_of_birth", "1980-02-29T00:00:00"), "person.date_of_birth"),
    ("date as a number", _set("person.date_of_birth", 19800229), "person.date_of_birth"),
    ("under 18", _set("person.date_of_birth", SEVENTEEN), "person.date_of_birth"),
    ("born in the future", _set("person.date_of_birth", "2999-01-01"), "person.date_of_birth"),
    ("missing date of birth", _drop("person.date_of_birth"), "person.date_of_birth"),
    # rules shared with the form
    ("bad NHS check digit", _set("person.nhs_number", "9434765918"), "person.nhs_number"),
    ("NHS number too short", _set("person.nhs_number", "12345"), "person.nhs_number"),
    ("bad postcode", _set("person.postcode", "NOT A CODE"), "person.postcode"),
    ("empty postcode", _set("person.postcode", ""), "person.postcode"),
    ("empty needs", _set("needs", []), "needs"),
    ("unknown need", _set("needs", ["mental_health", "flying"]), "needs"),
    ("risk medium", _set("risk_level", "medium"), "risk_level"),
    ("risk unknown", _set("risk_level", "extreme"), "risk_level"),
    ("no consent, no lawful basis", _set("consent", {"given": False, "lawful_basis": None, "reason": "Risk to life"}),
     "consent.lawful_basis"),
    ("no consent, no reason", _set("consent", {"given": False, "lawful_basis": "vital_interests", "reason": None}),
     "consent.reason"),
    ("unknown lawful basis", _set("consent", {"given": False, "lawful_basis": "because", "reason": "x"}),
     "consent.lawful_basis"),
    ("consent not answered", _drop("consent.given"), "consent.given"),
    ("unknown agency code", _set("agencies_involved", ["police", "mi5"]), "agencies_involved"),
    ("number as agency code", _set("agencies_involved", [7]), "agencies_involved"),
    ("missing referrer", _drop("referrer"), "referrer.name"),
    ("bad referrer email", _set("referrer.email", "robin at asc"), "referrer.email"),
    ("two referrer emails", _set("referrer.email", "a@asc.test, b@asc.test"), "referrer.email"),
    ("no manager", _set("referrer.manager_name", "  "), "referrer.manager_name"),
    ("staff risk without details", _set("staff_safety.hostility", True), "staff_safety.details"),
    # length limits
    ("huge risk summary", _set("risk_summary", "x" * 5001), "risk_summary"),
    ("long first name", _set("person.given_name", "x" * 101), "person.given_name"),
    ("long address", _set("person.address", "x" * 301), "person.address"),
    ("long phone", _set("referrer.phone", "1" * 41), "referrer.phone"),
    ("long desired outcome", _set("desired_outcomes", ["x" * 501]), "desired_outcomes"),
    ("too many desired outcomes", _set("desired_outcomes", [f"Outcome {n}" for n in range(11)]), "desired_outcomes"),
    ("only control characters", _set("person.given_name", "\x00\x01\u200b"), "person.given_name"),
    ("an empty body", lambda body: body.clear(), "person.given_name"),
    ("NHS number in full-width digits", _set("person.nhs_number", "９４３４７６５９１９"), "person.nhs_number"),
    ("NHS number in Arabic-Indic digits", _set("person.nhs_number", "٩٤٣٤٧٦٥٩١٩"), "person.nhs_number"),
]


@pytest.mark.parametrize("change, field", [(c, f) for _, c, f in INVALID], ids=[n for n, _, _ in INVALID])
def test_invalid_answers_get_422_with_the_field_path(client, token, change, field):
    body = issue_body()
    change(body)

    response = post(client, body, token=token)

    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert all(set(e) == {"field", "message"} and e["message"] for e in errors)
    assert field in [e["field"] for e in errors], errors
    assert referral_count() == 0
    entry = api_audit()[-1]
    assert entry.action == AuditAction.DENIED and json.loads(entry.summary)["status"] == 422


def test_a_body_that_is_not_an_object_gets_422(client, token):
    response = post(client, ["person"], token=token)

    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "", "message": "The body must be a JSON object, not a list"}]


def test_type_errors_and_rule_errors_come_together(client, token):
    body = issue_body()
    body["person"]["given_name"] = 42
    body["person"]["postcode"] = "XYZ"
    body["person"]["nhs_number"] = "9434765918"
    body["needs"] = []
    body["colour"] = "blue"

    response = post(client, body, token=token)

    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert set(errors) == {"person.given_name", "person.postcode", "person.nhs_number", "needs", "colour"}
    assert errors["person.given_name"] == "Must be a string, not a number"
    assert errors["person.postcode"] == "Enter a real postcode, like LU1 2AB"
    assert errors["needs"] == "Select at least one need"


def test_an_under_18_is_sent_to_childrens_services(client, token):
    body = issue_body()
    body["person"]["date_of_birth"] = SEVENTEEN

    response = post(client, body, token=token)

    [error] = response.get_json()["errors"]
    assert error["field"] == "person.date_of_birth"
    assert "children’s services" in error["message"]


def test_consent_refused_with_a_lawful_basis_and_reason_is_accepted(client, token):
    body = issue_body()
    body["consent"] = {"given": False, "lawful_basis": "vital_interests", "reason": "Risk to life."}

    assert post(client, body, token=token).status_code == 201
    referral = db.session.execute(sa.select(Referral)).scalar_one()
    assert (referral.consent_given, referral.consent_lawful_basis, referral.consent_reason) == (
        False, "vital_interests", "Risk to life.")


def test_leaving_out_optional_fields_is_fine(client, token):
    body = issue_body()
    for name in ("risk_assessment", "rapport", "persons_views", "desired_outcomes", "capacity", "staff_safety",
                 "agencies_involved"):
        del body[name]
    for name in ("other_names", "gender", "ethnicity", "interpreter_needed", "communication_needs", "nhs_number"):
        del body["person"][name]

    response = post(client, body, token=token)

    assert response.status_code == 201, response.get_json()
    referral = db.session.execute(sa.select(Referral)).scalar_one()
    assert referral.staff_hostility is False and referral.person.interpreter_needed is None


# ---- idempotency -----------------------------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_original(client, token):
    headers = {"Idempotency-Key": "case-system-4711"}

    first = post(client, issue_body(), token=token, headers=headers)
    again = post(client, issue_body(), token=token, headers=headers)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert referral_count() == 1
    actions = [e.action for e in api_audit()[1:]]
    assert actions == [AuditAction.CREATE, AuditAction.VIEW]


def test_the_repeat_answers_as_first_answered_even_after_triage(client, token):
    headers = {"Idempotency-Key": "k1"}
    first = post(client, issue_body(), token=token, headers=headers)
    referral = db.session.execute(sa.select(Referral)).scalar_one()
    referral.status = ReferralStatus.AWAITING_PANEL
    db.session.commit()

    again = post(client, issue_body(), token=token, headers=headers)

    assert again.status_code == 200 and again.get_json() == first.get_json()


def test_a_key_that_loses_the_race_returns_the_winner(client, token, monkeypatch):
    """Both lookups miss (the other call has not committed yet); the unique constraint catches it."""
    from panel.referrals import intake

    headers = {"Idempotency-Key": "racing"}
    first = post(client, issue_body(), token=token, headers=headers)
    real = intake.find_by_idempotency_key
    calls = []

    def slow_to_see(token_row, key):
        calls.append(key)
        return None if len(calls) <= 2 else real(token_row, key)  # the view's look, then intake's under the lock

    monkeypatch.setattr(intake, "find_by_idempotency_key", slow_to_see)

    again = post(client, issue_body(), token=token, headers=headers)

    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert len(calls) == 3  # the third look came after the unique constraint refused the insert
    assert referral_count() == 1
    assert [e.action for e in api_audit()[1:]] == [AuditAction.CREATE, AuditAction.VIEW]


def test_different_keys_and_no_key_make_new_referrals(client, token):
    body = issue_body()
    assert post(client, body, token=token, headers={"Idempotency-Key": "a"}).status_code == 201
    assert post(client, body, token=token, headers={"Idempotency-Key": "b"}).status_code == 201
    assert post(client, body, token=token).status_code == 201
    assert post(client, body, token=token).status_code == 201  # waiting: CASE_CAP is 2 here
    assert referral_count() == 4


def test_the_same_key_from_another_token_is_another_referral(client, token, referring_agency):
    _, other = tokens.create_token(agency=referring_agency)
    db.session.commit()
    headers = {"Idempotency-Key": "shared"}

    assert post(client, issue_body(), token=token, headers=headers).status_code == 201
    assert post(client, issue_body(), token=other, headers=headers).status_code == 201
    assert referral_count() == 2


def test_a_key_reused_with_a_different_body_is_refused_with_422(client, token):
    headers = {"Idempotency-Key": "case-system-4712"}
    first = post(client, issue_body(), token=token, headers=headers)
    other_person = issue_body()
    other_person["person"]["given_name"] = "Jordan"

    refused = post(client, other_person, token=token, headers=headers)

    assert first.status_code == 201
    assert refused.status_code == 422
    assert refused.get_json() == {"error": "This Idempotency-Key was already used for a different referral. "
                                           "Send a new Idempotency-Key with each new referral"}
    assert referral_count() == 1
    entries = api_audit()[1:]
    assert [(e.action, json.loads(e.summary)["status"]) for e in entries] == [
        (AuditAction.CREATE, 201), (AuditAction.DENIED, 422)]
    assert json.loads(entries[-1].summary)["reason"] == "idempotency key reused"
    respaced = json.dumps(issue_body(), indent=4, sort_keys=True)  # the same body, written otherwise
    assert post(client, raw=respaced, token=token, headers=headers).status_code == 200


def test_a_racing_call_with_the_same_key_and_another_body_is_refused(client, token, monkeypatch):
    from panel.referrals import intake

    headers = {"Idempotency-Key": "racing-2"}
    post(client, issue_body(), token=token, headers=headers)
    real = intake.find_by_idempotency_key
    calls = []

    def slow_to_see(token_row, key):
        calls.append(key)
        return None if len(calls) <= 2 else real(token_row, key)

    monkeypatch.setattr(intake, "find_by_idempotency_key", slow_to_see)
    other_person = issue_body()
    other_person["person"]["nhs_number"] = "9434765870"

    refused = post(client, other_person, token=token, headers=headers)

    assert refused.status_code == 422 and "different referral" in refused.get_json()["error"]
    assert referral_count() == 1


def test_a_refused_call_does_not_use_up_its_key(client, token):
    headers = {"Idempotency-Key": "retry-me"}
    body = issue_body()
    body["person"]["postcode"] = "nope"
    assert post(client, body, token=token, headers=headers).status_code == 422

    assert post(client, issue_body(), token=token, headers=headers).status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 101, "has space", "tab\there", "naïve"])
def test_a_bad_idempotency_key_gets_400(client, token, key):
    headers = {"Idempotency-Key": key.encode("utf-8").decode("latin-1")}

    response = post(client, issue_body(), token=token, headers=headers)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["error"]
    assert referral_count() == 0


def test_a_100_character_key_is_fine(client, token):
    assert post(client, issue_body(), token=token, headers={"Idempotency-Key": "k" * 100}).status_code == 201


# ---- rate limit ------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"API_RATE_LIMIT_PER_MINUTE": 3}])
def test_calls_past_the_rate_limit_get_429(client, token, referring_agency, monkeypatch):
    _, other = tokens.create_token(agency=referring_agency)
    db.session.commit()
    statuses = [post(client, {}, token=token).status_code for _ in range(3)]  # the token's creation is no call

    limited = post(client, issue_body(), token=token)

    assert statuses == [422, 422, 422]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "at most 3 a minute" in limited.get_json()["error"]
    assert referral_count() == 0
    assert post(client, issue_body(), token=other).status_code == 201  # per token

    from panel.referrals import api

    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(api, "utcnow", lambda: later)
    assert post(client, issue_body(), token=token).status_code == 201


def test_the_first_429_comes_at_call_61_of_60_allowed(client, token):
    """The default limit; the token's creation, in the same audit trail, is not a call."""
    statuses = [post(client, {}, token=token).status_code for _ in range(61)]

    assert statuses[:60] == [422] * 60
    assert statuses[60] == 429


@pytest.mark.parametrize("isa", ["lapsed", "unsigned"])
def test_an_agency_without_a_current_isa_is_refused_with_403(client, isa):
    agency = factories.create_agency(code="lapsed-asc", name="Lapsed Care", isa=isa)
    _, plain = tokens.create_token(agency=agency)
    db.session.commit()

    refused = post(client, issue_body(), token=plain, headers={"Idempotency-Key": "isa"})

    assert refused.status_code == 403
    why = "has not signed the information sharing agreement" if isa == "unsigned" else "past its review date"
    assert why in refused.get_json()["error"] and "Lapsed Care" in refused.get_json()["error"]
    assert "cannot make referrals" in refused.get_json()["error"]
    assert referral_count() == 0
    entry = api_audit()[-1]
    assert entry.action == AuditAction.DENIED and json.loads(entry.summary)["reason"] == "no current isa"


def test_the_openapi_document_describes_the_403_and_the_reused_key(client):
    operation = client.get("/api/openapi.json").get_json()["paths"]["/api/referrals"]["post"]
    assert "information sharing agreement" in operation["responses"]["403"]["description"]
    assert "Idempotency-Key" in operation["responses"]["422"]["description"]
    assert "different" in operation["parameters"][0]["description"]
    assert {"$ref": "#/components/schemas/Error"} in (
        operation["responses"]["422"]["content"]["application/json"]["schema"]["oneOf"])


@pytest.mark.parametrize("app_config", [{"API_RATE_LIMIT_PER_MINUTE": 0}])
def test_a_zero_rate_limit_turns_it_off(client, token):
    assert {post(client, {}, token=token).status_code for _ in range(5)} == {422}


def test_the_rate_limit_defaults_to_60(app):
    assert app.config["API_RATE_LIMIT_PER_MINUTE"] == 60


# ---- audit -----------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"API_RATE_LIMIT_PER_MINUTE": 7}])
def test_every_call_is_audited_without_personal_data_or_the_token(client, token):
    body = issue_body()
    calls = [
        (post(client, body, token=token, headers={"Idempotency-Key": "one"}), AuditAction.CREATE, 201),
        (post(client, body, token=token, headers={"Idempotency-Key": "one"}), AuditAction.VIEW, 200),
        (post(client, body, token="pnl_" + "B" * 43), AuditAction.DENIED, 401),
        (post(client, body, token=token, content_type="text/plain"), AuditAction.DENIED, 415),
        (post(client, raw=b"{", token=token), AuditAction.DENIED, 400),
        (post(client, raw=b"x" * 70000, token=token), AuditAction.DENIED, 413),
        (post(client, {"needs": "x"}, token=token), AuditAction.DENIED, 422),
        (post(client, body, token=token), AuditAction.CREATE, 201),
        (post(client, body, token=token), AuditAction.DENIED, 429),
    ]

    assert [r.status_code for r, _, _ in calls] == [s for _, _, s in calls]
    entries = api_audit()[1:]
    assert [(e.action, json.loads(e.summary)["status"]) for e in entries] == [(a, s) for _, a, s in calls]
    referral_ids = set(db.session.execute(sa.select(Referral.id)).scalars())
    assert {json.loads(e.summary).get("referral") for e in entries} - {None} == referral_ids
    everything = " ".join(f"{e.object_id} {e.summary}" for e in db.session.execute(sa.select(AuditEvent)).scalars())
    for secret in (token, token[4:], "Alex", "Example", "9434765919", "LU1 2AB", "1980-02-29", "robin.referrer"):
        assert secret not in everything
    assert all(e.user_id is None for e in entries)
    assert audit.verify_chain().ok


def test_nothing_is_logged_about_the_body_or_token(client, token, caplog):
    body = issue_body()
    with caplog.at_level("DEBUG"):
        post(client, body, token=token)
        post(client, raw=b"{", token=token)
    for secret in (token, "Alex", "9434765919"):
        assert secret not in caplog.text


# ---- no 500, ever ----------------------------------------------------------------------


def _deep(n: int):
    value: object = "x"
    for _ in range(n):
        value = {"person": value}
    return value


NASTY = [
    b"null", b"true", b"42", b'"a string"', b"[]", b"{}", b'{"": 1}', b'{"person": null}',
    json.dumps({"person": {"given_name": "\u0000" * 1000}}).encode(),
    json.dumps({"person": {"date_of_birth": "0000-00-00"}}).encode(),
    json.dumps({"person": {"date_of_birth": "99999-01-01"}}).encode(),
    json.dumps({"person": {"date_of_birth": "1900-01-01"}}).encode(),
    json.dumps({"person": {"date_of_birth": "٠١٢٣-٠١-٠١"}}).encode(),
    json.dumps({"person": {"nhs_number": "９４３４７６５９１９"}}).encode(),
    json.dumps({"person": {"postcode": "L" * 5000}}).encode(),
    json.dumps({"needs": [[]] * 100}).encode(),
    json.dumps({"needs": ["x" * 10000]}).encode(),
    json.dumps({"agencies_involved": ["' OR 1=1 --"] * 50}).encode(),
    json.dumps({"agencies_involved": [{"code": "police"}]}).encode(),
    json.dumps({"desired_outcomes": ["x"] * 5000}).encode(),
    json.dumps({"consent": {"given": False, "lawful_basis": ["vital_interests"], "reason": 1}}).encode(),
    json.dumps({"staff_safety": []}).encode(),
    json.dumps({"x" * 10000: 1}).encode(),
    json.dumps({"person": {"\u0000": 1, "\ud800": 2}}).encode(),
    json.dumps(_deep(200)).encode(),
    json.dumps({"risk_level": "CRITICAL"}).encode(),
    json.dumps({"risk_level": "critical\u0000"}).encode(),
    json.dumps({"referrer": {"email": "a@b.c\r\nBcc: x@y.z"}}).encode(),
    json.dumps({"referrer": {"email": "x" * 300 + "@a.b"}}).encode(),
    b'{"person": {"given_name": "\\udfff\\ud800"}}',
    b"\xef\xbb\xbf{}",
    b"{} trailing",
    b"1e999999",
    b'{"a": -0.0e-0}',
    b" " * 60000,
]


@pytest.mark.parametrize("raw", NASTY, ids=[f"nasty{n}" for n in range(len(NASTY))])
def test_no_body_ever_gets_a_500(client, token, raw):
    response = post(client, raw=raw, token=token)

    assert response.status_code in (201, 400, 413, 422), response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    assert response.get_json()


def test_a_valid_body_with_nasty_but_legal_text_is_stored(client, token):
    body = issue_body()
    body["person"]["given_name"] = "Zoë-Åsa O’Brien 李"
    body["referrer"]["email"] = "a@b.c\r\nBcc: x@y.z"

    response = post(client, body, token=token)

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["referrer.email"]
    body["referrer"]["email"] = "robin.referrer@asc.test"
    assert post(client, body, token=token).status_code == 201
    assert db.session.execute(sa.select(Person.given_name)).scalar_one() == "Zoë-Åsa O’Brien 李"


# ---- the OpenAPI document --------------------------------------------------------------


def _objects(schema: dict, path: str = "$"):
    if schema.get("type") == "object" or "properties" in schema:
        yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from _objects(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _objects(schema["items"], f"{path}[]")


def test_the_openapi_document_describes_the_api(client):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = json.loads(response.get_data(as_text=True))
    assert doc["openapi"].startswith("3.1")
    assert list(doc["paths"]) == ["/api/referrals"]
    post_op = doc["paths"]["/api/referrals"]["post"]
    assert set(post_op["responses"]) == {"200", "201", "400", "401", "403", "413", "415", "422", "429"}
    assert "Retry-After" in post_op["responses"]["429"]["headers"]
    assert doc["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearerToken"][
            "description"]}
    assert doc["security"] == [{"bearerToken": []}]
    schema = doc["components"]["schemas"]["Referral"]
    objects = dict(_objects(schema))
    assert set(objects) == {"$", "$.person", "$.referrer", "$.consent", "$.staff_safety"}
    assert all(o["additionalProperties"] is False for o in objects.values())
    props = schema["properties"]
    assert props["needs"]["items"]["enum"] == [
        "dual_diagnosis", "offending", "mental_health", "self_neglect", "housing", "social_exclusion",
        "poorly_managed_health", "victimisation", "antisocial_behaviour", "unable_to_protect_self",
        "unhelpful_thinking", "poor_engagement"]
    assert props["risk_level"]["enum"] == ["critical", "high"]
    assert set(props["consent"]["properties"]["lawful_basis"]["enum"]) == {
        "vital_interests", "public_task", "safeguarding_individuals", "prevention_of_crime", "legal_obligation", None}
    assert set(props) == set(ISSUE_EXAMPLE)
    assert set(props["person"]["properties"]) == set(ISSUE_EXAMPLE["person"])
    assert props["person"]["properties"]["date_of_birth"]["format"] == "date"


def test_the_examples_pass_our_own_parser(client):
    doc = client.get("/api/openapi.json").get_json()
    example = doc["paths"]["/api/referrals"]["post"]["requestBody"]["content"]["application/json"]["example"]
    codes = ["police", "housing"]

    assert api_schema.parse(ISSUE_EXAMPLE, agency_codes=codes).errors == {}
    parsed = api_schema.parse(example, agency_codes=codes)
    assert parsed.errors == {}
    assert api_schema.problems(parsed, date.today()) == []


def test_the_openapi_document_needs_no_sign_in(client):
    assert client.get("/api/openapi.json").status_code == 200
