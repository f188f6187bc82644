"""The referral API's JSON shape, and the parser that checks a body against it.

SCHEMA is the one description of the stable interface: parse() checks bodies against it and
panel.referrals.openapi turns it into the published JSON Schema, so the two cannot drift.
The parser checks shape and types only (unknown fields, strings are strings, booleans are
booleans, real ISO dates, known codes); whether the answers are complete and sensible is for
panel.referrals.rules.submission_problems, the same rules as the form. Field paths in errors
are those of the JSON body ("person.nhs_number"), which the rules use too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from panel.forms.text import clean_text
from panel.models import LawfulBasis, Need, Person, Referral, RiskLevel
from panel.referrals import rules

MAX_BODY_BYTES = 64 * 1024
# Length limits, as the rules apply them (documented in the OpenAPI document).
_LIMITS = {
    "person.given_name": rules.SHORT, "person.family_name": rules.SHORT, "person.other_names": 200,
    "person.gender": 60, "person.ethnicity": rules.SHORT, "person.first_language": 60,
    "person.communication_needs": rules.LONG, "person.address": 300,
    "referrer.name": rules.NAME, "referrer.email": 254, "referrer.phone": 40, "referrer.manager_name": rules.NAME,
}
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Field:
    """One property of the body. kind: string, email, boolean, date, enum, list, object."""

    kind: str
    description: str = ""
    nullable: bool = False
    required: bool = False          # the rules refuse the referral without it (documentation)
    multiline: bool = False         # keeps line breaks when cleaned
    max_length: int | None = None
    enum: tuple[str, ...] = ()
    enum_message: str = ""
    items: Field | None = None      # for lists
    max_items: int | None = None
    unique_items: bool = False
    properties: dict[str, Field] = field(default_factory=dict)  # for objects


def _text(description: str, *, required: bool = False, multiline: bool = False, max_length: int | None = None,
          nullable: bool = False) -> Field:
    return Field("string", description, required=required, multiline=multiline, max_length=max_length,
                 nullable=nullable)


def _long(description: str, *, required: bool = False) -> Field:
    return _text(description, required=required, multiline=True, max_length=rules.LONG)


NEED_CODES = tuple(n.value for n in Need)
RISK_CODES = (RiskLevel.CRITICAL.value, RiskLevel.HIGH.value)
LAWFUL_BASIS_CODES = tuple(b.value for b in LawfulBasis)

SCHEMA = Field("object", "A referral into the pathway.", properties={
    "person": Field("object", "The adult at risk.", required=True, properties={
        "given_name": _text("First name.", required=True, max_length=_LIMITS["person.given_name"]),
        "family_name": _text("Last name.", required=True, max_length=_LIMITS["person.family_name"]),
        "other_names": _text("Other names or aliases.", max_length=_LIMITS["person.other_names"]),
        "date_of_birth": Field("date", "Date of birth, YYYY-MM-DD. The person must be 18 or over.", required=True),
        "gender": _text("Gender, as the person describes it.", max_length=_LIMITS["person.gender"]),
        "ethnicity": _text("Ethnicity.", max_length=_LIMITS["person.ethnicity"]),
        "first_language": _text("First language.", max_length=_LIMITS["person.first_language"]),
        "interpreter_needed": Field("boolean", "Whether an interpreter is needed; null when not known.",
                                    nullable=True),
        "communication_needs": _long("Communication needs."),
        "address": _text("Address (without the postcode).", required=True, multiline=True,
                         max_length=_LIMITS["person.address"]),
        "postcode": _text("UK postcode, like LU1 2AB.", required=True),
        "nhs_number": _text("NHS number: 10 digits with a valid check digit (spaces allowed), or empty."),
    }),
    "referrer": Field("object", "Who is making the referral.", required=True, properties={
        "name": _text("The referrer's name.", required=True, max_length=_LIMITS["referrer.name"]),
        "email": Field("email", "The referrer's work email address; updates are sent here (a link only).",
                       required=True, max_length=_LIMITS["referrer.email"]),
        "phone": _text("The referrer's phone number.", max_length=_LIMITS["referrer.phone"]),
        "manager_name": _text("The manager who signed off the referral.", required=True,
                              max_length=_LIMITS["referrer.manager_name"]),
    }),
    "needs": Field("list", "At least one need code.", required=True, unique_items=True,
                   items=Field("enum", enum=NEED_CODES,
                                enum_message="is not a need code. Select needs from the list")),
    "risk_level": Field("enum", "The pathway is for adults at critical or high risk.", required=True,
                        enum=RISK_CODES,
                        enum_message=("Select critical or high. The pathway is for adults at critical or high "
                                      "risk despite single-agency work")),
    "risk_summary": _long("A summary of the risks.", required=True),
    "risk_assessment": _long("The referring agency's risk assessment."),
    "tried_already": _long("What has been tried already.", required=True),
    "agencies_involved": Field("list", "Codes of the agencies involved with the person.", unique_items=True,
                               items=Field("string")),
    "rapport": _long("Who has rapport with the person."),
    "persons_views": _long("The person's own views."),
    "desired_outcomes": Field("list", "Desired outcomes; empty strings are ignored.",
                              max_items=rules.MAX_OUTCOMES,
                              items=_text("A desired outcome.", multiline=True, max_length=rules.OUTCOME)),
    "capacity": _long("Mental capacity considerations."),
    "consent": Field("object", "Consent to share information.", required=True, properties={
        "given": Field("boolean", "Whether the person consents to their information being shared.", required=True),
        "lawful_basis": Field("enum", "When consent is not given: the lawful basis for sharing.", nullable=True,
                              enum=LAWFUL_BASIS_CODES,
                              enum_message="Select the lawful basis for sharing without consent"),
        "reason": _text("When consent is not given: why the information is shared anyway.", multiline=True,
                        max_length=rules.LONG, nullable=True),
    }),
    "staff_safety": Field("object", "Risks to staff.", properties={
        "hostility": Field("boolean", "Hostility or aggression towards staff."),
        "lone_working_restricted": Field("boolean", "Staff should not visit alone."),
        "details": _long("Details, required when either is true."),
    }),
})

# Where each body field is stored: a Person column, a Referral column, or the involvements.
PERSON_MAP = {name: name for name in SCHEMA.properties["person"].properties}
ANSWER_MAP = {
    "referrer.name": "referrer_name", "referrer.email": "referrer_email", "referrer.phone": "referrer_phone",
    "referrer.manager_name": "manager_name", "needs": "needs", "risk_level": "risk_level",
    "risk_summary": "risk_summary", "risk_assessment": "risk_assessment", "tried_already": "tried_already",
    "rapport": "rapport", "persons_views": "persons_views", "desired_outcomes": "desired_outcomes",
    "capacity": "capacity", "consent.given": "consent_given", "consent.lawful_basis": "consent_lawful_basis",
    "consent.reason": "consent_reason", "staff_safety.hostility": "staff_hostility",
    "staff_safety.lone_working_restricted": "staff_lone_working_restricted",
    "staff_safety.details": "staff_safety_details",
}
# Booleans the database holds as true or false, never unknown.
_NOT_NULL_DEFAULTS = {"staff_safety.hostility": False, "staff_safety.lone_working_restricted": False}


@dataclass
class Parsed:
    """A body as the database will hold it, and the problems found, keyed by field path."""

    person: dict[str, Any]
    answers: dict[str, Any]
    agency_codes: list[str]
    errors: dict[str, str]


def _shown(value: str, limit: int = 40) -> str:
    """A fragment of what the client sent, safe to put in a message."""
    text = clean_text(_SURROGATES.sub("", value))
    return text if len(text) <= limit else text[:limit] + "…"


def _clean(value: str, spec: Field) -> str:
    """Strip control characters, lone surrogates (unstorable) and surrounding space."""
    return clean_text(_SURROGATES.sub("", value), multiline=spec.multiline)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _default(spec: Field, path: str) -> Any:
    """What is stored when the body leaves a field out, or its value was refused."""
    if spec.kind == "object":
        return {name: _default(child, f"{path}.{name}" if path else name) for name, child in spec.properties.items()}
    if spec.kind == "list":
        return []
    if spec.kind in ("string", "email"):
        return ""
    return _NOT_NULL_DEFAULTS.get(path)


def _check(value: Any, spec: Field, path: str, errors: dict[str, str]) -> Any:
    """The cleaned value, or the default after recording an error at path."""
    if value is None:
        if not spec.nullable:
            errors[path] = "Must not be null"
        return None if spec.nullable else _default(spec, path)
    check = _CHECKS.get(spec.kind)
    if check is None:  # pragma: no cover - every kind of field has a check
        raise AssertionError(spec.kind)
    return check(value, spec, path, errors)


def _check_string(value: Any, spec: Field, path: str, errors: dict[str, str]) -> str:
    if not isinstance(value, str):
        errors[path] = f"Must be a string, not {_type_name(value)}"
        return ""
    text = _clean(value, spec)
    if spec.kind == "email" and text and not _EMAIL_RE.match(text):
        errors[path] = "Enter an email address in the correct format, like name@example.gov.uk"
    return text


def _check_boolean(value: Any, spec: Field, path: str, errors: dict[str, str]) -> Any:
    if not isinstance(value, bool):
        errors[path] = f"Must be true or false, not {_type_name(value)}"
        return _default(spec, path)
    return value


def _check_date(value: Any, spec: Field, path: str, errors: dict[str, str]) -> date | None:
    if not isinstance(value, str):
        errors[path] = f"Must be a date written as a string, YYYY-MM-DD, not {_type_name(value)}"
        return None
    if not _DATE_RE.match(value):
        errors[path] = "Must be a date in the format YYYY-MM-DD, like 1980-02-29"
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[path] = "Must be a real date"
        return None


def _check_enum(value: Any, spec: Field, path: str, errors: dict[str, str]) -> str | None:
    if not isinstance(value, str):
        errors[path] = f"Must be a string, not {_type_name(value)}"
        return None
    if value not in spec.enum:
        errors[path] = spec.enum_message or f"Must be one of: {', '.join(spec.enum)}"
        return None
    return value


def _check_object_value(value: Any, spec: Field, path: str, errors: dict[str, str]) -> Any:
    if not isinstance(value, dict):
        errors[path] = f"Must be an object, not {_type_name(value)}"
        return _default(spec, path)
    return _check_object(value, spec, path, errors)


def _check_list(value: Any, spec: Field, path: str, errors: dict[str, str]) -> list:
    if not isinstance(value, list):
        errors[path] = f"Must be a list, not {_type_name(value)}"
        return []
    assert spec.items is not None
    out: list = []
    for index, item in enumerate(value, 1):
        problems: dict[str, str] = {}
        cleaned = _check(item, spec.items, path, problems)
        if problems:
            if spec.items.kind == "enum" and isinstance(item, str):
                message = f"“{_shown(item)}” {spec.items.enum_message}"
            else:
                message = f"Item {index} {problems[path][0].lower()}{problems[path][1:]}"
            errors.setdefault(path, message)
            continue
        if spec.unique_items and cleaned in out:
            continue  # a repeated code means the same thing once
        out.append(cleaned)
    return out


def _check_object(value: dict, spec: Field, path: str, errors: dict[str, str]) -> dict:
    for key in value:
        if key not in spec.properties:
            where = f"{path}.{_shown(str(key))}" if path else _shown(str(key))
            errors[where] = "Unknown field: the referral API does not have this field"
    out: dict[str, Any] = {}
    for name, child in spec.properties.items():
        where = f"{path}.{name}" if path else name
        out[name] = _check(value[name], child, where, errors) if name in value else _default(child, where)
    return out


_CHECKS = {
    "string": _check_string,
    "email": _check_string,
    "boolean": _check_boolean,
    "date": _check_date,
    "enum": _check_enum,
    "list": _check_list,
    "object": _check_object_value,
}


def parse(body: Any, *, agency_codes: Iterable[str]) -> Parsed:
    """Check a decoded JSON body; return what to store and the problems found."""
    errors: dict[str, str] = {}
    if not isinstance(body, dict):
        errors[""] = f"The body must be a JSON object, not {_type_name(body)}"
        body = {}
    data = _check_object(body, SCHEMA, "", errors)

    person = {PERSON_MAP[name]: value for name, value in data["person"].items()}
    person["postcode"] = rules.normalise_postcode(person["postcode"])
    person["nhs_number"] = rules.normalise_nhs_number(person["nhs_number"])

    answers: dict[str, Any] = {}
    for where, column in ANSWER_MAP.items():
        value: Any = data
        for part in where.split("."):
            value = value[part]
        answers[column] = value
    answers["risk_level"] = RiskLevel(answers["risk_level"]) if answers["risk_level"] else None
    basis = answers["consent_lawful_basis"]
    answers["consent_lawful_basis"] = LawfulBasis(basis) if basis else None
    answers["consent_reason"] = answers["consent_reason"] or ""
    answers["desired_outcomes"] = [o for o in answers["desired_outcomes"] if o]

    known = set(agency_codes)
    codes = data["agencies_involved"]
    unknown = [c for c in codes if c not in known]
    if unknown and "agencies_involved" not in errors:
        listed = ", ".join(f"“{_shown(c)}”" for c in unknown[:5])
        errors["agencies_involved"] = f"Unknown agency code{'s' if len(unknown) > 1 else ''}: {listed}"
    return Parsed(person=person, answers=answers, agency_codes=[c for c in codes if c in known], errors=errors)


def preview(parsed: Parsed) -> Referral:
    """An unsaved referral holding the parsed answers, for the rules to check before anything is stored."""
    person = Person(other_identifiers="", **parsed.person)
    referral = Referral(person=person, lives_in_area=None, single_agency_tried=None, **parsed.answers)
    return referral


def problems(parsed: Parsed, today: date) -> list[dict[str, str]]:
    """Every problem: the parser's, then the rules' for fields the parser did not already refuse."""
    found = dict(parsed.errors)
    if "" not in found:
        for path, message in rules.submission_problems(preview(parsed), today).items():
            found.setdefault(path, message)
    return as_errors(found)


def as_errors(found: dict[str, str]) -> list[dict[str, str]]:
    order = {path: i for i, path in enumerate(_all_paths(SCHEMA, ""))}
    return [{"field": path, "message": message}
            for path, message in sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))]


def _all_paths(spec: Field, path: str) -> list[str]:
    out = [path] if path else []
    for name, child in spec.properties.items():
        out += _all_paths(child, f"{path}.{name}" if path else name)
    return out


# The example in the issue, with the blanks a real referral must fill in filled in. Used in the
# OpenAPI document and checked by the tests against parse() and the rules.
EXAMPLE = {
    "person": {"given_name": "Alex", "family_name": "Example", "other_names": "",
               "date_of_birth": "1980-02-29", "gender": "", "ethnicity": "",
               "first_language": "English", "interpreter_needed": False,
               "communication_needs": "", "address": "1 High Street", "postcode": "LU1 2AB",
               "nhs_number": "9434765919"},
    "referrer": {"name": "Sam Referrer", "email": "sam.referrer@agency.example", "phone": "01582 000000",
                 "manager_name": "Morgan Manager"},
    "needs": ["dual_diagnosis", "mental_health"],
    "risk_level": "critical",
    "risk_summary": "Repeated crises; declining all single-agency offers.",
    "risk_assessment": "",
    "tried_already": "Outreach visits and a housing support referral.",
    "agencies_involved": ["police", "housing"], "rapport": "", "persons_views": "",
    "desired_outcomes": ["A stable tenancy"], "capacity": "",
    "consent": {"given": True, "lawful_basis": None, "reason": None},
    "staff_safety": {"hostility": False, "lone_working_restricted": False, "details": ""},
}
