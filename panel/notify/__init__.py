"""The email outbox: queue_email() writes a row in the caller's transaction; delivery follows the commit."""

from __future__ import annotations

from flask import Flask

from panel.extensions import db
from panel.models import OutboxMessage


def queue_email(*, to: str, subject: str, body: str) -> OutboxMessage:
    """Add an email to the outbox in the current transaction. Never put the adult's personal data in it."""
    message = OutboxMessage(to_addr=to, subject=subject[:200], body_text=body)
    db.session.add(message)
    return message


def register(app: Flask) -> None:
    """Delivery after commit is wired up by panel.notify.delivery (see there)."""
