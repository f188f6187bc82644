"""The audit trail for administrators: a filtered, paginated page and a streamed CSV export."""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter
from typing import Iterator
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, redirect, render_template, request, stream_with_context, url_for

from panel import audit, csvsafe, pagination as paging
from panel.dates import DateRange
from panel.admin import bp
from panel.admin.audit_forms import ACTION_LABELS, AuditFilterForm
from panel.dates import LONDON
from panel.extensions import db
from panel.models import AuditAction, AuditEvent, User

PAGE_SIZE = 50
# rows per batch of the export: each read in a transaction of its own (a read: on SQLite a deferred
# one, beside the writer; panel/transactions.py), ended before the rows go out
EXPORT_BATCH = 20_000
QUOTE_ROWS = 1000  # rows of a batch quoted at a time (csvsafe.quoted_lines): their text stays in cache
CSV_HEADER = ("When (UTC)", "User email", "Action", "Object type", "Object ID", "Summary", "IP address", "User agent")


def _conditions(form: AuditFilterForm) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses for a valid filter form."""
    where: list[sa.ColumnElement[bool]] = []
    if form.user.data:
        # The people whose email contains the text (the users table is small; one query), then
        # their entries by user id: a substring match over millions of entries would read them
        # all. Given as values, one user's newest entries are read backwards along (user_id, id);
        # as a subquery PostgreSQL read all of them and sorted.
        users = list(db.session.scalars(sa.select(User.id).where(
            User.email.icontains(form.user.data.lower(), autoescape=True)).order_by(User.id)))
        where.append(AuditEvent.user_id.in_(users))
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
    # count(*): with no condition SQLite counts the table from its smallest index
    return db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(*where)).scalar_one()


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


def _below(key: ExportKey | tuple[sa.BindParameter, sa.BindParameter] | sa.BindParameter) -> list[sa.ColumnElement[bool]]:
    """The entries below the key: one upper bound on the id; or, by time, the time's bound
    (which the index on the time walks) and the (time, id) pair for the entries at that time.
    The key may be parameters (_bound_key), so one statement does for every batch."""
    if not isinstance(key, tuple):
        return [AuditEvent.id < key]
    at, below = key
    if not isinstance(at, sa.BindParameter):
        at, below = sa.literal(at, AuditEvent.occurred_at.type), sa.literal(below)
    return [AuditEvent.occurred_at <= at, sa.tuple_(AuditEvent.occurred_at, AuditEvent.id) < sa.tuple_(at, below)]


def _bound_key(by_time: bool) -> tuple[sa.BindParameter, sa.BindParameter] | sa.BindParameter:
    """The key as parameters, named as _key_params names their values."""
    below_id = sa.bindparam("below_id")
    return (sa.bindparam("below_at", type_=AuditEvent.occurred_at.type), below_id) if by_time else below_id


def _key_params(key: ExportKey) -> dict[str, object]:
    return {"below_at": key[0], "below_id": key[1]} if isinstance(key, tuple) else {"below_id": key}


def _order(before: ExportKey) -> tuple[sa.UnaryExpression, ...]:
    if isinstance(before, int):
        return (AuditEvent.id.desc(),)
    return (AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def _when_text(dialect: str) -> sa.ColumnElement[str]:
    """The entry's time as the text datetime.isoformat() makes of it, in SQL:
    2027-03-04T23:30:00.123456+00:00, without the fraction when it is nought. PostgreSQL holds it
    as a timestamp without time zone (UTC); SQLite as "2027-03-04 23:30:00.123456" (SQLAlchemy
    writes the six digits always), and the fraction nought, rare, is tested first, cheaply."""
    at = AuditEvent.occurred_at

    def text(sql: str) -> sa.ColumnElement[str]:
        return sa.literal_column(sql, sa.String)

    if dialect == "postgresql":  # the time's one ".000000+" is the fraction nought
        return sa.func.replace(sa.func.to_char(at, text("""'YYYY-MM-DD"T"HH24:MI:SS.US+00:00'"""), type_=sa.String),
                               text("'.000000+'"), text("'+'"), type_=sa.String)
    whole = sa.func.replace(sa.func.substr(at, text("1"), text("19"), type_=sa.String), text("' '"), text("'T'"),
                            type_=sa.String)
    return sa.case((at.op("GLOB", is_comparison=True)(text("'*.000000'")), whole + text("'+00:00'")),
                   else_=sa.func.replace(at, text("' '"), text("'T'"), type_=sa.String) + text("'+00:00'"))


def _texts(dialect: str) -> list[sa.ColumnElement[str]]:
    """The CSV_HEADER's columns as text, as stored but the time."""
    return [_when_text(dialect), AuditEvent.user_email, sa.type_coerce(AuditEvent.action, sa.String),
            AuditEvent.object_type, AuditEvent.object_id, AuditEvent.summary, AuditEvent.ip, AuditEvent.user_agent]


# which of them a spreadsheet might read as a formula (the time and the action, one of
# AuditAction's values, never start one)
_MAY_START_FORMULA = (False, True, False, True, True, True, True, True)


def _csv_lines(where: list[sa.ColumnElement[bool]], before: ExportKey) -> Iterator[bytes]:
    """Header then rows below the key `before`, newest first, in UTF-8, read in batches of
    EXPORT_BATCH so no transaction stays open long; a short batch is the last.

    Each batch ends its transaction before the rows go out (on SQLite a writer's holds the write
    lock). Each batch has one upper bound on the id (a second, fixed one would be the bound
    SQLite's plan uses, so every batch would walk down from the newest row: quadratic in the
    trail), so each starts where the last ended; by time, one upper bound on the time. The header
    goes with the first batch, whose end of transaction also ends what the request's last hooks
    began (nothing holds the lock while the first bytes wait on the network).

    The lines are the bytes csvsafe.line makes of the cells with csvsafe.formula_safe, as before
    issue 18, made another way (reading the rows as objects and writing them cell by cell took
    16 times the sqlite3 shell's dump of the same rows): the database makes each row's cells text
    and joins them in one value (csvsafe.joined_sql), read as the driver gives it (no row
    objects) with the row's id (and time) after it; csvsafe.quoted_lines then checks and quotes
    QUOTE_ROWS rows at a time, once the batch's transaction has ended, each part sent as soon as
    it is made: the text being worked on stays in the processor's cache (twice as fast as 20,000
    rows at once). One statement, its key bound as parameters, does for every batch.
    """
    dialect = db.session.get_bind().dialect.name
    by_time = not isinstance(before, int)
    texts = _texts(dialect)
    keys = (AuditEvent.id, AuditEvent.occurred_at) if by_time else (AuditEvent.id,)
    order = _order(before)
    statement = (sa.select(csvsafe.joined_sql(texts, dialect), *keys).where(*where, *_below(_bound_key(by_time)))
                 .order_by(*order).limit(EXPORT_BATCH))
    # the time of the batch's last entry as SQLAlchemy reads it, for the next batch's bound
    read_time = AuditEvent.occurred_at.type.dialect_impl(db.engine.dialect).result_processor(db.engine.dialect, None)
    params = _key_params(before)
    head = (csvsafe.BOM + csvsafe.line(CSV_HEADER)).encode()
    while True:
        result = db.session.connection().execute(statement, params)
        rows = result.cursor.fetchall()
        result.close()
        db.session.rollback()
        for start in range(0, max(len(rows), 1), QUOTE_ROWS):
            yield head + _quoted(rows[start:start + QUOTE_ROWS], texts, order)
            head = b""
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1]
        params = _key_params(((read_time(last[2]) if read_time else last[2]), last[1]) if by_time else last[1])


def _quoted(rows: list[tuple], texts: list[sa.ColumnElement[str]], order: tuple[sa.UnaryExpression, ...]) -> bytes:
    """Rows of (joined cells, id, ...) as CSV lines. When a cell starts a formula or holds one of
    the separators (csvsafe.quoted_lines says so), the entries are read again by id (the trail is
    never changed) cell by cell, in a transaction of their own, and written as formula_safe and
    csvsafe.line make them."""
    # the first cell is the time, as _when_text writes it: never a formula
    quoted = csvsafe.quoted_lines(list(map(itemgetter(0), rows)), len(texts), first_cells_safe=True)
    if quoted is not None:
        return quoted
    result = db.session.connection().execute(
        sa.select(*texts).where(AuditEvent.id.in_([row[1] for row in rows])).order_by(*order))
    lines = [csvsafe.line([csvsafe.formula_safe(cell) if may else cell
                           for cell, may in zip(cells, _MAY_START_FORMULA, strict=True)])
             for cells in result.cursor.fetchall()]
    result.close()
    db.session.rollback()
    return "".join(lines).encode()


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
    # with the lock held, "below the newest + 1" is every entry: counted without the bound, which
    # would make SQLite read the whole table instead of an index
    rows = _count([*where, *([] if before == newest + 1 else _below(before))])
    audit.record(AuditAction.EXPORT, "audit_events",
                 summary={"filters": form.filters(), "range": dates.summary(), "rows": rows})
    db.session.commit()
    return Response(
        stream_with_context(_csv_lines(where, before)),
        mimetype="text/csv",
        headers={"Content-Disposition": csvsafe.disposition("audit", today)},
    )
