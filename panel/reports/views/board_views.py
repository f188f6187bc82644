"""Pages: the Board's reports (under /reports): the page for a period, every table as a CSV
file, and the report pack as an A4 PDF for the Board's papers. Board members, chairs and
coordinators (policy.ACCESS); every view and export is audited (panel.reports.pack.open_report).

The period comes from the stable address, /reports?from=YYYY-MM-DD&to=YYYY-MM-DD (the form's
day, month and year boxes are sent on to that address); with neither, the last complete quarter.
"""

from __future__ import annotations

import io

from flask import Blueprint, Response, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from panel import csvsafe
from panel.dates import london_today
from panel.extensions import db
from panel.meetings.pdf import pdf_response
from panel.models import utcnow
from panel.reports import charts, pack, periods
from panel.reports.board_forms import PeriodForm
from panel.reports.periods import Period

bp = Blueprint("reports", "panel.reports", url_prefix="/reports")


def _period(endpoint: str) -> tuple[PeriodForm, Period | None, Response | None]:
    """The form, and the period asked for (or the default); a redirect to the stable address
    when the dates came as boxes; no period when they are wrong (the form says why)."""
    today = london_today()
    args = request.args
    if "from" not in args and "to" not in args:
        period = periods.default(today)
        return PeriodForm(MultiDict(period.query()), today=today), period, None
    form = PeriodForm(args, today=today)
    if not form.validate():
        return form, None, None
    period = form.period()
    if args.getlist("from") != [period.start.isoformat()] or args.getlist("to") != [period.end.isoformat()] \
            or len(args) != 2:
        return form, period, redirect(url_for(endpoint, **period.query()))
    return form, period, None


def _charts(report: pack.Report) -> dict:
    return report.drawing("charts", lambda: charts.for_report(report))


def _sections(report: pack.Report) -> Markup:
    """Each report's chart and table, drawn once for a remembered report: nothing in them
    depends on who is looking or when."""
    html = render_template("reports/board_sections.html", report=report, charts=_charts(report))
    # bandit B704: a template's output, escaped by Jinja as it was drawn
    return Markup(html)  # nosec B704


@bp.route("")
def board_reports():
    form, period, moved = _period("reports.board_reports")
    if moved is not None:
        return moved
    today = london_today()
    report = pack.open_report(period, output="page") if period is not None else None
    html = render_template("reports/board.html", form=form, report=report, period=period,
                           presets=periods.presets(today),
                           sections=report.drawing("page", lambda: _sections(report)) if report is not None else None)
    db.session.commit()
    return html


@bp.route("/export.csv")
def export_csv():
    """Every table of the period, as protected on the page, with the marking on the first line."""
    form, period, moved = _period("reports.export_csv")
    if moved is not None:
        return moved
    if period is None:  # the page says what is wrong with the dates
        return redirect(f"{url_for('reports.board_reports')}?{request.query_string.decode('ascii', 'replace')}")
    report = pack.open_report(period, output="csv")
    buffer = io.StringIO()
    buffer.write(csvsafe.BOM)
    writer = csvsafe.writer(buffer)
    for row in pack.csv_rows(report):
        writer.writerow([csvsafe.formula_safe(cell) for cell in row])
    db.session.commit()
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": csvsafe.disposition(f"board-reports-{period.slug()}",
                                                                        london_today())})


@bp.route("/pack.pdf")
def report_pack():
    """The report pack for the Board's papers: A4, OFFICIAL-SENSITIVE on every page, tagged."""
    form, period, moved = _period("reports.report_pack")
    if moved is not None:
        return moved
    if period is None:  # the page says what is wrong with the dates
        return redirect(f"{url_for('reports.board_reports')}?{request.query_string.decode('ascii', 'replace')}")
    report = pack.open_report(period, output="pdf")
    html = render_template("reports/board_pack.html", report=report, period=period, charts=_charts(report),
                           printed_at=utcnow())
    db.session.commit()  # before the PDF is drawn: no transaction (SQLite's write lock) held meanwhile
    return pdf_response(html, f"board-reports-{period.slug()}.pdf")
