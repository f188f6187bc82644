"""Pure checks on referral answers, shared by the form and the API. Each returns a GOV.UK-style
message when the answer is wrong, or None when it is fine."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from panel.forms.text import text_problem
from panel.models import LawfulBasis, Need, Referral, RiskLevel

# Length limits for free text (characters).
SHORT = 100
NAME = 120
LONG = 5000
OUTCOME = 500
MAX_OUTCOMES = 10

POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


def nhs_number_problem(value: str) -> str | None:
    """10 digits whose last is the modulus-11 check digit of the first nine."""
    digits = re.sub(r"[\s-]", "", value or "")
    if not digits:
        return None
    if not digits.isascii() or not digits.isdigit() or len(digits) != 10:  # not "٠١٢" or "９"
        return "NHS number must be 10 digits, like 943 476 5919"
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    if check == 10 or check != int(digits[9]):
        return "Enter a valid NHS number – check it has been typed correctly"
    return None


def normalise_nhs_number(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def normalise_postcode(value: str) -> str:
    """'lu12ab' → 'LU1 2AB' when it is a UK postcode; otherwise upper-cased as typed."""
    compact = re.sub(r"\s+", "", (value or "").upper())
    match = POSTCODE_RE.match(compact)
    return f"{match.group(1)} {match.group(2)}" if match else (value or "").strip().upper()


def postcode_problem(value: str) -> str | None:
    if not value:
        return "Enter the postcode"
    if not POSTCODE_RE.match(re.sub(r"\s+", "", value.upper())):
        return "Enter a real postcode, like LU1 2AB"
    return None


def age_on(date_of_birth: date, today: date) -> int:
    return today.year - date_of_birth.year - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))


def date_of_birth_problem(value: date | None, today: date) -> str | None:
    if value is None:
        return "Enter the date of birth"
    if value >= today:
        return "Date of birth must be in the past"
    if value.year < 1900:
        return "Date of birth must be after 1 January 1900"
    if age_on(value, today) < 18:
        return ("The person must be 18 or over. For anyone under 18, contact children’s services "
                "(the children’s social care front door) instead")
    return None


# Letters that Unicode does not decompose into a base letter and an accent.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ß": "ss",
                       "ı": "i"})


def name_key(given: str, family: str) -> str:
    """A name folded for matching: no accents, case, punctuation or extra spaces."""
    text = unicodedata.normalize("NFKD", f"{given} {family}")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().translate(_FOLD)
    return " ".join(re.sub(r"[^a-z ]", " ", text).split())


def submission_problems(referral: Referral, today: date) -> dict[str, str]:
    """Everything that stops a referral being submitted, keyed by field path (as in the API).

    The form shows these on the check-your-answers page; the API answers them with 422.
    """
    p = referral.as_referred
    problems: dict[str, str | None] = {
        "person.given_name": text_problem(p.given_name, "the person’s first name", SHORT, required=True),
        "person.family_name": text_problem(p.family_name, "the person’s last name", SHORT, required=True),
        "person.other_names": text_problem(p.other_names, "other names", 200),
        "person.date_of_birth": date_of_birth_problem(p.date_of_birth, today),
        "person.gender": text_problem(p.gender, "gender", 60),
        "person.ethnicity": text_problem(p.ethnicity, "ethnicity", SHORT),
        "person.first_language": text_problem(p.first_language, "first language", 60),
        "person.communication_needs": text_problem(p.communication_needs, "communication needs", LONG),
        "person.address": text_problem(p.address, "the address", 300, required=True),
        "person.postcode": postcode_problem(p.postcode),
        "person.nhs_number": nhs_number_problem(p.nhs_number),
        "person.other_identifiers": text_problem(p.other_identifiers, "other identifiers", 300),
        "referrer.name": text_problem(referral.referrer_name, "your name", NAME, required=True),
        "referrer.email": text_problem(referral.referrer_email, "your email address", 254, required=True),
        "referrer.phone": text_problem(referral.referrer_phone, "your phone number", 40),
        "referrer.manager_name": text_problem(
            referral.manager_name, "the name of the manager who signed off this referral", NAME, required=True),
        "risk_summary": text_problem(referral.risk_summary, "a summary of the risks", LONG, required=True),
        "risk_assessment": text_problem(referral.risk_assessment, "your agency’s risk assessment", LONG),
        "tried_already": text_problem(referral.tried_already, "what has been tried already", LONG, required=True),
        "rapport": text_problem(referral.rapport, "who has rapport with the person", LONG),
        "persons_views": text_problem(referral.persons_views, "the person’s views", LONG),
        "capacity": text_problem(referral.capacity, "mental capacity considerations", LONG),
        "staff_safety.details": text_problem(referral.staff_safety_details, "staff-safety details", LONG),
    }
    if not referral.needs:
        problems["needs"] = "Select at least one need"
    elif any(n not in {x.value for x in Need} for n in referral.needs):
        problems["needs"] = "Select needs from the list"
    if referral.risk_level not in (RiskLevel.CRITICAL, RiskLevel.HIGH):
        problems["risk_level"] = ("Select critical or high. The pathway is for adults at critical or high "
                                  "risk despite single-agency work")
    outcomes = [o for o in (referral.desired_outcomes or []) if o]
    if len(outcomes) > MAX_OUTCOMES:
        problems["desired_outcomes"] = f"Enter {MAX_OUTCOMES} desired outcomes or fewer"
    elif any(len(o) > OUTCOME for o in outcomes):
        problems["desired_outcomes"] = f"Each desired outcome must be {OUTCOME} characters or fewer"
    if referral.consent_given is None:
        problems["consent.given"] = "Select yes if the person consents to their information being shared"
    elif referral.consent_given is False:
        if referral.consent_lawful_basis not in set(LawfulBasis):
            problems["consent.lawful_basis"] = "Select the lawful basis for sharing without consent"
        problems["consent.reason"] = text_problem(
            referral.consent_reason, "why you are sharing without consent", LONG, required=True)
    if (referral.staff_hostility or referral.staff_lone_working_restricted) and not referral.staff_safety_details:
        problems["staff_safety.details"] = "Describe the staff-safety concerns"
    return {k: v for k, v in problems.items() if v}
