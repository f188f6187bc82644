"""Email outbox page: counts by state, failed emails and those waiting to retry; an admin can retry a failed one."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from panel.admin import bp
from panel.extensions import db
from panel.models import OutboxMessage, OutboxStatus
from panel.notify import messages_needing_attention, outbox_counts, retry

SHOWN = 200


@bp.route("/outbox")
def outbox():
    messages = messages_needing_attention(limit=SHOWN)
    return render_template(
        "admin/outbox.html",
        counts=outbox_counts(),
        failed=[m for m in messages if m.status == OutboxStatus.FAILED],
        retrying=[m for m in messages if m.status == OutboxStatus.PENDING],
        shown=SHOWN,
        keep_days=current_app.config["OUTBOX_KEEP_SENT_DAYS"],
    )


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
def retry_message(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    if message.status != OutboxStatus.FAILED:
        flash("That email has not failed, so there is nothing to retry.", "info")
        return redirect(url_for("admin.outbox"))
    retry(message, by=current_user._get_current_object())
    db.session.commit()  # delivery is attempted straight after this request
    # No address in the flash: it travels in the session cookie.
    flash("The email is back in the queue. If it cannot be sent it will be listed here again.", "success")
    return redirect(url_for("admin.outbox"))
