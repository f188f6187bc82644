"""The referral intake API: POST /api/referrals, and its OpenAPI document at /api/openapi.json.

Each call is authenticated by a bearer token belonging to one agency (only its SHA-256 is
stored), limited per token per minute, and audited as one entry on the token: CREATE when a
referral is created, VIEW when an Idempotency-Key repeat returns the original, DENIED when the
call is refused. Audit entries hold the status code and the referral id, never the body or
the token; nothing here logs either. The referral is made by panel.referrals.intake, which
submits it through services.submit(): the same rules and the same cap as the form.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError

from panel import audit
from panel.dates import london_today
from panel.extensions import db
from panel.models import Agency, ApiToken, AuditAction, AuditEvent, Referral, utcnow
from panel.referrals import api_schema, intake, openapi, services, tokens

api_bp = Blueprint("api", "panel.referrals", url_prefix="/api")

IDEMPOTENCY_KEY_MAX = 100
_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,%d}$" % IDEMPOTENCY_KEY_MAX)
_BEARER_RE = re.compile(r"^Bearer +(\S+) *$", re.IGNORECASE)
RATE_WINDOW = timedelta(minutes=1)


class Refusal(Exception):
    """A call answered with an error: the status, the JSON body and any extra headers."""

    def __init__(self, status: int, body: dict[str, Any], *, reason: str, headers: dict[str, str] | None = None,
                 token_id: int | None = None, audited: bool = True):
        super().__init__(reason)
        self.status = status
        self.body = body
        self.reason = reason
        self.headers = headers or {}
        self.token_id = token_id  # a revoked token's id, for the audit entry
        self.audited = audited  # False: answered without writing anything (a throttled bad token)


def _error(status: int, message: str, reason: str, token_id: int | None = None, **headers: str) -> Refusal:
    return Refusal(status, {"error": message}, reason=reason, headers=headers, token_id=token_id)


@api_bp.before_request
def _calls_are_made_by_tokens() -> None:
    """A session cookie sent along with a call does not make it that user's: audit shows no user."""
    current_app.login_manager._update_request_context_with_user()


# ---- the checks, in the order they are made -------------------------------------------


def _bad_token_throttle() -> None:
    """Past API_BAD_TOKEN_LIMIT_PER_MINUTE refused authentications from this address in a minute
    (counted from the audit trail), answer 429 without writing anything, so a flood of bad tokens
    cannot fill the audit trail. 0 turns it off."""
    limit = int(current_app.config.get("API_BAD_TOKEN_LIMIT_PER_MINUTE", 10) or 0)
    if limit <= 0:
        return
    count = db.session.execute(
        sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == AuditAction.DENIED,
            AuditEvent.object_type == "api_token",
            AuditEvent.ip == (request.remote_addr or "")[:45],
            AuditEvent.summary.like('%"status": 401%'),
            AuditEvent.occurred_at > utcnow() - RATE_WINDOW,
        )
    ).scalar_one()
    if count >= limit:
        raise Refusal(429, {"error": "Too many calls with a missing or bad token. Try again later"},
                      reason="bad tokens throttled", headers={"Retry-After": "60"}, audited=False)


def _authenticate() -> ApiToken:
    header = request.headers.get("Authorization", "")
    match = _BEARER_RE.match(header[:500])
    token = tokens.find_token(match.group(1)) if match else None
    if token is not None and token.revoked_at is None:
        return token
    _bad_token_throttle()
    if not header:
        raise _error(401, "Send your API token in the header Authorization: Bearer <token>", "no token",
                     **{"WWW-Authenticate": 'Bearer realm="panel"'})
    if not match:
        raise _error(401, "The Authorization header must be: Bearer <token>", "not bearer",
                     **{"WWW-Authenticate": 'Bearer realm="panel", error="invalid_request"'})
    raise _error(401, "The API token is not valid or has been revoked", "revoked" if token else "unknown",
                 token_id=token.id if token else None,
                 **{"WWW-Authenticate": 'Bearer realm="panel", error="invalid_token"'})


def _check_rate(token: ApiToken) -> None:
    """At most API_RATE_LIMIT_PER_MINUTE calls per token in any minute, counted from the audit
    trail (one entry per call), so the limit holds across processes. 0 turns it off.

    The token's row is held (FOR UPDATE) until the call's audit entry is committed, so parallel
    calls with one token are counted one after another: no call slips past the limit."""
    limit = int(current_app.config.get("API_RATE_LIMIT_PER_MINUTE", 60) or 0)
    if limit <= 0:
        return
    db.session.execute(sa.select(ApiToken.id).where(ApiToken.id == token.id).with_for_update())
    now = utcnow()
    count, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(AuditEvent.occurred_at)).where(
            AuditEvent.object_type == "api_token",
            AuditEvent.object_id == str(token.id),
            AuditEvent.occurred_at > now - RATE_WINDOW,
            # only calls: the token's creation (or revocation) on the same row is no call
            AuditEvent.summary.contains(CALL_MARK),
        )
    ).one()
    if count >= limit:
        wait = math.ceil((oldest + RATE_WINDOW - now).total_seconds()) if oldest else 1
        raise _error(429, f"Too many requests: at most {limit} a minute for each token. Try again later",
                     "rate limited", **{"Retry-After": str(min(max(wait, 1), 60))})


def _check_isa(token: ApiToken) -> None:
    """The web form refuses an agency without a current information sharing agreement; so does the API."""
    agency = token.agency
    if agency.isa_current(london_today()):
        return
    if agency.isa_signed_on is None:
        why = f"{agency.name} has not signed the information sharing agreement"
    else:
        why = f"{agency.name}'s information sharing agreement is past its review date"
    raise _error(403, f"{why}, so it cannot make referrals until it is signed or renewed. "
                      "Ask the Panel administrator.", "no current isa")


def _read_body() -> bytes:
    if request.mimetype != "application/json":
        raise _error(415, "The body must be JSON, sent with Content-Type: application/json", "not json")
    limit = api_schema.MAX_BODY_BYTES
    too_large = _error(413, f"The body must be {limit // 1024} KB or smaller", "too large")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise too_large
    return data


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY_RE.match(key):
        raise _error(400, f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters, "
                          "without spaces", "bad idempotency key")
    return key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError("duplicate key")
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"), object_pairs_hook=_no_duplicate_keys,
                          parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _error(400, "The body is not valid JSON: check it is UTF-8, well formed, and has no key twice",
                     "malformed json") from None


# ---- answers -------------------------------------------------------------------------


def _url(referral: Referral) -> str:
    return current_app.config["PUBLIC_URL"] + url_for("referrals.view_referral", referral_id=referral.id)


def _answer(referral: Referral, status: str) -> dict[str, str]:
    return {"reference": referral.reference, "status": status, "url": _url(referral)}


def _respond(body: dict[str, str], status_code: int):
    response = jsonify(body)
    response.status_code = status_code
    response.headers["Location"] = body["url"]
    return response


ENDPOINT = "api.create_referral"
CALL_MARK = f'"endpoint": "{ENDPOINT}"'  # how each call's audit entry reads (audit.record sorts the keys)


def _audit_call(action: AuditAction, token_id: int | None, status: int, **summary: Any) -> None:
    audit.record(action, "api_token", token_id if token_id is not None else "",
                 summary={"status": status, "endpoint": ENDPOINT, **summary})


def _used(token: ApiToken) -> None:
    token.last_used_at = utcnow()


def body_hash(document: Any) -> str:
    """SHA-256 of the decoded body, so the same JSON spaced or ordered otherwise is the same body."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))  # ASCII: lone surrogates too
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _replay(token: ApiToken, referral: Referral, digest: str):
    """An Idempotency-Key seen before: the original referral, as first answered, when the body is
    the one first sent with it (a key kept from before bodies were recorded is taken on trust)."""
    if referral.idempotency_body_hash is not None and referral.idempotency_body_hash != digest:
        raise _error(422, "This Idempotency-Key was already used for a different referral. Send a new "
                          "Idempotency-Key with each new referral", "idempotency key reused")
    _used(token)
    _audit_call(AuditAction.VIEW, token.id, 200, referral=referral.id, repeat=True)
    body = _answer(referral, intake.status_when_submitted(referral))
    db.session.commit()
    return _respond(body, 200)


def _read_and_decode() -> tuple[Any, str | None, Refusal | None]:
    """The body, read off the network and decoded before any database work, so no call holds a
    database transaction (on SQLite, its one write lock) while a client sends slowly. A problem is
    returned, not raised: it is answered after authentication, as before."""
    try:
        data = _read_body()
        key = _idempotency_key()
        return _decode(data), key, None
    except Refusal as problem:
        return None, None, problem


@api_bp.route("/referrals", methods=["POST"])
def create_referral():
    token_id: int | None = None
    key: str | None = None
    digest = ""
    savepoint = None
    try:
        document, key, body_problem = _read_and_decode()  # the network first, the database after
        token = _authenticate()
        token_id = token.id
        _check_rate(token)
        # The token's row stays held while a refusal below is audited: roll back to here only.
        savepoint = db.session.begin_nested()
        _check_isa(token)
        if body_problem is not None:
            raise body_problem
        digest = body_hash(document)
        existing = intake.find_by_idempotency_key(token, key)
        if existing is not None:
            return _replay(token, existing, digest)
        parsed = api_schema.parse(document, agency_codes=db.session.execute(sa.select(Agency.code)).scalars())
        today = london_today()
        errors = api_schema.problems(parsed, today)
        if errors:
            raise Refusal(422, {"errors": errors}, reason="invalid")
        try:
            referral, created = intake.create_from_api(token=token, person=parsed.person, answers=parsed.answers,
                                                       agency_codes=parsed.agency_codes, idempotency_key=key,
                                                       body_hash=digest if key else None, today=today)
        except services.SubmissionProblems as problems:
            raise Refusal(422, {"errors": api_schema.as_errors(problems.problems)}, reason="invalid") from None
        if not created:
            return _replay(token, referral, digest)
        _used(token)
        _audit_call(AuditAction.CREATE, token.id, 201, referral=referral.id, outcome=str(referral.status))
        body = _answer(referral, str(referral.status))
        db.session.commit()
        return _respond(body, 201)
    except IntegrityError:
        answer = _lost_race(token_id, key, digest)
        if answer is None:
            raise
        return answer
    except Refusal as refusal:
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()
        else:
            db.session.rollback()
        if not refusal.audited:
            return _refusal_response(refusal)
        token_id = token_id if token_id is not None else refusal.token_id
        if refusal.status != 401 and token_id is not None:
            _used(db.session.get(ApiToken, token_id))
        _audit_call(AuditAction.DENIED, token_id, refusal.status, reason=refusal.reason)
        db.session.commit()
        return _refusal_response(refusal)


def _lost_race(token_id: int | None, key: str | None, digest: str):
    """The same Idempotency-Key sent twice at once: the other call created the referral first.
    The answer is the original, or 422 when the other call sent another body; None when the
    integrity error was something else."""
    db.session.rollback()
    if token_id is None or key is None:
        return None
    token = db.session.get(ApiToken, token_id)
    existing = intake.find_by_idempotency_key(token, key)
    if existing is None:
        return None
    try:
        return _replay(token, existing, digest)
    except Refusal as refusal:
        _audit_call(AuditAction.DENIED, token_id, refusal.status, reason=refusal.reason)
        db.session.commit()
        return _refusal_response(refusal)


def _refusal_response(refusal: Refusal):
    response = jsonify(refusal.body)
    response.status_code = refusal.status
    response.headers.update(refusal.headers)
    return response


@api_bp.route("/openapi.json", endpoint="openapi")
def openapi_document():
    return jsonify(openapi.document())
