"""When contact works: a case's engagement attempts, and those that worked, by day of the week
and time of day (London time), by agency and by method, with the charts drawn as accessible SVG.

How the figures are counted (exact, and bounded whatever the number of attempts):
- Every figure is a GROUP BY in SQL; no attempt rows are loaded. Three fixed queries.
- Day of the week and hour are London local time, converted in the database, per attempt:
  PostgreSQL with its time zone data (`timezone('Europe/London', timezone('UTC', occurred_at))`,
  occurred_at being naive UTC); SQLite, which has no time zone data, through a deterministic SQL
  function registered on the connection that converts with Python's zoneinfo. Both give one
  slot per attempt, (ISO weekday - 1) * 24 + local hour, so the query returns at most 7 x 24 = 168
  rows, which are folded into the four times of day here. An attempt at 09:30 in July (08:30 UTC)
  and one at 09:30 in January (09:30 UTC) land in the same slot, as they should.
- Night runs from 10pm to 6am; the hours after midnight count under the calendar day they fall
  on (2am on a Tuesday is Tuesday night).
- "Worked" means the outcome was engaged or partly engaged (EngagementOutcome.succeeded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from markupsafe import Markup, escape

from panel.dates import LONDON
from panel.extensions import db
from panel.models import Agency, EngagementAttempt, EngagementMethod, EngagementOutcome

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# key, label, first hour, hour after the last (night wraps past midnight)
PERIODS = (
    ("morning", "Morning (6am to midday)", 6, 12),
    ("afternoon", "Afternoon (midday to 5pm)", 12, 17),
    ("evening", "Evening (5pm to 10pm)", 17, 22),
    ("night", "Night (10pm to 6am)", 22, 6),
)
SUCCEEDED = tuple(o.value for o in EngagementOutcome if o.succeeded)
SQLITE_SLOT_FUNCTION = "panel_london_slot"


def period_of(hour: int) -> int:
    """The index in PERIODS of a local hour (0-23)."""
    for index, (_, _, start, end) in enumerate(PERIODS):
        if (start <= hour < end) if start < end else (hour >= start or hour < end):
            return index
    raise ValueError(hour)  # pragma: no cover - the periods cover the day


@dataclass
class Figure:
    label: str
    attempts: int = 0
    worked: int = 0

    def add(self, attempts: int, worked: int) -> None:
        self.attempts += attempts
        self.worked += worked

    @property
    def rate(self) -> str:
        """What share worked, as a whole percentage, or "No attempts"."""
        return f"{round(100 * self.worked / self.attempts)}%" if self.attempts else "No attempts"

    @property
    def words(self) -> str:
        return f"{self.worked} of {self.attempts}"


@dataclass
class Patterns:
    grid: list[list[Figure]]                 # [period][day]
    by_day: list[Figure]
    by_period: list[Figure]
    by_agency: list[Figure]
    by_method: list[Figure]
    total: Figure = field(default_factory=lambda: Figure("All attempts"))

    @property
    def days(self) -> tuple[str, ...]:
        return DAYS

    @property
    def periods(self) -> list[str]:
        return [label for _, label, _, _ in PERIODS]


# ---- the queries --------------------------------------------------------------------------


def _sqlite_slot(value: str | None) -> int | None:
    """SQLite stores UTCDateTime as naive UTC text ("2026-03-30 08:15:00.000000")."""
    if value is None:
        return None
    local = datetime.fromisoformat(str(value)).replace(tzinfo=timezone.utc).astimezone(LONDON)
    return local.weekday() * 24 + local.hour


def _slot_expression() -> sa.ColumnElement[int]:
    """(ISO weekday - 1) * 24 + hour, in London local time, for the current database."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        local = sa.func.timezone(LONDON.key, sa.func.timezone("UTC", EngagementAttempt.occurred_at))
        return sa.cast((sa.extract("isodow", local) - 1) * 24 + sa.extract("hour", local), sa.Integer)
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        raw.create_function(SQLITE_SLOT_FUNCTION, 1, _sqlite_slot, deterministic=True)
        return getattr(sa.func, SQLITE_SLOT_FUNCTION)(EngagementAttempt.occurred_at)
    raise RuntimeError(f"Panel supports SQLite and PostgreSQL, not {connection.dialect.name}")  # pragma: no cover


def _counts():
    worked = sa.func.sum(sa.case((EngagementAttempt.outcome.in_(SUCCEEDED), 1), else_=0))
    return sa.func.count(EngagementAttempt.id), worked


def patterns(case_id: int) -> Patterns:
    """The figures for one case, in three GROUP BY queries."""
    attempts, worked = _counts()
    slot = _slot_expression().label("slot")
    slots = db.session.execute(
        sa.select(slot, attempts, worked).where(EngagementAttempt.case_id == case_id).group_by(slot)).all()
    agencies = db.session.execute(
        sa.select(Agency.name, attempts, worked).join(Agency, Agency.id == EngagementAttempt.agency_id)
        .where(EngagementAttempt.case_id == case_id).group_by(Agency.id, Agency.name)
        .order_by(sa.desc(attempts), Agency.name)).all()
    methods = db.session.execute(
        sa.select(EngagementAttempt.method, attempts, worked).where(EngagementAttempt.case_id == case_id)
        .group_by(EngagementAttempt.method)).all()

    grid = [[Figure(f"{day}, {label.split(' (')[0].lower()}") for day in DAYS] for _, label, _, _ in PERIODS]
    by_day = [Figure(day) for day in DAYS]
    by_period = [Figure(label) for _, label, _, _ in PERIODS]
    total = Figure("All attempts")
    for slot_value, n, ok in slots:
        if slot_value is None:  # pragma: no cover - occurred_at is never null
            continue
        day, hour = divmod(int(slot_value), 24)
        period = period_of(hour)
        for figure in (grid[period][day], by_day[day], by_period[period], total):
            figure.add(n, int(ok or 0))
    counted = {EngagementMethod(m): (n, int(ok or 0)) for m, n, ok in methods}
    by_method = [Figure(m.label, *counted.get(m, (0, 0))) for m in EngagementMethod]
    return Patterns(grid=grid, by_day=by_day, by_period=by_period,
                    by_agency=[Figure(name, n, int(ok or 0)) for name, n, ok in agencies],
                    by_method=by_method, total=total)


# ---- the charts ---------------------------------------------------------------------------
# Server-side SVG: role="img" named by its <title> and <desc>, every number written as text
# beside its mark (colour never carries meaning alone), presentation attributes only (no
# style attributes, which the content security policy forbids).

FONT = 'font-family="arial, sans-serif"'
TEXT = "#0b0c0c"
ATTEMPT_FILL = "#505a5f"   # dark grey bar: attempts
WORKED_FILL = "#1d70b8"    # blue bar: worked
SHADES = ("#ffffff", "#e8f1f8", "#d2e2f1", "#bbd4ea", "#a5c6e3")


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="panel-chart" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" viewBox="0 0 {width} {height}" '
            f'width="100%" preserveAspectRatio="xMinYMin meet" {FONT}>'
            f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>')
    # bandit B704: text escaped above; the body is numbers
    return Markup(head + "".join(body) + "</svg>")  # nosec B704


def _busiest(figures: list[Figure]) -> str:
    busiest = max(figures, key=lambda f: (f.attempts, f.worked), default=None)
    if busiest is None or not busiest.attempts:
        return "There are no attempts yet."
    best = max((f for f in figures if f.attempts), key=lambda f: (f.worked / f.attempts, f.attempts))
    return (f"Most attempts: {busiest.label} ({busiest.attempts}, {busiest.worked} worked). "
            f"Best rate: {best.label} ({best.worked} of {best.attempts} worked).")


def day_time_chart(p: Patterns, chart_id: str = "chart-day-time") -> Markup:
    """A grid, days across and times of day down; each cell reads "worked of attempts"."""
    left, top, cell_w, cell_h = 130, 44, 70, 56
    width, height = left + cell_w * len(DAYS) + 10, top + cell_h * len(PERIODS) + 34
    most = max((f.attempts for row in p.grid for f in row), default=0)
    body: list[str] = []
    for d, day in enumerate(DAYS):
        x = left + d * cell_w + cell_w / 2
        body.append(f'<text x="{x}" y="{top - 14}" text-anchor="middle" font-size="15" fill="{TEXT}">{day[:3]}</text>')
    for r, (_, label, _, _) in enumerate(PERIODS):
        y = top + r * cell_h
        body.append(f'<text x="0" y="{y + cell_h / 2 + 5}" font-size="15" fill="{TEXT}">{escape(label.split(" (")[0])}</text>')
        for d in range(len(DAYS)):
            figure = p.grid[r][d]
            shade = SHADES[0] if not figure.attempts else SHADES[1 + min(3, (figure.attempts * 4 - 1) // max(most, 1))]
            x = left + d * cell_w
            body.append(f'<rect x="{x}" y="{y}" width="{cell_w - 4}" height="{cell_h - 4}" fill="{shade}" '
                        f'stroke="#505a5f" stroke-width="1"/>')
            body.append(f'<text x="{x + (cell_w - 4) / 2}" y="{y + (cell_h - 4) / 2 + 6}" text-anchor="middle" '
                        f'font-size="17" fill="{TEXT}">{figure.worked}/{figure.attempts}</text>')
    body.append(f'<text x="0" y="{height - 8}" font-size="14" fill="{TEXT}">Each box: attempts that worked / all '
                f'attempts. Darker boxes had more attempts.</text>')
    desc = ("Attempts to reach the person, and how many worked, by day of the week and time of day, UK time. "
            + _busiest([f for row in p.grid for f in row]) + " The same figures are in the table below.")
    return _svg(chart_id, width, height, "When contact works: by day and time of day", desc, body)


def bar_chart(figures: list[Figure], *, chart_id: str, title: str, what: str) -> Markup:
    """Two labelled bars per item: all attempts (grey) and those that worked (blue)."""
    bar_max, bar_h, block = 420, 18, 74
    width, height = 640, max(block * len(figures), 40) + 10
    most = max((f.attempts for f in figures), default=0) or 1
    body: list[str] = []
    if not figures:
        body.append(f'<text x="0" y="24" font-size="16" fill="{TEXT}">No attempts recorded yet.</text>')
    for i, figure in enumerate(figures):
        y = i * block
        body.append(f'<text x="0" y="{y + 16}" font-size="16" font-weight="bold" fill="{TEXT}">{escape(figure.label)}</text>')
        attempts = "attempt" if figure.attempts == 1 else "attempts"
        for j, (n, fill, words) in enumerate(((figure.attempts, ATTEMPT_FILL, attempts),
                                             (figure.worked, WORKED_FILL, "worked"))):
            by = y + 24 + j * (bar_h + 4)
            length = round(bar_max * n / most)
            if length:
                body.append(f'<rect x="0" y="{by}" width="{length}" height="{bar_h}" fill="{fill}"/>')
            body.append(f'<text x="{length + 6}" y="{by + 14}" font-size="15" fill="{TEXT}">{n} {words}</text>')
    desc = (f"Attempts to reach the person, and how many worked, by {what}. " + _busiest(figures)
            + " The same figures are in the table below.")
    return _svg(chart_id, width, height, title, desc, body)


def charts(p: Patterns) -> dict[str, Markup]:
    return {
        "day_time": day_time_chart(p),
        "agency": bar_chart(p.by_agency, chart_id="chart-agency", title="When contact works: by agency",
                            what="agency"),
        "method": bar_chart(p.by_method, chart_id="chart-method",
                            title="When contact works: by method", what="method"),
    }
