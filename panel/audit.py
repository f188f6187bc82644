"""The audit trail: record() is the only writer; verify_chain() checks the hash chain.

Every row stores the SHA-256 of the previous row's hash together with its own content, so
any edit, deletion or insertion in the middle breaks the chain. Rows are never updated or
deleted: the ORM refuses (see _refuse_changes) and database triggers refuse (see the
migration that creates the table).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from panel.extensions import db
from panel.models import AuditAction, AuditEvent, User, utcnow

GENESIS = "0" * 64
_SECRET_WORDS = ("password", "secret", "token", "totp", "hash")
_PG_AUDIT_LOCK = 726_101


class AuditTamperError(RuntimeError):
    """Raised when code tries to change or delete an audit row."""


def _redact(summary: Any) -> str:
    if summary is None:
        return ""
    if isinstance(summary, str):
        return summary[:2000]
    return json.dumps(_scrub(summary), sort_keys=True, default=str)[:2000]


def _scrub(value: Any) -> Any:
    """Redact secret-named keys at any depth, e.g. {"changes": {"password_hash": [old, new]}}."""
    if isinstance(value, dict):
        return {
            str(k): ("[redacted]" if any(w in str(k).lower() for w in _SECRET_WORDS) else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def _digest(prev_hash: str, event_: AuditEvent) -> str:
    content = json.dumps(
        [
            event_.occurred_at.isoformat(),
            event_.user_id,
            event_.user_email,
            str(event_.action),
            event_.object_type,
            event_.object_id,
            event_.summary,
            event_.ip,
            event_.user_agent,
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


def _lock_chain() -> None:
    """Serialise writers so two transactions never chain to the same previous row.

    PostgreSQL takes a transaction-level advisory lock; SQLite transactions already begin
    IMMEDIATE (see panel/__init__.py), which holds the database's single write lock.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})


def record(
    action: AuditAction | str,
    object_type: str,
    object_id: Any = "",
    *,
    summary: Any = None,
    user: User | None = None,
) -> AuditEvent:
    """Append one audit row to the current transaction and return it.

    Who is the given user, else the signed-in user; IP address and user agent come from the
    request when there is one. Keys of ``summary`` that name secrets are redacted.
    """
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user._get_current_object()
    ip = ua = ""
    if has_request_context():
        ip = (request.remote_addr or "")[:45]
        ua = (request.user_agent.string or "")[:255]
    _lock_chain()
    prev = db.session.execute(
        sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none() or GENESIS
    row = AuditEvent(
        occurred_at=utcnow(),
        user_id=user.id if user is not None else None,
        user_email=user.email if user is not None else "",
        action=AuditAction(action),
        object_type=object_type[:40],
        object_id=str(object_id)[:64],
        summary=_redact(summary),
        ip=ip,
        user_agent=ua,
        prev_hash=prev,
    )
    row.hash = _digest(prev, row)
    db.session.add(row)
    db.session.flush()
    return row


def changes(obj: Any, fields: Iterable[str], before: dict[str, Any]) -> dict[str, list[Any]]:
    """Return {field: [old, new]} for the fields of obj that differ from ``before``."""
    out = {}
    for name in fields:
        new = getattr(obj, name)
        if before.get(name) != new:
            out[name] = [before.get(name), new]
    return out


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


@dataclass
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


def verify_chain() -> ChainReport:
    """Walk the trail in order and recompute every hash; stop at the first broken row."""
    prev = GENESIS
    checked = 0
    rows = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
    with rows:  # close PostgreSQL's server-side cursor when we stop early
        for row in rows.scalars():
            if row.prev_hash != prev:
                return ChainReport(False, checked, row.id, "previous hash does not match the row before it")
            if _digest(prev, row) != row.hash:
                return ChainReport(False, checked, row.id, "content does not match its hash")
            prev = row.hash
            checked += 1
    return ChainReport(True, checked)


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTamperError("The audit trail is append-only")
