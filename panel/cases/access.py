"""Load a case for the signed-in user, applying need to know, or answer 404; audit the view."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from panel import audit
from panel.auth.policy import can_change_case, case_access
from panel.cases.services import active_flags
from panel.extensions import db
from panel.models import Agency, AuditAction, Case, Involvement, StaffSafetyFlag, User
from panel.dates import london_today


@dataclass
class CaseView:
    """A case as this user may see it: `full` or `restricted`, the involved agencies and the
    staff-safety flags the case layout shows on every page."""

    case: Case
    access: str
    agency_ids: set[int]
    flags: list[StaffSafetyFlag]
    can_change: bool

    @property
    def full(self) -> bool:
        return self.access == "full"

    @property
    def display_name(self) -> str:
        """The person's name in the full record; initials only in the restricted view."""
        return self.case.person.full_name if self.full else self.case.person.initials


def load_case(reference: str, *, need_full: bool = False, section: str = "summary") -> CaseView:
    """Fetch the case by reference, check need to know, audit the view. 404 when not allowed.

    `need_full` pages (every section but the summary) are 404 for the restricted view too.
    """
    if len(reference) > 20 or not reference.isprintable():  # PostgreSQL refuses NUL in a parameter
        abort(404)
    user: User = current_user._get_current_object()
    # The user's own agency comes with the case (need to know reads its information sharing
    # agreement): loaded lazily, it cost a query only when the case did not involve that agency,
    # so the number of queries depended on the case.
    found = db.session.execute(
        sa.select(Case, Agency).outerjoin(Agency, Agency.id == user.agency_id)
        .where(Case.reference == reference).options(
            sa.orm.joinedload(Case.person), sa.orm.joinedload(Case.lead_agency),
            sa.orm.selectinload(Case.involvements).joinedload(Involvement.agency))
    ).one_or_none()
    if found is None:
        abort(404)
    case = found[0]
    agency_ids = {inv.agency_id for inv in case.involvements}
    access = case_access(user, agency_ids, london_today())
    if access is None or (need_full and access != "full"):
        audit.record(AuditAction.DENIED, "case", reference, summary={"section": section})
        db.session.commit()
        abort(404)
    audit.record(AuditAction.VIEW, "case", case.reference, summary={"section": section, "access": access})
    flags = active_flags(case.id) if access == "full" else []
    return CaseView(case=case, access=access, agency_ids=agency_ids, flags=flags,
                    can_change=can_change_case(user, agency_ids, london_today()))
