"""Sign-in rules: lockout after failed attempts, password changes, TOTP two-factor.

Services flush but never commit; every outcome is written to the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import sqlalchemy as sa
from flask import current_app

from panel import audit
from panel.auth.passwords import hash_password, needs_rehash, verify_password
from panel.extensions import db
from panel.models import AuditAction, AuditEvent, User, utcnow

TOTP_ISSUER_FALLBACK = "Panel"


@dataclass
class SignInResult:
    user: User | None
    locked: bool = False
    throttled: bool = False  # refused unjudged: too many failures from this address, or overall

    @property
    def ok(self) -> bool:
        return self.user is not None and not self.locked and not self.throttled


def find_user_by_email(email: str, *, lock: bool = False) -> User | None:
    """The account with this email. ``lock`` holds its row until the transaction ends (PostgreSQL's
    FOR UPDATE; SQLite's transactions already hold the single write lock), and reloads it."""
    email = (email or "").strip().lower()
    if "\x00" in email:  # PostgreSQL refuses NUL in text, so no account can match it
        return None
    query = db.select(User).filter_by(email=email)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one_or_none()


def lock_user(user_id: int) -> User | None:
    """Reload an account with its row held until the transaction ends, so attempts on one account
    are judged one at a time and the failure count cannot be overtaken (see find_user_by_email)."""
    return db.session.execute(
        db.select(User).filter_by(id=user_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


# ---- the throttle across accounts ------------------------------------------------------
# Failed sign-ins are counted from the audit trail (one LOGIN_FAILED row each), per address and
# overall, over a sliding window. Past either limit, an attempt is refused without being judged
# and without counting against the account, so the throttle never locks anyone's account; and a
# browser that has signed in to that account before (a signed "known device" cookie) is always
# judged, so an attacker on a colleague's network cannot keep the colleague out.

DEVICE_COOKIE = "panel_device"
DEVICE_COOKIE_DAYS = 90
_DEVICES_KEPT = 5


def _failures_since(since: datetime, ip: str | None) -> int:
    query = sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.LOGIN_FAILED, AuditEvent.occurred_at > since)
    if ip is not None:
        query = query.where(AuditEvent.ip == ip)
    return db.session.execute(query).scalar_one()


def throttled(ip: str, now: datetime) -> bool:
    """True when failed sign-ins from this address, or from everywhere, are over their limits."""
    cfg = current_app.config
    since = now - timedelta(minutes=cfg["LOGIN_THROTTLE_WINDOW_MINUTES"])
    per_address = cfg["LOGIN_THROTTLE_PER_ADDRESS"]
    overall = cfg["LOGIN_THROTTLE_GLOBAL"]
    if per_address and _failures_since(since, ip[:45]) >= per_address:
        return True
    return bool(overall) and _failures_since(since, None) >= overall


def _device_mark(email: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"device:" + email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def known_devices(cookie: str | None) -> list[str]:
    """The accounts (as keyed marks, never emails) this browser has signed in to."""
    marks = (cookie or "").split(".")
    if len(marks) < 2:
        return []
    *body, signature = marks
    key = current_app.config["SECRET_KEY"].encode()
    expected = hmac.new(key, ".".join(body).encode(), hashlib.sha256).hexdigest()[:32]
    return body if hmac.compare_digest(expected, signature) else []


def device_cookie_after_sign_in(cookie: str | None, email: str) -> str:
    """The cookie value that vouches for this browser and account (and up to four others)."""
    mark = _device_mark(email)
    marks = [mark] + [m for m in known_devices(cookie) if m != mark][: _DEVICES_KEPT - 1]
    key = current_app.config["SECRET_KEY"].encode()
    body = ".".join(marks)
    return body + "." + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]


def vouched_for(cookie: str | None, email: str) -> bool:
    return _device_mark(email) in known_devices(cookie)


def register_failure(user: User, now: datetime, reason: str) -> bool:
    """Count a failed attempt; the fifth in a row locks the account. True when it locked.
    The caller holds the account's row (find_user_by_email(lock=True) or lock_user)."""
    user.failed_logins += 1
    audit.record(AuditAction.LOGIN_FAILED, "user", user.id, summary={"reason": reason}, user=user)
    if user.failed_logins >= current_app.config["LOCKOUT_ATTEMPTS"]:
        user.locked_until = now + timedelta(minutes=current_app.config["LOCKOUT_MINUTES"])
        user.failed_logins = 0
        audit.record(AuditAction.LOCKOUT, "user", user.id,
                     summary={"locked_until": user.locked_until.isoformat()}, user=user)
        return True
    return False


def check_password(*, email: str, password: str, now: datetime | None = None, ip: str = "",
                   device_cookie: str | None = None) -> SignInResult:
    """First step of signing in. Locked accounts are refused even with the right password.

    The account's row is held from the check of its lock to the count of the failure, so
    parallel attempts are judged one at a time: exactly LOCKOUT_ATTEMPTS are judged before the
    lock, at any concurrency. Past the throttle (see throttled) an attempt is refused unjudged,
    unless this browser has signed in to the account before."""
    now = now or utcnow()
    if throttled(ip, now) and not vouched_for(device_cookie, email):
        return SignInResult(None, throttled=True)
    user = find_user_by_email(email, lock=True)
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
                 # bandit B105: a word, no password
                 summary={"password": "changed", "temporary": temporary}, user=by)  # nosec B105


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
