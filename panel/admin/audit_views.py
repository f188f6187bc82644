"""The audit trail for administrators: a filtered, paginated page and a streamed CSV export."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Iterator
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, redirect, render_template, request, stream_with_context, url_for

from panel import audit, csvsafe, pagination as paging
from panel.dates import DateRange
from panel.admin import bp
from panel.admin.audit_forms import ACTION_LABELS, AuditFilterForm
from panel.csvsafe import formula_safe
from panel.dates import LONDON
from panel.extensions import db
from panel.models import AuditAction, AuditEvent, User

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
        # The people whose email contains the text (the users table is small), then their entries
        # by the indexed user id: a substring match over millions of entries would read them all.
        where.append(AuditEvent.user_id.in_(sa.select(User.id).where(
            User.email.icontains(form.user.data.lower(), autoescape=True))))
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


COUNT_CAP = 10_000  # the page counts this far: beyond it, "more than 10,000" (narrow with the filters)


def _capped_count(where: list[sa.ColumnElement[bool]]) -> tuple[int, bool]:
    """How many entries match, counted no further than COUNT_CAP (a trail of millions is not
    counted on every view), and whether there are more."""
    found = db.session.execute(sa.select(sa.func.count()).select_from(
        sa.select(AuditEvent.id).where(*where).limit(COUNT_CAP + 1).subquery())).scalar_one()
    return min(found, COUNT_CAP), found > COUNT_CAP


@bp.route("/audit")
def audit_log():
    form = AuditFilterForm(request.args)
    events: list[AuditEvent] = []
    total = page = pages = 0
    more = False
    pagination = None
    filters: dict[str, str] = {}
    if form.validate():
        filters = form.filters()
        where = _conditions(form)
        total, more = _capped_count(where)
        pages = max(1, -(-total // PAGE_SIZE))
        page = paging.page_number(pages)
        events = list(db.session.execute(
            sa.select(AuditEvent).where(*where).order_by(AuditEvent.id.desc())
            .limit(min(PAGE_SIZE, total - (page - 1) * PAGE_SIZE)).offset((page - 1) * PAGE_SIZE)
        ).scalars()) if total else []
        pagination = paging.pagination("admin.audit_log", page, pages, label="Audit trail pages", **filters)
    return render_template(
        "admin/audit_log.html",
        form=form,
        events=events,
        total=total,
        more=more,
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1,
        pagination=pagination,
        filtered=bool(filters),
        export_url=url_for("admin.export_audit", **filters),
        action_labels=ACTION_LABELS,
    )


# Where an export's next batch starts: below an id (every date, or other filters with the dates),
# or below a (time, id) on the index on the time (the dates alone).
ExportKey = int | tuple[datetime, int]


def _below(key: ExportKey) -> list[sa.ColumnElement[bool]]:
    """The entries below the key: one upper bound on the id; or, by time, the time's bound
    (which the index on the time walks) and the (time, id) pair for the entries at that time."""
    if isinstance(key, int):
        return [AuditEvent.id < key]
    at, below = key
    return [AuditEvent.occurred_at <= at, sa.tuple_(AuditEvent.occurred_at, AuditEvent.id) < sa.tuple_(
        sa.literal(at, AuditEvent.occurred_at.type), sa.literal(below))]


def _csv_lines(where: list[sa.ColumnElement[bool]], before: ExportKey) -> Iterator[str]:
    """Header then rows below the key `before`, newest first, read in batches so no
    transaction stays open long.

    SQLite transactions here begin IMMEDIATE (the write lock), so each batch ends its
    transaction before the rows go out. Each batch has one upper bound on the id (a second,
    fixed one would be the bound SQLite's plan uses, so every batch would walk down from the
    newest row: quadratic in the trail), so each starts where the last ended; by time, one
    upper bound on the time. The header goes with the first batch, whose end of transaction
    also ends what the request's last hooks began (nothing holds the lock while the first bytes
    wait on the network). A short batch is the last.
    """
    buffer = io.StringIO()
    buffer.write(csvsafe.BOM)
    writer = csvsafe.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    by_time = not isinstance(before, int)
    order = (AuditEvent.occurred_at.desc(), AuditEvent.id.desc()) if by_time else (AuditEvent.id.desc(),)
    writer.writerow(CSV_HEADER)
    while True:
        query = sa.select(*_CSV_COLUMNS).where(*where, *_below(before))
        batch = db.session.execute(query.order_by(*order).limit(EXPORT_BATCH)).all()
        db.session.rollback()
        for row in batch:
            writer.writerow([
                row.occurred_at.isoformat(), formula_safe(row.user_email), str(row.action), formula_safe(row.object_type),
                formula_safe(row.object_id), formula_safe(row.summary), formula_safe(row.ip), formula_safe(row.user_agent),
            ])
        yield take()
        if len(batch) < EXPORT_BATCH:
            return
        before = (batch[-1].occurred_at, batch[-1].id) if by_time else batch[-1].id


@bp.route("/audit.csv")
def export_audit():
    """The trail as filtered, as a spreadsheet (CSV), streamed newest first: the entries of the
    dates asked for (`from`, `to`), else of the last 12 months, or of every date with `all=y`.
    Audited as an export, with the filters, the dates and the rows, before the first row goes.

    Every date is read down the key. The dates alone are read down the index on the time, so
    only the dates' entries are read, however the ids run. With other filters too, their index
    gives the entries in id order, between the first and the last id of the dates.
    """
    form = AuditFilterForm(request.args)
    if not form.validate():
        query = urlencode(list(request.args.items(multi=True)))
        return redirect(url_for("admin.audit_log") + (f"?{query}" if query else ""))
    today = datetime.now(LONDON).date()
    dates = DateRange.of(form.date_from.data, form.date_to.data, everything=request.args.get("all") == "y",
                         today=today)
    start, end = dates.utc_bounds()
    where = _conditions(form)
    if dates.default:
        where.append(AuditEvent.occurred_at >= start)
    # Hold the audit chain's lock while counting, so the count and the rows streamed
    # afterwards are the same set: every entry up to the newest one now.
    audit._lock_chain()
    newest = db.session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar_one_or_none() or 0
    before: ExportKey = newest + 1
    if newest and (start is not None or end is not None):
        if set(form.filters()) <= {"from", "to"}:
            latest = db.session.execute(sa.select(sa.func.max(AuditEvent.occurred_at))).scalar_one()
            before = (latest, newest + 1)
        else:
            dated = [AuditEvent.occurred_at >= start] if start is not None else []
            if end is not None:
                dated.append(AuditEvent.occurred_at < end)
            first, last = db.session.execute(
                sa.select(sa.func.min(AuditEvent.id), sa.func.max(AuditEvent.id)).where(*dated)).one()
            where.append(AuditEvent.id >= (first or 0))
            before = min(newest, last or 0) + 1
    rows = _count([*where, *_below(before)])
    audit.record(AuditAction.EXPORT, "audit_events",
                 summary={"filters": form.filters(), "range": dates.summary(), "rows": rows})
    db.session.commit()
    return Response(
        stream_with_context(_csv_lines(where, before)),
        mimetype="text/csv",
        headers={"Content-Disposition": csvsafe.disposition("audit", today)},
    )
