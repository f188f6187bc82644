"""Bearer tokens for the referral API: create (shown once), find by hash, revoke, list.

Only the SHA-256 of a token is stored, with its first characters for people to tell tokens
apart. Services flush but never commit; creating and revoking are audited (never the token).
"""

from __future__ import annotations

import hashlib
import re
import secrets

import sqlalchemy as sa

from panel import audit
from panel.extensions import db
from panel.forms.text import clean_text
from panel.models import Agency, ApiToken, AuditAction, User, utcnow

# bandit B105: the public prefix of every token, not a secret
TOKEN_PREFIX = "pnl_"  # nosec B105
PREFIX_LENGTH = 12  # "pnl_" and 8 random characters, shown on the admin page to tell tokens apart
LABEL_MAX = 120
# What a token we issued looks like; anything else is refused without a database lookup.
_TOKEN_SHAPE = re.compile(r"^pnl_[A-Za-z0-9_-]{43}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(*, agency: Agency, label: str = "", by: User | None = None) -> tuple[ApiToken, str]:
    """Make a token for an agency. Returns the row and the token itself, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(agency_id=agency.id, token_hash=hash_token(token), prefix=token[:PREFIX_LENGTH],
                   label=clean_text(label)[:LABEL_MAX], created_by_id=by.id if by else None,
                   created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    audit.record(AuditAction.CREATE, "api_token", row.id, summary={"agency": agency.code, "prefix": row.prefix},
                 user=by)
    return row, token


def find_token(token: str) -> ApiToken | None:
    """The token row for a presented token (revoked or not), or None when it is not ours."""
    if not _TOKEN_SHAPE.match(token or ""):
        return None
    return db.session.execute(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()


def revoke_token(row: ApiToken, *, by: User | None = None) -> bool:
    """Revoke a token from now on. False when it was already revoked (nothing changes)."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.flush()
    audit.record(AuditAction.UPDATE, "api_token", row.id, summary={"revoked": True, "prefix": row.prefix}, user=by)
    return True


def list_tokens() -> list[ApiToken]:
    """Every token, active ones first, newest first, with its agency (one query)."""
    return list(db.session.execute(
        sa.select(ApiToken)
        .options(sa.orm.joinedload(ApiToken.agency))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
    ).scalars())
