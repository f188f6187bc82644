"""The audit trail's daily anchor: job "audit-anchor" (see panel/scheduler.py).

It appends the chain's head (entry count, last entry id, last hash), sealed with AUDIT_KEY, as
one JSON line to the file AUDIT_ANCHOR_PATH, a place the database cannot change (keep it on
another volume or machine, or ship it off the host), and emails the same line to AUDIT_MAILBOX.
`flask --app wsgi panel audit-verify` checks the trail against every line of that file.

Idempotent: a run that finds the head already anchored (the last line has the same count and
hash) writes and sends nothing; two runs at once are serialised by a lock on the file.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from flask import current_app

from panel import audit
from panel.extensions import db
from panel.models import utcnow
from panel.notify import queue_email


def write_anchor() -> dict[str, int | str]:
    path = Path(current_app.config["AUDIT_ANCHOR_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    head = audit.chain_head()
    with open(path, "a+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        anchors, _ = audit.read_anchors(path)
        last = anchors[-1] if anchors else None
        if last is not None and (last["count"], last["hash"]) == (head.count, head.hash):
            db.session.rollback()
            return {"anchored": 0, "count": head.count}
        line = json.dumps(audit.anchor_line(head, utcnow()), sort_keys=True)
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())
    mailbox = current_app.config.get("AUDIT_MAILBOX", "")
    if mailbox:
        queue_email(to=mailbox, subject=f"{current_app.config['SERVICE_NAME']} audit trail anchor",
                    body="The audit trail's head, for `flask --app wsgi panel audit-verify` to check against.\n"
                         "Keep this email: it lets the audit trail be checked if the anchor file is lost.\n\n"
                         f"{line}\n")
    db.session.commit()
    return {"anchored": 1, "count": head.count, "emailed": 1 if mailbox else 0}
