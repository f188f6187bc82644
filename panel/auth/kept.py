"""Nothing typed into a form is lost to a timeout.

A form sent after its session ended (30 idle minutes, 12 hours in all) or after its CSRF token
stopped matching (the session gone: signed out in another tab, the browser restarted) is not
acted on. What was typed is kept instead, encrypted (Fernet, a key derived from SECRET_KEY), for
the person who typed it. When they sign in again they are taken to the page the form was on,
which opens with the form filled in from what was kept and a message saying why; the kept copy is
then deleted. Copies nobody comes back for go after a day (the job "kept-forms"). Deleting it on
the GET that shows it is the one write a GET makes besides the audit trail: like a flash message,
it is the session's own hand-back, never case data.

Whose it is, in this order:

1. the session's user, when the form's CSRF token was valid for the session (it timed out);
2. the page's owner mark: the signed id of the user the page was shown to, which
   static/js/session.mjs adds to every form (`kept_owner`), so a page opened by one person and sent
   in another's session is kept for the one who opened it;
3. the user signed in now, when the token failed in their session without a mark (their own
   earlier page, on the same browser);
4. nobody known (signed out, no mark): a random claim token in a cookie of this browser. Only its
   SHA-256 is stored and the text's key needs the token itself, so the database and SECRET_KEY
   alone cannot open it. The next person to sign in on that browser claims it, bound from then
   on to the account (the email) they signed in with, and it is sealed again for them.

Never kept: the sign-in, two-factor and password forms, and any field whose name says password,
secret or token. A form sent from another site is refused as before (400), with nothing kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app, flash, g, has_request_context, redirect, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from panel import audit
from panel.auth.policy import SETUP_ENDPOINTS
from panel.extensions import db
from panel.models import AuditAction, KeptForm, User, utcnow

KEEP_FOR = timedelta(days=1)
OWNER_MARK_DAYS = 7                     # a page left open over a long weekend still says whose it is
CLAIM_COOKIE = "panel_kept"
CLAIMS_KEPT = 5                         # claim tokens one browser holds at most
SESSION_KEY = "kept_form"               # the kept form to put back on its page, after sign-in
ANYWHERE_KEY = "kept_form_anywhere"     # its page moved on (redirected): show it on the next page
OWNER_FIELD = "kept_owner"
MAX_TEXT = 512 * 1024                   # characters of one form kept at most
MAX_UNCLAIMED = 200                     # kept for nobody known in a day; past that, shown back only

# Forms whose fields are never kept, whatever they are called: signing in and out, passwords,
# two-factor codes, the session's own buttons.
NEVER_KEPT = frozenset({
    "auth.login", "auth.login_mfa", "auth.logout", "auth.change_password", "auth.setup_mfa",
    "auth.disable_mfa", "auth.stay_signed_in", "auth.switch_on_calendar_feed", "auth.revoke_calendar_feed",
    "admin.reset_password",
})
_SECRET_NAME = re.compile(r"password|passphrase|passcode|secret|token|totp", re.IGNORECASE)
_NOT_TYPED = frozenset({"submit"})
# Pages that never show or use kept text: setting up the session, and the session's own calls.
_PASSIVE = SETUP_ENDPOINTS | {"auth.session_status", "auth.stay_signed_in"}

SIGNED_OUT_KEPT = ("You were signed out to protect the information, so your form was not sent. What you "
                   "typed has been kept: sign in again and it will be put back.")
KEPT_FOR_SOMEONE_ELSE = ("That form was opened before the last sign-in on this browser, so it was not sent. "
                         "What was typed in it has been kept for the person who typed it, until they next sign in.")


@dataclass(frozen=True)
class Kept:
    """A kept form, opened for its owner."""

    id: int
    endpoint: str
    return_path: str
    fields: list[tuple[str, str]]


# ---- what is kept, sealed ---------------------------------------------------------------------

def typed_fields(form: MultiDict) -> list[tuple[str, str]]:
    """The fields of a form worth keeping: all but the owner mark and anything secret (the CSRF
    token among them); [] when nothing in it was typed or chosen."""
    fields = [(str(name), str(value)) for name, value in form.items(multi=True)
              if name != OWNER_FIELD and not _SECRET_NAME.search(name)]
    return fields if any(value.strip() for name, value in fields if name not in _NOT_TYPED) else []


def _hash(claim: str) -> str:
    return hashlib.sha256(claim.encode()).hexdigest()


def _fernet(claim: str | None) -> Fernet:
    """The key: SECRET_KEY through HKDF-SHA256, salted with the claim token for unclaimed text."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=claim.encode() if claim else None,
                   info=b"panel kept form text").derive(current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _seal(fields: list[tuple[str, str]], *, user_id: int | None, claim: str | None, at: datetime) -> bytes:
    payload = json.dumps({"u": user_id, "f": fields}, separators=(",", ":")).encode()
    return _fernet(claim).encrypt_at_time(payload, int(at.timestamp()))


def _unseal(sealed: bytes, *, claim: str | None) -> dict | None:
    """The payload, or None when it is not sealed with our key (SECRET_KEY changed) or was
    tampered with. Its age is the row's created_at (the callers check it), not the token's clock,
    so web servers a minute apart still read each other's."""
    try:
        data = _fernet(claim).decrypt(sealed)
    except InvalidToken:
        return None
    return json.loads(data)


# ---- the owner mark ---------------------------------------------------------------------------

def _marks() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="panel.kept.owner")


def owner_mark() -> str:
    """The signed-in user's id and today's date (UTC), signed: static/js/session.mjs puts it in each
    form as it is shown; "" when nobody is signed in. The same all day, so a page's bytes do not
    depend on the second it was made (a refusal must look exactly like a missing page)."""
    if not current_user.is_authenticated:
        return ""
    return _marks().dumps([current_user.id, utcnow().date().toordinal()])


def _owner_of(mark: str | None) -> int | None:
    """The user id a form's owner mark vouches for, if it is ours and under a week old."""
    if not mark or len(mark) > 200:
        return None
    try:
        user_id, day = _marks().loads(mark)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(user_id, int) or not isinstance(day, int):
        return None
    return user_id if 0 <= utcnow().date().toordinal() - day <= OWNER_MARK_DAYS else None


# ---- keeping, claiming, putting back (services: they never commit) ----------------------------

def keep(*, fields: list[tuple[str, str]], user_id: int | None, endpoint: str, return_path: str,
         by: User | None = None, now: datetime | None = None) -> tuple[KeptForm, str | None]:
    """Keep what was typed for user_id, or, when nobody is known (None), for a new claim token,
    returned for the browser's cookie. Audited with the field names only, as `by` (the user signed
    in, else the owner, else nobody)."""
    now = now or utcnow()
    claim = None if user_id is not None else secrets.token_urlsafe(32)
    row = KeptForm(user_id=user_id, claim_hash=_hash(claim) if claim else None, endpoint=endpoint[:120],
                   return_path=return_path, sealed=_seal(fields, user_id=user_id, claim=claim, at=now),
                   created_at=now)
    db.session.add(row)
    db.session.flush()
    if by is None and user_id is not None:
        by = db.session.get(User, user_id)
    audit.record(AuditAction.CREATE, "kept_form", row.id, user=by,
                 summary={"endpoint": endpoint[:120], "fields": sorted({name[:40] for name, _ in fields})[:50],
                          "for": "user" if user_id is not None else "claim"})
    return row, claim


def _claims(cookie: str | None) -> list[str]:
    return [c for c in (cookie or "").split(".") if 20 <= len(c) <= 64][-CLAIMS_KEPT:]


def claim_at_sign_in(user: User, cookie: str | None, now: datetime | None = None) -> KeptForm | None:
    """At sign-in: text kept on this browser for nobody known (its claim cookie) becomes the
    signing-in user's, sealed again for them; then their newest kept form of the last day, if any."""
    now = now or utcnow()
    since = now - KEEP_FOR
    claims = {_hash(c): c for c in _claims(cookie)}
    if claims:
        rows = list(db.session.scalars(sa.select(KeptForm).where(KeptForm.claim_hash.in_(claims),
                                                                 KeptForm.user_id.is_(None))))
        for row in rows:
            payload = _unseal(row.sealed, claim=claims[row.claim_hash])
            if payload is None or row.created_at <= since:
                db.session.delete(row)
                continue
            row.user_id, row.claim_hash = user.id, None
            row.sealed = _seal([tuple(f) for f in payload["f"]], user_id=user.id, claim=None, at=row.created_at)
            audit.record(AuditAction.UPDATE, "kept_form", row.id, summary={"for": "user", "claimed": True}, user=user)
        db.session.flush()
    return _newest(user, since)


def _newest(user: User, since: datetime) -> KeptForm | None:
    return db.session.scalar(sa.select(KeptForm).where(KeptForm.user_id == user.id, KeptForm.created_at > since)
                             .order_by(KeptForm.created_at.desc(), KeptForm.id.desc()).limit(1))


def open_kept(record_id: int, user: User, now: datetime | None = None) -> Kept | None:
    """The kept form record_id, opened for user; None unless it is theirs and under a day old."""
    now = now or utcnow()
    row = db.session.get(KeptForm, record_id)
    if row is None or row.user_id != user.id or row.created_at <= now - KEEP_FOR:
        return None
    payload = _unseal(row.sealed, claim=None)
    if payload is None or payload.get("u") != user.id:
        return None
    return Kept(row.id, row.endpoint, row.return_path, [(str(n), str(v)) for n, v in payload["f"]])


def put_back(kept: Kept, user: User, now: datetime | None = None) -> KeptForm | None:
    """The kept form has been shown to its owner: delete it (audited), and return their next one."""
    row = db.session.get(KeptForm, kept.id)
    if row is not None:
        db.session.delete(row)
        audit.record(AuditAction.DELETE, "kept_form", kept.id, user=user,
                     summary={"endpoint": kept.endpoint, "put_back": True})
        db.session.flush()
    return _newest(user, (now or utcnow()) - KEEP_FOR)


def delete_expired(now: datetime | None = None) -> dict[str, int]:
    """Job "kept-forms": delete what has been kept for a day or more. Idempotent."""
    cutoff = (now or utcnow()) - KEEP_FOR
    deleted = db.session.execute(sa.delete(KeptForm).where(KeptForm.created_at <= cutoff)).rowcount
    db.session.commit()
    return {"deleted": deleted or 0}


def _unclaimed_today(now: datetime) -> int:
    return db.session.scalar(sa.select(sa.func.count(KeptForm.id)).where(
        KeptForm.user_id.is_(None), KeptForm.created_at > now - KEEP_FOR))


# ---- the requests that keep (the guard and the CSRF error page call these) --------------------

def _local_path(url: str) -> str | None:
    """The path and query of a URL on this site, or None."""
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) != (request.scheme, request.host):
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return None
    if path.startswith(("/login", "/logout", "/session")):
        return None
    return path


def _return_path() -> str:
    """The page the form was on: where its sender came from (same site only), else its own
    address when that is a page, else the home page."""
    came_from = _local_path(request.referrer or "")
    if came_from:
        return came_from
    rule = request.url_rule
    if rule is not None and "GET" in (rule.methods or ()) and len(request.path) <= 500:
        return request.path
    return "/"


def same_origin() -> bool:
    """True when the browser says the request came from one of our own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    here = request.host_url.rstrip("/")
    origin = request.headers.get("Origin")
    if origin:
        return origin == here
    referrer = request.referrer or ""
    return referrer == here or referrer.startswith(here + "/")


def _worth_keeping() -> list[tuple[str, str]] | None:
    if request.method != "POST" or request.endpoint is None or request.endpoint in NEVER_KEPT:
        return None
    fields = typed_fields(request.form)
    if not fields or sum(len(v) for _, v in fields) > MAX_TEXT:
        return None
    return fields


def keep_after_timeout(user_id: int) -> Response | None:
    """The guard has just ended this session (it timed out) as a form arrived with a valid CSRF
    token: keep what was typed for the session's user, and send them to sign in. None: nothing to
    keep."""
    fields = _worth_keeping()
    if fields is None:
        return None
    return _kept(fields, owner_id=user_id, signed_in=None)


def keep_for_nobody_signed_in() -> Response | None:
    """A form arrived with a valid CSRF token but nobody signed in (their sessions were ended
    elsewhere): keep it for the page's owner mark, or for this browser's claim."""
    fields = _worth_keeping()
    if fields is None:
        return None
    return _kept(fields, owner_id=_owner_of(request.form.get(OWNER_FIELD)), signed_in=None)


def keep_after_csrf_failure() -> Response | None:
    """A form arrived whose CSRF token no longer matches (the session it came from is gone). Keep
    what was typed, if it came from one of our pages, for whoever the request says typed it."""
    fields = _worth_keeping()
    if fields is None or not same_origin():
        return None
    signed_in = current_user._get_current_object() if current_user.is_authenticated else None
    owner_id = _owner_of(request.form.get(OWNER_FIELD))
    if owner_id is None and signed_in is not None:
        owner_id = signed_in.id
    return _kept(fields, owner_id=owner_id, signed_in=signed_in)


def _kept(fields: list[tuple[str, str]], *, owner_id: int | None, signed_in: User | None) -> Response | None:
    if owner_id is None and _unclaimed_today(utcnow()) >= MAX_UNCLAIMED:
        return None  # a flood of forms from nobody known: the CSRF page shows the text back instead
    path = _return_path()
    row, claim = keep(fields=fields, user_id=owner_id, endpoint=request.endpoint or "", return_path=path,
                      by=signed_in)
    row_id = row.id
    db.session.commit()
    if signed_in is not None and owner_id == signed_in.id:
        session[SESSION_KEY] = row_id  # still signed in: straight back, where the text is put back
        return redirect(path)
    if signed_in is not None:
        flash(KEPT_FOR_SOMEONE_ELSE, "info")
        return redirect(url_for("main.dashboard"))
    flash(SIGNED_OUT_KEPT, "info")
    response = redirect(url_for("auth.login", next=path))
    if claim is not None:
        held = _claims(request.cookies.get(CLAIM_COOKIE))
        response.set_cookie(CLAIM_COOKIE, ".".join([*held, claim][-CLAIMS_KEPT:]),
                            max_age=int(KEEP_FOR.total_seconds()), secure=current_app.config["SESSION_COOKIE_SECURE"],
                            httponly=True, samesite="Lax")
    return response


def forget_claims(response: Response) -> Response:
    """After sign-in has claimed them, the browser's claim tokens go."""
    if request.cookies.get(CLAIM_COOKIE):
        response.delete_cookie(CLAIM_COOKIE, secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True,
                               samesite="Lax")
    return response


# ---- putting it back on the page --------------------------------------------------------------

def _load_for_page() -> None:
    """before_request: after sign-in, open the kept form for the page it came from."""
    record_id = session.get(SESSION_KEY)
    if (record_id is None or request.method != "GET" or request.endpoint in _PASSIVE
            or request.endpoint is None or not current_user.is_authenticated):
        return
    kept = open_kept(record_id, current_user._get_current_object())
    if kept is None:
        session.pop(SESSION_KEY, None)
        session.pop(ANYWHERE_KEY, None)
        return
    if urlsplit(kept.return_path).path == request.path:
        g.kept, g.kept_formdata, g.kept_labels = kept, MultiDict(kept.fields), {}
    elif session.get(ANYWHERE_KEY):
        g.kept = kept
    else:
        g.kept_elsewhere = kept


def banner() -> dict | None:
    """Template global for layouts/base.html: what to say about kept text on this page."""
    kept = g.get("kept")
    if kept is not None:
        g.kept_shown = True
        return {"put_back": bool(g.get("kept_filled")), "rows": display_rows(kept.fields, g.get("kept_labels"))}
    elsewhere = g.get("kept_elsewhere")
    if elsewhere is not None:
        return {"elsewhere": elsewhere.return_path}
    return None


def display_rows(fields: list[tuple[str, str]], labels: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """What was typed, to show: (label, value) a field, empty ones and buttons left out; each
    field's label where a form on the page named it, else its name made readable."""
    labels = labels or {}
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        if name not in _NOT_TYPED:
            grouped.setdefault(name, []).append(value)
    return [(labels.get(name) or name.replace("_", " ").replace("-", " ").strip().capitalize(), " ".join(values))
            for name, values in grouped.items() if any(v.strip() for v in values)]


def _after_page(response: Response) -> Response:
    """after_request: once the page has shown the kept text, it is deleted; when the page it came
    from sent the user elsewhere, the next page shows it instead."""
    kept = g.get("kept")
    if kept is None or not current_user.is_authenticated:
        return response
    if g.get("kept_shown") and response.status_code < 500:
        following = put_back(kept, current_user._get_current_object())
        following_id = following.id if following is not None else None
        db.session.commit()
        session.pop(ANYWHERE_KEY, None)
        if following_id is None:
            session.pop(SESSION_KEY, None)
        else:
            session[SESSION_KEY] = following_id
    elif 300 <= response.status_code < 400:
        session[ANYWHERE_KEY] = True
    return response


_flask_wrap_formdata = FlaskForm.Meta.wrap_formdata


def _wrap_formdata(meta, form, formdata):
    """Flask-WTF's own, except on the GET of the page a kept form came from: each form that has a
    field of the kept form is filled from it, as if it had been sent back with errors."""
    kept = g.get("kept_formdata") if has_request_context() else None
    if kept is not None and formdata is _Auto and request.method == "GET":
        names = {field.name for field in form}
        if any(key not in _NOT_TYPED and (key in names or key.split("-")[0] in names) for key in kept.keys()):
            g.kept_filled = True
            g.kept_labels.update({field.name: field.label.text for field in form})
            return kept
    return _flask_wrap_formdata(meta, form, formdata)


def register(app: Flask) -> None:
    """Called by the guard once its own hooks are in place."""
    FlaskForm.Meta.wrap_formdata = _wrap_formdata
    app.before_request(_load_for_page)
    app.after_request(_after_page)
    app.add_template_global(banner, "kept_form")
    app.add_template_global(owner_mark, "kept_owner_mark")
