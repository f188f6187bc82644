"""Builders for case tests: a case in the pathway with involved agencies."""

from __future__ import annotations

from datetime import date

from panel.extensions import db
from panel.models import Case, CaseStatus, Involvement, Person, Referral, ReferralStatus, RiskLevel, utcnow
from tests import factories

_n = iter(range(1, 100000))


def create_case(*, lead=None, involved=(), risk: RiskLevel = RiskLevel.CRITICAL, status: CaseStatus = CaseStatus.ACTIVE,
                given_name: str = "Sam", family_name: str = "Example") -> Case:
    n = next(_n)
    lead = lead or factories.create_agency()
    person = Person(given_name=given_name, family_name=family_name, date_of_birth=date(1980, 2, 29),
                    postcode="LU1 2AB", nhs_number="9434765919", address="1 High Street")
    referral = Referral(reference=f"R-2026-9{n:04d}", status=ReferralStatus.ACCEPTED, person=person,
                        referring_agency_id=lead.id, needs=["mental_health"], desired_outcomes=[],
                        risk_level=risk, submitted_at=utcnow())
    case = Case(reference=f"CASPA-2026-{n:03d}", person=person, referral=referral, status=status,
                lead_agency=lead, risk_level=risk, accepted_on=date(2026, 1, 5))
    db.session.add_all([person, referral, case])
    db.session.flush()
    for agency in (lead, *involved):
        db.session.add(Involvement(case=case, agency_id=agency.id))
    db.session.flush()
    return case
