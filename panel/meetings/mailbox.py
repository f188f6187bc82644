"""The job "calendar-replies": read invitation replies from the organiser's mailbox over IMAP.

Every five minutes (panel.scheduler.JOBS) it signs in to IMAP_SERVER as IMAP_USERNAME, opens
IMAP_FOLDER (INBOX by default) and reads each unread message without marking it read
(BODY.PEEK). A message carrying a calendar REPLY from an attendee of one of our meetings is
recorded (panel.meetings.replies) and, once that is committed, marked read (\\Seen); nothing is
moved or deleted. Anything else — mail from people, bounces, out-of-office answers, a reply from
an address that is not on the meeting's list, or whose From is not the attendee it answers for —
is left unread for a person, and flagged with the keyword $PanelChecked (where the server allows
keywords) so the job does not read it again; it stays unread in every mail program.

It is idempotent: a reply is recorded once whatever reads it (panel.meetings.replies keys each
on meeting, attendee, SEQUENCE and DTSTAMP, with a unique constraint), so a message read twice,
or by two runs at once, or marked read after a failure, changes nothing the second time.
Without IMAP_SERVER it does nothing. IMAP_USE_SSL (the default) is TLS from the start, port 993;
without it, port 143, and STARTTLS whenever the server offers it.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import current_app

from panel.extensions import db
from panel.meetings import replies
from panel.models import utcnow

log = logging.getLogger(__name__)

CHECKED = "$PanelChecked"   # an IMAP keyword: looked at, not ours, left unread for a person
BATCH = 200                 # messages read in one run at most; the rest wait five minutes
TIMEOUT = 30                # seconds for the IMAP connection


def _quoted(name: str) -> str:
    """A mailbox name as an IMAP quoted string."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextlib.contextmanager
def connect(config: Any) -> Iterator[imaplib.IMAP4]:
    """Signed in to the organiser's mailbox, over TLS (from the start, or by STARTTLS when
    offered); signed out at the end."""
    host, port = config["IMAP_SERVER"], int(config["IMAP_PORT"])
    if config["IMAP_USE_SSL"]:
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(),
                                                timeout=TIMEOUT)
    else:
        imap = imaplib.IMAP4(host, port, timeout=TIMEOUT)
        if "STARTTLS" in imap.capabilities:
            imap.starttls(ssl.create_default_context())
    try:
        imap.login(config["IMAP_USERNAME"], config["IMAP_PASSWORD"])
        yield imap
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            imap.logout()


def _ok(answer: tuple[str, list]) -> list:
    kind, data = answer
    if kind != "OK":
        raise imaplib.IMAP4.error(f"the IMAP server answered {kind}")
    return data


def _keywords_allowed(imap: imaplib.IMAP4) -> bool:
    """Whether the folder keeps keywords of our own (PERMANENTFLAGS holds \\*)."""
    _, flags = imap.response("PERMANENTFLAGS")
    return any(item is not None and b"\\*" in (item if isinstance(item, bytes) else str(item).encode())
               for item in flags or [])


def _unread(imap: imaplib.IMAP4, keywords: bool) -> list[bytes]:
    criteria = ["UNSEEN", "UNKEYWORD", CHECKED] if keywords else ["UNSEEN"]
    data = _ok(imap.uid("SEARCH", *criteria))
    return b" ".join(d for d in data if d).split()


def _fetch(imap: imaplib.IMAP4, uid: bytes) -> bytes | None:
    """The whole message, without marking it read."""
    for item in _ok(imap.uid("FETCH", uid, "(BODY.PEEK[])")):
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    return None  # gone since the search (another mail program moved it)


def read_replies(now: datetime | None = None) -> dict[str, int]:
    """Job: record the calendar replies waiting in the organiser's mailbox; see the module.
    Side effects: CalendarReply rows, attendees' answers and their audit entries, committed
    message by message; messages recorded are marked \\Seen, others get the keyword $PanelChecked."""
    config = current_app.config
    if not config.get("IMAP_SERVER"):
        return {}
    counts = {outcome.value: 0 for outcome in replies.Outcome}
    with connect(config) as imap:
        _ok(imap.select(_quoted(config.get("IMAP_FOLDER") or "INBOX")))
        keywords = _keywords_allowed(imap)
        for uid in _unread(imap, keywords)[:BATCH]:
            raw = _fetch(imap, uid)
            if raw is None:
                continue
            outcome, reason = replies.take_message(raw, now=now or utcnow())
            counts[outcome.value] += 1
            if outcome == replies.Outcome.LEFT:
                db.session.rollback()
                log.info("calendar-replies: a message left unread: %s", reason)
                if keywords:
                    _ok(imap.uid("STORE", uid, "+FLAGS", f"({CHECKED})"))
                continue
            db.session.commit()
            _ok(imap.uid("STORE", uid, "+FLAGS", "(\\Seen)"))
    return {"recorded": counts["recorded"], "kept": counts["kept"], "outdated": counts["outdated"],
            "already recorded": counts["already"], "left unread": counts["left"]}
