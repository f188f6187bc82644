"""The audit trail for administrators: a filtered, paginated page and a streamed CSV export."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Iterator
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, redirect, render_template, request, stream_with_context, url_for

from panel import audit, csvsafe, pagination as paging
from panel.admin import bp
from panel.admin.audit_forms import ACTION_LABELS, AuditFilterForm
from panel.csvsafe import formula_safe
from panel.dates import LONDON
from panel.extensions import db
from panel.models import AuditAction, AuditEvent

PAGE_SIZE = 50
EXPORT_BATCH = 1000
CSV_HEADER = ("When (UTC)", "User email", "Action", "Object type", "Object ID", "Summary", "IP address", "User agent")
_CSV_COLUMNS = (AuditEvent.id, AuditEvent.occurred_at, AuditEvent.user_email, AuditEvent.action,
                AuditEvent.object_type, AuditEvent.object_id, AuditEvent.summary, AuditEvent.ip,
                AuditEvent.user_agent)
# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).


def _conditions(form: AuditFilterForm) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses for a valid filter form."""
    where: list[sa.ColumnElement[bool]] = []
    if form.user.data:
        where.append(AuditEvent.user_email.icontains(form.user.data.lower(), autoescape=True))
    if form.action.data:
        where.append(AuditEvent.action == AuditAction(form.action.data))
    if form.object_type.data:
        where.append(AuditEvent.object_type == form.object_type.data)
    if form.object_id.data:
        where.append(AuditEvent.object_id == form.object_id.data)
    if (start := form.start_utc()) is not None:
        where.append(AuditEvent.occurred_at >= start)
    if (end := form.end_utc()) is not None:
        where.append(AuditEvent.occurred_at < end)
    return where


def _count(where: list[sa.ColumnElement[bool]]) -> int:
    return db.session.execute(sa.select(sa.func.count(AuditEvent.id)).where(*where)).scalar_one()


@bp.route("/audit")
def audit_log():
    form = AuditFilterForm(request.args)
    events: list[AuditEvent] = []
    total = page = pages = 0
    pagination = None
    filters: dict[str, str] = {}
    if form.validate():
        filters = form.filters()
        where = _conditions(form)
        total = _count(where)
        pages = max(1, -(-total // PAGE_SIZE))
        page = paging.page_number(pages)
        events = list(db.session.execute(
            sa.select(AuditEvent).where(*where).order_by(AuditEvent.id.desc())
            .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        ).scalars())
        pagination = paging.pagination("admin.audit_log", page, pages, label="Audit trail pages", **filters)
    return render_template(
        "admin/audit_log.html",
        form=form,
        events=events,
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1,
        pagination=pagination,
        filtered=bool(filters),
        export_url=url_for("admin.export_audit", **filters),
        action_labels=ACTION_LABELS,
    )


def _csv_lines(where: list[sa.ColumnElement[bool]], before: int) -> Iterator[str]:
    """Header then rows with ids below `before`, newest first, read in batches so no
    transaction stays open long.

    SQLite transactions here begin IMMEDIATE (the write lock), so each batch ends its
    transaction before the rows go out. Each batch has one upper bound on the id (a second,
    fixed one would be the bound SQLite's plan uses, so every batch would walk down from the
    newest row: quadratic in the trail), so each starts where the last ended.
    """
    buffer = io.StringIO()
    buffer.write(csvsafe.BOM)
    writer = csvsafe.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield take()
    while True:
        query = sa.select(*_CSV_COLUMNS).where(*where, AuditEvent.id < before)
        batch = db.session.execute(query.order_by(AuditEvent.id.desc()).limit(EXPORT_BATCH)).all()
        db.session.rollback()
        if not batch:
            return
        for row in batch:
            writer.writerow([
                row.occurred_at.isoformat(), formula_safe(row.user_email), str(row.action), formula_safe(row.object_type),
                formula_safe(row.object_id), formula_safe(row.summary), formula_safe(row.ip), formula_safe(row.user_agent),
            ])
        yield take()
        before = batch[-1].id


@bp.route("/audit.csv")
def export_audit():
    form = AuditFilterForm(request.args)
    if not form.validate():
        query = urlencode(list(request.args.items(multi=True)))
        return redirect(url_for("admin.audit_log") + (f"?{query}" if query else ""))
    where = _conditions(form)
    # Hold the audit chain's lock while counting, so the count and the rows streamed
    # afterwards are the same set: every entry up to the newest one now.
    audit._lock_chain()
    newest = db.session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar_one_or_none() or 0
    rows = _count([*where, AuditEvent.id <= newest])
    audit.record(AuditAction.EXPORT, "audit_events", summary={"filters": form.filters(), "rows": rows})
    db.session.commit()
    return Response(
        stream_with_context(_csv_lines(where, newest + 1)),
        mimetype="text/csv",
        headers={"Content-Disposition": csvsafe.disposition("audit", datetime.now(LONDON).date())},
    )
