"""Agencies: adding and changing them, who may be their SPoC, and the state of their ISA.

Services flush but never commit; every change is written to the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from panel import audit
from panel.agencies import absence
from panel.extensions import db
from panel.models import Agency, AgencyKind, AuditAction, Role, User

AGENCY_FIELDS = (
    "name", "code", "kind", "spoc_id", "deputy_spoc_id", "escalation_contact_id",
    "spoc_absent", "isa_signed_on", "isa_review_due",
)
DUPLICATE_NAME = "An agency with this name already exists"
DUPLICATE_CODE = "An agency with this code already exists"


class IsaStatus(StrEnum):
    CURRENT = "current"
    DUE_SOON = "due_soon"
    PAST_REVIEW = "past_review"
    NOT_SIGNED = "not_signed"

    @property
    def label(self) -> str:
        return {"current": "Current", "due_soon": "Due soon", "past_review": "Past review",
                "not_signed": "Not signed"}[self.value]

    @property
    def tag_class(self) -> str:
        return {"current": "govuk-tag--green", "due_soon": "govuk-tag--yellow", "past_review": "govuk-tag--red",
                "not_signed": "govuk-tag--orange"}[self.value]

    @property
    def blocks_case_records(self) -> bool:
        return self in (IsaStatus.PAST_REVIEW, IsaStatus.NOT_SIGNED)


def isa_status(agency: Agency, *, today: date, due_soon_days: int) -> IsaStatus:
    """The ISA's state on ``today``; only CURRENT and DUE_SOON let the agency open case records.

    An agreement signed with a future date counts as not signed until that date.
    """
    if agency.isa_signed_on is None or agency.isa_signed_on > today:
        return IsaStatus.NOT_SIGNED
    if agency.isa_review_due is None or agency.isa_review_due < today:
        return IsaStatus.PAST_REVIEW
    if (agency.isa_review_due - today).days <= due_soon_days:
        return IsaStatus.DUE_SOON
    return IsaStatus.CURRENT


def days_until_review(agency: Agency, today: date) -> int | None:
    """Days from today to the review date: negative once it has passed, None when there is none."""
    return None if agency.isa_review_due is None else (agency.isa_review_due - today).days


def isa_register_order(agency: Agency) -> tuple:
    """Sort key for the ISA register: unsigned first, then by review date, then by name."""
    return (
        agency.isa_signed_on is not None,
        agency.isa_review_due is not None,
        agency.isa_review_due or date.min,
        agency.name.lower(),
    )


@dataclass
class RegisterRow:
    agency: Agency
    status: IsaStatus
    days: int | None


def isa_register(*, today: date, due_soon_days: int) -> list[RegisterRow]:
    """Every agency with its ISA state, unsigned first and then soonest review first."""
    agencies = sorted(db.session.execute(sa.select(Agency)).scalars(), key=isa_register_order)
    return [RegisterRow(a, isa_status(a, today=today, due_soon_days=due_soon_days), days_until_review(a, today))
            for a in agencies]


def list_agencies() -> list[Agency]:
    """Agencies by name, their SPoC, deputy and escalation contact loaded in the same query."""
    return list(db.session.execute(
        sa.select(Agency)
        .options(joinedload(Agency.spoc), joinedload(Agency.deputy_spoc), joinedload(Agency.escalation_contact))
        .order_by(Agency.name)
    ).unique().scalars())


def spoc_candidates(agency: Agency | None) -> list[User]:
    """Who may be the agency's SPoC or deputy: its own active users with the SPoC role."""
    if agency is None or agency.id is None:
        return []
    return list(db.session.execute(
        sa.select(User).where(User.agency_id == agency.id, User.active.is_(True), User.role == Role.SPOC)
        .order_by(User.name, User.id)
    ).scalars())


def contact_candidates(agency: Agency | None) -> list[User]:
    """Who may be the agency's escalation contact: any of its own active users."""
    if agency is None or agency.id is None:
        return []
    return list(db.session.execute(
        sa.select(User).where(User.agency_id == agency.id, User.active.is_(True)).order_by(User.name, User.id)
    ).scalars())


def has_users(agency: Agency) -> bool:
    """True when any user, active or not, belongs to the agency (its code is then fixed)."""
    return db.session.execute(sa.select(sa.exists().where(User.agency_id == agency.id))).scalar_one()


def name_in_use(name: str, *, other_than: Agency | None = None) -> bool:
    """True when another agency has this name, ignoring case."""
    query = sa.select(sa.exists().where(sa.func.lower(Agency.name) == name.strip().lower(),
                                        Agency.id != (other_than.id if other_than else -1)))
    return db.session.execute(query).scalar_one()


def code_in_use(code: str, *, other_than: Agency | None = None) -> bool:
    """True when another agency has this code (codes are stored lower-case)."""
    query = sa.select(sa.exists().where(Agency.code == code.strip().lower(),
                                        Agency.id != (other_than.id if other_than else -1)))
    return db.session.execute(query).scalar_one()


def _summary(agency: Agency) -> dict[str, Any]:
    return {name: getattr(agency, name) for name in AGENCY_FIELDS}


def add_agency(*, name: str, code: str, kind: AgencyKind, isa_signed_on: date | None,
               isa_review_due: date | None, by: User) -> Agency:
    """Create an agency. It has no users yet, so no SPoC, deputy or escalation contact. Audits CREATE."""
    agency = Agency(name=name, code=code.strip().lower(), kind=kind,
                    isa_signed_on=isa_signed_on, isa_review_due=isa_review_due)
    db.session.add(agency)
    db.session.flush()
    audit.record(AuditAction.CREATE, "agency", agency.id, user=by, summary=_summary(agency))
    return agency


def update_agency(*, agency: Agency, by: User, name: str, code: str | None, kind: AgencyKind,
                  spoc: User | None, deputy_spoc: User | None, escalation_contact: User | None,
                  spoc_absent: bool, isa_signed_on: date | None, isa_review_due: date | None) -> dict:
    """Change an agency's details, posts and ISA dates. ``code`` None leaves the code as it is.

    The form has already checked the posts belong to this agency; this checks again so no
    caller can name another agency's user. ``spoc_absent`` is the tick box "absent until
    further notice" (panel.agencies.absence.set_absent_now: an absence from today, or the end
    of the one under way). Audits UPDATE with the changed fields and returns them ({} when
    nothing changed, and nothing is audited).
    """
    for person in (spoc, deputy_spoc, escalation_contact):
        if person is not None and (person.agency_id != agency.id or not person.active):
            raise ValueError("SPoC, deputy and escalation contact must be active users of the agency")
    before = _summary(agency)
    agency.name = name
    if code is not None:
        agency.code = code.strip().lower()
    agency.kind = kind
    agency.spoc, agency.spoc_id = spoc, (spoc.id if spoc else None)
    agency.deputy_spoc, agency.deputy_spoc_id = deputy_spoc, (deputy_spoc.id if deputy_spoc else None)
    agency.escalation_contact = escalation_contact
    agency.escalation_contact_id = escalation_contact.id if escalation_contact else None
    agency.isa_signed_on = isa_signed_on
    agency.isa_review_due = isa_review_due
    db.session.flush()  # the SPoC as now chosen is the one marked absent or back
    absence.set_absent_now(agency, spoc_absent, by=by)
    changed = audit.changes(agency, AGENCY_FIELDS, before)
    if changed:
        db.session.flush()
        audit.record(AuditAction.UPDATE, "agency", agency.id, user=by, summary=changed)
    return changed
