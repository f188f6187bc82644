"""Delivery of the email outbox: claim a message, send it over SMTP (or write an .eml), record the result.

How a message travels:

- queue_email() adds an OutboxMessage to the caller's transaction (status pending).
- When that transaction commits it rings the scheduler (panel.notify.wake: NOTIFY on
  PostgreSQL, a datagram on SQLite), which runs its "outbox" job at once. No web request ever
  waits on the mail server, and a rollback rings nothing, so nothing is sent for work that
  was not saved.
- deliver_due() is the scheduler's "outbox" job: it returns stale claims to pending and
  delivers every pending message whose next attempt is due, at most BATCH_SIZE a run. It
  also runs once a minute, so a lost wake-up delays an email by a minute at most.

Each message is claimed before it is sent with an UPDATE ... WHERE status = 'pending' that
is committed on its own, so two processes (a web worker and the scheduler, or two
schedulers started by mistake) never send one message twice: only the one whose UPDATE
changed the row sends it. A claim older than CLAIM_STALE_AFTER (the process died while
sending) goes back to pending, so nothing is lost; in that rare case the email may arrive
twice, which is the price of never losing one.

A failed attempt counts in ``attempts`` and waits 1, 5, 30 and then 60 minutes before the
next one. A message more than 24 hours old that fails again becomes ``failed`` and is listed
for administrators, who can retry() it. Nothing is ever deleted.

Logs carry counts and ids only: never addresses, subjects or bodies.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Iterable, Protocol

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from panel import audit
from panel.extensions import db
from panel.notify import wake
from panel.models import AuditAction, OutboxMessage, OutboxStatus, User, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 100
CLAIM_STALE_AFTER = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(hours=24)
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
BACKOFF_AFTER_THAT = timedelta(hours=1)

_FLUSHED_KEY = "panel.outbox.flushed"    # db.session.info: ids written in the open transaction


def backoff(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts: 1, 5, 30, then 60 minutes."""
    if attempts <= 0:
        return timedelta(0)
    return BACKOFF[attempts - 1] if attempts <= len(BACKOFF) else BACKOFF_AFTER_THAT


@dataclass
class DeliveryReport:
    """What one delivery run did, by message id. ``skipped`` were claimed by someone else or not due."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"sent": len(self.sent), "retrying": len(self.retrying), "failed": len(self.failed),
                "skipped": len(self.skipped)}


# ---- building the email --------------------------------------------------------------

def _domain(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "panel.localhost"


_METHOD = re.compile(r"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)


def build_email(message: OutboxMessage | Outgoing, *, sender: str) -> EmailMessage:
    """The EmailMessage for an outbox row: From, To, Subject, Date, Message-ID and a text/plain body.

    With a calendar (an iMIP message, RFC 6047), the result is::

        multipart/mixed
          multipart/alternative
            text/plain; charset=utf-8
            text/calendar; method=<METHOD>; charset=UTF-8   (base64, no Content-Disposition)
          application/ics; name=invite.ics                  (attachment; filename=invite.ics)

    The calendar part's ``method`` equals the METHOD inside it, and base64 keeps its CRLF
    line ends and 75-octet folding byte for byte. Outlook looks for the invitation only in
    the first child of multipart/mixed; the attachment is for people who open files.
    The Message-ID is derived from the row, so a resend after a crash can be recognised.
    """
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = (f"<outbox.{message.id}.{int(message.created_at.timestamp() * 1_000_000)}"
                           f"@{_domain(sender)}>")
    email.set_content(message.body_text)
    if message.calendar:
        in_body = _METHOD.search(message.calendar)  # the part's method must equal the METHOD inside
        method = (in_body.group(1) if in_body else message.calendar_method or "REQUEST").upper()
        ics = message.calendar.encode("utf-8")
        calendar = MIMEPart()
        calendar.set_content(ics, maintype="text", subtype="calendar", cte="base64")
        calendar.set_param("method", method)
        calendar.set_param("charset", "UTF-8")
        email.make_alternative()
        email.attach(calendar)
        email.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
        attachment = email.get_payload()[-1]
        attachment.set_param("name", "invite.ics")
        del attachment["MIME-Version"]  # a header for the whole message only
    return email


# ---- transports ---------------------------------------------------------------------------

class _Transport(Protocol):
    def send(self, email: EmailMessage, *, message: Outgoing) -> None: ...

    def close(self) -> None: ...


class ServerUnavailable(Exception):
    """The SMTP server could not be reached earlier in this run; later messages are not tried."""


class SmtpTransport:
    """One SMTP connection for a whole run, opened on first use.

    If connecting fails, every later message in the run fails with the same reason without a
    new connection attempt, so a server that is down costs one timeout, not one per message.
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        self.sender = parseaddr(config["MAIL_FROM"])[1] or config["MAIL_FROM"]
        self._smtp: smtplib.SMTP | None = None
        self._down: str | None = None

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        host, port, timeout = c["MAIL_SERVER"], int(c["MAIL_PORT"]), float(c["MAIL_TIMEOUT"])
        smtp: smtplib.SMTP
        if c.get("MAIL_USE_SSL"):
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if c.get("MAIL_USE_TLS") and not c.get("MAIL_USE_SSL"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if c.get("MAIL_USERNAME"):
                smtp.login(c["MAIL_USERNAME"], c.get("MAIL_PASSWORD") or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, email: EmailMessage, *, message: Outgoing) -> None:
        if self._down is not None:
            raise ServerUnavailable(self._down)
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except (OSError, smtplib.SMTPException) as exc:
                self._down = describe_error(exc)
                raise
        try:
            self._smtp.send_message(email, from_addr=self.sender, to_addrs=[message.to_addr])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
            raise  # the server said no to this message; the connection is still good
        except (OSError, smtplib.SMTPException):
            self.close()  # the connection is in an unknown state: open a new one next time
            raise

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


class FileTransport:
    """No MAIL_SERVER: each email is written as an .eml file under OUTBOX_DIR (readable by the owner only)."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def send(self, email: EmailMessage, *, message: Outgoing) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{message.created_at:%Y%m%dT%H%M%SZ}-{message.id:06d}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(email.as_bytes())

    def close(self) -> None:
        pass


def _transport(config: Any) -> _Transport:
    return SmtpTransport(config) if config.get("MAIL_SERVER") else FileTransport(config["OUTBOX_DIR"])


_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")


def describe_error(exc: BaseException) -> str:
    """A short reason for last_error and the logs: the kind of failure and the SMTP code,
    never the message's content and never an email address."""
    if isinstance(exc, ServerUnavailable):
        return str(exc)[:200]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _ in exc.recipients.values()})
        return f"Recipient refused by the mail server (SMTP {', '.join(codes)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        text = _ADDRESS.sub("[address]", " ".join(text.split()))
        return f"{type(exc).__name__}: SMTP {exc.smtp_code} {text}"[:200]
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"[:200]
    if isinstance(exc, smtplib.SMTPException):
        return f"{type(exc).__name__}: {_ADDRESS.sub('[address]', str(exc))}"[:200]
    return type(exc).__name__


# ---- claiming and recording ----------------------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    """A claimed message's content, read in the claim's transaction: sending it touches no database."""

    id: int
    to_addr: str
    subject: str
    body_text: str
    calendar: str | None
    calendar_method: str | None
    created_at: datetime
    attempts: int


_OUTGOING_COLUMNS = [getattr(OutboxMessage, name) for name in Outgoing.__dataclass_fields__]


def _claim(message_id: int, now: datetime) -> Outgoing | None:
    """Take one due, pending message for this process and return its content. Commits.

    The claim has to be committed before sending (unlike a service's usual flush) so that every
    other process sees it: the UPDATE changes the row for exactly one claimant, and the others
    find rowcount 0 and leave the message alone. No transaction stays open during the send
    (on SQLite it would hold the write lock for as long as the mail server takes).
    """
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING,
               OutboxMessage.next_attempt_at <= now)
        .values(status=OutboxStatus.SENDING, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return None
    row = db.session.execute(sa.select(*_OUTGOING_COLUMNS).where(OutboxMessage.id == message_id)).one()
    db.session.commit()
    return Outgoing(**row._asdict())


def _record(message_id: int, **values: Any) -> None:
    """Save a send's result on the claimed row. Commits, so the result is kept before the next send."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING)
        .values(claimed_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _failure_values(message: Outgoing, reason: str, now: datetime) -> dict[str, Any]:
    attempts = message.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": reason[:500]}
    if now - message.created_at > GIVE_UP_AFTER:
        values["status"] = OutboxStatus.FAILED
    else:
        values.update(status=OutboxStatus.PENDING, next_attempt_at=now + backoff(attempts))
    return values


def _deliver_one(message_id: int, transport: _Transport, sender: str, now: datetime,
                 report: DeliveryReport) -> None:
    message = _claim(message_id, now)
    if message is None:
        report.skipped.append(message_id)
        return
    try:
        transport.send(build_email(message, sender=sender), message=message)
    except Exception as exc:  # noqa: BLE001 - any failure must be recorded, never lose the message
        values = _failure_values(message, describe_error(exc), now)
        _record(message_id, **values)
        (report.failed if values["status"] == OutboxStatus.FAILED else report.retrying).append(message_id)
        log.warning("outbox: message %s attempt %s failed (%s)", message_id, values["attempts"], type(exc).__name__)
    else:
        _record(message_id, status=OutboxStatus.SENT, sent_at=now, last_error="")
        report.sent.append(message_id)


def deliver(ids: Iterable[int], *, now: datetime | None = None) -> DeliveryReport:
    """Send the given outbox messages if they are pending and due. Commits after each message.

    Side effects: claims, sends (SMTP or .eml) and updates each message; messages another
    process has claimed, or whose next attempt is not due yet, are skipped. Call it with no
    unfinished work in db.session, since it commits.
    """
    report = DeliveryReport()
    wanted = sorted(set(ids))
    if not wanted:
        return report
    now = now or utcnow()
    config = current_app.config
    transport = _transport(config)
    try:
        for message_id in wanted:
            _deliver_one(message_id, transport, config["MAIL_FROM"], now, report)
    finally:
        transport.close()
    return report


def release_stale_claims(now: datetime | None = None) -> list[int]:
    """Return to pending every message stuck in 'sending' for longer than CLAIM_STALE_AFTER
    (its process died mid-send). Flushes; the caller commits."""
    now = now or utcnow()
    stale = db.session.scalars(
        sa.select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.SENDING,
                                          OutboxMessage.claimed_at < now - CLAIM_STALE_AFTER)
    ).all()
    if stale:
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(stale), OutboxMessage.status == OutboxStatus.SENDING,
                   OutboxMessage.claimed_at < now - CLAIM_STALE_AFTER)
            .values(status=OutboxStatus.PENDING, claimed_at=None, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        log.warning("outbox: %d stale claims returned to pending: ids %s", len(stale), stale)
    return list(stale)


def deliver_due(now: datetime | None = None, *, limit: int = BATCH_SIZE) -> dict[str, int]:
    """The scheduler's outbox job: deliver up to ``limit`` pending messages whose next attempt is due.

    Side effects: returns stale claims to pending, then claims, sends and records each message,
    committing as it goes (see deliver()). Returns counts: sent, retrying, failed, skipped
    (taken by another process meanwhile) and released (stale claims).
    """
    now = now or utcnow()
    released = release_stale_claims(now)
    due = db.session.scalars(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.commit()  # saves the released claims and ends the read (SQLite holds its write lock)
    report = deliver(due, now=now)
    counts = {**report.counts(), "released": len(released)}
    if due or released:
        log.info("outbox: %s; sent ids %s, retrying ids %s, failed ids %s", counts, report.sent,
                 report.retrying, report.failed)
    return counts


def purge_sent(now: datetime | None = None) -> dict[str, int]:
    """The daily job `outbox-purge`: delete the outbox's copy of emails sent more than
    OUTBOX_KEEP_SENT_DAYS ago (they hold addresses and reply links; the audit trail keeps what was
    done). Pending, sending and failed emails are never deleted. Returns {"deleted": n}."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["OUTBOX_KEEP_SENT_DAYS"])
    deleted = db.session.execute(
        sa.delete(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at < cutoff)
    ).rowcount
    db.session.commit()
    return {"deleted": deleted or 0}


def retry(message: OutboxMessage, *, by: User) -> None:
    """An administrator puts a failed message back in the queue. Flushes; the caller commits.

    Side effects: the message becomes pending and due now, an audit row is written, and when
    the commit happens during a request the message is sent straight after it.
    """
    if message.status != OutboxStatus.FAILED:
        raise ValueError("Only a failed email can be retried")
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = utcnow()
    message.claimed_at = None
    audit.record(AuditAction.UPDATE, "outbox_message", message.id, summary={"retry": True}, user=by)
    db.session.flush()
    _note_for_delivery(db.session(), message.id)


# ---- delivery after commit -------------------------------------------------------------------

def _note_for_delivery(session: Session, message_id: int) -> None:
    session.info.setdefault(_FLUSHED_KEY, set()).add(message_id)


def _on_pending_to_persistent(session: Session, instance: object) -> None:
    """A flush inserted a row: remember new outbox ids for this transaction."""
    if isinstance(instance, OutboxMessage):
        _note_for_delivery(session, instance.id)


def _on_before_commit(session: Session) -> None:
    """PostgreSQL: ring inside the transaction, so the scheduler hears it only if it commits."""
    adding = session.info.get(_FLUSHED_KEY) or any(isinstance(o, OutboxMessage) for o in session.new)
    if adding and session.get_bind().dialect.name == "postgresql":
        session.execute(wake.notify_sql())


def _on_after_commit(session: Session) -> None:
    """The transaction committed: on SQLite, ring the scheduler's socket (no SQL may run here)."""
    ids = session.info.pop(_FLUSHED_KEY, None)
    if ids and session.get_bind().dialect.name != "postgresql":
        wake.ring_socket(wake.socket_path())


def _on_after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended without a commit (rollback or close): forget its ids."""
    if transaction.parent is None:
        session.info.pop(_FLUSHED_KEY, None)


_SESSION_LISTENERS = (
    ("pending_to_persistent", _on_pending_to_persistent),
    ("before_commit", _on_before_commit),
    ("after_commit", _on_after_commit),
    ("after_transaction_end", _on_after_transaction_end),
)


def register(app: Flask) -> None:
    """Listen to db.session's transactions (once per process): committed emails ring the scheduler."""
    for name, listener in _SESSION_LISTENERS:
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
