"""Sign in and out, the two-factor step, and the user's own account page."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import segno
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from panel.agencies import absence
from panel.agencies.absence_forms import AbsenceForm, EndAbsenceForm as EndForm
from panel.auth import guard, kept, services
from panel.auth.forms import LoginForm, MfaCodeForm, MfaDisableForm, PasswordChangeForm
from panel.auth.passwords import verify_password
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.meetings import feed as calendar_feed
from panel.models import KeptForm, SpocAbsence, User, utcnow

# The blueprint lives with the views, so importing the feature's services never loads its pages.
bp = Blueprint("auth", "panel.auth")

GENERIC_ERROR = "Enter a correct email address and password"
THROTTLED_ERROR = ("There have been too many failed sign-in attempts from your network. Wait 15 minutes and "
                   "try again, or sign in on a device you have used for Panel before.")
# Sign-out wipes what the browser kept of the service; not "cookies", which would also forget the
# known-device cookie that lets a colleague sign in while their network is throttled. The session
# cookie itself is replaced by the response.
CLEAR_SITE_DATA = '"cache", "storage"'
LOCKED_ERROR = ("This account is locked for 15 minutes because of too many failed sign-in attempts. "
                "Try again later or ask your Panel administrator to unlock it.")
MFA_PENDING_SECONDS = 300


def _safe_next(target: str | None) -> str:
    """Only same-site paths; anything else goes to the dashboard."""
    if not target:
        return url_for("main.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("main.dashboard")
    return target


def _start_session(user: User) -> None:
    """A fresh session at every sign-in: nothing from before sign-in survives."""
    next_url = session.get("next_after_login")
    session.clear()
    now = utcnow().timestamp()
    session["sid"] = secrets.token_hex(16)
    session["signed_in_at"] = now
    session["last_seen"] = now
    login_user(user)
    session["next_after_login"] = next_url


def _onward(kept_form: KeptForm | None):
    """After signing in: the page the user was going to; or, when text they typed was kept across
    a timeout (panel.auth.kept), the page it came from, where it is put back."""
    target = _safe_next(session.pop("next_after_login", None))
    if kept_form is not None:
        session[kept.SESSION_KEY] = kept_form.id
        target = _safe_next(kept_form.return_path)
    return kept.forget_claims(redirect(target))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if request.method == "GET" and request.args.get("next"):
        session["next_after_login"] = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        result = services.check_password(email=form.email.data, password=form.password.data,
                                         ip=request.remote_addr or "",
                                         device_cookie=request.cookies.get(services.DEVICE_COOKIE))
        if result.throttled:
            db.session.rollback()
            form.email.errors = [THROTTLED_ERROR]
            return render_template("auth/login.html", form=form), 429
        if result.locked:
            db.session.commit()
            form.email.errors = [LOCKED_ERROR]
        elif not result.ok:
            db.session.commit()
            form.email.errors = [GENERIC_ERROR]
        elif result.user.mfa_enabled:
            db.session.commit()
            next_url = session.get("next_after_login")
            session.clear()
            session["mfa_user_id"] = result.user.id
            session["mfa_started"] = utcnow().timestamp()
            session["next_after_login"] = next_url
            return redirect(url_for("auth.login_mfa"))
        else:
            services.complete_sign_in(result.user)
            kept_form = kept.claim_at_sign_in(result.user, request.cookies.get(kept.CLAIM_COOKIE))
            db.session.commit()
            _start_session(result.user)
            return _remember_device(_onward(kept_form), result.user)
    return render_template("auth/login.html", form=form)


def _remember_device(response, user: User):
    """Mark this browser as one the user signs in on, so the sign-in throttle never keeps them out."""
    value = services.device_cookie_after_sign_in(request.cookies.get(services.DEVICE_COOKIE), user.email)
    response.set_cookie(services.DEVICE_COOKIE, value, max_age=services.DEVICE_COOKIE_DAYS * 86400,
                        path=url_for("auth.login"), secure=current_app.config["SESSION_COOKIE_SECURE"],
                        httponly=True, samesite="Lax")
    return response


@bp.route("/login/two-factor", methods=["GET", "POST"])
def login_mfa():
    user_id = session.get("mfa_user_id")
    started = session.get("mfa_started", 0)
    if not user_id or utcnow().timestamp() - started > MFA_PENDING_SECONDS:
        session.pop("mfa_user_id", None)
        flash("Sign in again to continue.", "info")
        return redirect(url_for("auth.login"))
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        session.clear()
        return redirect(url_for("auth.login"))
    form = MfaCodeForm()
    if form.validate_on_submit():
        user = services.lock_user(user.id)  # codes for one account are judged one at a time
        now = utcnow()
        if user.is_locked(now):
            form.code.errors = [LOCKED_ERROR]
        elif services.verify_totp(user, form.code.data, now=now):
            services.complete_sign_in(user, now)
            kept_form = kept.claim_at_sign_in(user, request.cookies.get(kept.CLAIM_COOKIE))
            db.session.commit()
            _start_session(user)
            return _remember_device(_onward(kept_form), user)
        else:
            locked = services.register_failure(user, now, "wrong security code")
            form.code.errors = [LOCKED_ERROR if locked else "Enter the security code shown in your authenticator app"]
        db.session.commit()
    return render_template("auth/login_mfa.html", form=form)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out. Only the POST (CSRF-protected) signs out; a GET, wherever it comes from, shows
    the page with the sign-out button, so no link or image anywhere can sign people out."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return render_template("auth/logout.html")
        return redirect(url_for("auth.login"))
    if current_user.is_authenticated:
        services.sign_out(current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    response = redirect(url_for("auth.login"))
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


@bp.route("/session")
def session_status():
    """How long this browser's session has left, for the timeout warning (static/js/session.mjs).
    Asking is not activity: the guard leaves the idle clock alone, so it never keeps a session
    alive, and it answers signed out too."""
    if not current_user.is_authenticated:
        return jsonify(signed_in=False, seconds_left=0)
    # the token "Stay signed in" and "Sign out" post with (JSON: no other site can read it)
    return jsonify(signed_in=True, seconds_left=guard.seconds_left(), csrf_token=generate_csrf())


@bp.route("/session/stay-signed-in", methods=["POST"])
def stay_signed_in():
    """"Stay signed in" in the timeout warning: a POST with its CSRF token, which the guard counts
    as activity (last_seen is now), so the idle clock starts again. Answers how long is left."""
    return jsonify(signed_in=True, seconds_left=guard.seconds_left())


@bp.route("/account")
def view_account():
    user: User = current_user._get_current_object()
    return render_template("auth/view_account.html", user=user, feed=calendar_feed.feed_of(user),
                           **_absence_context(user))


@bp.route("/account/calendar-feed", methods=["POST"])
def switch_on_calendar_feed():
    """Switch the private calendar feed on, or replace its address. The address is shown on this
    response only (not cached, not stored in the session, never logged); only its hash is kept."""
    user: User = current_user._get_current_object()
    replaced = calendar_feed.feed_of(user) is not None
    token = calendar_feed.switch_on(user)
    db.session.commit()
    return render_template("auth/view_account.html", user=user, feed=calendar_feed.feed_of(user),
                           **_absence_context(user), new_feed_url=calendar_feed.feed_url(token), replaced=replaced)


@bp.route("/account/calendar-feed/turn-off", methods=["POST"])
def revoke_calendar_feed():
    user: User = current_user._get_current_object()
    if calendar_feed.revoke(user):
        db.session.commit()
        flash("Your calendar feed is off. Its address no longer works.", "success")
    return redirect(url_for("auth.view_account"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    user: User = current_user._get_current_object()
    form = PasswordChangeForm(email=user.email)
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors = ["Your current password is not correct"]
        else:
            services.set_password(user, form.new_password.data, by=user)
            db.session.commit()
            _start_session(user)  # the new session token ended every other session
            session.pop("next_after_login", None)
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("auth.view_account"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/account/two-factor", methods=["GET", "POST"])
def setup_mfa():
    user: User = current_user._get_current_object()
    if user.mfa_enabled:
        return redirect(url_for("auth.view_account"))
    secret = session.get("mfa_setup_secret")
    if not secret:
        secret = services.new_totp_secret()
        session["mfa_setup_secret"] = secret
    form = MfaCodeForm()
    if form.validate_on_submit():
        if services.verify_totp(user, form.code.data, secret=secret):
            services.enable_mfa(user, secret)
            db.session.commit()
            session.pop("mfa_setup_secret", None)
            flash("Two-factor sign-in is on. You will be asked for a security code each time you sign in.", "success")
            return redirect(url_for("auth.view_account"))
        form.code.errors = ["Enter the security code shown in your authenticator app"]
    uri = services.provisioning_uri(user, secret)
    # bandit B704: segno draws the SVG from our own otpauth URI; no user input reaches the markup
    qr_svg = Markup(segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator app"))  # nosec B704
    return render_template("auth/setup_mfa.html", form=form, qr_svg=qr_svg,
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)))


@bp.route("/account/two-factor/turn-off", methods=["GET", "POST"])
def disable_mfa():
    user: User = current_user._get_current_object()
    if not user.mfa_enabled:
        return redirect(url_for("auth.view_account"))
    if str(user.role) in current_app.config["REQUIRE_MFA_FOR"]:
        flash("Two-factor sign-in is compulsory for your role, so it cannot be turned off.", "info")
        return redirect(url_for("auth.view_account"))
    form = MfaDisableForm()
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors = ["Your current password is not correct"]
        else:
            services.disable_mfa(user, by=user)
            db.session.commit()
            flash("Two-factor sign-in is off.", "success")
            return redirect(url_for("auth.view_account"))
    return render_template("auth/disable_mfa.html", form=form)


# ---- the SPoC's own absence (panel.agencies.absence) ---------------------------------------------


def _own_end_url(record: SpocAbsence) -> str:
    return url_for("auth.end_own_absence", absence_id=record.id)


def _absence_context(user: User) -> dict:
    """The account page's absence section: a SPoC's own absences (they record and end them), or
    for a deputy the SPoC's absences they cover. One query, none for other users."""
    now = utcnow()
    own = absence.is_agency_spoc(user)
    cover = absence.cover_of(user.agency, now) if own else absence.deputy_covering(user, now)
    return {"absence_cover": cover, "absence_own": own, "absence_now": now, "absence_end_url": _own_end_url}


@bp.route("/account/absence", methods=["GET", "POST"])
def record_own_absence():
    user: User = current_user._get_current_object()
    if not absence.is_agency_spoc(user):
        flash(f"Only {user.agency.name}’s SPoC records their absence here. The coordinator can record one for them.",
              "info")
        return redirect(url_for("auth.view_account"))
    form = AbsenceForm()
    if form.validate_on_submit():
        try:
            record = absence.record_absence(spoc=user, starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                                            note=form.note.data or "", by=user)
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="starts_on")
        else:
            message = absence.recorded_words(record, you=True)
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("auth.view_account", _anchor="absence"))
    now = utcnow()
    return render_template("agencies/record_absence.html", form=form, cover=absence.cover_of(user.agency, now),
                           now=now, own=True, back=url_for("auth.view_account", _anchor="absence"),
                           end_url=_own_end_url)


@bp.route("/account/absence/<int:absence_id>/end", methods=["POST"])
def end_own_absence(absence_id: int):
    user: User = current_user._get_current_object()
    record = absence.find(absence_id)
    if record is None or record.user_id != user.id:
        abort(404)
    back = redirect(url_for("auth.view_account", _anchor="absence"))
    if not EndForm().validate_on_submit():
        flash("Something went wrong with the form. Try again.", "info")
        return back
    try:
        outcome = absence.end_absence(record, by=user)
    except ServiceError as problem:
        db.session.rollback()
        flash(f"{problem.message}.", "info")
        return back
    db.session.commit()
    flash(absence.ended_words(outcome, user, you=True), "success")
    return back
