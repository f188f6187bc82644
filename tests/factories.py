"""Plain builders for test data. They add and flush; the test commits when it needs to."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from panel.auth.passwords import hash_password
from panel.extensions import db
from panel.models import Agency, AgencyKind, Role, User

PASSWORD = "a long test password for everyone"
_HASH = hash_password(PASSWORD)
_seq = itertools.count(1)


def create_agency(*, code: str | None = None, name: str | None = None, kind: AgencyKind = AgencyKind.POLICE,
                  isa: str = "current", **kwargs) -> Agency:
    n = next(_seq)
    today = date.today()
    dates = {
        "current": (today - timedelta(days=100), today + timedelta(days=200)),
        "lapsed": (today - timedelta(days=400), today - timedelta(days=1)),
        "due_soon": (today - timedelta(days=340), today + timedelta(days=10)),
        "unsigned": (None, None),
    }[isa]
    agency = Agency(code=code or f"agency-{n}", name=name or f"Test Agency {n}", kind=kind,
                    isa_signed_on=dates[0], isa_review_due=dates[1], **kwargs)
    db.session.add(agency)
    db.session.flush()
    return agency


def create_user(*, role: Role = Role.PRACTITIONER, agency: Agency | None = None, email: str | None = None,
                name: str | None = None, password: str | None = None, **kwargs) -> User:
    n = next(_seq)
    user = User(
        email=email or f"user{n}@test.invalid",
        name=name or f"Test User {n}",
        role=role,
        agency=agency or create_agency(),
        password_hash=hash_password(password) if password else _HASH,
        **kwargs,
    )
    db.session.add(user)
    db.session.flush()
    return user


def create_referral(*, agency: Agency | None = None, by: User | None = None, status: str = "submitted",
                    given_name: str = "Sam", family_name: str = "Example",
                    date_of_birth: date | None = date(1980, 5, 17),
                    nhs_number: str = "", postcode: str = "LU1 2AB", person=None, submitted_at=None,
                    **answers):
    """A complete referral (every answer the rules need), made directly rather than through the
    services; not a draft unless asked, with a reference and a submission time."""
    from panel.models import Person, Referral, ReferralStatus, RiskLevel, utcnow

    n = next(_seq)
    status = ReferralStatus(status)
    agency = agency or (by.agency if by is not None else create_agency())
    person = person or Person(given_name=given_name, family_name=family_name, date_of_birth=date_of_birth,
                              nhs_number=nhs_number, address=f"{n} Test Street", postcode=postcode)
    values = dict(
        referrer_name=by.name if by else "Robin Referrer",
        referrer_email=by.email if by else f"referrer{n}@test.invalid",
        manager_name="Morgan Manager", lives_in_area=True, single_agency_tried=True, needs=["housing"],
        risk_level=RiskLevel.HIGH, risk_summary="Risks summarised.", tried_already="Tried already.",
        desired_outcomes=["Somewhere safe to live"], consent_given=True,
    )
    values.update(answers)
    referral = Referral(status=status, person=person, referring_agency_id=agency.id, created_by=by,
                        reference=None if status == ReferralStatus.DRAFT else f"R-TEST-{n:05d}",
                        submitted_at=None if status == ReferralStatus.DRAFT else (submitted_at or utcnow()),
                        **values)
    db.session.add(referral)
    db.session.flush()
    return referral


def mark_spoc_absent(agency: Agency, *, starts_on: date | None = None, ends_on: date | None = None):
    """Record the agency's SPoC as away (panel.agencies.absence's table, directly): by default
    since long ago and until further notice, so the deputy acts whatever the test's clock."""
    from datetime import time

    from panel.dates import london_to_utc
    from panel.models import SpocAbsence

    assert agency.spoc_id is not None or agency.spoc is not None, "give the agency a SPoC first"
    db.session.flush()
    starts_on = starts_on or date(2000, 1, 1)
    absence = SpocAbsence(
        user_id=agency.spoc_id, starts_on=starts_on, ends_on=ends_on,
        starts_at=london_to_utc(starts_on, time(0)),
        ends_at=london_to_utc(ends_on + timedelta(days=1), time(0)) if ends_on else None)
    db.session.add(absence)
    db.session.flush()
    db.session.expire(agency, ["spoc_absent"])
    return absence
