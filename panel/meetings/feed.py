"""Each user's private calendar feed at /calendar/<token>.ics: the meetings they are invited to.

The token is the credential (the route is PUBLIC in the access table): 128 random bits from
secrets.token_urlsafe(16), shown to its owner once, when it is made, and stored only as its
SHA-256. The owner switches the feed on, replaces the token (the old address stops working at
once) or turns the feed off from their account page.

The token must never be written down anywhere but the owner's calendar app:
- the feed answers with Referrer-Policy: no-referrer and Cache-Control: private, no-store;
- a fetch is audited as the feed's owner with the feed's id, never the token or the path;
- this app logs no request paths, and the access logs of the development server (werkzeug)
  and of gunicorn (when --access-logfile is given) get a filter that blanks the token;
- an unknown, replaced or revoked token answers the ordinary 404 page.
A reverse proxy in front of the app keeps its own access log: see the README.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app

from panel import audit
from panel.extensions import db
from panel.meetings import invitations
from panel.models import AuditAction, CalendarFeed, User, utcnow

bp = Blueprint("calendar", __name__, url_prefix="/calendar")

TOKEN_BYTES = 16                      # 128 bits
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_FEED_PATH = re.compile(r"/calendar/[^\s/\"?]+\.ics")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def feed_of(user: User) -> CalendarFeed | None:
    return db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.user_id == user.id))


def switch_on(user: User) -> str:
    """Switch the user's feed on, or replace its token. Returns the new token (the only time it
    exists in clear: show it once, never store or log it). Flushes; the caller commits."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed = feed_of(user)
    replaced = feed is not None
    if feed is None:
        feed = CalendarFeed(user_id=user.id, token_hash=token_hash(token), created_at=utcnow())
        db.session.add(feed)
    else:
        feed.token_hash, feed.created_at, feed.last_used_at = token_hash(token), utcnow(), None
    db.session.flush()
    audit.record(AuditAction.UPDATE if replaced else AuditAction.CREATE, "calendar_feed", feed.id,
                 summary={"replaced": replaced}, user=user)
    return token


def revoke(user: User) -> bool:
    """Turn the user's feed off: its address answers 404 from now on. Flushes."""
    feed = feed_of(user)
    if feed is None:
        return False
    audit.record(AuditAction.DELETE, "calendar_feed", feed.id, summary={"revoked": True}, user=user)
    db.session.delete(feed)
    db.session.flush()
    return True


def find(token: str) -> tuple[CalendarFeed, User] | None:
    """The feed whose token this is and its owner, if the owner is still an active user."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    row = db.session.execute(
        sa.select(CalendarFeed, User).join(User, User.id == CalendarFeed.user_id)
        .where(CalendarFeed.token_hash == token_hash(token), User.active.is_(True))).first()
    return (row[0], row[1]) if row is not None else None


def feed_url(token: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/calendar/{token}.ics"


@bp.route("/<token>.ics")
def feed(token: str):
    match = find(token)
    if match is None:
        abort(404)
    calendar_feed, user = match
    now = utcnow()
    body = invitations.user_feed(user, now=now)
    calendar_feed.last_used_at = now
    audit.record(AuditAction.VIEW, "calendar_feed", calendar_feed.id, summary={"feed": True}, user=user)
    db.session.commit()
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="panel.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


class RedactFeedTokens(logging.Filter):
    """Blank the token in any access-log line that names a feed address."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a badly formatted record is not ours to break
            return True
        if "/calendar/" in message:
            record.msg, record.args = _FEED_PATH.sub("/calendar/[token].ics", message), ()
        return True


def install_log_filter() -> None:
    """Add the filter to the access loggers of werkzeug's development server and gunicorn (once)."""
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFeedTokens) for f in logger.filters):
            logger.addFilter(RedactFeedTokens())


bp.record_once(lambda state: install_log_filter())
