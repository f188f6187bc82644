"""The first administrator (or another), made from the command line: `panel create-admin`."""

from __future__ import annotations

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from panel import audit
from panel.auth.passwords import hash_password, password_problem
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import Agency, AgencyKind, AuditAction, Role, User, utcnow

# The agency an administrator belongs to when none is named: the council that runs the service.
DEFAULT_AGENCY_CODE = "council"
DEFAULT_AGENCY_NAME = "Council (service administration)"
MAX_NAME = 120
MAX_EMAIL = 254


def _clean_email(email: str) -> str:
    """As the admin's add-user form checks it (email-validator, no deliverability lookup)."""
    email = (email or "").strip().lower()
    try:
        if len(email) > MAX_EMAIL:
            raise EmailNotValidError("too long")
        validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ServiceError("Enter an email address in the correct format, like name@example.gov.uk",
                           field="email") from None
    return email


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ServiceError("Enter the administrator’s name", field="name")
    if len(name) > MAX_NAME or any(ord(c) < 32 or c in "<>" for c in name):
        raise ServiceError(f"Name must be {MAX_NAME} characters or fewer, without < or >", field="name")
    return name


def _agency(code: str) -> tuple[Agency, bool]:
    """The agency with this code, made (as the council) when it does not exist. True when made."""
    agency = db.session.execute(sa.select(Agency).filter_by(code=code)).scalar_one_or_none()
    if agency is not None:
        return agency, False
    if code != DEFAULT_AGENCY_CODE:
        raise ServiceError(f"No agency has the code {code!r}", field="agency")
    agency = Agency(code=code, name=DEFAULT_AGENCY_NAME, kind=AgencyKind.LOCAL_AUTHORITY)
    db.session.add(agency)
    db.session.flush()
    audit.record(AuditAction.CREATE, "agency", agency.id,
                 summary={"code": code, "name": agency.name, "via": "create-admin"})
    return agency, True


def create_admin(*, email: str, name: str, password: str, agency_code: str = DEFAULT_AGENCY_CODE) -> User:
    """Add an administrator who signs in with ``password`` (held to the password rules).

    Refuses (ServiceError naming the field) a malformed email, one already in use, an empty or
    overlong name, a weak password, or an unknown agency code other than the default, which is
    made when missing. Audits CREATE of the user (never the password). Flushes, never commits.
    """
    email = _clean_email(email)
    name = _clean_name(name)
    problem = password_problem(password, email=email)
    if problem:
        raise ServiceError(problem, field="password")
    taken = db.session.execute(sa.select(sa.exists().where(sa.func.lower(User.email) == email))).scalar_one()
    if taken:
        raise ServiceError("A user with this email address already exists", field="email")
    agency, _ = _agency(agency_code)
    user = User(name=name, email=email, role=Role.ADMIN, agency=agency, password_hash=hash_password(password),
                password_changed_at=utcnow(), must_change_password=False)
    db.session.add(user)
    db.session.flush()
    audit.record(AuditAction.CREATE, "user", user.id, summary={
        "name": user.name, "email": user.email, "role": str(Role.ADMIN), "agency_id": agency.id,
        "active": True, "via": "create-admin",
    })
    return user
