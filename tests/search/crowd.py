"""A crowd of people with near-duplicate names, for the search tests (test_crowd.py and
test_crowd_queries.py): the targets the searches look for, their near-duplicates, and thousands
more, each with a referral, some with cases.

The crowd is built with bulk inserts in the test's transaction (the name index is kept by the
database itself, so it indexes them as it would any other row).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import sqlalchemy as sa

from panel.extensions import db
from panel.models import Case, CaseStatus, Involvement, Person, Referral, ReferralStatus, RiskLevel, utcnow

GIVEN = ["John", "Jon", "Jonathan", "Johnny", "Joan", "Jane", "Janet", "Sean", "Seán", "Shaun", "Zoe", "Zoë",
         "Zoey", "Chloe", "Mary", "Marie", "Maria", "Katherine", "Catherine", "Kathryn", "Kate", "Mohammed",
         "Muhammad", "Siobhan", "Siobhán", "Ewan", "Euan", "Chidi", "Chika", "Anne", "Ann", "Anna", "Abigail",
         "Abbie", "Piotr", "Peter", "Sam", "Samantha", "Bartholomew", "Ruth"]
FAMILY = ["Smith", "Smyth", "Smith-Jones", "Jones", "Johnson", "Johnston", "O'Sullivan", "Sullivan", "McDonald",
          "MacDonald", "Donald", "Lefevre", "Lefèvre", "Lefebvre", "Pemberton", "Pembleton", "Okonkwo", "Okafor",
          "Nowak", "Kowalski", "Thornbury", "Thornberry", "Byrne", "Müller", "Mueller", "Brown", "Demo",
          "Person", "Fairbairn", "Gillivray"]
POSTCODES = [f"LU{d} {n}{a}{b}" for d in range(1, 6) for n in range(1, 4) for a, b in ("AB", "CD", "EF")]
BORN = date(1980, 4, 3)

# The people the tests look for, each with near-duplicates in the crowd, and the searches that
# must bring them first. (given, family, date of birth, NHS number, postcode)
TARGETS = {
    "misspelt": ("Bartholomew", "Fairbrother", date(1971, 2, 9), "", "LU1 1AB"),
    "hyphens": ("Mary-Ellen", "Smith-Jones", date(1966, 8, 30), "", "LU2 1AB"),
    "accents": ("Élodie", "Lefèvre", date(1990, 11, 2), "", "LU3 1AB"),
    "swapped": ("Chidinma", "Okonkwo-Eze", date(1985, 5, 5), "", "LU4 1AB"),
    "spacing": ("Ruaridh", "MacGillivray", date(1959, 12, 24), "", "LU5 1AB"),
    "matcher": ("Sam", "Demo-Person", date(1975, 6, 15), "", "LU1 2CD"),
    "born": ("Abigail", "Thornbury", BORN, "9434765919", "LU7 3QP"),
}
NEAR = [
    ("Bartholomew", "Fairbairn"), ("Bartolomeo", "Fairbrother"), ("Bartholomew", "Farebrother-Hill"),
    ("Barnaby", "Fairbrother"), ("Bartholomew", "Brother"),
    ("Mary", "Smith-Jones"), ("Mary-Ellen", "Smith"), ("Mary-Ellen", "Jones"), ("Marie-Ellen", "Smith-Jones"),
    ("Elodie", "Lefebvre"), ("Mélodie", "Lefèvre"), ("Elodie", "Le Fevre"), ("Elodie", "Lefever"),
    ("Chidinma", "Okonkwo"), ("Chidi", "Okonkwo-Eze"), ("Okonkwo", "Chidinma"), ("Chidinma", "Eze"),
    ("Ruaridh", "McGillivray"), ("Ruairidh", "MacGillivray"), ("Ruaridh", "Gillivray"), ("Ruaridh", "MacGill"),
    ("Samantha", "Demo-Person"), ("Sam", "Demo"), ("Sam", "Person"), ("Pam", "Demo-Person"),
    ("Abigail", "Thornberry"), ("Abbie", "Thornbury"), ("Abigail", "Thornbury-Smith"),
]
SEARCHES = [
    ("misspelt", "Bartholemew Fairbrother"), ("misspelt", "bartholomew fairbrothr"),
    ("misspelt", "Bartholomew Fiarbrother"),
    ("hyphens", "Mary Ellen Smith Jones"), ("hyphens", "maryellen smithjones"), ("hyphens", "Mary-Ellen Smith Jones"),
    ("accents", "Elodie Lefevre"), ("accents", "ÉLODIE LEFÈVRE"), ("accents", "élodie lefèvre"),
    ("swapped", "Okonkwo-Eze Chidinma"), ("swapped", "Okonkwo Eze, Chidinma"),
    ("spacing", "Ruaridh Mac Gillivray"), ("spacing", "ruaridh macgillivray"),
    ("matcher", "SAM DEMO-PERSON"), ("matcher", "Sam Demo Person"), ("matcher", "Sam Demo-Persen"),
    ("matcher", "Demo-Person Sam"), ("matcher", "Sam Demo-Person LU1"),  # among a thousand in LU1
    ("born", "Abigail Thornbury 3/4/1980"), ("born", "thornbury abigail 1980-04-03"),
    ("born", "Abigial Thornbury 03-04-1980"),
]


def _people(rows: list[dict]) -> list[int]:
    return list(db.session.scalars(sa.insert(Person).returning(Person.id, sort_by_parameter_order=True), rows))


def _person_row(given, family, born, nhs="", postcode="LU1 2AB") -> dict:
    return {"given_name": given, "family_name": family, "date_of_birth": born, "nhs_number": nhs,
            "postcode": postcode, "address": "Somewhere"}


def build(agencies, *, crowd: int, cases: int, seed: int = 16) -> dict[str, int]:
    """The targets and their near-duplicates, then `crowd` more people (GIVEN x FAMILY with
    random dates of birth and postcodes), each with a referral from one of the agencies; the
    first `cases` of the crowd are cases. Returns the targets' person ids."""
    rng = random.Random(seed)
    rows = [_person_row(*TARGETS[key]) for key in TARGETS]
    rows += [_person_row(given, family, BORN if "Thorn" in family else date(1970, 1, 1) + timedelta(days=i))
             for i, (given, family) in enumerate(NEAR)]
    rows.append(_person_row("Abigail", "Thornbury", date(1980, 3, 4)))  # the month-first reading of 3/4/1980
    rows += [_person_row(GIVEN[i % len(GIVEN)], FAMILY[(i // len(GIVEN) + i) % len(FAMILY)],
                         date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365)), postcode=rng.choice(POSTCODES))
             for i in range(crowd)]
    ids = _people(rows)
    now = utcnow()
    statuses = [ReferralStatus.SUBMITTED, ReferralStatus.DECLINED, ReferralStatus.AWAITING_PANEL,
                ReferralStatus.WITHDRAWN, ReferralStatus.WAITING, ReferralStatus.INFO_REQUESTED]
    start = db.session.scalar(sa.select(sa.func.count(Referral.id))) or 0
    case_start = db.session.scalar(sa.select(sa.func.count(Case.id))) or 0
    first_case = len(rows) - crowd
    referral_ids = list(db.session.scalars(sa.insert(Referral).returning(Referral.id, sort_by_parameter_order=True), [
        {"person_id": pid, "referring_agency_id": agencies[i % len(agencies)].id,
         "status": ReferralStatus.ACCEPTED if first_case <= i < first_case + cases else statuses[i % len(statuses)],
         "reference": f"R-2026-{start + i + 1:05d}", "risk_level": RiskLevel.HIGH, "needs": ["housing"],
         "desired_outcomes": [], "submitted_at": now - timedelta(minutes=i)}
        for i, pid in enumerate(ids)]))
    if cases:
        made = list(db.session.scalars(sa.insert(Case).returning(Case.id, sort_by_parameter_order=True), [
            {"reference": f"CASPA-2026-{case_start + n + 1:03d}", "person_id": ids[first_case + n],
             "referral_id": referral_ids[first_case + n], "lead_agency_id": agencies[n % len(agencies)].id,
             "risk_level": RiskLevel.HIGH, "accepted_on": date(2026, 1, 5),
             "status": CaseStatus.CLOSED if n % 3 == 0 else CaseStatus.ACTIVE,
             "closed_on": date(2026, 6, 1) if n % 3 == 0 else None}
            for n in range(cases)]))
        db.session.execute(sa.insert(Involvement), [
            {"case_id": case_id, "agency_id": agencies[(n + k) % len(agencies)].id}
            for n, case_id in enumerate(made) for k in (0, 1)])
    db.session.commit()
    return dict(zip(TARGETS, ids, strict=False))
