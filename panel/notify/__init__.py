"""The email outbox: queue_email() writes a row in the caller's transaction; delivery follows the commit.

Callers never send email themselves. They call queue_email() inside the transaction that makes
the change the email is about, so the email exists if and only if the change was committed.
panel.notify.delivery sends it: straight after the commit when the commit happened during a
web request, and otherwise (and for every retry) from the scheduler's "outbox" job, which
calls deliver_due() once a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from panel.extensions import db
from panel.forms.text import one_line
from panel.models import OutboxMessage, OutboxStatus
from panel.notify import delivery
from panel.notify.delivery import deliver_due, retry

__all__ = ["queue_email", "deliver_due", "retry", "register", "outbox_counts", "messages_needing_attention"]


def queue_email(
    *,
    to: str,
    subject: str,
    body: str,
    calendar: str | None = None,
    calendar_method: str | None = None,
) -> OutboxMessage:
    """Add an email to the outbox in the current transaction and return the (unflushed) row.

    Side effects: adds one OutboxMessage to db.session; never flushes, commits or sends.
    Raises ValueError unless ``to`` is a single address.
    ``calendar`` is an iCalendar text (VCALENDAR) sent as an invitation with ``calendar_method``
    (REQUEST, CANCEL...). Never put the adult's personal data in an email.
    """
    address = to.strip()
    if "@" not in address or any(ch.isspace() for ch in address):
        raise ValueError("queue_email() needs exactly one email address")
    message = OutboxMessage(
        to_addr=address,
        # Line breaks in a header would be refused by the email package (and are a header
        # injection risk), so a subject is always one line.
        subject=one_line(subject)[:200],
        body_text=body,
        calendar=calendar,
        calendar_method=(calendar_method.upper() if calendar_method else None) if calendar else None,
    )
    db.session.add(message)
    return message


@dataclass(frozen=True)
class OutboxCounts:
    """How many emails are in each state. ``retrying`` are pending after at least one failure."""

    waiting: int = 0
    retrying: int = 0
    sending: int = 0
    failed: int = 0
    sent: int = 0


def outbox_counts() -> OutboxCounts:
    """Counts by state, in one query."""
    rows = db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count(),
                  sa.func.sum(sa.case((OutboxMessage.attempts > 0, 1), else_=0)))
        .group_by(OutboxMessage.status)
    ).all()
    by_status = {status: (total, int(tried or 0)) for status, total, tried in rows}
    pending, pending_tried = by_status.get(OutboxStatus.PENDING, (0, 0))
    return OutboxCounts(
        waiting=pending - pending_tried,
        retrying=pending_tried,
        sending=by_status.get(OutboxStatus.SENDING, (0, 0))[0],
        failed=by_status.get(OutboxStatus.FAILED, (0, 0))[0],
        sent=by_status.get(OutboxStatus.SENT, (0, 0))[0],
    )


def messages_needing_attention(limit: int = 200) -> list[OutboxMessage]:
    """Failed emails (newest first), then those waiting to retry (next due first), in one query."""
    failed = OutboxMessage.status == OutboxStatus.FAILED
    return list(db.session.scalars(
        sa.select(OutboxMessage)
        .where(sa.or_(failed, sa.and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts > 0)))
        .order_by(sa.case((failed, 0), else_=1), sa.case((failed, OutboxMessage.created_at), else_=None).desc(),
                  OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ))


def register(app: Flask) -> None:
    """Wire delivery-after-commit into the app (see panel.notify.delivery.register)."""
    delivery.register(app)
