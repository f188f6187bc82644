"""The audit trail: record() is the only writer; verify_chain() checks the hash chain.

Every row stores the SHA-256 of the previous row's hash together with its own content, so
any edit, deletion or insertion in the middle breaks the chain. Rows are never updated or
deleted: the ORM refuses (see _refuse_changes) and database triggers refuse (see the
migration that creates the table).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from panel import transactions
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


# What each entry's hash covers, in order (with the previous entry's hash before it).
_HASHED = ("occurred_at", "user_id", "user_email", "action", "object_type", "object_id", "summary", "ip",
           "user_agent")


def _digest_of(prev_hash: str, occurred_at, user_id, user_email, action, *rest) -> str:
    content = json.dumps([occurred_at.isoformat(), user_id, user_email, str(action), *rest], separators=(",", ":"))
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


def _digest(prev_hash: str, event_: AuditEvent) -> str:
    return _digest_of(prev_hash, *(getattr(event_, name) for name in _HASHED))


def _key() -> bytes:
    return (current_app.config.get("AUDIT_KEY") or "").encode()


def seal(text: str) -> str | None:
    """HMAC-SHA256 under AUDIT_KEY (held outside the database), or None when no key is set."""
    key = _key()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest() if key else None


def _lock_chain() -> None:
    """Serialise writers so two transactions never chain to the same previous row.

    PostgreSQL takes a transaction-level advisory lock; SQLite takes its single write lock
    (a form post's transaction began IMMEDIATE and has it already; a page view's began deferred
    and takes it here, before the previous row is read: panel/transactions.py).
    """
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    else:
        transactions.take_write_lock(connection)


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
    row.seal = seal(row.hash)
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
    # Plain rows, not ORM objects: two million entries are read in a minute, not several.
    columns = [AuditEvent.id, AuditEvent.prev_hash, AuditEvent.hash] + [getattr(AuditEvent, n) for n in _HASHED]
    rows = db.session.execute(sa.select(*columns).order_by(AuditEvent.id).execution_options(yield_per=5000))
    with rows:  # close PostgreSQL's server-side cursor when we stop early
        for row_id, prev_hash, row_hash, *hashed in rows:
            if prev_hash != prev:
                return ChainReport(False, checked, row_id, "previous hash does not match the row before it")
            if _digest_of(prev, *hashed) != row_hash:
                return ChainReport(False, checked, row_id, "content does not match its hash")
            prev = row_hash
            checked += 1
    return ChainReport(True, checked)


# ---- the anchors outside the database ------------------------------------------------------
# Once a day the job "audit-anchor" (panel/admin/jobs.py) appends the chain's head, its entry
# count and last hash, sealed, to the file AUDIT_ANCHOR_PATH (and emails it to AUDIT_MAILBOX).
# Whoever can rewrite the database can recompute every hash, and can delete the newest entries
# leaving a shorter chain that verifies; neither matches an anchor taken before.


@dataclass
class Head:
    count: int
    last_id: int
    hash: str


def chain_head() -> Head:
    count, last_id = db.session.execute(sa.select(sa.func.count(), sa.func.max(AuditEvent.id))).one()
    last = db.session.execute(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    return Head(count, last_id or 0, last or GENESIS)


def anchor_line(head: Head, at: datetime) -> dict[str, Any]:
    body = {"at": at.isoformat(timespec="seconds"), "count": head.count, "last_id": head.last_id,
            "hash": head.hash}
    return {**body, "seal": seal(f"{head.count}:{head.last_id}:{head.hash}")}


def read_anchors(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The anchors in the file (oldest first) and the problems with lines that are not anchors."""
    anchors, problems = [], []
    file = Path(path)
    if not file.exists():
        return anchors, problems
    for number, line in enumerate(file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            anchors.append({"line": number, "count": int(item["count"]), "last_id": int(item["last_id"]),
                            "hash": str(item["hash"]), "at": str(item.get("at", "")),
                            "seal": item.get("seal")})
        except (ValueError, KeyError, TypeError):
            problems.append(f"line {number} of the anchor file is not an anchor")
    return anchors, problems


@dataclass
class TrailReport:
    """What audit-verify found: the hash chain, the seals and the anchors."""

    chain: ChainReport
    checked: int = 0
    problems: list[str] = field(default_factory=list)  # tampering found: verification fails
    unvouched: list[tuple[int, int, str]] = field(default_factory=list)  # (first id, last id, why)
    anchors: int = 0

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


def _ranges(ids: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in ids:
        if out and i == out[-1][1] + 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def _walk(report: TrailReport, key: bytes, by_position: dict[int, dict[str, Any]]) -> tuple[list[int], list, int]:
    """Walk the trail once: entries with a wrong seal, unsealed entries (and whether a sealed one
    came before), anchors met on the way; returns (bad seals, unsealed, last id)."""
    bad_seal: list[int] = []
    unsealed: list[tuple[int, bool]] = []
    seen_sealed = False
    position = last_id = 0
    rows = db.session.execute(sa.select(AuditEvent.id, AuditEvent.hash, AuditEvent.seal)
                              .order_by(AuditEvent.id).execution_options(yield_per=1000))
    with rows:
        for row_id, row_hash, row_seal in rows:
            position += 1
            last_id = row_id
            if row_seal is None:
                unsealed.append((row_id, seen_sealed))
            else:
                seen_sealed = True
                if not key or not hmac.compare_digest(row_seal, seal(row_hash) or ""):
                    bad_seal.append(row_id)
            anchor = by_position.get(position)
            if anchor is not None:
                anchor["found"] = True
                if anchor["hash"] != row_hash or anchor["last_id"] != row_id:
                    report.problems.append(
                        f"entry {row_id} is not the entry anchored on {anchor['at']} as entry number {position} "
                        "(the trail was rewritten or entries were removed before it)")
    report.checked = position
    return bad_seal, unsealed, last_id


def _check_anchors(report: TrailReport, key: bytes, anchors: list[dict[str, Any]]) -> None:
    for anchor in anchors:
        if not anchor.get("found") and anchor["count"] > report.checked:
            report.problems.append(
                f"the anchor of {anchor['at']} counted {anchor['count']} entries up to entry {anchor['last_id']}; "
                f"the trail holds {report.checked}: entries were deleted")
        if key and anchor["seal"] is not None and not hmac.compare_digest(
                str(anchor["seal"]), seal(f"{anchor['count']}:{anchor['last_id']}:{anchor['hash']}") or ""):
            report.problems.append(f"line {anchor['line']} of the anchor file does not carry its seal")


def verify_trail(anchor_path: str | Path | None = None) -> TrailReport:
    """Check the chain, every entry's seal, and the chain against each anchor in the file.

    An entry with a wrong seal, an unsealed entry after a sealed one, an anchor whose entry is
    missing or has another hash, or an anchor with a wrong seal is tampering. Entries written
    before the key was set (no seal) and entries after the last anchor are reported as ones it
    could not vouch for as fully: the first rest on the hash chain and the anchors, the second on
    their seals."""
    report = TrailReport(chain=verify_chain())
    key = _key()
    anchors, report.problems = read_anchors(anchor_path or current_app.config["AUDIT_ANCHOR_PATH"])
    report.anchors = len(anchors)
    bad_seal, unsealed, last_id = _walk(report, key, {a["count"]: a for a in anchors})
    if key:
        for first, last in _ranges(bad_seal):
            report.problems.append(f"entries {first}-{last} do not carry their seal: edited, rehashed or forged")
    elif bad_seal:
        report.unvouched.append((bad_seal[0], bad_seal[-1], "AUDIT_KEY is not set, so seals cannot be checked"))
    for first, last in _ranges([i for i, after_sealed in unsealed if after_sealed and key]):
        report.problems.append(f"entries {first}-{last} are unsealed after sealed entries: added without the key")
    for first, last in _ranges([i for i, after_sealed in unsealed if not (after_sealed and key)]):
        report.unvouched.append((first, last, "written before AUDIT_KEY was set: no seal"))
    _check_anchors(report, key, anchors)
    anchored_to = max((a["last_id"] for a in anchors if a.get("found")), default=0)
    if last_id > anchored_to:
        first_after = db.session.execute(sa.select(sa.func.min(AuditEvent.id))
                                         .where(AuditEvent.id > anchored_to)).scalar_one()
        report.unvouched.append((first_after, last_id, "after the last anchor: vouched for by their seals only"
                                 if key else "after the last anchor, and no key: not vouched for"))
    return report


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTamperError("The audit trail is append-only")
