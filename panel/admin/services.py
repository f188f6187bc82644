"""User administration: add users with a temporary password, change, deactivate and list them.

Services flush but never commit; every change is written to the audit trail.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from panel import audit
from panel.agencies.services import IsaStatus, isa_register_order, isa_status
from panel.auth import services as auth_services
from panel.auth.passwords import hash_password, password_problem
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import Agency, AuditAction, AuditEvent, OutboxMessage, OutboxStatus, Role, User, utcnow

DUPLICATE_EMAIL = "A user with this email address already exists"
USER_FIELDS = ("name", "role", "agency_id", "active")
# No 0/O, 1/l/I: the password is read out or copied by hand. 16 of 31 characters is about 79 bits.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def generate_temporary_password() -> str:
    """A random password in four groups of four, such as ``k7pw-3mzq-x9ad-r2fe``."""
    while True:
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        password = "-".join(raw[i:i + 4] for i in range(0, 16, 4))
        if password_problem(password) is None:
            return password


def email_in_use(email: str) -> bool:
    """True when any user, active or not, already has this email address (compared lower-case)."""
    email = (email or "").strip().lower()
    return db.session.execute(
        sa.select(sa.exists().where(sa.func.lower(User.email) == email))
    ).scalar_one()


def add_user(*, name: str, email: str, role: Role, agency: Agency, by: User) -> tuple[User, str]:
    """Create a user with a temporary password they must change at first sign-in.

    Returns the user and the temporary password, which is shown once and never stored,
    emailed or logged. Audits CREATE with the fields set (never the password).
    """
    password = generate_temporary_password()
    user = User(
        name=name,
        email=email.strip().lower(),
        role=role,
        agency=agency,
        password_hash=hash_password(password),
        password_changed_at=utcnow(),
        must_change_password=True,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(AuditAction.CREATE, "user", user.id, user=by, summary={
        "name": user.name, "email": user.email, "role": str(role), "agency_id": agency.id, "active": True,
    })
    return user, password


def posts_held(user: User) -> list[tuple[str, Agency]]:
    """The agency posts this user holds: ("SPoC" | "deputy SPoC" | "escalation contact", agency)."""
    agencies = db.session.execute(
        sa.select(Agency).where(sa.or_(
            Agency.spoc_id == user.id,
            Agency.deputy_spoc_id == user.id,
            Agency.escalation_contact_id == user.id,
        )).order_by(Agency.name)
    ).scalars().all()
    posts = []
    for agency in agencies:
        if agency.spoc_id == user.id:
            posts.append(("SPoC", agency))
        if agency.deputy_spoc_id == user.id:
            posts.append(("deputy SPoC", agency))
        if agency.escalation_contact_id == user.id:
            posts.append(("escalation contact", agency))
    return posts


def _refuse_if_posts(user: User, posts: list[tuple[str, Agency]], field: str, doing: str) -> None:
    if posts:
        post, agency = posts[0]
        raise ServiceError(
            f"{user.name} is the {post} for {agency.name}. Choose someone else on the agency’s page before you {doing}",
            field=field,
        )


def update_user(*, user: User, by: User, name: str, role: Role, agency: Agency, active: bool) -> dict:
    """Change a user's name, role, agency and whether they can sign in.

    Refuses (ServiceError, naming the field) an admin deactivating themselves or giving up their own admin
    role, and changes that would leave an agency's SPoC, deputy or escalation contact pointing
    at someone deactivated, moved to another agency, or (SPoC and deputy) without the SPoC role.
    Deactivating gives the user a new session token, which ends their sessions. Audits UPDATE
    with the changed fields; returns them ({} when nothing changed, and nothing is audited).
    """
    if user.id == by.id and not active:
        raise ServiceError("You cannot deactivate your own account", field="status")
    if user.id == by.id and role != Role.ADMIN:
        raise ServiceError("You cannot remove your own administrator role", field="role")
    posts = posts_held(user)
    if user.active and not active:
        _refuse_if_posts(user, posts, "status", "deactivate them")
    if agency.id != user.agency_id:
        _refuse_if_posts(user, posts, "agency_id", "move them to another agency")
    if role != Role.SPOC:
        _refuse_if_posts(user, [p for p in posts if p[0] != "escalation contact"], "role", "change their role")

    before = audit.snapshot(user, USER_FIELDS)
    user.name = name
    user.role = role
    user.agency = agency
    user.agency_id = agency.id
    user.active = active
    changed = audit.changes(user, USER_FIELDS, before)
    if before["active"] and not active:
        user.session_token = secrets.token_hex(32)
    if changed:
        audit.record(AuditAction.UPDATE, "user", user.id, user=by, summary=changed)
    return changed


def reset_password(*, user: User, by: User) -> str:
    """Give the user a new temporary password, ending their sessions. Returns it to show once.

    Audited by panel.auth.services.set_password (the password itself is never recorded).
    """
    password = generate_temporary_password()
    auth_services.set_password(user, password, by=by, temporary=True)
    return password


def unlock_user(*, user: User, by: User, now: datetime | None = None) -> bool:
    """Clear a lockout and the failed sign-in count. False (and no audit) when there was nothing to clear."""
    now = now or utcnow()
    if not user.is_locked(now) and not user.failed_logins:
        return False
    auth_services.unlock(user, by=by)
    return True


USERS_PAGE = 100  # users a page of the list shows


def _user_filters(agency_id: int | None, role: Role | None) -> list[sa.ColumnElement[bool]]:
    where = []
    if agency_id is not None:
        where.append(User.agency_id == agency_id)
    if role is not None:
        where.append(User.role == role)
    return where


def count_users(*, agency_id: int | None = None, role: Role | None = None) -> int:
    return db.session.execute(sa.select(sa.func.count(User.id)).where(*_user_filters(agency_id, role))).scalar_one()


def list_users(*, agency_id: int | None = None, role: Role | None = None, page: int = 1) -> list[User]:
    """One page (USERS_PAGE) of users by name, with their agency loaded in the same query,
    optionally filtered."""
    return list(db.session.execute(
        sa.select(User).where(*_user_filters(agency_id, role)).options(joinedload(User.agency))
        .order_by(User.name, User.id).limit(USERS_PAGE).offset((page - 1) * USERS_PAGE)).scalars())


def all_agencies() -> list[Agency]:
    """Every agency by name, for the agency choices on the user forms."""
    return list(db.session.execute(sa.select(Agency).order_by(Agency.name)).scalars())


def user_status(user: User, now: datetime) -> str:
    """"deactivated", "locked" or "active", in that order of precedence."""
    if not user.active:
        return "deactivated"
    if user.is_locked(now):
        return "locked"
    return "active"


@dataclass
class Dashboard:
    due_soon: list[Agency]
    blocked: list[tuple[Agency, IsaStatus]]
    locked_users: list[User]
    failed_emails: int
    trail: TrailStatus | None = None


@dataclass(frozen=True)
class TrailStatus:
    """The audit trail at a glance: its size, entries written without a seal, the last anchor."""

    entries: int
    unsealed: int
    key_set: bool
    last_anchor_at: datetime | None
    last_anchor_count: int
    anchor_problems: int  # lines of the anchor file that could not be read

    def anchor_stale(self, now: datetime) -> bool:
        """No anchor, or none for two days: the daily job "audit-anchor" is not running."""
        return self.last_anchor_at is None or now - self.last_anchor_at > timedelta(days=2)


# The anchor file as last read, by path: (what its stat said, what read_anchors found). It grows
# by a line a day, so after ten years every view of the admin home would parse 3,650 lines; it is
# read again only when it changes (its size, time or inode).
_anchor_files: dict[str, tuple[tuple[int, int, int], tuple[list[dict], list[str]]]] = {}


def _anchors(anchor_path: str) -> tuple[list[dict], list[str]]:
    try:
        stat = Path(anchor_path).stat()
    except OSError:
        return [], []
    key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    cached = _anchor_files.get(anchor_path)
    if cached is None or cached[0] != key:
        cached = (key, audit.read_anchors(anchor_path))
        _anchor_files[anchor_path] = cached
    return cached[1]


def trail_status(*, key_set: bool, anchor_path: str) -> TrailStatus:
    """One query for the trail, reading no more than the entries since the last anchor. The
    entries up to the last anchor are the count it took, when the entry it ends at is still
    there with the hash it had (the chain is append-only and each hash covers everything before
    it, which `audit-verify` checks); those after it are counted along the primary key. With no
    anchor, or one this trail does not match (another database's, or a restored backup), every
    entry is counted (count(*), which SQLite reads from its smallest index). The unsealed are
    counted from the partial index of entries without a seal. The anchor file is outside the
    database, and read again only when it has changed."""
    anchors, problems = _anchors(anchor_path)
    last = anchors[-1] if anchors else None
    after, anchored, head = (last["last_id"], last["count"], last["hash"]) if last else (0, 0, "")
    every = sa.select(sa.func.count()).select_from(AuditEvent).scalar_subquery()
    since = sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.id > after).scalar_subquery()
    still_there = sa.select(AuditEvent.hash).where(AuditEvent.id == after).scalar_subquery() == head
    entries, unsealed = db.session.execute(sa.select(
        sa.case((still_there, anchored + since), else_=every),
        sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.seal.is_(None)).scalar_subquery())).one()
    return TrailStatus(entries=entries, unsealed=unsealed, key_set=key_set,
                       last_anchor_at=datetime.fromisoformat(last["at"]) if last else None,
                       last_anchor_count=int(last["count"]) if last else 0, anchor_problems=len(problems))


def dashboard(*, today: date, now: datetime, due_soon_days: int) -> Dashboard:
    """What needs an administrator's attention: ISAs due soon or lapsed, locked accounts, failed emails."""
    agencies = sorted(db.session.execute(sa.select(Agency)).scalars(), key=isa_register_order)
    statuses = {a.id: isa_status(a, today=today, due_soon_days=due_soon_days) for a in agencies}
    locked = db.session.execute(
        sa.select(User).options(joinedload(User.agency))
        .where(User.locked_until > now, User.active.is_(True))
        .order_by(User.locked_until, User.name)
    ).scalars().all()
    failed = db.session.execute(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    ).scalar_one()
    return Dashboard(
        due_soon=[a for a in agencies if statuses[a.id] == IsaStatus.DUE_SOON],
        blocked=[(a, statuses[a.id]) for a in agencies if statuses[a.id].blocks_case_records],
        locked_users=list(locked),
        failed_emails=failed,
    )

