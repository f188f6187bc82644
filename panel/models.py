"""All SQLAlchemy models, in the 2.0 typed style, with roles, kinds and statuses as StrEnum."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship
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
    # Retired by migration 0017, which copied each agency marked absent into an absence with no
    # end date; kept with its values so an upgrade loses none. Nothing reads or writes it: whether
    # the SPoC is away now is `spoc_absent`, read from their absences' dates (SpocAbsence, below).
    retired_spoc_absent: Mapped[bool] = mapped_column("spoc_absent", default=False, server_default=sa.false(),
                                                      deferred=True)
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
        """The deputy acts for the SPoC while the SPoC is absent (an absence covers now)."""
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


# ---- SPoC absence (panel.agencies.absence) ------------------------------------------------


class SpocAbsence(db.Model):
    """A SPoC away from one London date to another, both included (no end date: until they say
    they are back). While it covers now, their agency's deputy acts for them, and they are back
    by themselves when it ends: no job changes anything. `starts_at` and `ends_at` are those
    moments in UTC (the start of the first day, the start of the day after the last, or when it
    was ended early), set with the dates by the service, so the rule needs only utcnow()."""

    __tablename__ = "spoc_absences"
    __table_args__ = (sa.Index("ix_spoc_absences_user_id_starts_at", "user_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])


_ABSENCE_NOW = sa.bindparam("absence_now", callable_=utcnow, type_=UTCDateTime())
# True while an absence of the agency's SPoC covers now, read with the agency in the same query
# (no query of its own, whatever the number of agencies); Agency.acting_spoc follows it.
Agency.spoc_absent = column_property(
    sa.exists().where(SpocAbsence.user_id == Agency.spoc_id, SpocAbsence.starts_at <= _ABSENCE_NOW,
                      sa.or_(SpocAbsence.ends_at.is_(None), SpocAbsence.ends_at > _ABSENCE_NOW))
    .correlate_except(SpocAbsence))


class AuditEvent(db.Model):
    """One entry in the append-only, hash-chained audit trail. Written only by panel.audit.record()."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_object", "object_type", "object_id"),
        sa.Index("ix_audit_events_user_id_id", "user_id", "id"),  # a user's newest entries first
        # the few entries written without a seal, counted on the admin home without reading the trail
        sa.Index("ix_audit_events_unsealed", "id", sqlite_where=sa.text("seal IS NULL"),
                 postgresql_where=sa.text("seal IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    user_email: Mapped[str] = mapped_column(sa.String(254), default="")
    action: Mapped[AuditAction] = mapped_column(_enum(AuditAction), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40), index=True)
    object_id: Mapped[str] = mapped_column(sa.String(64), default="")
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    ip: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # HMAC-SHA256 of the hash under AUDIT_KEY, a key held outside the database: anyone who can
    # write the database can recompute the hashes, but not this. None: written without a key.
    seal: Mapped[str | None] = mapped_column(sa.String(64))

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


# ---- referrals and cases --------------------------------------------------------------


class RiskLevel(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def rank(self) -> int:
        """0 for critical, the most urgent, up to 3 for low."""
        return list(RiskLevel).index(self)


class Need(StrEnum):
    DUAL_DIAGNOSIS = "dual_diagnosis"
    OFFENDING = "offending"
    MENTAL_HEALTH = "mental_health"
    SELF_NEGLECT = "self_neglect"
    HOUSING = "housing"
    SOCIAL_EXCLUSION = "social_exclusion"
    POORLY_MANAGED_HEALTH = "poorly_managed_health"
    VICTIMISATION = "victimisation"
    ANTISOCIAL_BEHAVIOUR = "antisocial_behaviour"
    UNABLE_TO_PROTECT_SELF = "unable_to_protect_self"
    UNHELPFUL_THINKING = "unhelpful_thinking"
    POOR_ENGAGEMENT = "poor_engagement"

    @property
    def label(self) -> str:
        return NEED_LABELS[self]


NEED_LABELS = {
    Need.DUAL_DIAGNOSIS: "Dual diagnosis (mental health and substance use)",
    Need.OFFENDING: "Risk of offending or reoffending",
    Need.MENTAL_HEALTH: "Poor mental health",
    Need.SELF_NEGLECT: "Poor self-care or self-neglect",
    Need.HOUSING: "Vulnerable housing or unstable tenancy",
    Need.SOCIAL_EXCLUSION: "Social exclusion and difficulty accessing support",
    Need.POORLY_MANAGED_HEALTH: "Poorly managed health",
    Need.VICTIMISATION: "Victimisation by others",
    Need.ANTISOCIAL_BEHAVIOUR: "Anti-social behaviour",
    Need.UNABLE_TO_PROTECT_SELF: "Inability to protect themselves from harm",
    Need.UNHELPFUL_THINKING: "Unhelpful thinking and behaviours",
    Need.POOR_ENGAGEMENT: "Poor engagement with and by services",
}


class LawfulBasis(StrEnum):
    """Lawful reasons for sharing without consent (UK GDPR / DPA 2018, Care Act 2014 s.45)."""

    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    SAFEGUARDING_INDIVIDUALS = "safeguarding_individuals"
    PREVENTION_OF_CRIME = "prevention_of_crime"
    LEGAL_OBLIGATION = "legal_obligation"

    @property
    def label(self) -> str:
        return LAWFUL_BASIS_LABELS[self]


LAWFUL_BASIS_LABELS = {
    LawfulBasis.VITAL_INTERESTS: "Vital interests: to protect the person’s or someone else’s life",
    LawfulBasis.PUBLIC_TASK: "Public task: the agency’s statutory safeguarding duties (Care Act 2014)",
    LawfulBasis.SAFEGUARDING_INDIVIDUALS: "Safeguarding of individuals at risk (DPA 2018 Schedule 1 paragraph 18)",
    LawfulBasis.PREVENTION_OF_CRIME: "Prevention or detection of crime",
    LawfulBasis.LEGAL_OBLIGATION: "Legal obligation or court order",
}


class AgeBand(StrEnum):
    """The person's age when the referral was submitted, in the bands a Board is asked for. Kept
    on the referral (Referral.age_band), so the Board's equality figures never need the date of
    birth, which retention erases."""

    UNDER_18 = "under_18"
    AGE_18_24 = "18_24"
    AGE_25_34 = "25_34"
    AGE_35_44 = "35_44"
    AGE_45_54 = "45_54"
    AGE_55_64 = "55_64"
    AGE_65_74 = "65_74"
    AGE_75_84 = "75_84"
    AGE_85_PLUS = "85_plus"

    @property
    def label(self) -> str:
        if self == AgeBand.UNDER_18:
            return "Under 18"
        if self == AgeBand.AGE_85_PLUS:
            return "85 and over"
        low, high = self.value.split("_")
        return f"{low} to {high}"

    @classmethod
    def on(cls, born: date | None, day: date) -> AgeBand | None:
        """The band of someone born on `born`, on `day` (None when the date of birth is not known)."""
        if born is None:
            return None
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        if age < 18:
            return cls.UNDER_18
        for band in list(cls)[1:-1]:
            if age <= int(band.value.split("_")[1]):
                return band
        return cls.AGE_85_PLUS


class Disability(StrEnum):
    """Whether the person is disabled, where it is recorded (equality monitoring)."""

    YES = "yes"
    NO = "no"
    NOT_SAID = "not_said"

    @property
    def label(self) -> str:
        return {"yes": "Disabled", "no": "Not disabled", "not_said": "Prefers not to say"}[self.value]


class DeclineReason(StrEnum):
    """The kind of reason a referral was declined, for the Board's reports (the rationale itself
    is free text, which never reaches a report and which retention erases)."""

    NOT_CRITICAL = "not_critical"
    SINGLE_AGENCY = "single_agency"
    NOT_ELIGIBLE = "not_eligible"
    OTHER_PATHWAY = "other_pathway"
    OTHER = "other"

    @property
    def label(self) -> str:
        return DECLINE_REASON_LABELS[self]


DECLINE_REASON_LABELS = {
    DeclineReason.NOT_CRITICAL: "The risk is not critical",
    DeclineReason.SINGLE_AGENCY: "A single agency can hold the risk",
    DeclineReason.NOT_ELIGIBLE: "Not eligible (age or area)",
    DeclineReason.OTHER_PATHWAY: "Better met by another pathway",
    DeclineReason.OTHER: "Another reason",
}


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    INFO_REQUESTED = "info_requested"
    AWAITING_PANEL = "awaiting_panel"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    WAITING = "waiting"

    @property
    def label(self) -> str:
        return REFERRAL_STATUS_LABELS[self]


REFERRAL_STATUS_LABELS = {
    ReferralStatus.DRAFT: "Draft",
    ReferralStatus.SUBMITTED: "Submitted",
    ReferralStatus.INFO_REQUESTED: "More information requested",
    ReferralStatus.AWAITING_PANEL: "Awaiting panel",
    ReferralStatus.ACCEPTED: "Accepted",
    ReferralStatus.DECLINED: "Declined",
    ReferralStatus.WITHDRAWN: "Withdrawn",
    ReferralStatus.WAITING: "Waiting list",
}

# Referrals in these statuses hold a place in the pathway.
OPEN_REFERRAL_STATUSES = (ReferralStatus.SUBMITTED, ReferralStatus.INFO_REQUESTED, ReferralStatus.AWAITING_PANEL)


class CaseStatus(StrEnum):
    ACTIVE = "active"
    CLOSURE_PROPOSED = "closure_proposed"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"active": "Active", "closure_proposed": "Closure proposed", "closed": "Closed"}[self.value]


OPEN_CASE_STATUSES = (CaseStatus.ACTIVE, CaseStatus.CLOSURE_PROPOSED)


# The search's index of names (migration 0015, panel/search/services.py), kept by the database
# itself and not described by these models: on SQLite the FTS5 tables person_search and
# person_search_words and the tables FTS5 keeps beside them; on PostgreSQL two GIN indexes on
# persons. Comparisons of the models with the database (tests/test_migrations.py, autogenerate)
# and the backup's "is it empty" leave them out.
SEARCH_INDEX_TABLES = frozenset(f"{table}{shadow}" for table in ("person_search", "person_search_words")
                                for shadow in ("", "_config", "_data", "_docsize", "_idx"))
SEARCH_INDEXES = frozenset({"ix_persons_search_trgm", "ix_persons_search_words"})


class Person(db.Model):
    """The adult at risk. Fields fill in page by page while a referral is a draft."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    given_name: Mapped[str] = mapped_column(sa.String(100), default="")
    family_name: Mapped[str] = mapped_column(sa.String(100), default="")
    other_names: Mapped[str] = mapped_column(sa.String(200), default="")
    date_of_birth: Mapped[date | None] = mapped_column(index=True)
    gender: Mapped[str] = mapped_column(sa.String(60), default="")
    ethnicity: Mapped[str] = mapped_column(sa.String(100), default="")
    first_language: Mapped[str] = mapped_column(sa.String(60), default="")
    interpreter_needed: Mapped[bool | None]
    communication_needs: Mapped[str] = mapped_column(sa.Text, default="")
    disability: Mapped[Disability | None] = mapped_column(_enum(Disability, 16))  # where recorded
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    postcode: Mapped[str] = mapped_column(sa.String(10), default="", index=True)  # searched (panel.search)
    nhs_number: Mapped[str] = mapped_column(sa.String(10), default="", index=True)
    other_identifiers: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)
    # retention (panel.reports.retention): once anonymised, the date of birth is kept only as this
    # age band (at the person's latest referral) and the address as the postcode district
    age_band: Mapped[str] = mapped_column(sa.String(10), default="", server_default="")
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)

    @property
    def initials(self) -> str:
        return "".join(p[0].upper() for p in (self.given_name, self.family_name) if p)


class Referral(db.Model):
    """A referral into the pathway, from its draft to the panel's decision."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    status: Mapped[ReferralStatus] = mapped_column(_enum(ReferralStatus), default=ReferralStatus.DRAFT)
    source: Mapped[str] = mapped_column(sa.String(10), default="form")  # form or api
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("persons.id"), index=True)
    # The person's details as the referrer wrote them, kept when the referral is linked to an
    # earlier person record (person_id then names that record): linking never overwrites them.
    referred_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("persons.id"), index=True)
    referring_agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    api_token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_tokens.id"))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(100))
    # SHA-256 of the API body first sent with the Idempotency-Key: the same key with another body is refused.
    idempotency_body_hash: Mapped[str | None] = mapped_column(sa.String(64))
    referrer_name: Mapped[str] = mapped_column(sa.String(120), default="")
    referrer_email: Mapped[str] = mapped_column(sa.String(254), default="")
    referrer_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    manager_name: Mapped[str] = mapped_column(sa.String(120), default="")
    lives_in_area: Mapped[bool | None]
    single_agency_tried: Mapped[bool | None]
    needs: Mapped[list] = mapped_column(sa.JSON, default=list)
    risk_level: Mapped[RiskLevel | None] = mapped_column(_enum(RiskLevel))
    risk_summary: Mapped[str] = mapped_column(sa.Text, default="")
    risk_assessment: Mapped[str] = mapped_column(sa.Text, default="")
    tried_already: Mapped[str] = mapped_column(sa.Text, default="")
    rapport: Mapped[str] = mapped_column(sa.Text, default="")
    persons_views: Mapped[str] = mapped_column(sa.Text, default="")
    desired_outcomes: Mapped[list] = mapped_column(sa.JSON, default=list)
    capacity: Mapped[str] = mapped_column(sa.Text, default="")
    consent_given: Mapped[bool | None]
    consent_lawful_basis: Mapped[LawfulBasis | None] = mapped_column(_enum(LawfulBasis, 40))
    consent_reason: Mapped[str] = mapped_column(sa.Text, default="")
    staff_hostility: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    staff_lone_working_restricted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    staff_safety_details: Mapped[str] = mapped_column(sa.Text, default="")
    info_requested: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the person's age band on the day it was submitted (set by submit(); Board reports)
    age_band: Mapped[AgeBand | None] = mapped_column(_enum(AgeBand, 16))

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    referred_person: Mapped[Person | None] = relationship(foreign_keys=[referred_person_id])
    referring_agency: Mapped[Agency] = relationship()
    created_by: Mapped[User | None] = relationship()
    involvements: Mapped[list[Involvement]] = relationship(
        back_populates="referral", foreign_keys="Involvement.referral_id", order_by="Involvement.id")
    decisions: Mapped[list[ReferralDecision]] = relationship(back_populates="referral", order_by="ReferralDecision.id")

    @property
    def as_referred(self) -> Person:
        """The person as the referrer wrote them: their own copy once linked, else the person record."""
        return self.referred_person or self.person

    __table_args__ = (
        sa.Index("ix_referrals_status_submitted", "status", "submitted_at"),
        sa.Index("ix_referrals_submitted_at_id", "submitted_at", "id"),  # the list, newest first (0025)
        sa.UniqueConstraint("api_token_id", "idempotency_key", name="uq_referrals_api_token_id"),
    )


class ReferralDecision(db.Model):
    """One outcome in a referral's life (submitted, triaged, info requested, declined...): who, when, why."""

    __tablename__ = "referral_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(30))
    from_status: Mapped[str] = mapped_column(sa.String(20), default="")
    to_status: Mapped[str] = mapped_column(sa.String(20), default="")
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    signposting: Mapped[str] = mapped_column(sa.Text, default="")
    # kept for the Board's reports when retention erases the free text above
    signposted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    reason_kind: Mapped[DeclineReason | None] = mapped_column(_enum(DeclineReason))

    referral: Mapped[Referral] = relationship(back_populates="decisions")
    by: Mapped[User | None] = relationship()


class Case(db.Model):
    """A person accepted into the pathway, with a lead agency, until closure."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("persons.id"), index=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), unique=True)
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.ACTIVE, index=True)
    lead_agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    risk_level: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel))
    accepted_on: Mapped[date]
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)
    # the case record (issue: the case record)
    risk_summary: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    contingency_plan: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # closure and step-down
    closure_rationale: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    closure_for_non_engagement: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    closure_proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closure_proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    step_down_agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agencies.id"))
    step_down_accepted_by: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    step_down_accepted_on: Mapped[date | None]
    closure_approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closure_panel_date: Mapped[date | None]

    person: Mapped[Person] = relationship()
    referral: Mapped[Referral] = relationship()
    lead_agency: Mapped[Agency] = relationship(foreign_keys=[lead_agency_id])
    step_down_agency: Mapped[Agency | None] = relationship(foreign_keys=[step_down_agency_id])
    involvements: Mapped[list[Involvement]] = relationship(
        back_populates="case", foreign_keys="Involvement.case_id", order_by="Involvement.id")


class Involvement(db.Model):
    """An agency involved with a referral or a case, its named worker, and whether they have rapport."""

    __tablename__ = "involvements"
    __table_args__ = (
        sa.UniqueConstraint("referral_id", "agency_id", name="uq_involvements_referral_id"),
        sa.UniqueConstraint("case_id", "agency_id", name="uq_involvements_case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int | None] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    named_worker: Mapped[str] = mapped_column(sa.String(120), default="")
    worker_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    has_rapport: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)

    referral: Mapped[Referral | None] = relationship(back_populates="involvements", foreign_keys=[referral_id])
    case: Mapped[Case | None] = relationship(back_populates="involvements", foreign_keys=[case_id])
    agency: Mapped[Agency] = relationship()
    worker: Mapped[User | None] = relationship()


class Pathway(db.Model):
    """One row: the lock admissions take on PostgreSQL (SELECT ... FOR UPDATE), and counters."""

    __tablename__ = "pathway"

    id: Mapped[int] = mapped_column(primary_key=True)
    next_referral_number: Mapped[int] = mapped_column(default=1, server_default="1")
    next_case_year: Mapped[int] = mapped_column(default=0, server_default="0")
    next_case_number: Mapped[int] = mapped_column(default=1, server_default="1")


class ReportDataVersion(db.Model):
    """One row: a random token that the database itself changes whenever a table the Board's
    reports count is written (triggers, migration 0023), so that the reports' figures can be
    remembered for one state of the records and never shown for another
    (panel.reports.remembered)."""

    __tablename__ = "report_data_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))


class ApiToken(db.Model):
    """A bearer token for the referral API. Belongs to one agency; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    label: Mapped[str] = mapped_column(sa.String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship()


# ---- the case record ------------------------------------------------------------------


class StaffSafetyKind(StrEnum):
    HOSTILITY = "hostility"
    NO_LONE_VISITS = "no_lone_visits"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"hostility": "Hostility towards staff", "no_lone_visits": "No lone visits",
                "other": "Other staff-safety concern"}[self.value]


class EngagementMethod(StrEnum):
    PHONE = "phone"
    TEXT = "text"
    LETTER = "letter"
    EMAIL = "email"
    HOME_VISIT = "home_visit"
    JOINT_VISIT = "joint_visit"
    UNANNOUNCED_VISIT = "unannounced_visit"
    OFFICE_APPOINTMENT = "office_appointment"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def is_planned_visit(self) -> bool:
        return self in (EngagementMethod.HOME_VISIT, EngagementMethod.JOINT_VISIT, EngagementMethod.OFFICE_APPOINTMENT)


class EngagementOutcome(StrEnum):
    ENGAGED = "engaged"
    PARTLY_ENGAGED = "partly_engaged"
    NO_ANSWER = "no_answer"
    NOT_IN = "not_in"
    DECLINED = "declined"
    CANCELLED_BY_PERSON = "cancelled_by_person"
    MISSED_APPOINTMENT = "missed_appointment"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def succeeded(self) -> bool:
        return self in (EngagementOutcome.ENGAGED, EngagementOutcome.PARTLY_ENGAGED)


class NonEngagementKind(StrEnum):
    """Camden's kinds of non-engagement."""

    AMBIVALENCE = "ambivalence"
    AVOIDANCE = "avoidance"
    NON_COMPLIANCE = "non_compliance"
    DISGUISED_COMPLIANCE = "disguised_compliance"
    CONFRONTATION = "confrontation"
    HOSTILITY = "hostility"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class OutcomeReview(StrEnum):
    OPEN = "open"
    ACHIEVED = "achieved"
    PARTLY_ACHIEVED = "partly_achieved"
    NOT_ACHIEVED = "not_achieved"

    @property
    def label(self) -> str:
        return {"open": "Not yet reviewed", "achieved": "Achieved", "partly_achieved": "Partly achieved",
                "not_achieved": "Not achieved"}[self.value]


class RiskChange(db.Model):
    """One change of a case's risk level: from, to, why, who and when."""

    __tablename__ = "risk_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    from_level: Mapped[RiskLevel | None] = mapped_column(_enum(RiskLevel))
    to_level: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    by: Mapped[User | None] = relationship()


class StaffSafetyFlag(db.Model):
    """A warning shown on every page of a case until it is cleared."""

    __tablename__ = "staff_safety_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[StaffSafetyKind] = mapped_column(_enum(StaffSafetyKind))
    details: Mapped[str] = mapped_column(sa.Text, default="")
    set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    set_by: Mapped[User | None] = relationship(foreign_keys=[set_by_id])


class EngagementAttempt(db.Model):
    """One attempt by an involved agency to reach the person."""

    __tablename__ = "engagement_attempts"
    __table_args__ = (sa.Index("ix_engagement_attempts_case_when", "case_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    method: Mapped[EngagementMethod] = mapped_column(_enum(EngagementMethod))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    out_of_hours: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    planned: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    outcome: Mapped[EngagementOutcome] = mapped_column(_enum(EngagementOutcome))
    persons_words: Mapped[str] = mapped_column(sa.Text, default="")
    worker_view: Mapped[str] = mapped_column(sa.Text, default="")
    non_engagement: Mapped[NonEngagementKind | None] = mapped_column(_enum(NonEngagementKind))
    small_step: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)

    agency: Mapped[Agency] = relationship()
    recorded_by: Mapped[User | None] = relationship()


class InsightVersion(db.Model):
    """Westminster's five insight questions, kept as dated versions."""

    __tablename__ = "insight_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    most_settled: Mapped[str] = mapped_column(sa.Text, default="")
    upsets: Mapped[str] = mapped_column(sa.Text, default="")
    responds_to: Mapped[str] = mapped_column(sa.Text, default="")
    engages_best_with: Mapped[str] = mapped_column(sa.Text, default="")
    matters_and_trust: Mapped[str] = mapped_column(sa.Text, default="")
    written_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    written_by: Mapped[User | None] = relationship()


class PersonalOutcome(db.Model):
    """Making Safeguarding Personal: an outcome in the person's own words, and its review."""

    __tablename__ = "personal_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    words: Mapped[str] = mapped_column(sa.Text)
    asked: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    expressed: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    review: Mapped[OutcomeReview] = mapped_column(_enum(OutcomeReview), default=OutcomeReview.OPEN)
    reviewed_on: Mapped[date | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=NOW)


class CaseEvent(db.Model):
    """The chronology: one row per dated event on a case, written by the services that cause it."""

    __tablename__ = "case_events"
    __table_args__ = (
        sa.Index("ix_case_events_case_when", "case_id", "at"),
        # the chronology's counts by type and agency, read from the index alone (migration 0021)
        sa.Index("ix_case_events_case_kind_agency", "case_id", "kind", "agency_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(30), index=True)
    agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agencies.id"))
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(sa.String(500), default="")
    ref_type: Mapped[str] = mapped_column(sa.String(30), default="")
    ref_id: Mapped[int | None]

    agency: Mapped[Agency | None] = relationship()
    by: Mapped[User | None] = relationship()


class CaseNotice(db.Model):
    """A notice raised once for a case (e.g. two missed planned visits in a row)."""

    __tablename__ = "case_notices"
    __table_args__ = (sa.UniqueConstraint("case_id", "kind", "trigger_id", name="uq_case_notices_case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    trigger_id: Mapped[int] = mapped_column(default=0)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- the action log and the escalation ladder -------------------------------------------


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    NOT_POSSIBLE = "not_possible"
    NOT_DONE = "not_done"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return ACTION_STATUS_LABELS[self]


ACTION_STATUS_LABELS = {
    ActionStatus.OPEN: "Open",
    ActionStatus.DONE: "Done",
    ActionStatus.NOT_POSSIBLE: "Not possible because circumstances changed",
    ActionStatus.NOT_DONE: "Not done by the agency",
    ActionStatus.CANCELLED: "Cancelled",
}


class LadderStep(StrEnum):
    """The rungs of the escalation ladder, in order, and the coordinator's escalation by hand."""

    REMINDER = "reminder"
    OVERDUE = "overdue"
    AGENCY = "agency"
    CHAIR = "chair"
    MANUAL_AGENCY = "manual_agency"
    MANUAL_CHAIR = "manual_chair"

    @property
    def label(self) -> str:
        return LADDER_STEP_LABELS[self]

    @property
    def to_chair(self) -> bool:
        return self in (LadderStep.CHAIR, LadderStep.MANUAL_CHAIR)

    @property
    def is_escalation(self) -> bool:
        return self not in (LadderStep.REMINDER, LadderStep.OVERDUE)


LADDER_STEP_LABELS = {
    LadderStep.REMINDER: "Reminder before the due date",
    LadderStep.OVERDUE: "Overdue notice",
    LadderStep.AGENCY: "Escalated to the agency’s escalation contact",
    LadderStep.CHAIR: "Escalated to the panel chair",
    LadderStep.MANUAL_AGENCY: "Escalated by the coordinator to the agency’s escalation contact",
    LadderStep.MANUAL_CHAIR: "Escalated by the coordinator to the panel chair",
}


class Action(db.Model):
    """An action agreed for a case, owned by one agency, with a due date and the ladder's place.

    `next_step` / `next_step_on` say which rung of the escalation ladder is due next and on
    which date (London); the daily sweep reads only rows with next_step_on <= today, through
    ix_actions_ladder. `ladder_round` goes up when the due date changes: the ladder restarts.
    """

    __tablename__ = "actions"
    __table_args__ = (
        sa.Index("ix_actions_ladder", "next_step_on"),
        sa.Index("ix_actions_agency_status", "agency_id", "status"),
        sa.Index("ix_actions_case_status", "case_id", "status"),
        # the action log's order, a page at a time: the open by due date (the few open actions
        # only), then the closed by due date; "our actions" finds an agency's or a person's
        # recently closed by when they closed (migration 0022)
        sa.Index("ix_actions_open_due_on", "due_on", sqlite_where=sa.text("status = 'open'"),
                 postgresql_where=sa.text("status = 'open'")),
        sa.Index("ix_actions_due_on", "due_on"),
        sa.Index("ix_actions_agency_closed_at", "agency_id", "closed_at"),
        sa.Index("ix_actions_assignee_closed_at", "assignee_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    meeting_id: Mapped[int | None] = mapped_column(sa.ForeignKey("meetings.id"), index=True)  # where it was agreed
    description: Mapped[str] = mapped_column(sa.Text)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    due_on: Mapped[date]
    status: Mapped[ActionStatus] = mapped_column(_enum(ActionStatus), default=ActionStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ladder_round: Mapped[int] = mapped_column(default=1, server_default="1")
    next_step: Mapped[LadderStep | None] = mapped_column(_enum(LadderStep))
    next_step_on: Mapped[date | None]
    escalated_to_chair_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    case: Mapped[Case] = relationship()
    agency: Mapped[Agency] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    meeting: Mapped[Meeting | None] = relationship()
    updates: Mapped[list[ActionUpdate]] = relationship(back_populates="action", order_by="ActionUpdate.id")
    escalations: Mapped[list[Escalation]] = relationship(back_populates="action", order_by="Escalation.id")

    @property
    def is_open(self) -> bool:
        return self.status == ActionStatus.OPEN

    def is_overdue(self, today: date) -> bool:
        return self.status == ActionStatus.OPEN and self.due_on < today


class ActionUpdate(db.Model):
    """One dated update to an action: a note, a status change, a due-date change with its reason."""

    __tablename__ = "action_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(sa.ForeignKey("actions.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    old_status: Mapped[ActionStatus | None] = mapped_column(_enum(ActionStatus))
    new_status: Mapped[ActionStatus | None] = mapped_column(_enum(ActionStatus))
    old_due_on: Mapped[date | None]
    new_due_on: Mapped[date | None]
    due_change_reason: Mapped[str] = mapped_column(sa.String(500), default="")

    action: Mapped[Action] = relationship(back_populates="updates")
    by: Mapped[User | None] = relationship()


class Escalation(db.Model):
    """A rung of the ladder taken for an action: once per (action, step, round), with who was told.

    Manual escalations by the coordinator use their own round numbers (1, 2, ...), so each is
    recorded once too. The escalation contact (or a chair, for the chair's rungs) acknowledges.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        sa.UniqueConstraint("action_id", "step", "round", name="uq_escalations_action_id"),
        # the action log's filters "escalated", "escalated today" and "awaiting the chair": the
        # escalations of those rungs (by when, for today's), not every reminder ever sent (0022)
        sa.Index("ix_escalations_step_at_action_id", "step", "at", "action_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(sa.ForeignKey("actions.id"), index=True)
    step: Mapped[LadderStep] = mapped_column(_enum(LadderStep))
    round: Mapped[int] = mapped_column(default=1)
    due_for: Mapped[date]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # None: the daily sweep
    reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    told: Mapped[str] = mapped_column(sa.Text, default="")  # "Name <email>" per line
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # who is asked to acknowledge
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    acknowledgement: Mapped[str] = mapped_column(sa.String(1000), default="")

    action: Mapped[Action] = relationship(back_populates="escalations")
    by: Mapped[User | None] = relationship(foreign_keys=[by_id])
    contact: Mapped[User | None] = relationship(foreign_keys=[contact_id])
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])

    @property
    def told_list(self) -> list[str]:
        return [line for line in self.told.splitlines() if line]


class DigestItem(db.Model):
    """A line waiting for someone's daily digest email; `digest_id` is set when it is sent."""

    __tablename__ = "digest_items"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "escalation_id", name="uq_digest_items_user_id"),
        sa.Index("ix_digest_items_pending", "digest_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    escalation_id: Mapped[int] = mapped_column(sa.ForeignKey("escalations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    digest_id: Mapped[int | None] = mapped_column(sa.ForeignKey("digests.id"))


class Digest(db.Model):
    """One digest email per person per London day (the unique row is what makes it once)."""

    __tablename__ = "digests"
    __table_args__ = (sa.UniqueConstraint("user_id", "day", name="uq_digests_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    day: Mapped[date]
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    items: Mapped[int] = mapped_column(default=0)


# ---- meetings: monthly panels (and case MDTs), agendas, attendance, minutes ---------------------


class MeetingKind(StrEnum):
    PANEL = "panel"
    MDT = "mdt"

    @property
    def label(self) -> str:
        return {"panel": "Monthly panel", "mdt": "Case MDT meeting"}[self.value]


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class AgendaItemKind(StrEnum):
    """Agenda items; `section` gives their place in the agenda's fixed order (SafeLives/CASPA)."""

    WELCOME = "welcome"
    LAST_MINUTES = "last_minutes"
    REFERRAL = "referral"
    CASE = "case"
    CLOSURE = "closure"
    ESCALATIONS = "escalations"
    OTHER = "other"            # an item the coordinator added
    AOB = "aob"

    @property
    def section(self) -> int:
        return AGENDA_SECTIONS[self]


AGENDA_SECTIONS = {
    AgendaItemKind.WELCOME: 1,
    AgendaItemKind.LAST_MINUTES: 2,
    AgendaItemKind.REFERRAL: 3,
    AgendaItemKind.CASE: 4,
    AgendaItemKind.CLOSURE: 5,
    AgendaItemKind.ESCALATIONS: 6,
    AgendaItemKind.OTHER: 7,
    AgendaItemKind.AOB: 7,
}


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    APOLOGIES_WITH_UPDATE = "apologies_with_update"
    APOLOGIES = "apologies"
    ABSENT = "absent"

    @property
    def label(self) -> str:
        return {
            "present": "Present",
            "apologies_with_update": "Apologies, written update sent",
            "apologies": "Apologies, no written update",
            "absent": "Absent",
        }[self.value]


class Meeting(db.Model):
    """A monthly panel or a case MDT: one calendar event with its own UID and SEQUENCE.

    Panels made by the schedule carry `series_key` ("panel-2027-01"), unique, so creating the
    next twelve is idempotent. `ical_uid` is made once and kept for ever; `ical_sequence` goes
    up on every change of time, place or status (the calendar invitations issue).
    """

    __tablename__ = "meetings"
    __table_args__ = (sa.Index("ix_meetings_kind_starts", "kind", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MeetingKind] = mapped_column(_enum(MeetingKind))
    status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus), default=MeetingStatus.SCHEDULED)
    series_key: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cutoff_on: Mapped[date | None]
    location: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    online_url: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    purpose: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    moved_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    cancelled_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    ical_uid: Mapped[str] = mapped_column(sa.String(120), unique=True, default=lambda: f"{secrets.token_hex(16)}@panel")
    ical_sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    agenda_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agenda_published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    minutes_finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    minutes_finalised_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    case: Mapped[Case | None] = relationship()
    items: Mapped[list[AgendaItem]] = relationship(back_populates="meeting", order_by="AgendaItem.position")
    attendance: Mapped[list[Attendance]] = relationship(back_populates="meeting", order_by="Attendance.id")
    amendments: Mapped[list[MinutesAmendment]] = relationship(back_populates="meeting", order_by="MinutesAmendment.id")
    attendees: Mapped[list[MeetingAttendee]] = relationship(back_populates="meeting", order_by="MeetingAttendee.id")
    minutes_finalised_by: Mapped[User | None] = relationship(foreign_keys=[minutes_finalised_by_id])

    @property
    def finalised(self) -> bool:
        return self.minutes_finalised_at is not None

    @property
    def cancelled(self) -> bool:
        return self.status == MeetingStatus.CANCELLED

    @property
    def length_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class AgendaItem(db.Model):
    """One item on a meeting's agenda, in `position` order, with its time box and minutes.

    Items the agenda builds itself carry their kind and the referral or case they are about
    (`referral_id`, `case_id`); the coordinator's own items are kind "other" with a title.
    `notes` and `decision` are the minutes for the item.
    """

    __tablename__ = "agenda_items"
    __table_args__ = (sa.Index("ix_agenda_items_meeting_position", "meeting_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id"))
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[AgendaItemKind] = mapped_column(_enum(AgendaItemKind))
    title: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    referral_id: Mapped[int | None] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    minutes: Mapped[int] = mapped_column(default=15, server_default="15")
    notes: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    decision: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    meeting: Mapped[Meeting] = relationship(back_populates="items")
    referral: Mapped[Referral | None] = relationship()
    case: Mapped[Case | None] = relationship()


class Attendance(db.Model):
    """An agency's attendance at a meeting: status, who came or deputised, a written update,
    and the attendee's acknowledgement of the confidentiality statement."""

    __tablename__ = "attendance"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "agency_id", name="uq_attendance_meeting_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id"))
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    status: Mapped[AttendanceStatus | None] = mapped_column(_enum(AttendanceStatus))
    attendee_name: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    deputised_by: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    written_update: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    confidentiality_acknowledged: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    meeting: Mapped[Meeting] = relationship(back_populates="attendance")
    agency: Mapped[Agency] = relationship()


class MinutesAmendment(db.Model):
    """A correction to finalised minutes: what changed, who made it and why."""

    __tablename__ = "minutes_amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agenda_items.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.String(1000))
    text: Mapped[str] = mapped_column(sa.Text)

    meeting: Mapped[Meeting] = relationship(back_populates="amendments")
    by: Mapped[User | None] = relationship()


class MinutesSnapshot(db.Model):
    """The signed-off record of a panel's minutes: everything the minutes page and their PDF
    show, as one JSON document (panel.meetings.record.MinutesRecord), taken when the chair
    finalised them (or, for minutes finalised before this existed, when the database was
    upgraded: `source` says which). Written once and never changed; amendments sit beside it
    in minutes_amendments."""

    __tablename__ = "minutes_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id"), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    source: Mapped[str] = mapped_column(sa.String(20), default="finalised")  # finalised or upgrade
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    taken_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    document: Mapped[dict] = mapped_column(sa.JSON)


class AttendeeResponse(StrEnum):
    """An attendee's answer: recorded by hand, by the attendee from their invitation's reply link,
    or read from the calendar's REPLY in the organiser's mailbox (panel.meetings.replies)."""

    NEEDS_ACTION = "needs_action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"

    @property
    def label(self) -> str:
        return {"needs_action": "No reply yet", "accepted": "Attending", "declined": "Not attending",
                "tentative": "Tentative"}[self.value]


class ResponseSource(StrEnum):
    """How an attendee's answer reached the service."""

    COORDINATOR = "coordinator"   # recorded by the coordinator
    ATTENDEE = "attendee"         # the attendee, signed in
    LINK = "link"                 # the attendee's reply link (people without an account)
    CALENDAR = "calendar"         # their calendar's REPLY, read from the organiser's mailbox

    @property
    def label(self) -> str:
        return {"coordinator": "recorded by the coordinator", "attendee": "replied in the service",
                "link": "replied by the link in the invitation", "calendar": "calendar reply"}[self.value]


class MeetingAttendee(db.Model):
    """Someone invited to a meeting: a user (SPoC, named worker, chair) or an external person by
    name, agency and email. `removed_at` marks someone taken off the list (they were sent a
    cancellation); `invited_sequence` is the last SEQUENCE sent to them."""

    __tablename__ = "meeting_attendees"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "email", name="uq_meeting_attendees_meeting_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    agency_name: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.String(20), default="REQ-PARTICIPANT", server_default="REQ-PARTICIPANT")
    response: Mapped[AttendeeResponse] = mapped_column(_enum(AttendeeResponse), default=AttendeeResponse.NEEDS_ACTION)
    response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invited_sequence: Mapped[int | None]
    # how the answer on file came, and the SEQUENCE and DTSTAMP it answered (RFC 5546 §2.1.5:
    # a calendar reply replaces it only when it answers a newer version, or the same one later)
    response_source: Mapped[ResponseSource | None] = mapped_column(_enum(ResponseSource))
    response_sequence: Mapped[int | None]
    response_stamp: Mapped[datetime | None] = mapped_column(UTCDateTime)

    meeting: Mapped[Meeting] = relationship(back_populates="attendees")
    user: Mapped[User | None] = relationship()

    @property
    def current(self) -> bool:
        return self.removed_at is None


class CalendarFeed(db.Model):
    """A user's private calendar feed: only the SHA-256 of its 128-bit token is stored."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class KeptForm(db.Model):
    """What was typed into a form sent after its session or CSRF token had expired, kept for the
    person who typed it until they sign in again, a day at most (panel.auth.kept). `sealed` is
    the text encrypted (Fernet). It belongs to `user_id`; or, when the request could not say
    whose it was, to whoever holds the claim cookie whose SHA-256 is `claim_hash` (its key needs
    the cookie too), until they sign in and it is sealed again for them."""

    __tablename__ = "kept_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    claim_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(sa.String(120))
    return_path: Mapped[str] = mapped_column(sa.String(500))
    sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# ---- meetings: replies to invitations (panel.meetings.replies, panel.meetings.mailbox) ----------


class InvitationReplyLink(db.Model):
    """The reply link in one invitation email to someone without an account (a GP): only the
    SHA-256 of its 128-bit token is stored. It answers for one attendee of one meeting, shows
    only the meeting's date, time and place, and works until the meeting ends."""

    __tablename__ = "invitation_reply_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendee_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_attendees.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attendee: Mapped[MeetingAttendee] = relationship()


class CalendarReply(db.Model):
    """An iTIP REPLY read from the organiser's mailbox, kept whether or not it changed the answer
    on file. One row per (meeting, attendee, SEQUENCE, DTSTAMP), so reading the same reply twice
    (the same message again, or a copy) records it once. `outdated`: it answered an older version
    of the invitation than the attendee was last sent, so it never changes their answer."""

    __tablename__ = "calendar_replies"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "attendee_id", "sequence", "dtstamp",
                                          name="uq_calendar_replies_meeting_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id"))
    attendee_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_attendees.id"), index=True)
    response: Mapped[AttendeeResponse] = mapped_column(_enum(AttendeeResponse))
    sequence: Mapped[int]
    dtstamp: Mapped[datetime] = mapped_column(UTCDateTime)
    message_id: Mapped[str] = mapped_column(sa.String(250), default="", server_default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outdated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    applied: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    attendee: Mapped[MeetingAttendee] = relationship()


# ---- reports: subject-access requests (UK GDPR article 15) ----------------------------------


class SubjectAccessStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"open": "Open", "closed": "Closed"}[self.value]


class WithholdingReason(StrEnum):
    """Why part of a subject-access release is withheld (DPA 2018 Schedule 2 para 16; Schedule 3)."""

    THIRD_PARTY = "third_party"
    SERIOUS_HARM = "serious_harm"

    @property
    def label(self) -> str:
        return {"third_party": "Information about someone else (third-party information)",
                "serious_harm": "Likely to cause serious harm to the physical or mental health of you or someone "
                                "else"}[self.value]


class SubjectAccessRequest(db.Model):
    """A person's request for a copy of everything held about them: received, due one calendar
    month later, the release made (kept as it was made, `release_document`) and the date sent."""

    __tablename__ = "subject_access_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("persons.id"), index=True)
    status: Mapped[SubjectAccessStatus] = mapped_column(_enum(SubjectAccessStatus), default=SubjectAccessStatus.OPEN,
                                                        index=True)
    received_on: Mapped[date]
    due_on: Mapped[date]
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    release_document: Mapped[dict | None] = mapped_column(sa.JSON)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    sent_on: Mapped[date | None]
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    person: Mapped[Person] = relationship()
    opened_by: Mapped[User | None] = relationship(foreign_keys=[opened_by_id])
    released_by: Mapped[User | None] = relationship(foreign_keys=[released_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    withholdings: Mapped[list[SubjectAccessWithholding]] = relationship(
        back_populates="request", order_by="SubjectAccessWithholding.id")

    @property
    def is_open(self) -> bool:
        return self.status == SubjectAccessStatus.OPEN


class SubjectAccessWithholding(db.Model):
    """An entry of a subject-access release withheld, whole or a passage of it, and why.
    `entry` names it as "<kind>:<id>:<field>" (ids and field names only). Kept when the
    coordinator releases it after all (`reinstated_at`), so what was decided stays recorded."""

    __tablename__ = "subject_access_withholdings"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("subject_access_requests.id"), index=True)
    entry: Mapped[str] = mapped_column(sa.String(80))
    passage: Mapped[str] = mapped_column(sa.Text, default="")  # "" when the whole entry is withheld
    reason: Mapped[WithholdingReason] = mapped_column(_enum(WithholdingReason))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reinstated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reinstated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    request: Mapped[SubjectAccessRequest] = relationship(back_populates="withholdings")
    by: Mapped[User | None] = relationship(foreign_keys=[by_id])

    @property
    def whole(self) -> bool:
        return not self.passage

    @property
    def current(self) -> bool:
        return self.reinstated_at is None


# ---- reports: retention, legal holds and anonymisation (panel.reports.retention) -------------


class LegalHoldKind(StrEnum):
    SAFEGUARDING_ADULTS_REVIEW = "safeguarding_adults_review"
    COURT_CASE = "court_case"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"safeguarding_adults_review": "An ongoing Safeguarding Adults Review",
                "court_case": "A court case", "other": "Another legal reason"}[self.value]


class LegalHold(db.Model):
    """A legal hold on a person's records: while it stands (not lifted), retention does not
    anonymise them. Placed and lifted by a coordinator, each with a reason."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("persons.id"), index=True)
    kind: Mapped[LegalHoldKind] = mapped_column(_enum(LegalHoldKind, 40))
    details: Mapped[str] = mapped_column(sa.Text, default="")
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    placed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    lift_reason: Mapped[str] = mapped_column(sa.Text, default="")

    person: Mapped[Person] = relationship()
    placed_by: Mapped[User | None] = relationship(foreign_keys=[placed_by_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class RetentionRule(StrEnum):
    """Which record's end started the retention period that ran out."""

    CASE_CLOSED = "case_closed"
    REFERRAL_DECLINED = "referral_declined"
    REFERRAL_WITHDRAWN = "referral_withdrawn"

    @property
    def label(self) -> str:
        return {"case_closed": "Case closed", "referral_declined": "Referral declined",
                "referral_withdrawn": "Referral withdrawn"}[self.value]


class Anonymisation(db.Model):
    """The record of one person's anonymisation: when, by which rule (the record whose end
    started the period, and the period), by whom (None: the daily job), and what was erased
    (`what`: table names, row ids and column names; never a value)."""

    __tablename__ = "anonymisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("persons.id"), unique=True)
    rule: Mapped[RetentionRule] = mapped_column(_enum(RetentionRule))
    ended_on: Mapped[date]
    due_on: Mapped[date]
    retention_years: Mapped[int]
    anonymised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    what: Mapped[dict] = mapped_column(sa.JSON, default=dict)
