"""Configuration classes, read from the environment and chosen by PANEL_ENV."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("PANEL_INSTANCE_PATH", Path(__file__).resolve().parent.parent / "instance"))


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _roles(name: str) -> frozenset[str]:
    return frozenset(r.strip().lower() for r in os.environ.get(name, "").split(",") if r.strip())


def _audit_key(default: str = "") -> str:
    """AUDIT_KEY, or the contents of the file AUDIT_KEY_FILE: the key that seals the audit trail.
    Keep it outside the database and out of its backups (see the README)."""
    key = os.environ.get("AUDIT_KEY", "").strip()
    path = os.environ.get("AUDIT_KEY_FILE", "").strip()
    if not key and path:
        key = Path(path).read_text().strip()
    return key or default


def _development_audit_key() -> str:
    path = INSTANCE_DIR / "audit_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _development_secret_key() -> str:
    """Development keeps a generated key under instance/ so sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Settings shared by every profile. Each value can be set in the environment."""

    ENV_NAME = "base"
    SERVICE_NAME = os.environ.get("SERVICE_NAME", "Panel")
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'panel.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "panel@localhost")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 10)
    # sent emails (the outbox's copy) are deleted this many days after sending; failed ones are kept
    OUTBOX_KEEP_SENT_DAYS = _int("OUTBOX_KEEP_SENT_DAYS", 30)
    # the organiser mailbox (MAIL_FROM's) that invitation replies come to, read over IMAP by the
    # job "calendar-replies" (panel.meetings.mailbox); no IMAP_SERVER, no reading
    IMAP_SERVER = os.environ.get("IMAP_SERVER", "")
    IMAP_USE_SSL = _bool("IMAP_USE_SSL", True)
    IMAP_PORT = _int("IMAP_PORT", 993 if IMAP_USE_SSL else 143)
    IMAP_USERNAME = os.environ.get("IMAP_USERNAME", "")
    IMAP_PASSWORD = os.environ.get("IMAP_PASSWORD", "")
    IMAP_FOLDER = os.environ.get("IMAP_FOLDER", "INBOX")
    OUTBOX_DIR = str(INSTANCE_DIR / "outbox")
    # SQLite only: the Unix socket a commit rings to wake the scheduler's outbox job at once
    # (PostgreSQL uses NOTIFY); see panel.notify.wake
    OUTBOX_WAKE_SOCKET = os.environ.get("OUTBOX_WAKE_SOCKET", str(INSTANCE_DIR / "outbox-wake.sock"))
    CASE_CAP = _int("CASE_CAP", 15)
    API_RATE_LIMIT_PER_MINUTE = _int("API_RATE_LIMIT_PER_MINUTE", 60)
    # the escalation ladder, in England and Wales working days (panel.actions.ladder)
    ACTION_REMINDER_WORKING_DAYS = _int("ACTION_REMINDER_WORKING_DAYS", 3)
    ACTION_OVERDUE_WORKING_DAYS = _int("ACTION_OVERDUE_WORKING_DAYS", 1)
    ACTION_AGENCY_ESCALATION_WORKING_DAYS = _int("ACTION_AGENCY_ESCALATION_WORKING_DAYS", 5)
    ACTION_CHAIR_ESCALATION_WORKING_DAYS = _int("ACTION_CHAIR_ESCALATION_WORKING_DAYS", 10)
    # the monthly panel's schedule (panel.meetings.schedule): by default the second Wednesday,
    # 10:00-12:30 Europe/London, referral cut-off 5 working days before, twelve panels ahead
    PANEL_WEEKDAY = _int("PANEL_WEEKDAY", 2)                # Monday 0 ... Sunday 6
    PANEL_WEEK_OF_MONTH = _int("PANEL_WEEK_OF_MONTH", 2)    # 1-4: first ... fourth; -1: the last
    PANEL_START = os.environ.get("PANEL_START", "10:00")
    PANEL_END = os.environ.get("PANEL_END", "12:30")
    PANEL_CUTOFF_WORKING_DAYS = _int("PANEL_CUTOFF_WORKING_DAYS", 5)
    PANELS_AHEAD = _int("PANELS_AHEAD", 12)
    PANEL_LOCATION = os.environ.get("PANEL_LOCATION", "")
    PANEL_ONLINE_LINK = os.environ.get("PANEL_ONLINE_LINK", "")  # https://; each panel can have its own
    PANEL_CASE_MINUTES = _int("PANEL_CASE_MINUTES", 15)
    PANEL_CONFIDENTIALITY_STATEMENT = os.environ.get(
        "PANEL_CONFIDENTIALITY_STATEMENT",
        "The information discussed at this meeting is shared to protect adults at risk. It is "
        "OFFICIAL-SENSITIVE and confidential. It must not be shared outside this meeting except "
        "with those who need it to carry out the actions agreed, in line with the information "
        "sharing agreement. Everyone present is asked to acknowledge this statement.")
    # the chair's pack (panel.meetings.pack): initials and date of birth only, unless this is on,
    # when the copy a chair or coordinator prints also carries each person's full name
    PACK_FULL_NAMES = _bool("PACK_FULL_NAMES")
    REQUIRE_MFA_FOR = _roles("REQUIRE_MFA_FOR")
    LOCKOUT_ATTEMPTS = 5
    LOCKOUT_MINUTES = 15
    # failed sign-ins across accounts, per address and overall, in a sliding window (0 turns one off)
    LOGIN_THROTTLE_WINDOW_MINUTES = _int("LOGIN_THROTTLE_WINDOW_MINUTES", 15)
    LOGIN_THROTTLE_PER_ADDRESS = _int("LOGIN_THROTTLE_PER_ADDRESS", 10)
    LOGIN_THROTTLE_GLOBAL = _int("LOGIN_THROTTLE_GLOBAL", 100)
    # bad API tokens from one address in a minute before calls are refused without an audit entry
    API_BAD_TOKEN_LIMIT_PER_MINUTE = _int("API_BAD_TOKEN_LIMIT_PER_MINUTE", 10)
    IDLE_TIMEOUT_MINUTES = 30
    ABSOLUTE_TIMEOUT_HOURS = 12
    # the timeout warning (templates/components/timeout_warning.html): seconds before the idle
    # timeout that the dialog offering "Stay signed in" opens
    TIMEOUT_WARNING_SECONDS = _int("TIMEOUT_WARNING_SECONDS", 120)
    # who the coordinator is, on /help and wherever a page says to contact them; the email
    # defaults to MAIL_FROM's address (the coordinators' mailbox), no phone unless set
    COORDINATOR_CONTACT_NAME = os.environ.get("COORDINATOR_CONTACT_NAME", "The panel coordinator")
    COORDINATOR_CONTACT_EMAIL = os.environ.get("COORDINATOR_CONTACT_EMAIL", "")
    COORDINATOR_CONTACT_PHONE = os.environ.get("COORDINATOR_CONTACT_PHONE", "")
    ISA_DUE_SOON_DAYS = 30
    # retention (panel.reports.retention): years after a case closes, or a referral is declined or
    # withdrawn, before the person's records are anonymised by the daily job "retention"
    RETENTION_YEARS = _int("RETENTION_YEARS", 6)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "panel_session"
    WTF_CSRF_TIME_LIMIT = None  # the session's own timeouts bound a form's life
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    # seconds a write waits for another writer's lock before the "service is busy" page
    DATABASE_BUSY_TIMEOUT = _int("DATABASE_BUSY_TIMEOUT", 30)
    # the audit chain's anchors: a file the database cannot change, appended daily by the job
    # "audit-anchor", and a mailbox that gets each anchor by email
    AUDIT_ANCHOR_PATH = os.environ.get("AUDIT_ANCHOR_PATH", str(INSTANCE_DIR / "audit-anchors.jsonl"))
    AUDIT_MAILBOX = os.environ.get("AUDIT_MAILBOX", "")
    # one line per request and per job on stderr: "text" or "json" (panel.ops.logs)
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    # where pg_dump, pg_restore and psql are, when not Debian's /usr/lib/postgresql/<major>/bin (panel.ops.backup)
    PG_BIN_DIR = os.environ.get("PG_BIN_DIR", "")
    TESTING = False


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SESSION_COOKIE_SECURE = False

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _development_secret_key()
        self.AUDIT_KEY = _audit_key() or _development_audit_key()


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SESSION_COOKIE_SECURE = False
    MAIL_SERVER = ""
    IMAP_SERVER = ""  # the tests start their own IMAP server and say so
    PUBLIC_URL = "http://localhost"

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(32)
        self.AUDIT_KEY = _audit_key(secrets.token_urlsafe(32))


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self) -> None:
        key = os.environ.get("SECRET_KEY", "")
        if len(key) < 32:
            raise RuntimeError("SECRET_KEY must be set to at least 32 random characters when PANEL_ENV=production")
        self.SECRET_KEY = key
        # The key that seals the audit trail, held outside the database: without it anyone who
        # can write the database could rewrite the trail unnoticed, so production will not start.
        audit_key = _audit_key()
        if len(audit_key) < 32:
            raise RuntimeError("AUDIT_KEY (or the file named by AUDIT_KEY_FILE) must hold at least 32 random "
                               "characters when PANEL_ENV=production")
        self.AUDIT_KEY = audit_key


PROFILES = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def load_config(name: str | None = None) -> Config:
    """Return the config object for PANEL_ENV (development unless told otherwise)."""
    name = (name or os.environ.get("PANEL_ENV") or "development").lower()
    if name not in PROFILES:
        raise RuntimeError(f"PANEL_ENV must be one of {', '.join(PROFILES)}, not {name!r}")
    return PROFILES[name]()
