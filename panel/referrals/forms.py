"""The referral form's question pages: one form per topic, what each page saves, and the order.

Each page's form knows how to fill itself from a referral (`initial`) and what it saves
(`answers`, keyword arguments for services.update_answers). Limits and wording come from
panel.referrals.rules, so the form and the API refuse the same things in the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovDateInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, DateField, RadioField, SelectChoice, SelectMultipleField, StringField, SubmitField
from wtforms.validators import Regexp, ValidationError

from panel.dates import govuk_date
from panel.forms.text import multiline, one_line, text_problem
from panel.forms.validators import Limit
from panel.models import Agency, LawfulBasis, Need, Referral, RiskLevel
from panel.referrals import rules

YES, NO = "yes", "no"
# One address, as the outbox needs it: no spaces, one @, a dot in the domain (as the API checks).
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DAY_MONTH = re.compile(r"[0-9]{1,2}")
_YEAR = re.compile(r"[0-9]{4}")


def _text(label: str, problem_label: str, limit: int, *, required: bool = False, hint: str = "") -> StringField:
    return StringField(label, widget=GovTextInput(), description=hint, filters=[one_line],
                       validators=[Limit(problem_label, limit, required=required)])


def _area(label: str, problem_label: str, limit: int, *, required: bool = False, hint: str = "") -> StringField:
    return StringField(label, widget=GovTextArea(), description=hint, filters=[multiline],
                       validators=[Limit(problem_label, limit, required=required)])


def _yes_no(label: str, message: str, hint: str = "") -> RadioField:
    return RadioField(label, widget=GovRadioInput(), description=hint,
                      choices=[SelectChoice(YES, "Yes"), SelectChoice(NO, "No")],
                      invalid_choice_message=message, invalid_value_message=message)


def _as_yes_no(value: bool | None) -> str | None:
    return None if value is None else (YES if value else NO)


class DateOfBirthField(DateField):
    """A GOV.UK date input (day, month, year) with Design System messages. Empty gives None."""

    widget = GovDateInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format="%d %m %Y", **kwargs)

    def process_formdata(self, valuelist):
        parts = [str(v).strip()[:10] for v in list(valuelist)[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts  # the widget shows exactly three boxes, whatever was posted
        day, month, year = parts
        self.data = None
        if not (day or month or year):
            return
        missing = [name for name, value in (("day", day), ("month", month), ("year", year)) if not value]
        if missing:
            raise ValueError(f"Date of birth must include a {' and a '.join(missing)}")
        if not _DAY_MONTH.fullmatch(day) or not _DAY_MONTH.fullmatch(month):
            raise ValueError("Date of birth must be a real date")
        if not _YEAR.fullmatch(year):
            raise ValueError("Year must include 4 numbers")
        try:
            self.data = date(int(year), int(month), int(day))
        except ValueError:
            raise ValueError("Date of birth must be a real date") from None


# ---- the pages -------------------------------------------------------------------------


class SectionForm(FlaskForm):
    """A question page. Subclasses say what they show and what they save."""

    submit = SubmitField("Save and continue", widget=GovSubmitInput())

    @classmethod
    def initial(cls, referral: Referral) -> dict[str, Any]:
        return {}

    def answers(self) -> dict[str, Any]:
        """Keyword arguments for services.update_answers: person, answers, involvements."""
        return {}


class PersonNameForm(SectionForm):
    given_name = _text("First name", "the person’s first name", rules.SHORT, required=True)
    family_name = _text("Last name", "the person’s last name", rules.SHORT, required=True)
    other_names = _text("Other names (optional)", "other names", 200,
                        hint="Any other names they are known by, such as a previous family name or a nickname")

    @classmethod
    def initial(cls, referral):
        p = referral.as_referred
        return {"given_name": p.given_name, "family_name": p.family_name, "other_names": p.other_names}

    def answers(self):
        return {"person": {"given_name": self.given_name.data, "family_name": self.family_name.data,
                           "other_names": self.other_names.data}}


class DateOfBirthForm(SectionForm):
    date_of_birth = DateOfBirthField("What is their date of birth?", description="For example, 27 3 1980")

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    @classmethod
    def initial(cls, referral):
        return {"date_of_birth": referral.as_referred.date_of_birth}

    def validate_date_of_birth(self, field) -> None:
        if field.errors:
            return
        if field.data is None:
            raise ValidationError("Enter the date of birth")
        problem = rules.date_of_birth_problem(field.data, self.today)
        if problem and not self.under_18:
            raise ValidationError(problem)

    @property
    def under_18(self) -> bool:
        """A real date that makes them a child: the page stops and sends them to children's services."""
        dob = self.date_of_birth.data
        return dob is not None and dob < self.today and rules.age_on(dob, self.today) < 18

    def answers(self):
        return {"person": {"date_of_birth": self.date_of_birth.data}}


class IdentityForm(SectionForm):
    gender = _text("Gender (optional)", "gender", 60)
    ethnicity = _text("Ethnicity (optional)", "ethnicity", rules.SHORT)
    first_language = _text("First language (optional)", "first language", 60)
    interpreter_needed = _yes_no("Do they need an interpreter?", "Select yes if they need an interpreter")
    communication_needs = _area(
        "Communication needs (optional)", "communication needs", rules.LONG,
        hint="For example, British Sign Language, easy read, a hearing loop, or someone they trust to be there")

    @classmethod
    def initial(cls, referral):
        p = referral.as_referred
        return {"gender": p.gender, "ethnicity": p.ethnicity, "first_language": p.first_language,
                "interpreter_needed": _as_yes_no(p.interpreter_needed), "communication_needs": p.communication_needs}

    def answers(self):
        return {"person": {"gender": self.gender.data, "ethnicity": self.ethnicity.data,
                           "first_language": self.first_language.data,
                           "interpreter_needed": self.interpreter_needed.data == YES,
                           "communication_needs": self.communication_needs.data}}


class AddressForm(SectionForm):
    address = _area("Address", "the address", 300, hint="Their home, or where they are staying now")
    postcode = StringField("Postcode", widget=GovTextInput(), filters=[one_line])

    @classmethod
    def initial(cls, referral):
        return {"address": referral.as_referred.address, "postcode": referral.as_referred.postcode}

    def validate_address(self, field) -> None:
        problem = text_problem(field.data or "", "the address", 300, required=True)
        if problem:
            raise ValidationError(problem)

    def validate_postcode(self, field) -> None:
        if len(field.data or "") > 20:
            raise ValidationError("Enter a real postcode, like LU1 2AB")
        problem = rules.postcode_problem(field.data or "")
        if problem:
            raise ValidationError(problem)

    def answers(self):
        return {"person": {"address": self.address.data, "postcode": rules.normalise_postcode(self.postcode.data)}}


class IdentifiersForm(SectionForm):
    nhs_number = StringField("NHS number (optional)", widget=GovTextInput(), filters=[one_line],
                             description="A 10 digit number, like 943 476 5919")
    other_identifiers = _text("Other identifiers (optional)", "other identifiers", 300,
                              hint="For example, a police national computer number or your agency’s case number")

    @classmethod
    def initial(cls, referral):
        return {"nhs_number": referral.as_referred.nhs_number, "other_identifiers": referral.as_referred.other_identifiers}

    def validate_nhs_number(self, field) -> None:
        if len(field.data or "") > 20:
            raise ValidationError("NHS number must be 10 digits, like 943 476 5919")
        problem = rules.nhs_number_problem(field.data or "")
        if problem:
            raise ValidationError(problem)

    def answers(self):
        return {"person": {"nhs_number": rules.normalise_nhs_number(self.nhs_number.data),
                           "other_identifiers": self.other_identifiers.data}}


class EligibilityForm(SectionForm):
    lives_in_area = _yes_no("Do they live in the area?", "Select yes if they live in the area")
    single_agency_tried = _yes_no(
        "Has single-agency work been tried?", "Select yes if single-agency work has been tried",
        hint="The pathway is for adults whose risk stays critical or high despite each agency’s own work")

    @classmethod
    def initial(cls, referral):
        return {"lives_in_area": _as_yes_no(referral.lives_in_area),
                "single_agency_tried": _as_yes_no(referral.single_agency_tried)}

    def answers(self):
        return {"answers": {"lives_in_area": self.lives_in_area.data == YES,
                            "single_agency_tried": self.single_agency_tried.data == YES}}


class NeedsForm(SectionForm):
    needs = SelectMultipleField(
        "Which needs does the person have?", widget=GovCheckboxesInput(), description="Select all that apply.",
        choices=[SelectChoice(n.value, n.label) for n in Need],
        invalid_choice_message="Select needs from the list", invalid_value_message="Select needs from the list")

    @classmethod
    def initial(cls, referral):
        return {"needs": list(referral.needs or [])}

    def validate_needs(self, field) -> None:
        if not field.data and not field.errors:
            raise ValidationError("Select at least one need")

    def answers(self):
        chosen = set(self.needs.data)
        return {"answers": {"needs": [n.value for n in Need if n.value in chosen]}}


RISK_MESSAGE = ("Select critical or high. The pathway is for adults at critical or high risk despite "
                "single-agency work")


class RiskForm(SectionForm):
    risk_level = RadioField(
        "What is the level of risk?", widget=GovRadioInput(),
        description="If the risk is medium or low, this pathway is not the right place. Use your agency’s own "
                    "safeguarding processes instead.",
        choices=[SelectChoice(RiskLevel.CRITICAL.value, "Critical"), SelectChoice(RiskLevel.HIGH.value, "High")],
        invalid_choice_message=RISK_MESSAGE, invalid_value_message=RISK_MESSAGE)
    risk_summary = _area("Summary of the risks", "a summary of the risks", rules.LONG, required=True,
                         hint="What could happen, to whom, how likely it is and how soon")
    risk_assessment = _area("Your agency’s risk assessment (optional)", "your agency’s risk assessment", rules.LONG,
                            hint="The outcome of any risk assessment your agency has done, and when")

    @classmethod
    def initial(cls, referral):
        level = referral.risk_level.value if referral.risk_level in (RiskLevel.CRITICAL, RiskLevel.HIGH) else None
        return {"risk_level": level, "risk_summary": referral.risk_summary,
                "risk_assessment": referral.risk_assessment}

    def answers(self):
        return {"answers": {"risk_level": RiskLevel(self.risk_level.data), "risk_summary": self.risk_summary.data,
                            "risk_assessment": self.risk_assessment.data}}


class TriedAlreadyForm(SectionForm):
    tried_already = _area("What has been tried already?", "what has been tried already", rules.LONG, required=True,
                          hint="Include what worked, even briefly, and what did not")

    @classmethod
    def initial(cls, referral):
        return {"tried_already": referral.tried_already}

    def answers(self):
        return {"answers": {"tried_already": self.tried_already.data}}


def agency_id(value) -> int:
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ValueError("not an agency")
    return int(text)


class AgenciesForm(SectionForm):
    agencies = SelectMultipleField(
        "Which agencies are involved with the person?", widget=GovCheckboxesInput(), coerce=agency_id,
        description="Select all that apply, including your own agency.",
        invalid_choice_message="Select agencies from the list", invalid_value_message="Select agencies from the list")

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.agencies.choices = [SelectChoice(str(a.id), a.name) for a in agencies]
        self._known = {a.id: a for a in agencies}

    @classmethod
    def initial(cls, referral):
        return {"agencies": [inv.agency_id for inv in referral.involvements]}

    def validate_agencies(self, field) -> None:
        if not field.data and not field.errors:
            raise ValidationError("Select at least one agency involved with the person")

    def chosen(self, referral: Referral) -> list[dict[str, Any]]:
        """Keep the named worker and rapport of agencies already chosen."""
        current = {inv.agency_id: inv for inv in referral.involvements}
        wanted = []
        for agency in self._known.values():
            if agency.id in set(self.agencies.data):
                inv = current.get(agency.id)
                wanted.append({"agency_id": agency.id, "named_worker": inv.named_worker if inv else "",
                               "has_rapport": inv.has_rapport if inv else False})
        return wanted


class NamedWorkersBase(SectionForm):
    rapport = _area("Who has rapport with the person? (optional)", "who has rapport with the person", rules.LONG,
                    hint="Anyone they trust or engage with, inside or outside these agencies, and why it works")


def named_workers_form(referral: Referral) -> type[NamedWorkersBase]:
    """A form with a named worker and a rapport checkbox for each agency chosen on the last page."""

    class NamedWorkersForm(NamedWorkersBase):
        involvements = list(referral.involvements)

        @classmethod
        def initial(cls, referral):
            data: dict[str, Any] = {"rapport": referral.rapport}
            for inv in referral.involvements:
                data[f"worker_{inv.agency_id}"] = inv.named_worker
                data[f"rapport_{inv.agency_id}"] = inv.has_rapport
            return data

        def pairs(self):
            return [(inv.agency, self[f"worker_{inv.agency_id}"], self[f"rapport_{inv.agency_id}"])
                    for inv in self.involvements]

        def answers(self):
            return {"answers": {"rapport": self.rapport.data},
                    "involvements": [{"agency_id": inv.agency_id,
                                      "named_worker": self[f"worker_{inv.agency_id}"].data,
                                      "has_rapport": bool(self[f"rapport_{inv.agency_id}"].data)}
                                     for inv in self.involvements]}

    for inv in referral.involvements:
        name = inv.agency.name
        setattr(NamedWorkersForm, f"worker_{inv.agency_id}", _text(
            f"Named worker at {name} (optional)", f"the named worker at {name}", rules.NAME))
        setattr(NamedWorkersForm, f"rapport_{inv.agency_id}", BooleanField(
            f"Someone at {name} has rapport with the person", widget=GovCheckboxInput()))
    return NamedWorkersForm


class PersonsViewsForm(SectionForm):
    persons_views = _area("What does the person say about their situation? (optional)", "the person’s views",
                          rules.LONG, hint="In their own words where you can. If you could not ask them, say why.")
    desired_outcomes = StringField(
        "What would they like to happen? (optional)", widget=GovTextArea(), filters=[multiline],
        description=f"Their desired outcomes, in their own words. Put each outcome on its own line, "
                    f"up to {rules.MAX_OUTCOMES}.")

    @classmethod
    def initial(cls, referral):
        return {"persons_views": referral.persons_views, "desired_outcomes": "\n".join(referral.desired_outcomes or [])}

    def outcomes(self) -> list[str]:
        return [line.strip() for line in (self.desired_outcomes.data or "").split("\n") if line.strip()]

    def validate_desired_outcomes(self, field) -> None:
        outcomes = self.outcomes()
        if len(outcomes) > rules.MAX_OUTCOMES:
            raise ValidationError(f"Enter {rules.MAX_OUTCOMES} desired outcomes or fewer")
        if any(len(o) > rules.OUTCOME for o in outcomes):
            raise ValidationError(f"Each desired outcome must be {rules.OUTCOME} characters or fewer")

    def answers(self):
        return {"answers": {"persons_views": self.persons_views.data, "desired_outcomes": self.outcomes()}}


class CapacityForm(SectionForm):
    capacity = _area("Mental capacity considerations (optional)", "mental capacity considerations", rules.LONG,
                     hint="Any concerns about their capacity to make the decisions that put them at risk, and any "
                          "capacity assessments done")

    @classmethod
    def initial(cls, referral):
        return {"capacity": referral.capacity}

    def answers(self):
        return {"answers": {"capacity": self.capacity.data}}


LAWFUL_BASIS_MESSAGE = "Select the lawful basis for sharing without consent"


class ConsentForm(SectionForm):
    consent_given = _yes_no("Does the person consent to their information being shared?",
                            "Select yes if the person consents to their information being shared",
                            hint="With the partner agencies at the panel. If they do not, the next page asks for "
                                 "the lawful basis for sharing without consent.")

    @classmethod
    def initial(cls, referral):
        return {"consent_given": _as_yes_no(referral.consent_given)}

    def answers(self):
        if self.consent_given.data == YES:
            return {"answers": {"consent_given": True, "consent_lawful_basis": None, "consent_reason": ""}}
        return {"answers": {"consent_given": False}}


class SharingWithoutConsentForm(SectionForm):
    """Asked only when the person does not consent (a page of its own rather than a conditional
    reveal: two questions, one of them radios, are too many to reveal inside a radio)."""

    consent_lawful_basis = RadioField(
        "What is the lawful basis for sharing without consent?", widget=GovRadioInput(),
        choices=[SelectChoice(b.value, b.label) for b in LawfulBasis],
        invalid_choice_message=LAWFUL_BASIS_MESSAGE, invalid_value_message=LAWFUL_BASIS_MESSAGE)
    consent_reason = _area("Why are you sharing without consent?", "why you are sharing without consent",
                           rules.LONG, required=True, hint="Include why it is necessary and proportionate")

    @classmethod
    def initial(cls, referral):
        return {"consent_lawful_basis": referral.consent_lawful_basis.value if referral.consent_lawful_basis else None,
                "consent_reason": referral.consent_reason}

    def answers(self):
        return {"answers": {"consent_lawful_basis": LawfulBasis(self.consent_lawful_basis.data),
                            "consent_reason": self.consent_reason.data}}


HOSTILITY, LONE_WORKING = "hostility", "lone_working"


class StaffSafetyForm(SectionForm):
    concerns = SelectMultipleField(
        "Are there any staff-safety concerns?", widget=GovCheckboxesInput(),
        description="Select all that apply. Leave both unticked if there are none.",
        choices=[SelectChoice(HOSTILITY, "Hostility or aggression towards staff"),
                 SelectChoice(LONE_WORKING, "Lone working is restricted (staff must visit in pairs)")],
        invalid_choice_message="Select staff-safety concerns from the list",
        invalid_value_message="Select staff-safety concerns from the list")
    staff_safety_details = _area("Details of the staff-safety concerns", "staff-safety details", rules.LONG,
                                 hint="Needed if you ticked a concern. What has happened, and how staff keep safe.")

    @classmethod
    def initial(cls, referral):
        concerns = [c for c, on in ((HOSTILITY, referral.staff_hostility),
                                    (LONE_WORKING, referral.staff_lone_working_restricted)) if on]
        return {"concerns": concerns, "staff_safety_details": referral.staff_safety_details}

    def validate_staff_safety_details(self, field) -> None:
        if self.concerns.data and not self.concerns.errors and not field.data:
            raise ValidationError("Describe the staff-safety concerns")

    def answers(self):
        concerns = set(self.concerns.data)
        return {"answers": {"staff_hostility": HOSTILITY in concerns,
                            "staff_lone_working_restricted": LONE_WORKING in concerns,
                            "staff_safety_details": self.staff_safety_details.data}}


class ReferrerForm(SectionForm):
    referrer_name = _text("Your name", "your name", rules.NAME, required=True)
    referrer_email = StringField(
        "Your email address", widget=GovTextInput(), filters=[lambda v: one_line(v).lower()],
        description="We will email you a link when the referral’s status changes",
        validators=[Limit("your email address", 254, required=True),
                    Regexp(EMAIL_RE, message="Enter an email address in the correct format, like name@example.com")])
    referrer_phone = _text("Your phone number (optional)", "your phone number", 40)
    manager_name = _text("Name of the manager who signed off this referral",
                         "the name of the manager who signed off this referral", rules.NAME, required=True)

    @classmethod
    def initial(cls, referral):
        return {"referrer_name": referral.referrer_name, "referrer_email": referral.referrer_email,
                "referrer_phone": referral.referrer_phone, "manager_name": referral.manager_name}

    def answers(self):
        return {"answers": {"referrer_name": self.referrer_name.data, "referrer_email": self.referrer_email.data,
                            "referrer_phone": self.referrer_phone.data, "manager_name": self.manager_name.data}}


class ConfirmForm(FlaskForm):
    """A bare form for a button: it carries only the CSRF token."""

    submit = SubmitField("Continue", widget=GovSubmitInput())


# ---- the order of the pages, and where each problem is fixed ---------------------------


@dataclass(frozen=True)
class Section:
    slug: str
    title: str           # the page heading and the check-answers heading
    form: type[SectionForm] | None  # None: built per referral (named workers)
    fields: tuple[str, ...]  # problem keys (as in rules.submission_problems) fixed on this page


SECTIONS: tuple[Section, ...] = (
    Section("about-the-person", "What is the person’s name?", PersonNameForm,
            ("person.given_name", "person.family_name", "person.other_names")),
    Section("date-of-birth", "What is their date of birth?", DateOfBirthForm, ("person.date_of_birth",)),
    Section("identity-and-language", "Identity and language", IdentityForm,
            ("person.gender", "person.ethnicity", "person.first_language", "person.interpreter_needed",
             "person.communication_needs")),
    Section("address", "Where do they live?", AddressForm, ("person.address", "person.postcode")),
    Section("identifiers", "Identifiers", IdentifiersForm, ("person.nhs_number", "person.other_identifiers")),
    Section("eligibility", "Eligibility", EligibilityForm, ("lives_in_area", "single_agency_tried")),
    Section("needs", "Needs", NeedsForm, ("needs",)),
    Section("risk", "Risk", RiskForm, ("risk_level", "risk_summary", "risk_assessment")),
    Section("tried-already", "What has been tried already?", TriedAlreadyForm, ("tried_already",)),
    Section("agencies", "Agencies involved", AgenciesForm, ("agencies_involved",)),
    Section("named-workers", "Named workers and rapport", None, ("rapport",)),
    Section("persons-views", "The person’s views", PersonsViewsForm, ("persons_views", "desired_outcomes")),
    Section("capacity", "Mental capacity", CapacityForm, ("capacity",)),
    Section("consent", "Consent to share information", ConsentForm, ("consent.given",)),
    Section("sharing-without-consent", "Sharing without consent", SharingWithoutConsentForm,
            ("consent.lawful_basis", "consent.reason")),
    Section("staff-safety", "Staff safety", StaffSafetyForm, ("staff_safety.details",)),
    Section("referrer", "Your details", ReferrerForm,
            ("referrer.name", "referrer.email", "referrer.phone", "referrer.manager_name")),
)
SECTION_BY_SLUG = {s.slug: s for s in SECTIONS}
FOLLOW_ON = frozenset({"named-workers", "sharing-without-consent"})  # asked because of the page before
FIELD_SECTIONS = {field: s for s in SECTIONS for field in s.fields}


def form_problems(referral: Referral) -> dict[str, str]:
    """Questions the form asks that the API does not: these stop a form referral being submitted too."""
    problems = {}
    if referral.as_referred.interpreter_needed is None:
        problems["person.interpreter_needed"] = "Select yes if they need an interpreter"
    if referral.lives_in_area is None:
        problems["lives_in_area"] = "Select yes if they live in the area"
    if referral.single_agency_tried is None:
        problems["single_agency_tried"] = "Select yes if single-agency work has been tried"
    if not referral.involvements:
        problems["agencies_involved"] = "Select at least one agency involved with the person"
    return problems


def all_problems(referral: Referral, today: date) -> list[tuple[Section, str, str]]:
    """Every problem stopping submission, as (section, field, message) in the order of the pages."""
    found = {**rules.submission_problems(referral, today), **form_problems(referral)}
    order = {field: i for i, field in enumerate(FIELD_SECTIONS)}
    return [(FIELD_SECTIONS.get(field, SECTIONS[-1]), field, message)
            for field, message in sorted(found.items(), key=lambda kv: order.get(kv[0], len(order)))]


def applies(section: Section, referral: Referral) -> bool:
    """Pages that follow from an earlier answer: named workers once agencies are chosen, and the
    lawful basis only when the person does not consent."""
    if section.slug == "named-workers":
        return bool(referral.involvements)
    if section.slug == "sharing-without-consent":
        return referral.consent_given is False
    return True


def next_section(slug: str, referral: Referral) -> Section | None:
    index = [s.slug for s in SECTIONS].index(slug)
    return next((s for s in SECTIONS[index + 1:] if applies(s, referral)), None)


def previous_section(slug: str, referral: Referral) -> Section | None:
    index = [s.slug for s in SECTIONS].index(slug)
    return next((s for s in reversed(SECTIONS[:index]) if applies(s, referral)), None)


# ---- what check your answers and the drafts list show ----------------------------------


def _lines(text: str | None) -> list[str]:
    return [line for line in (text or "").split("\n")]


def _yes_no_text(value: bool | None) -> list[str]:
    return [] if value is None else ["Yes" if value else "No"]


def _nhs(value: str) -> list[str]:
    return [f"{value[:3]} {value[3:6]} {value[6:]}"] if len(value) == 10 else _lines(value)


def answer_cards(referral: Referral) -> list[tuple[Section, list[tuple[str, list[str]]]]]:
    """Each page's answers as (label, lines) rows, in page order. An empty list is not answered."""
    p = referral.as_referred
    need_labels = {n.value: n.label for n in Need}
    concerns = [label for on, label in ((referral.staff_hostility, "Hostility or aggression towards staff"),
                                         (referral.staff_lone_working_restricted, "Lone working is restricted"))
                if on]
    workers = [f"{inv.agency.name}: {inv.named_worker or 'no named worker'}"
               f"{' (has rapport)' if inv.has_rapport else ''}" for inv in referral.involvements]
    rows: dict[str, list[tuple[str, list[str]]]] = {
        "about-the-person": [("First name", _lines(p.given_name)), ("Last name", _lines(p.family_name)),
                             ("Other names", _lines(p.other_names))],
        "date-of-birth": [("Date of birth", [govuk_date(p.date_of_birth)] if p.date_of_birth else [])],
        "identity-and-language": [("Gender", _lines(p.gender)), ("Ethnicity", _lines(p.ethnicity)),
                                  ("First language", _lines(p.first_language)),
                                  ("Needs an interpreter", _yes_no_text(p.interpreter_needed)),
                                  ("Communication needs", _lines(p.communication_needs))],
        "address": [("Address", _lines(p.address)), ("Postcode", _lines(p.postcode))],
        "identifiers": [("NHS number", _nhs(p.nhs_number)), ("Other identifiers", _lines(p.other_identifiers))],
        "eligibility": [("Lives in the area", _yes_no_text(referral.lives_in_area)),
                        ("Single-agency work tried", _yes_no_text(referral.single_agency_tried))],
        "needs": [("Needs", [need_labels.get(n, n) for n in referral.needs or []])],
        "risk": [("Risk level", [referral.risk_level.label] if referral.risk_level else []),
                 ("Summary of the risks", _lines(referral.risk_summary)),
                 ("Your agency’s risk assessment", _lines(referral.risk_assessment))],
        "tried-already": [("What has been tried", _lines(referral.tried_already))],
        "agencies": [("Agencies involved", [inv.agency.name for inv in referral.involvements])],
        "named-workers": [("Named workers", workers), ("Who has rapport", _lines(referral.rapport))],
        "persons-views": [("The person’s views", _lines(referral.persons_views)),
                          ("Desired outcomes", list(referral.desired_outcomes or []))],
        "capacity": [("Mental capacity considerations", _lines(referral.capacity))],
        "consent": [("Consents to sharing", _yes_no_text(referral.consent_given))],
        "staff-safety": [("Concerns", concerns or ["None"]),
                         ("Details", _lines(referral.staff_safety_details))],
        "referrer": [("Your name", _lines(referral.referrer_name)), ("Email", _lines(referral.referrer_email)),
                     ("Phone", _lines(referral.referrer_phone)),
                     ("Manager who signed it off", _lines(referral.manager_name))],
    }
    rows["sharing-without-consent"] = []
    if referral.consent_given is False:
        basis = referral.consent_lawful_basis
        rows["sharing-without-consent"] = [("Lawful basis", [basis.label] if basis else []),
                                           ("Why you are sharing without consent", _lines(referral.consent_reason))]
    cards = []
    for section in SECTIONS:
        if not applies(section, referral) and section.slug != "named-workers":
            continue
        cleaned = [(label, [] if lines == [""] else lines) for label, lines in rows[section.slug]]
        cards.append((section, cleaned))
    return cards


def draft_label(referral: Referral) -> str:
    """How the drafts list names a referral, without the person's name: the date and initials."""
    if referral.reference:
        label = f"Referral {referral.reference}"
    else:
        label = f"Draft started {govuk_date(referral.created_at)}"
    initials = referral.as_referred.initials
    return f"{label} ({' '.join(initials)})" if initials else label
