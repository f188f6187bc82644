"""All SQLAlchemy models, in the 2.0 typed style, with roles, kinds and statuses as StrEnum."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from panel.extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC in the database and gives back timezone-aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def _enum(enum_cls: type[StrEnum], length: int = 32) -> sa.Enum:
    """Enums are stored as their string values in a VARCHAR with a CHECK-free column (portable)."""
    return sa.Enum(enum_cls, native_enum=False, create_constraint=False, length=length,
                   values_callable=lambda e: [m.value for m in e])


NOW = sa.text("CURRENT_TIMESTAMP")


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    CHAIR = "chair"
    SPOC = "spoc"
    PRACTITIONER = "practitioner"
    BOARD = "board"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.COORDINATOR: "Coordinator",
    Role.CHAIR: "Panel chair",
    Role.SPOC: "Single point of contact (SPoC)",
    Role.PRACTITIONER: "Practitioner",
    Role.BOARD: "Safeguarding Adults Board member",
}


class AgencyKind(StrEnum):
    POLICE = "police"
    ADULT_SOCIAL_CARE = "adult_social_care"
    HOUSING = "housing"
    MENTAL_HEALTH = "mental_health"
    ACUTE_HEALTH = "acute_health"
    PRIMARY_CARE = "primary_care"
    DRUG_AND_ALCOHOL = "drug_and_alcohol"
    PROBATION = "probation"
    FIRE = "fire"
    VOLUNTARY_SECTOR = "voluntary_sector"
    LOCAL_AUTHORITY = "local_authority"
    OTHER = "other"

    @property
    def label(self) -> str:
        return AGENCY_KIND_LABELS[self]


AGENCY_KIND_LABELS = {
    AgencyKind.POLICE: "Police",
    AgencyKind.ADULT_SOCIAL_CARE: "Adult social care",
    AgencyKind.HOUSING: "Housing",
    AgencyKind.MENTAL_HEALTH: "Mental health",
    AgencyKind.ACUTE_HEALTH: "Acute health",
    AgencyKind.PRIMARY_CARE: "Primary care",
    AgencyKind.DRUG_AND_ALCOHOL: "Drug and alcohol services",
    AgencyKind.PROBATION: "Probation",
    AgencyKind.FIRE: "Fire and rescue",
    AgencyKind.VOLUNTARY_SECTOR: "Voluntary sector",
    AgencyKind.LOCAL_AUTHORITY: "Local authority (other)",
    AgencyKind.OTHER: "Other",
}


class AuditAction(StrEnum):
    VIEW = "view"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOCKOUT = "lockout"
    DENIED = "denied"
    LOGOUT = "logout"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Agency(db.Model):
    """A partner agency: its SPoC, deputy, escalation contact and information sharing agreement."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[AgencyKind] = mapped_column(_enum(AgencyKind))
    spoc_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", use_alter=True))
    deputy_spoc_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", use_alter=True))
    escalation_contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", use_alter=True))
    spoc_absent: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    isa_signed_on: Mapped[date | None]
    isa_review_due: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)

    spoc: Mapped[User | None] = relationship(foreign_keys=[spoc_id], post_update=True)
    deputy_spoc: Mapped[User | None] = relationship(foreign_keys=[deputy_spoc_id], post_update=True)
    escalation_contact: Mapped[User | None] = relationship(foreign_keys=[escalation_contact_id], post_update=True)

    def isa_current(self, today: date) -> bool:
        """True when the information sharing agreement is signed and not past its review date."""
        return (
            self.isa_signed_on is not None
            and self.isa_review_due is not None
            and self.isa_signed_on <= today <= self.isa_review_due
        )

    @property
    def acting_spoc(self) -> User | None:
        """The deputy acts for the SPoC while the SPoC is marked absent."""
        if self.spoc_absent and self.deputy_spoc is not None:
            return self.deputy_spoc
        return self.spoc

    def __repr__(self) -> str:
        return f"<Agency {self.code}>"


class User(UserMixin, db.Model):
    """A person who signs in. Belongs to exactly one agency and holds exactly one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[Role] = mapped_column(_enum(Role))
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The session cookie carries this token. It is replaced on password change, sign-out and
    # deactivation, which ends every session of the user on every device.
    session_token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=lambda: secrets.token_hex(32))
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    mfa_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)

    agency: Mapped[Agency] = relationship(foreign_keys=[agency_id])

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class AuditEvent(db.Model):
    """One entry in the append-only, hash-chained audit trail. Written only by panel.audit.record()."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    user_email: Mapped[str] = mapped_column(sa.String(254), default="")
    action: Mapped[AuditAction] = mapped_column(_enum(AuditAction), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40), index=True)
    object_id: Mapped[str] = mapped_column(sa.String(64), default="")
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    ip: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    user: Mapped[User | None] = relationship()


class OutboxMessage(db.Model):
    """An email waiting to go, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    to_addr: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body_text: Mapped[str] = mapped_column(sa.Text)
    calendar: Mapped[str | None] = mapped_column(sa.Text)
    calendar_method: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")


class SchedulerState(db.Model):
    """The scheduler's lock row (SQLite) and heartbeat, one row per name."""

    __tablename__ = "scheduler_state"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(120), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
