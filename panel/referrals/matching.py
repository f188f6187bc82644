"""Repeat-referral detection: earlier referrals and cases for the same adult.

A person matches another when they share an NHS number, or when they share a date of birth
and their names are similar: both names folded by rules.name_key (no accents, case or
punctuation) and compared with difflib's SequenceMatcher, a ratio of at least 0.85 (the
names are also tried the other way round, for a given and family name swapped).

Everything here runs a fixed number of queries whatever the data size: one for candidate
persons, one for their referrals, one for their cases (and one grouped count for a list).
Drafts are never part of a history: they belong to the person writing them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from panel.extensions import db
from panel.models import Case, Person, Referral, ReferralStatus, utcnow
from panel.referrals.rules import name_key

THRESHOLD = 0.85
REPEAT_COUNT = 3  # referred this many times in twelve months or more: flagged
REPEAT_DAYS = 365

SAME_PERSON = "Same person record"
SAME_NHS_NUMBER = "Same NHS number"


@dataclass(frozen=True)
class PersonMatch:
    """Another person record that may be the same adult, and why."""

    person: Person
    reason: str
    ratio: float | None = None  # the name similarity, for a date-of-birth match


@dataclass
class HistoryItem:
    """An earlier referral or case of the person, or of a person matched to them."""

    referral: Referral | None
    case: Case | None
    reason: str


@dataclass
class History:
    """A referral's matches, the earlier referrals and cases they bring, and the repeat flag."""

    matches: list[PersonMatch] = field(default_factory=list)
    referrals: list[HistoryItem] = field(default_factory=list)
    cases: list[HistoryItem] = field(default_factory=list)
    referred_last_year: int = 0

    @property
    def repeat(self) -> bool:
        return self.referred_last_year >= REPEAT_COUNT


@dataclass(frozen=True)
class Flags:
    """What the triage list shows for one referral."""

    repeat: bool
    referred_last_year: int
    possible_match: bool   # another person record may be the same adult
    seen_before: bool      # this person record already has other referrals or a case
    staff_safety: bool
    no_consent: bool


def name_ratio(a: Person, b: Person) -> float:
    """How alike two persons' names are, 0 to 1. 0 when either has no name."""
    key_a = name_key(a.given_name, a.family_name)
    key_b = name_key(b.given_name, b.family_name)
    if not key_a or not key_b:
        return 0.0
    swapped = name_key(b.family_name, b.given_name)
    return max(SequenceMatcher(None, key_a, key_b).ratio(), SequenceMatcher(None, key_a, swapped).ratio())


def match_reason(person: Person, other: Person) -> PersonMatch | None:
    """Why ``other`` may be the same adult as ``person``, or None."""
    if person.nhs_number and person.nhs_number == other.nhs_number:
        return PersonMatch(other, SAME_NHS_NUMBER)
    if person.date_of_birth is not None and person.date_of_birth == other.date_of_birth:
        ratio = name_ratio(person, other)
        if ratio >= THRESHOLD:
            return PersonMatch(other, f"Same date of birth and similar name ({int(ratio * 100)}%)", ratio)
    return None


def _candidates(persons: list[Person]) -> list[Person]:
    """Every person sharing an NHS number or a date of birth with any of ``persons`` (one query)."""
    numbers = {p.nhs_number for p in persons if p.nhs_number}
    births = {p.date_of_birth for p in persons if p.date_of_birth is not None}
    if not numbers and not births:
        return []
    where = []
    if numbers:
        where.append(Person.nhs_number.in_(numbers))
    if births:
        where.append(Person.date_of_birth.in_(births))
    return list(db.session.execute(sa.select(Person).where(sa.or_(*where)).order_by(Person.id)).scalars())


def _matches_among(person: Person, candidates: list[Person]) -> list[PersonMatch]:
    """Each other person record at most once, whatever the candidates hold."""
    seen = {person.id}
    found = []
    for other in candidates:
        if other.id not in seen:
            seen.add(other.id)
            found.append(match_reason(person, other))
    return [m for m in found if m is not None]


def _since(now: datetime | None) -> datetime:
    return (now or utcnow()) - timedelta(days=REPEAT_DAYS)


def history(referral: Referral, *, now: datetime | None = None) -> History:
    """The person's history for the referral page: matches, earlier referrals and cases.

    Person records that hold nothing but drafts (or nothing at all, after a link) are left
    out, so an unfinished draft never shows; so is a linked referral's own copy of what its
    referrer wrote, which is not a person record. Each person record is listed once. The repeat
    count covers this referral's person and every matched person.
    """
    person = referral.person
    matches = _matches_among(person, _candidates([person]))
    reasons = {m.person.id: m.reason for m in matches}
    reasons[person.id] = SAME_PERSON
    ids = list(reasons)
    referrals = list(db.session.execute(
        sa.select(Referral)
        .where(Referral.person_id.in_(ids), Referral.status != ReferralStatus.DRAFT)
        .options(joinedload(Referral.referring_agency))
        .order_by(Referral.submitted_at.desc(), Referral.id.desc())
    ).scalars())
    cases = list(db.session.execute(
        sa.select(Case).where(Case.person_id.in_(ids), Case.referral_id != referral.id)
        .options(joinedload(Case.lead_agency))
        .order_by(Case.accepted_on.desc(), Case.id.desc())
    ).scalars())
    with_records = {r.person_id for r in referrals if r.id != referral.id} | {c.person_id for c in cases}
    with_records.discard(referral.referred_person_id)
    since = _since(now)
    return History(
        matches=[m for m in matches if m.person.id in with_records],
        referrals=[HistoryItem(r, None, reasons[r.person_id]) for r in referrals if r.id != referral.id],
        cases=[HistoryItem(None, c, reasons[c.person_id]) for c in cases],
        referred_last_year=sum(1 for r in referrals if r.submitted_at is not None and r.submitted_at >= since),
    )


@dataclass
class Tally:
    """The non-draft referrals of some person records, and which of them have a case: what the
    repeat flag counts (flags() here, and the chair's pack from the histories it reads)."""

    counts: dict[int, int]        # person id → non-draft referrals in the last twelve months
    earlier: dict[int, set[int]]  # person id → ids of their non-draft referrals
    has_case: set[int]

    @classmethod
    def of(cls, rows: Iterable[tuple[int, int, datetime | None]], has_case: set[int], *,
           now: datetime | None = None) -> Tally:
        """rows: (person id, referral id, submitted at) of every non-draft referral of the persons."""
        since = _since(now)
        counts: dict[int, int] = defaultdict(int)
        earlier: dict[int, set[int]] = defaultdict(set)
        for person_id, referral_id, submitted_at in rows:
            earlier[person_id].add(referral_id)
            if submitted_at is not None and submitted_at >= since:
                counts[person_id] += 1
        return cls(counts, earlier, has_case)

    def with_records(self, matched: Iterable[int]) -> set[int]:
        """The matched person records that hold a referral or a case."""
        return {o for o in matched if self.earlier[o] or o in self.has_case}

    def referred_last_year(self, person_id: int, others: Iterable[int]) -> int:
        """The person's referrals in the last twelve months, with those of the matched others."""
        return self.counts[person_id] + sum(self.counts[o] for o in others)


def flags(referrals: list[Referral], *, now: datetime | None = None) -> dict[int, Flags]:
    """Flags for a list of referrals (their persons loaded), in a fixed number of queries."""
    persons = [r.person for r in referrals]
    candidates = _candidates(persons)
    matched: dict[int, set[int]] = {}
    for person in persons:
        matched[person.id] = {m.person.id for m in _matches_among(person, candidates)}
    everyone = set(matched) | {pid for ids in matched.values() for pid in ids}
    rows: list = []
    has_case: set[int] = set()
    if everyone:
        rows = db.session.execute(
            sa.select(Referral.person_id, Referral.id, Referral.submitted_at)
            .where(Referral.person_id.in_(everyone), Referral.status != ReferralStatus.DRAFT)
        ).all()
        has_case = set(db.session.execute(
            sa.select(Case.person_id).where(Case.person_id.in_(everyone)).distinct()).scalars())
    tally = Tally.of(rows, has_case, now=now)
    out: dict[int, Flags] = {}
    for referral in referrals:
        pid = referral.person_id
        others = tally.with_records(matched.get(pid, set()))
        total = tally.referred_last_year(pid, others)
        out[referral.id] = Flags(
            repeat=total >= REPEAT_COUNT,
            referred_last_year=total,
            possible_match=bool(others),
            seen_before=bool(tally.earlier[pid] - {referral.id}) or pid in has_case,
            staff_safety=bool(referral.staff_hostility or referral.staff_lone_working_restricted),
            no_consent=referral.consent_given is False,
        )
    return out


def matched_person(referral: Referral, person_id: int) -> Person | None:
    """The matched person with this id, if it is one of the referral's matches (for linking)."""
    for match in history(referral).matches:
        if match.person.id == person_id:
            return match.person
    return None
