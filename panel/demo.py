"""Fictional demo data: agencies of every kind, their SPoCs, deputies and escalation contacts,
and the seven demo users named in DESIGN §4. Everything here is invented."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from panel import audit
from panel.auth.passwords import hash_password
from panel.extensions import db
from panel.models import Agency, AgencyKind, AuditAction, Role, User

# code, name, kind, ISA state: "current", "due_soon" (within 30 days), "lapsed", "unsigned"
AGENCIES = [
    ("caspa", "Demo Council CASPA Team", AgencyKind.LOCAL_AUTHORITY, "current"),
    ("police", "Demo Police", AgencyKind.POLICE, "current"),
    ("asc", "Demo Adult Social Care", AgencyKind.ADULT_SOCIAL_CARE, "current"),
    ("housing", "Demo Housing Options", AgencyKind.HOUSING, "current"),
    ("mental-health", "Demo Mental Health Trust", AgencyKind.MENTAL_HEALTH, "current"),
    ("health", "Demo Hospital Trust", AgencyKind.ACUTE_HEALTH, "current"),
    ("primary-care", "Demo Primary Care Network", AgencyKind.PRIMARY_CARE, "due_soon"),
    ("drug-alcohol", "Demo Recovery Service", AgencyKind.DRUG_AND_ALCOHOL, "current"),
    ("probation", "Demo Probation Delivery Unit", AgencyKind.PROBATION, "current"),
    ("fire", "Demo Fire and Rescue", AgencyKind.FIRE, "due_soon"),
    ("voluntary", "Demo Outreach Charity", AgencyKind.VOLUNTARY_SECTOR, "lapsed"),
    ("sab", "Demo Safeguarding Adults Board", AgencyKind.OTHER, "unsigned"),
]

NAMED_USERS = [
    ("admin@demo.invalid", "Alex Admin", Role.ADMIN, "caspa"),
    ("coordinator@demo.invalid", "Casey Coordinator", Role.COORDINATOR, "caspa"),
    ("chair@demo.invalid", "Charlie Chair", Role.CHAIR, "asc"),
    ("spoc.police@demo.invalid", "Pat Police-SPoC", Role.SPOC, "police"),
    ("spoc.housing@demo.invalid", "Harper Housing-SPoC", Role.SPOC, "housing"),
    ("practitioner.health@demo.invalid", "Hollis Health-Worker", Role.PRACTITIONER, "health"),
    ("board@demo.invalid", "Bailey Board-Member", Role.BOARD, "sab"),
]


def database_is_empty() -> bool:
    return db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 0


def _isa_dates(state: str, today: date) -> tuple[date | None, date | None]:
    if state == "current":
        return today - timedelta(days=200), today + timedelta(days=165)
    if state == "due_soon":
        return today - timedelta(days=345), today + timedelta(days=20)
    if state == "lapsed":
        return today - timedelta(days=400), today - timedelta(days=35)
    return None, None


def load(*, password: str, today: date | None = None) -> list[str]:
    """Add the demo agencies and users (flushes, does not commit). Returns the named sign-ins."""
    today = today or date.today()
    password_hash = hash_password(password)  # one hash for all: demo users share the password
    agencies: dict[str, Agency] = {}
    for code, name, kind, isa in AGENCIES:
        existing = db.session.execute(sa.select(Agency).filter_by(code=code)).scalar_one_or_none()
        if existing is None:
            signed, review = _isa_dates(isa, today)
            existing = Agency(code=code, name=name, kind=kind, isa_signed_on=signed, isa_review_due=review)
            db.session.add(existing)
        agencies[code] = existing
    db.session.flush()

    def add_user(email: str, name: str, role: Role, agency: Agency) -> User:
        user = db.session.execute(sa.select(User).filter_by(email=email)).scalar_one_or_none()
        if user is None:
            user = User(email=email, name=name, role=role, agency=agency, password_hash=password_hash)
            db.session.add(user)
            db.session.flush()
            audit.record(AuditAction.CREATE, "user", user.id, summary={"source": "demo data", "role": str(role)})
        return user

    named = {email: add_user(email, name, role, agencies[code]) for email, name, role, code in NAMED_USERS}
    for code, name, kind, _ in AGENCIES:
        agency = agencies[code]
        short = code.replace("-", "")
        spoc = named.get(f"spoc.{code}@demo.invalid") or add_user(
            f"spoc.{short}@demo.invalid", f"{name} SPoC", Role.SPOC, agency)
        deputy = add_user(f"deputy.{short}@demo.invalid", f"{name} Deputy SPoC", Role.SPOC, agency)
        lead = add_user(f"lead.{short}@demo.invalid", f"{name} Strategic Lead", Role.SPOC, agency)
        add_user(f"worker.{short}@demo.invalid", f"{name} Practitioner", Role.PRACTITIONER, agency)
        if agency.spoc_id is None:
            agency.spoc, agency.deputy_spoc, agency.escalation_contact = spoc, deputy, lead
    agencies["probation"].spoc_absent = True  # shows the deputy acting for an absent SPoC
    db.session.flush()
    audit.record(AuditAction.CREATE, "demo_data", "", summary={"agencies": len(agencies)})
    return list(named)
