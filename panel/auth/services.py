"""Sign-in rules: lockout after failed attempts, password changes, TOTP two-factor.

Services flush but never commit; every outcome is written to the audit trail.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from flask import current_app

from panel import audit
from panel.auth.passwords import hash_password, needs_rehash, verify_password
from panel.extensions import db
from panel.models import AuditAction, User, utcnow

TOTP_ISSUER_FALLBACK = "Panel"


@dataclass
class SignInResult:
    user: User | None
    locked: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None and not self.locked


def find_user_by_email(email: str) -> User | None:
    email = (email or "").strip().lower()
    if "\x00" in email:  # PostgreSQL refuses NUL in text, so no account can match it
        return None
    return db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()


def register_failure(user: User, now: datetime, reason: str) -> bool:
    """Count a failed attempt; the fifth in a row locks the account. True when it locked."""
    user.failed_logins += 1
    audit.record(AuditAction.LOGIN_FAILED, "user", user.id, summary={"reason": reason}, user=user)
    if user.failed_logins >= current_app.config["LOCKOUT_ATTEMPTS"]:
        user.locked_until = now + timedelta(minutes=current_app.config["LOCKOUT_MINUTES"])
        user.failed_logins = 0
        audit.record(AuditAction.LOCKOUT, "user", user.id,
                     summary={"locked_until": user.locked_until.isoformat()}, user=user)
        return True
    return False


def check_password(*, email: str, password: str, now: datetime | None = None) -> SignInResult:
    """First step of signing in. Locked accounts are refused even with the right password."""
    now = now or utcnow()
    user = find_user_by_email(email)
    if user is None or not user.active:
        verify_password(None, password)  # spend the same time as a real check
        audit.record(AuditAction.LOGIN_FAILED, "user", "", summary={"reason": "unknown or inactive account"})
        return SignInResult(None)
    if user.is_locked(now):
        audit.record(AuditAction.LOGIN_FAILED, "user", user.id, summary={"reason": "account locked"}, user=user)
        return SignInResult(user, locked=True)
    if not verify_password(user.password_hash, password):
        locked = register_failure(user, now, "wrong password")
        return SignInResult(None if not locked else user, locked=locked)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return SignInResult(user)


def complete_sign_in(user: User, now: datetime | None = None) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now or utcnow()
    audit.record(AuditAction.LOGIN, "user", user.id, summary={"mfa": user.mfa_enabled}, user=user)


def sign_out(user: User) -> None:
    """Audit the sign-out and end the session on the server too: the session cookie is only
    signed, so a copy of it would otherwise keep working. This also ends the user's other sessions."""
    user.session_token = secrets.token_hex(32)
    audit.record(AuditAction.LOGOUT, "user", user.id, user=user)


def set_password(user: User, password: str, *, by: User, temporary: bool = False) -> None:
    """Set a new password and end every session of the user (a new session token)."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = temporary
    user.session_token = secrets.token_hex(32)
    audit.record(AuditAction.UPDATE, "user", user.id,
                 summary={"password": "changed", "temporary": temporary}, user=by)


def unlock(user: User, *, by: User) -> None:
    user.locked_until = None
    user.failed_logins = 0
    audit.record(AuditAction.UPDATE, "user", user.id, summary={"unlocked": True}, user=by)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    issuer = current_app.config.get("SERVICE_NAME") or TOTP_ISSUER_FALLBACK
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def verify_totp(user: User, code: str, *, secret: str | None = None, now: datetime | None = None) -> bool:
    """Check a 6-digit code, allowing one step of clock drift and refusing a code used before."""
    secret = secret or user.totp_secret
    if not secret or not code:
        return False
    now = now or utcnow()
    totp = pyotp.TOTP(secret)
    step_now = int(now.timestamp()) // totp.interval
    for step in (step_now - 1, step_now, step_now + 1):
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def enable_mfa(user: User, secret: str) -> None:
    user.totp_secret = secret
    user.mfa_enabled = True
    audit.record(AuditAction.UPDATE, "user", user.id, summary={"mfa_enabled": True}, user=user)


def disable_mfa(user: User, *, by: User) -> None:
    user.totp_secret = None
    user.mfa_enabled = False
    user.totp_last_step = None
    audit.record(AuditAction.UPDATE, "user", user.id, summary={"mfa_enabled": False}, user=by)
