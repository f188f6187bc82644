"""Builders for the search tests: people with referrals and cases, and what a results page shows."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

from panel.extensions import db
from panel.models import Case, CaseStatus, Involvement, Person, Referral, ReferralStatus, RiskLevel, utcnow
from tests.conftest import page

_n = count(1)


def person(given: str, family: str, *, born: date | None = None, nhs: str = "", postcode: str = "LU1 2AB",
           other: str = "") -> Person:
    n = next(_n)
    row = Person(given_name=given, family_name=family, other_names=other, nhs_number=nhs, postcode=postcode,
                 date_of_birth=born or date(1950, 1, 1) + timedelta(days=97 * (n % 200)), address=f"{n} Search Street")
    db.session.add(row)
    db.session.flush()
    return row


def referral(who: Person, *, agency, by=None, status: ReferralStatus = ReferralStatus.SUBMITTED,
             copy: Person | None = None) -> Referral:
    """A referral of `who` from `agency` (written by `by`); `copy` is the person as referred,
    when the referral has been linked to `who`, an earlier person record."""
    n = next(_n)
    row = Referral(person=who, referred_person=copy, referring_agency_id=agency.id, created_by=by, status=status,
                   reference=None if status == ReferralStatus.DRAFT else f"R-2027-{n:05d}",
                   submitted_at=None if status == ReferralStatus.DRAFT else utcnow() - timedelta(days=n),
                   risk_level=RiskLevel.HIGH, needs=["housing"], desired_outcomes=[])
    db.session.add(row)
    db.session.flush()
    return row


def case(who: Person, *, lead, involved=(), by=None, status: CaseStatus = CaseStatus.ACTIVE,
         step_down=None) -> Case:
    """A case of `who`, led by `lead` (and involving `involved`), from an accepted referral by the lead."""
    n = next(_n)
    accepted = referral(who, agency=lead, by=by, status=ReferralStatus.ACCEPTED)
    closed = status == CaseStatus.CLOSED
    row = Case(reference=f"CASPA-2027-{n:03d}", person=who, referral=accepted, status=status, lead_agency=lead,
               risk_level=RiskLevel.HIGH, accepted_on=date(2027, 1, 5), closed_on=date(2027, 3, n % 28 + 1) if closed
               else None, step_down_agency=step_down)
    db.session.add(row)
    db.session.flush()
    for agency in {lead.id: lead, **{a.id: a for a in involved}}.values():
        db.session.add(Involvement(case=row, agency_id=agency.id))
    db.session.flush()
    return row


def found(response) -> dict[str, list[str]]:
    """What a results page shows: the people's names and their record links, and the
    summary-only cases' links."""
    soup = page(response)
    return {
        "names": [h.get_text(strip=True) for h in soup.select("#people li > h3")],
        "links": [a["href"] for a in soup.select("#people a")],
        "summary_only": [a["href"] for a in soup.select("#summary-only ~ div a")],
    }
