"""Linking a referral to an earlier person record, without overwriting what the referrer wrote.

A referral's person details are what its referrer wrote. When the coordinator links the
referral to an earlier person record (one of matching.history's matches), the referral keeps
its own record as its copy (Referral.referred_person) and Referral.person names the earlier
record, so the history follows the adult. Where the two differ, the coordinator chooses field
by field what the person record keeps; nothing else about either changes. The choice is
audited (field names, never values) and written to the chronology of every case of the person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from panel import audit
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import AuditAction, Case, CaseEvent, Person, Referral, User, utcnow

# The person's details in the order the referral form asks for them, with their labels.
PERSON_LABELS = {
    "given_name": "First name",
    "family_name": "Last name",
    "other_names": "Other names",
    "date_of_birth": "Date of birth",
    "gender": "Gender",
    "ethnicity": "Ethnicity",
    "first_language": "First language",
    "interpreter_needed": "Needs an interpreter",
    "communication_needs": "Communication needs",
    "address": "Address",
    "postcode": "Postcode",
    "nhs_number": "NHS number",
    "other_identifiers": "Other identifiers",
}


@dataclass(frozen=True)
class Difference:
    """One detail on which the referral and the person record differ."""

    name: str
    label: str
    referral_value: Any
    record_value: Any


def differences(referral: Referral, person: Person) -> list[Difference]:
    """The details where what the referrer wrote differs from the person record, in form order."""
    mine = referral.as_referred
    return [Difference(name, label, getattr(mine, name), getattr(person, name))
            for name, label in PERSON_LABELS.items() if getattr(mine, name) != getattr(person, name)]


def in_sentence(label: str) -> str:
    """A label inside a sentence: "date of birth", but "NHS number"."""
    return label if label[:3].isupper() else label[:1].lower() + label[1:]


def labels(names: Iterable[str]) -> str:
    """The fields' labels in form order, as a list inside a sentence."""
    names = set(names)
    return ", ".join(in_sentence(label) for n, label in PERSON_LABELS.items() if n in names)


def link_person(referral: Referral, *, to: Person, by: User, take: Iterable[str] = ()) -> list[str]:
    """Link the referral to the matched person record ``to``; return the fields it took.

    The referral keeps what the referrer wrote (its own record becomes its copy, unchanged).
    The person record takes the referral's value for each field named in ``take`` (each must
    be one where they differ) and keeps its own for every other. Audited on the referral (and
    on the person when a field changes) and written to the chronology of the person's cases.
    Raises ServiceError when a field in ``take`` is not one where they differ.
    """
    old = referral.person
    if old.id == to.id:
        return []
    take = set(take)
    differing = {d.name for d in differences(referral, to)}
    unknown = take - differing
    if unknown:
        raise ServiceError("The details changed while you were choosing. Check them and choose again.",
                           field=sorted(unknown)[0])
    if referral.referred_person_id is None:
        referral.referred_person = old  # what the referrer wrote stays with the referral
    mine = referral.as_referred
    referral.person = to
    taken = [name for name in PERSON_LABELS if name in take]
    for name in taken:
        setattr(to, name, getattr(mine, name))
    db.session.flush()
    kept = [name for name in PERSON_LABELS if name in differing and name not in take]
    audit.record(AuditAction.UPDATE, "referral", referral.id,
                 summary={"linked_person": to.id, "was": old.id, "person_record_took": taken,
                          "person_record_kept": kept}, user=by)
    if taken:
        audit.record(AuditAction.UPDATE, "person", to.id,
                     summary={"fields": taken, "from_referral": referral.reference}, user=by)
    _chronology(referral, to, taken, kept, by)
    return taken


def _chronology(referral: Referral, person: Person, taken: list[str], kept: list[str], by: User) -> None:
    """One entry in the chronology of each of the person's cases: which details came from where."""
    words = [f"Referral {referral.reference} linked to this person record"]
    if taken:
        words.append(f"the person record took the referral’s {labels(taken)}")
    if kept:
        words.append(f"kept its own {labels(kept)}")
    summary = "; ".join(words) + "."
    now = utcnow()
    for case_id in db.session.execute(sa.select(Case.id).where(Case.person_id == person.id)).scalars():
        db.session.add(CaseEvent(case_id=case_id, kind="referral", summary=summary[:500], by_id=by.id,
                                 agency_id=by.agency_id, at=now, ref_type="referral", ref_id=referral.id))
    db.session.flush()
