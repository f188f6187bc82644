"""Request guards: the access table, session timeouts, forced set-up steps, security headers."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from panel import audit
from panel.auth import kept
from panel.auth.policy import ACCESS, SETUP_ENDPOINTS, endpoint_allows, requires_mfa
from panel.extensions import db, login_manager
from panel.models import AuditAction, User

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)
# Every powerful feature off: the service uses none of them, and no frame may ask for them.
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "ambient-light-sensor", "autoplay", "battery", "bluetooth", "browsing-topics",
    "camera", "display-capture", "document-domain", "encrypted-media", "execution-while-not-rendered",
    "execution-while-out-of-viewport", "fullscreen", "gamepad", "geolocation", "gyroscope", "hid",
    "identity-credentials-get", "idle-detection", "interest-cohort", "local-fonts", "magnetometer",
    "microphone", "midi", "otp-credentials", "payment", "picture-in-picture", "publickey-credentials-create",
    "publickey-credentials-get", "screen-wake-lock", "serial", "speaker-selection", "storage-access",
    "sync-xhr", "usb", "web-share", "window-management", "xr-spatial-tracking",
))


@login_manager.user_loader
def _load_user(token: str) -> User | None:
    """The session carries the user's session token, so a new token ends old sessions."""
    if not token or len(token) > 64:
        return None
    user = db.session.execute(db.select(User).filter_by(session_token=token)).scalar_one_or_none()
    if user is None or not user.active:
        return None
    return user


def _now() -> datetime:
    return datetime.now(timezone.utc)


# Requests that are not activity: they never keep a session alive (the timeout warning asks how
# long is left without adding to it).
PASSIVE_ENDPOINTS = frozenset({"static", "auth.session_status"})
SIGNED_OUT_MESSAGE = "You were signed out to protect the information. Sign in again to continue."


def seconds_left() -> int:
    """Seconds until this session ends, idle or in all (0 when signed out). The timeout warning
    is rendered with it (templates/components/timeout_warning.html), so it never guesses."""
    if not current_user.is_authenticated:
        return 0
    now = _now().timestamp()
    idle = current_app.config["IDLE_TIMEOUT_MINUTES"] * 60 - (now - session.get("last_seen", 0))
    absolute = current_app.config["ABSOLUTE_TIMEOUT_HOURS"] * 3600 - (now - session.get("signed_in_at", 0))
    return max(0, int(min(idle, absolute)))


def _check_timeouts() -> int | None:
    """End the session after 30 idle minutes or 12 hours in all: the id of the user whose
    session was ended, else None."""
    if not current_user.is_authenticated:
        return None
    now = _now().timestamp()
    idle = current_app.config["IDLE_TIMEOUT_MINUTES"] * 60
    absolute = current_app.config["ABSOLUTE_TIMEOUT_HOURS"] * 3600
    started = session.get("signed_in_at", 0)
    last = session.get("last_seen", 0)
    if now - last > idle or now - started > absolute:
        user_id = current_user.id
        logout_user()
        session.clear()
        return user_id
    if request.endpoint not in PASSIVE_ENDPOINTS:
        session["last_seen"] = now
    return None


def enforce_access():
    """before_request: apply timeouts, then the access table, then forced set-up steps. A form
    that arrives after its session ended is kept for its user, never lost (panel.auth.kept)."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # Flask will answer 404 or 405
    ended = _check_timeouts()
    if ended is not None:
        if endpoint_allows(endpoint, None):
            flash(SIGNED_OUT_MESSAGE, "info")
            return None  # a public address (sign-in, a calendar feed): carry on signed out
        kept_response = kept.keep_after_timeout(ended) if request.method == "POST" else None
        if kept_response is not None:
            return kept_response
        flash(SIGNED_OUT_MESSAGE, "info")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if endpoint_allows(endpoint, user):
        if user is not None and endpoint not in SETUP_ENDPOINTS:
            if user.must_change_password:
                flash("Choose a new password before you continue.", "info")
                return redirect(url_for("auth.change_password"))
            if not user.mfa_enabled and requires_mfa(user, current_app.config["REQUIRE_MFA_FOR"]):
                flash("Set up two-factor sign-in before you continue.", "info")
                return redirect(url_for("auth.setup_mfa"))
        return None
    if endpoint not in ACCESS:
        log.error("endpoint %s is missing from the access table", endpoint)
        abort(404)
    if user is None:
        kept_response = kept.keep_for_nobody_signed_in() if request.method == "POST" else None
        return kept_response if kept_response is not None else login_manager.unauthorized()
    audit.record(AuditAction.DENIED, "endpoint", endpoint, summary={"path": request.path[:200]})
    db.session.commit()
    abort(404)


# Pages that list references, initials, risk or flags (or show one referral for a decision):
# each view is audited as one row, whatever the number of rows shown (ECINS audits "everything
# they view, search"). Case and referral pages audit their own views with what they showed.
AUDITED_PAGES = frozenset({
    "referrals.list_referrals", "referrals.triage", "referrals.list_waiting", "cases.list_cases",
    "main.dashboard", "referrals.triage_referral", "referrals.decide_referral",
})


def audit_page_view(response):
    """after_request: one VIEW row for a page of AUDITED_PAGES shown to a signed-in user."""
    if (request.method == "GET" and response.status_code == 200 and request.endpoint in AUDITED_PAGES
            and current_user.is_authenticated):
        audit.record(AuditAction.VIEW, "page", request.endpoint,
                     summary={"path": request.full_path.rstrip("?")[:200]})
        db.session.commit()
    return response


def security_headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.headers.get("Referrer-Policy") != "no-referrer":  # a calendar feed sends none at all
        response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = PERMISSIONS_POLICY
    # No other site's window keeps a handle on ours, and no other site may embed our responses.
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def register(app: Flask) -> None:
    app.before_request(enforce_access)
    app.after_request(security_headers)
    app.after_request(audit_page_view)
    kept.register(app)
    app.add_template_global(seconds_left, "session_seconds_left")
    if app.config["ENV_NAME"] == "production":
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # behind one reverse proxy
