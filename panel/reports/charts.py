"""The Board's charts, drawn on the server as accessible SVG: role="img" named by its <title>
and <desc>, every number written as text beside its mark (colour never carries meaning alone),
presentation attributes only (the content security policy forbids style attributes), as the
case's pattern view draws them. The same figures are in the table beneath each chart.

Disclosure control holds here too: a chart draws only counts that may be shown. A count of 1 to
4 is a dashed outline up to 5 marked "fewer than 5" (its height says no more than its words);
a withheld count has no mark, only the word "withheld". Nothing in a title or description is
worked out from a suppressed count.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from panel.reports.disclosure import SMALLEST_SHOWN, Count, Shown
from panel.reports.pack import NONE, NOT_SHOWN, Report, Table

FONT = 'font-family="arial, sans-serif"'
TEXT = "#0b0c0c"
GRID = "#b1b4b6"
BAR = "#1d70b8"
SECOND = "#505a5f"
SHADES = ("#ffffff", "#e8f1f8", "#d2e2f1", "#bbd4ea", "#a5c6e3")
SAYS_SMALL = "Counts of 1 to 4 read “fewer than 5”."
SAME_IN_TABLE = "The same figures are in the table below."


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="panel-chart" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" viewBox="0 0 {width} {height}" '
            f'width="100%" preserveAspectRatio="xMinYMin meet" {FONT}>'
            f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>')
    # bandit B704: every text is escaped above or below; the rest is numbers
    return Markup(head + "".join(body) + "</svg>")  # nosec B704


def _text(x: float, y: float, words: str, *, size: int = 15, bold: bool = False, anchor: str = "start") -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{x:g}" y="{y:g}" font-size="{size}"{weight} text-anchor="{anchor}" fill="{TEXT}">'
            f'{escape(words)}</text>')


def _largest(table: Table) -> str:
    best: tuple[int, str] | None = None
    for label, counts, _ in table.body():
        for column, figure in zip(table.columns, counts, strict=False):
            if figure.number is not None and (best is None or figure.number > best[0]):
                name = label if len(table.columns) == 1 else f"{label}, {column.lower()}"
                best = (figure.number, name)
    if best is None or best[0] == 0:
        return "No count in it is 5 or more."
    return f"The largest figure shown is {best[0]:,} ({best[1]})."


def bars(table: Table, chart_id: str) -> Markup:
    """A bar for each count above zero in the body of the table, with its words beside it ("Accepted:
    7"): grouped under each row's name when the table has several columns. Zeros are in the table
    beneath; leaving them out keeps the chart short."""
    many = len(table.columns) > 1
    bar_max, bar_h, gap = 330, 18, 6
    rows = [(label, [(column if many else label, figure)
                     for column, figure in zip(table.columns, counts, strict=False) if figure.raw])
            for label, counts, _ in table.body()]
    lines = [(label, marks) for label, marks in rows if marks or many]
    height = sum((24 if many else 0) + max(len(marks), 1) * (bar_h + gap) for _, marks in lines) + 10
    shown = [figure.number for _, marks in lines for _, figure in marks if figure.number is not None]
    most = max([*shown, SMALLEST_SHOWN])
    body: list[str] = []
    y = 0
    for label, marks in lines:
        if many:
            body.append(_text(0, y + 16, label, size=16, bold=True))
            y += 24
        if not marks:
            body.append(_text(0, y + bar_h - 4, "None", size=14))
        for name, figure in marks:
            words, end = _bar(body, figure, 0, y, bar_h, bar_max, most)
            body.append(_text(end + 6, y + bar_h - 4, f"{name}: {words}", size=14))
            y += bar_h + gap
        if not marks:
            y += bar_h + gap
    if not lines:
        body.append(_text(0, 24, "Every count is zero." if table.rows else table.empty, size=16))
        height = 40
    desc = f"{table.title}, counts above zero. {_largest(table)} {SAYS_SMALL} {SAME_IN_TABLE}"
    return _svg(chart_id, 640, height, table.title, desc, body)


def _bar(body: list[str], figure: Count, x: float, y: float, height: float, longest: float, most: int
         ) -> tuple[str, float]:
    """Draw one count's bar; returns its words and where the bar ends."""
    if figure.state == Shown.SMALL:
        length = longest * SMALLEST_SHOWN / most
        body.append(f'<rect x="{x:g}" y="{y:g}" width="{length:.1f}" height="{height:g}" fill="none" '
                    f'stroke="{SECOND}" stroke-width="1.5" stroke-dasharray="4 3"/>')
        return figure.text, x + length
    if figure.state == Shown.WITHHELD:
        return figure.text, x
    length = longest * (figure.number or 0) / most
    if length:
        body.append(f'<rect x="{x:g}" y="{y:g}" width="{length:.1f}" height="{height:g}" fill="{BAR}"/>')
    return figure.text, x + length


def weekly(table: Table, cap: int, chart_id: str) -> Markup:
    """Places used at the end of each week against the cap (a dashed line), and the waiting list
    beneath: a bar a week, its number above it when there is room."""
    weeks = table.body()
    left, right, plot_h, gap = 44, 630, 170, 70
    width, height = 640, 2 * plot_h + gap + 70
    plot_w = right - left
    slot = plot_w / max(len(weeks), 1)
    numbers = len(weeks) <= 26
    shown = [c.number for _, counts, _ in weeks for c in counts if c.number is not None]
    top = max([cap, SMALLEST_SHOWN, *shown])
    body: list[str] = []
    for panel, (column, y0) in enumerate(((0, 30), (1, 30 + plot_h + gap))):
        name = table.columns[column]
        body.append(_text(0, y0 - 12, name, size=15, bold=True))
        for tick in _ticks(top):
            ty = y0 + plot_h - plot_h * tick / top
            body.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{right}" y2="{ty:.1f}" stroke="{GRID}" stroke-width="1"/>')
            body.append(_text(left - 6, ty + 5, str(tick), size=13, anchor="end"))
        if panel == 0:
            cy = y0 + plot_h - plot_h * cap / top
            body.append(f'<line x1="{left}" y1="{cy:.1f}" x2="{right}" y2="{cy:.1f}" stroke="{TEXT}" '
                        f'stroke-width="2" stroke-dasharray="8 4"/>')
            body.append(_text(right, cy - 6, f"Cap: {cap} places", size=13, anchor="end"))
        for i, (_, counts, _) in enumerate(weeks):
            figure = counts[column]
            x = left + i * slot + slot * 0.15
            w = slot * 0.7
            value = SMALLEST_SHOWN if figure.state == Shown.SMALL else (figure.number or 0)
            h = plot_h * value / top
            y = y0 + plot_h - h
            if figure.state == Shown.SMALL:
                body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="none" '
                            f'stroke="{SECOND}" stroke-width="1.5" stroke-dasharray="4 3"/>')
            elif h:
                body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                            f'fill="{BAR if column == 0 else SECOND}"/>')
            if numbers:
                words = "<5" if figure.state == Shown.SMALL else ("–" if figure.suppressed else str(figure.number))
                body.append(_text(x + w / 2, y - 4, words, size=12, anchor="middle"))
    every = max(1, math.ceil(len(weeks) / 7))
    for i, (label, _, _) in enumerate(weeks):
        if i % every == 0:
            x = left + i * slot + slot / 2
            body.append(_text(x, height - 22, label.removeprefix("Week beginning ").rsplit(" ", 1)[0], size=12,
                              anchor="middle"))
    body.append(_text(left, height - 4, "Weeks, by the day each began. “<5”: fewer than 5.", size=12))
    desc = (f"Places used at the end of each week against the cap of {cap}, and the waiting list, over "
            f"{len(weeks)} weeks. " + _peak(weeks, 0, "places used") + " " + _peak(weeks, 1, "on the waiting list")
            + f" {SAYS_SMALL} {SAME_IN_TABLE}")
    return _svg(chart_id, width, height, table.title, desc, body)


def _ticks(top: int) -> list[int]:
    step = 5 if top <= 30 else 10 * math.ceil(top / 60)
    return list(range(0, top + 1, step))


def _peak(weeks: list, column: int, what: str) -> str:
    shown = [(counts[column].number, label) for label, counts, _ in weeks if counts[column].number]
    if not shown:
        return f"No week shows 5 or more {what}."
    most, label = max(shown, key=lambda pair: pair[0])
    return f"Most {what}: {most}, in the {label[0].lower()}{label[1:]}."


def grid(table: Table, chart_id: str) -> Markup:
    """A grid of boxes, rows against columns (risk when referred against risk at closure), each
    box with its count; darker boxes hold more."""
    left, top, cell_w, cell_h = 170, 54, 110, 48
    rows = table.body()
    width = left + cell_w * len(table.columns) + 10
    height = top + cell_h * max(len(rows), 1) + 30
    shown = [c.number for _, counts, _ in rows for c in counts[:len(table.columns)] if c.number]
    most = max(shown, default=0)
    body: list[str] = [_text(left, 16, "At closure", size=14, bold=True)]
    for c, column in enumerate(table.columns):
        body.append(_text(left + c * cell_w + cell_w / 2, top - 12, column.split(" at ")[0], size=14, anchor="middle"))
    for r, (label, counts, _) in enumerate(rows):
        y = top + r * cell_h
        body.append(_text(0, y + cell_h / 2 + 5, label, size=14))
        for c in range(len(table.columns)):
            figure = counts[c]
            number = figure.number or 0
            shade = SHADES[0] if not number or not most else SHADES[1 + min(3, (number * 4 - 1) // most)]
            x = left + c * cell_w
            dash = ' stroke-dasharray="4 3"' if figure.suppressed else ""
            body.append(f'<rect x="{x}" y="{y}" width="{cell_w - 4}" height="{cell_h - 4}" fill="{shade}" '
                        f'stroke="{SECOND}" stroke-width="1"{dash}/>')
            body.append(_text(x + (cell_w - 4) / 2, y + (cell_h - 4) / 2 + 5, figure.text, size=14, anchor="middle"))
    body.append(_text(0, height - 8, "Rows: risk when referred. Darker boxes hold more cases.", size=12))
    desc = f"{table.title}. {_largest(table)} {SAYS_SMALL} {SAME_IN_TABLE}"
    return _svg(chart_id, width, height, table.title, desc, body)


def ranges(table: Table, chart_id: str) -> Markup:
    """For each group: a line from the shortest to the longest, and a dot at the median, in days."""
    rows = [(label, extras) for label, _, extras in table.body()]
    total = table.totals()
    if total is not None:
        rows.append((total[0], total[2]))
    left, bar_max, block = 0, 520, 56
    width, height = 640, block * len(rows) + 30
    values = [float(x) for _, extras in rows for x in extras if x not in (NONE, NOT_SHOWN)]
    most = max(values, default=1) or 1
    body: list[str] = []
    for i, (label, extras) in enumerate(rows):
        y = i * block
        body.append(_text(0, y + 16, label, size=15, bold=True))
        if extras[0] in (NONE, NOT_SHOWN):
            body.append(_text(0, y + 38, "None" if extras[0] == NONE else "Not shown: fewer than 5", size=14))
            continue
        median, shortest, longest = (float(x) for x in extras)
        x1, x2, xm = (left + bar_max * v / most for v in (shortest, longest, median))
        body.append(f'<line x1="{x1:.1f}" y1="{y + 32}" x2="{x2:.1f}" y2="{y + 32}" stroke="{SECOND}" stroke-width="4"/>')
        body.append(f'<circle cx="{xm:.1f}" cy="{y + 32}" r="7" fill="{BAR}" stroke="{TEXT}" stroke-width="1"/>')
        body.append(_text(min(x2 + 10, 540), y + 37,
                          f"median {extras[0]}, {extras[1]} to {extras[2]} days", size=13))
    body.append(_text(0, height - 6, "Line: shortest to longest. Dot: the median (days).", size=12))
    desc = (f"{table.title}: the median, shortest and longest, in days, for each group with 5 or more; fewer "
            f"are not shown. {SAME_IN_TABLE}")
    return _svg(chart_id, width, height, table.title, desc, body)


def for_report(report: Report) -> dict[str, Markup]:
    """A chart for every table of the pack, by the table's key."""
    out: dict[str, Markup] = {}
    for table in report.tables:
        chart_id = f"chart-{table.key}"
        if table.whole_table_withheld:
            continue
        if table.key == "occupancy":
            out[table.key] = weekly(table, report.cap, chart_id)
        elif table.key == "risk":
            out[table.key] = grid(table, chart_id)
        elif table.extra_columns:
            out[table.key] = ranges(table, chart_id)
        else:
            out[table.key] = bars(table, chart_id)
    return out
