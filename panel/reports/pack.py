"""The Board's report pack for a period: every report as a table of counts (with its totals),
protected by panel.reports.disclosure, together, so that a figure two tables share is shown or
withheld in both; and the same pack as the rows of a CSV file.

`open_report()` is what the pages call: it builds the pack and records the audit entry (a view
of the page, or an export of the CSV or the PDF). `build()` reads only.

Nothing about a person reaches a table: rows are agencies, weeks or fixed groups, and every
label is ours, never text someone typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from flask import current_app

from panel import audit
from panel.dates import govuk_date
from panel.models import (
    ActionStatus,
    AgeBand,
    AttendanceStatus,
    AuditAction,
    DeclineReason,
    Disability,
    LadderStep,
    OutcomeReview,
    RiskLevel,
    utcnow,
)
from panel.reports import disclosure, figures as figures_module, remembered
from panel.reports.disclosure import Count, Grid, Position
from panel.reports.figures import Figures, Stats
from panel.reports.periods import Period

NOT_RECORDED = "Not recorded"
T = TypeVar("T")

REFERRAL_OUTCOMES = (
    ("accepted", "Accepted"),
    ("declined_signposted", "Declined and signposted"),
    ("declined", "Declined, not signposted"),
    ("withdrawn", "Withdrawn"),
    ("waiting", "On the waiting list"),
    ("open", "Not yet decided"),
)
ACTION_OUTCOMES = (
    ("on_time", "Done by the due date"),
    ("late", "Done late"),
    (ActionStatus.NOT_POSSIBLE.value, "Not possible: circumstances changed"),
    (ActionStatus.NOT_DONE.value, "Not done by the agency"),
    (ActionStatus.CANCELLED.value, "Cancelled"),
    ("open", "Still open"),
)
RUNGS = (
    (LadderStep.REMINDER.value, "Reminder"),
    (LadderStep.OVERDUE.value, "Overdue notice"),
    (LadderStep.AGENCY.value, "To the escalation contact"),
    (LadderStep.CHAIR.value, "To the chair"),
    (LadderStep.MANUAL_AGENCY.value, "By hand, to the escalation contact"),
    (LadderStep.MANUAL_CHAIR.value, "By hand, to the chair"),
)
ATTENDANCE = (
    (AttendanceStatus.PRESENT.value, "Present"),
    (AttendanceStatus.APOLOGIES_WITH_UPDATE.value, "Apologies, written update sent"),
    (AttendanceStatus.APOLOGIES.value, "Apologies, no written update"),
    (AttendanceStatus.ABSENT.value, "Absent"),
    (None, NOT_RECORDED),
)
MSP = tuple((r.value, r.label) for r in OutcomeReview if r != OutcomeReview.OPEN)
EQUALITY = (
    ("age", "Age when referred", "Age band",
     [(b.value, b.label) for b in AgeBand if b != AgeBand.UNDER_18] + [("not_recorded", NOT_RECORDED)]),
    ("gender", "Gender", "Gender",
     [("female", "Female"), ("male", "Male"), ("non_binary", "Non-binary"), ("other", "Described in another way"),
      ("not_recorded", NOT_RECORDED)]),
    ("ethnicity", "Ethnicity", "Ethnic group",
     [("asian", "Asian or Asian British"), ("black", "Black, Black British, Caribbean or African"),
      ("mixed", "Mixed or multiple ethnic groups"), ("white", "White"),
      ("other", "Another ethnic group, or described in another way"), ("not_recorded", NOT_RECORDED)]),
    ("language", "First language", "First language",
     [("english", "English"), ("other", "Another language"), ("not_recorded", NOT_RECORDED)]),
    ("interpreter", "Interpreter needed", "Interpreter",
     [("needed", "Needs an interpreter"), ("not_needed", "Does not need an interpreter"),
      ("not_recorded", NOT_RECORDED)]),
    ("disability", "Disability, where recorded", "Disability",
     [(d.value, d.label) for d in Disability] + [("not_recorded", NOT_RECORDED)]),
)
NOT_SHOWN = "not shown (fewer than 5)"
NONE = "none"


@dataclass
class Table:
    """A report's counts with their totals, and the labels to read them by. `grid` holds what may
    be published once the pack is protected; the raw `values` never reach a page or a file."""

    key: str
    title: str
    row_heading: str
    rows: list[str]
    columns: list[str]
    values: list[list[int]]
    row_totals: bool = True
    column_totals: bool = True
    total_column: str = "All"          # the heading of the row totals
    total_row: str = "All"             # the label of the column totals
    # figures of the totals row shared with other tables: {column (the grand total: len(columns)): name}
    links: dict[int, str] = field(default_factory=dict)
    merge_into: str = ""               # when too few to protect, the smallest rows are merged into this
    extra_columns: list[str] = field(default_factory=list)    # figures that are not counts (days)
    extra_rows: list[list[str]] = field(default_factory=list)
    extra_total: list[str] = field(default_factory=list)
    empty: str = "There are none in this period."
    grid: Grid | None = None

    def protect(self, forced: Iterable[str] = ()) -> None:
        """Protect the counts; `forced` names linked figures another table withholds."""
        positions = [self.link_position(c) for c, name in self.links.items() if name in set(forced)]
        self.grid = disclosure.protect(self.values, columns=len(self.columns), row_totals=self.row_totals,
                                       column_totals=self.column_totals, forced=positions)

    def link_position(self, column: int) -> Position:
        return len(self.rows), column

    def linked(self) -> dict[str, Count]:
        """The shared figures as this table publishes them."""
        grid = self._grid()
        return {name: grid.at(self.link_position(c)) for c, name in self.links.items()}

    def merge_smallest(self) -> bool:
        """Merge the row with the fewest into `merge_into` (made from the two smallest the first
        time). False when there is nothing left to merge."""
        if not self.merge_into or len(self.rows) < 2:
            return False
        order = sorted(range(len(self.rows)), key=lambda i: (self.rows[i] != self.merge_into, sum(self.values[i]), i))
        if self.rows[order[0]] == self.merge_into:
            into, smallest = order[0], order[1]
        else:
            into, smallest = order[1], order[0]
        merged = [a + b for a, b in zip(self.values[into], self.values[smallest], strict=True)]
        for i in sorted((into, smallest), reverse=True):
            del self.values[i], self.rows[i]
            if self.extra_rows:
                del self.extra_rows[i]
        self.rows.append(self.merge_into)  # the merged row goes last
        self.values.append(merged)
        if self.extra_rows:
            self.extra_rows.append([NOT_SHOWN] * len(self.extra_columns))
        return True

    def _grid(self) -> Grid:
        assert self.grid is not None, "protect the pack first"
        return self.grid

    @property
    def head(self) -> list[str]:
        return [self.row_heading, *self.columns, *([self.total_column] if self.row_totals else []),
                *self.extra_columns]

    def body(self) -> list[tuple[str, list[Count], list[str]]]:
        """Each row: its label, its counts (and its total), and its other figures."""
        grid = self._grid()
        totals = grid.row_totals
        out = []
        for index, label in enumerate(self.rows):
            counts = list(grid.cells[index]) + ([totals[index]] if totals is not None else [])
            out.append((label, counts, self.extra_rows[index] if self.extra_rows else []))
        return out

    def totals(self) -> tuple[str, list[Count], list[str]] | None:
        grid = self._grid()
        if grid.column_totals is None:
            return None
        counts = list(grid.column_totals) + ([grid.grand_total] if grid.grand_total is not None else [])
        return self.total_row, counts, self.extra_total

    def all_rows(self) -> list[tuple[str, list[Count], list[str]]]:
        totals = self.totals()
        return self.body() + ([totals] if totals is not None else [])

    def table_rows(self) -> list[list]:
        """The rows as components/table.html's data_table takes them: the label, then each count
        (its text; "panel-suppressed" when protected), then the extra columns."""
        return [[label]
                + [{"text": c.text, "format": "numeric", "classes": "panel-suppressed" if c.suppressed else ""}
                   for c in counts]
                + [{"text": value, "format": "numeric"} for value in extras]
                for label, counts, extras in self.all_rows()]

    @property
    def counts(self) -> list[Count]:
        return list(self._grid().counts.values())

    @property
    def whole_table_withheld(self) -> bool:
        return self._grid().whole_table_withheld


@dataclass
class Section:
    key: str
    heading: str
    about: str
    tables: list[Table]


@dataclass
class Report:
    period: Period
    cap: int
    made_at: datetime
    sections: list[Section]
    weeks_places_label: str = ""
    # what is drawn from the report once (the page's sections, the charts), shared by every copy
    # of a remembered report (panel.reports.remembered)
    drawn: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def drawing(self, name: str, draw: Callable[[], T]) -> T:
        """draw(), once for this report."""
        if name not in self.drawn:
            self.drawn[name] = draw()
        return self.drawn[name]  # type: ignore[return-value]

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


# ---- building the tables -------------------------------------------------------------------


def _by_agency(counts: dict[tuple[int, str, str], int], columns: tuple[tuple[str, str], ...]) -> tuple[list[str], list[list[int]]]:
    """Rows by agency (by name), a column for each key in `columns`."""
    index = {key: i for i, (key, _) in enumerate(columns)}
    rows: dict[tuple[str, int], list[int]] = {}
    for (agency_id, name, key), n in counts.items():
        if key in index:
            rows.setdefault((name, agency_id), [0] * len(columns))[index[key]] += n
    ordered = sorted(rows)
    return [name for name, _ in ordered], [rows[k] for k in ordered]


def _referral_column(status: str, signposted: bool) -> str:
    if status == "declined":
        return "declined_signposted" if signposted else "declined"
    if status in ("accepted", "withdrawn", "waiting"):
        return status
    return "open"


def _referrals(f: Figures) -> tuple[Table, Table]:
    outcomes: dict[tuple[int, str, str], int] = {}
    declined: dict[tuple[str | None, bool], int] = {}
    for (agency_id, name, status, signposted, kind), n in f.outcomes.items():
        key = (agency_id, name, _referral_column(status, signposted))
        outcomes[key] = outcomes.get(key, 0) + n
        if status == "declined":
            declined[kind, signposted] = declined.get((kind, signposted), 0) + n
    rows, values = _by_agency(outcomes, REFERRAL_OUTCOMES)
    referrals = Table(
        key="referrals", title="Referrals received, by referring agency and outcome", row_heading="Referring agency",
        rows=rows, columns=[label for _, label in REFERRAL_OUTCOMES], values=values, total_column="All referrals",
        total_row="All agencies",
        links={len(REFERRAL_OUTCOMES): "referrals_received", 1: "declined_signposted", 2: "declined_not_signposted"},
        empty="No referrals were received in this period.", merge_into="Other agencies")
    kinds: list[DeclineReason | None] = [*DeclineReason, None]
    reasons = Table(
        key="declined", title="Referrals declined, by the kind of reason and whether signposting was given",
        row_heading="Kind of reason", rows=[k.label if k else NOT_RECORDED for k in kinds],
        columns=["Signposted", "Not signposted"],
        values=[[declined.get((k.value if k else None, True), 0), declined.get((k.value if k else None, False), 0)]
                for k in kinds],
        total_column="All declined", total_row="All kinds of reason",
        links={0: "declined_signposted", 1: "declined_not_signposted"}, merge_into="Other kinds of reason")
    return referrals, reasons


def _days(stats: Stats | None) -> list[str]:
    if stats is None or stats.number == 0:
        return [NONE] * 3
    if disclosure.is_small(stats.number) or stats.median is None:
        return [NOT_SHOWN] * 3
    median = f"{stats.median:g}"
    return [median, str(stats.shortest), str(stats.longest)]


def _durations(key: str, title: str, row_heading: str, groups: list[tuple[str, str]], stats: dict[str, Stats],
               counted: str, total_row: str, link: str | None = None) -> Table:
    return Table(
        key=key, title=title, row_heading=row_heading, rows=[label for _, label in groups], columns=[counted],
        values=[[stats[g].number if g in stats else 0] for g, _ in groups], row_totals=False, total_row=total_row,
        extra_columns=["Median (days)", "Shortest (days)", "Longest (days)"],
        extra_rows=[_days(stats.get(g)) for g, _ in groups], extra_total=_days(stats.get("all")),
        links={0: link} if link else {})


def _risk(f: Figures) -> Table:
    levels = list(RiskLevel)
    entries: list[RiskLevel | None] = [*levels] + ([None] if any(e is None for e, _ in f.risk) else [])
    values = [[f.risk.get((e.value if e else None, c.value), 0) for c in levels] for e in entries]
    return Table(
        key="risk", title="Cases closed: risk level when referred, against the risk level at closure",
        row_heading="Risk when referred", rows=[e.label if e else NOT_RECORDED for e in entries],
        columns=[f"{c.label} at closure" for c in levels], values=values, total_column="All",
        total_row="All closed cases", links={len(levels): "closed_cases"})


def _grouped(key: str, title: str, row_heading: str, groups: list[tuple[str, str]], counts: dict[str, int],
             column: str, total_row: str, link: str | None = None, keep_zero: Callable[[str], bool] = lambda g: True,
             merge_into: str = "") -> Table:
    shown = [(g, label) for g, label in groups if keep_zero(g) or counts.get(g, 0)]
    return Table(key=key, title=title, row_heading=row_heading, rows=[label for _, label in shown], columns=[column],
                 values=[[counts.get(g, 0)] for g, _ in shown], row_totals=False, total_row=total_row,
                 links={0: link} if link else {}, merge_into=merge_into)


def _equality(f: Figures) -> list[Table]:
    tables = []
    for heading, title, row_heading, groups in EQUALITY:
        counts = {group: n for (h, group), n in f.equality.items() if h == heading}
        if heading == "age" and counts.get(AgeBand.UNDER_18.value):
            groups = [(AgeBand.UNDER_18.value, AgeBand.UNDER_18.label), *groups]
        tables.append(_grouped(f"equality-{heading}", f"Referrals received, by {title[0].lower()}{title[1:]}",
                               row_heading, groups, counts, "Referrals", "All referrals", link="referrals_received",
                               merge_into="Other groups"))
    return tables


def _occupancy(f: Figures, cap: int) -> Table:
    return Table(
        key="occupancy", title=f"Places used at the end of each week (the cap is {cap}), and the waiting list",
        row_heading="Week", rows=[f"Week beginning {govuk_date(w.start)}" for w in f.weeks],
        columns=[f"Places used (of {cap})", "Waiting list"], values=[[w.places, w.waiting] for w in f.weeks],
        row_totals=False, column_totals=False)


def tables_for(f: Figures, cap: int) -> list[Section]:
    """Every report of the pack, in the order the page and the PDF give them."""
    referrals, reasons = _referrals(f)
    actions_rows, actions_values = _by_agency(f.actions, ACTION_OUTCOMES)
    rung_rows, rung_values = _by_agency(f.escalations, RUNGS)
    attendance: dict[tuple[int, str, str], int] = {(a, name, s or ""): n for (a, name, s), n in f.attendance.items()}
    attendance_columns = tuple((key or "", label) for key, label in ATTENDANCE)
    attendance_rows, attendance_values = _by_agency(attendance, attendance_columns)
    return [
        Section("occupancy", "Occupancy of the pathway",
                "How many of the pathway’s places were in use at the end of each week (open referrals and open "
                "cases, as the cap counts them), and how many referrals were waiting for a place.",
                [_occupancy(f, cap)]),
        Section("referrals", "Referrals by agency and outcome",
                "Referrals received in the period, by the agency that referred, with their outcome as it stood at "
                "the end of the period; then the declined referrals by the kind of reason given.",
                [referrals, reasons]),
        Section("time-to-decision", "Time from referral to decision",
                "Referrals accepted or declined in the period: the days from the referral to the decision.",
                [_durations("time-to-decision", "Days from referral to decision", "Decision", [("accepted", "Accepted"),
                            ("declined", "Declined")], f.decision_days, "Referrals decided", "All decisions")]),
        Section("time-in-pathway", "Time in the pathway",
                "Cases closed in the period: the days from acceptance into the pathway to closure.",
                [_durations("time-in-pathway", "Days in the pathway, cases closed in the period", "Closure",
                            [("risk_reduced", "Closed with the risk reduced"),
                             ("non_engagement", "Closed for non-engagement")], f.pathway_days, "Cases closed",
                            "All closed cases", link="closed_cases")]),
        Section("risk", "Risk at entry and at closure",
                "Cases closed in the period: the risk level the referral gave, against the risk level when the "
                "case closed.", [_risk(f)]),
        Section("repeat-referrals", "Repeat referrals",
                "People referred in the period, and how many of them were referred three or more times in twelve "
                "months.",
                [_grouped("repeat-referrals", "People referred, and repeat referrals", "People referred",
                          [("repeat", "Referred 3 or more times in 12 months"), ("other", "Referred fewer times")],
                          {"repeat": f.repeat_people, "other": f.other_people}, "People",
                          "All people referred")]),
        Section("actions", "Actions completed on time",
                "Actions due in the period, by the agency that owns them: done by the due date, done late, closed "
                "without being done (and why), or still open at the end of the period.",
                [Table(key="actions", title="Actions due in the period, by owning agency and what became of them",
                       row_heading="Agency", rows=actions_rows, columns=[label for _, label in ACTION_OUTCOMES],
                       values=actions_values, total_column="Actions due", total_row="All agencies",
                       empty="No actions were due in this period.", merge_into="Other agencies")]),
        Section("escalations", "Escalations",
                "Each rung of the escalation ladder taken in the period, by the agency that owns the action.",
                [Table(key="escalations", title="Rungs of the escalation ladder taken, by agency", row_heading="Agency",
                       rows=rung_rows, columns=[label for _, label in RUNGS], values=rung_values,
                       total_column="All rungs", total_row="All agencies",
                       empty="No reminders or escalations were sent in this period.", merge_into="Other agencies")]),
        Section("msp", "Making Safeguarding Personal outcomes",
                "The outcomes people wanted, in their own words, reviewed in the period.",
                [Table(key="msp", title="Outcomes reviewed, by whether they were achieved", row_heading="Outcomes",
                       rows=["Outcomes reviewed"], columns=[label for _, label in MSP],
                       values=[[f.msp.get(key, 0) for key, _ in MSP]], column_totals=False,
                       total_column="All reviewed")]),
        Section("attendance", "Attendance at panels",
                "Each agency’s attendance at the panels held in the period, as their finalised minutes record it.",
                [Table(key="attendance", title="Attendance at panels, by agency", row_heading="Agency",
                       rows=attendance_rows, columns=[label for _, label in ATTENDANCE], values=attendance_values,
                       total_column="Panels", total_row="All agencies",
                       empty="No panel held in this period has finalised minutes.", merge_into="Other agencies")]),
        Section("equality", "Equality monitoring",
                "Referrals received in the period, by the person’s age band when referred, and by gender, "
                "ethnicity, first language, interpreter need and disability as the referrer described them. What "
                "referrers typed is put into these groups; it is never shown.",
                _equality(f)),
    ]


def protect_all(tables: list[Table]) -> None:
    """Protect every table. A figure withheld in one table is withheld in every table that shows
    it too. A table whose counts are too few to protect at all (four counts of 1 under a total of
    4 can only be 1 each) has its smallest rows merged ("Other agencies") until it can be. Each
    table is protected again until nothing changes."""
    hidden: set[str] = set()
    while True:
        for table in tables:
            table.protect(hidden)
            while table.whole_table_withheld and table.merge_smallest():
                table.protect(hidden)
        now_hidden = {name for t in tables for name, figure in t.linked().items() if figure.suppressed}
        if now_hidden <= hidden:
            return
        hidden |= now_hidden


def build(period: Period) -> Report:
    """The whole pack for the period, protected (reads only)."""
    cap = int(current_app.config["CASE_CAP"])
    sections = tables_for(figures_module.compute(period), cap)
    report = Report(period=period, cap=cap, made_at=utcnow(), sections=sections)
    protect_all(report.tables)
    return report


def open_report(period: Period, *, output: str) -> Report:
    """The pack, for a page ("page"), a CSV file ("csv") or the PDF ("pdf"); audited as a view
    of the page or an export, with the period (one entry). Built once for each state of the
    records it counts (panel.reports.remembered), and made now."""
    cap = int(current_app.config["CASE_CAP"])
    report = replace(remembered.remember(("board", cap, period.start, period.end), lambda: build(period)),
                     made_at=utcnow())
    action = AuditAction.VIEW if output == "page" else AuditAction.EXPORT
    audit.record(action, "board_reports", period.slug(),
                 summary={"from": period.start.isoformat(), "to": period.end.isoformat(), "format": output})
    return report


def csv_rows(report: Report) -> list[list[str]]:
    """Every table of the pack as CSV rows: the marking first, then each table under its title.
    Counts read "<5" when fewer than 5, "withheld" when withheld."""
    out: list[list[str]] = [
        ["OFFICIAL-SENSITIVE"],
        ["Reports for the Safeguarding Adults Board", report.period.title],
        [f"Made {report.made_at.isoformat(timespec='seconds')}", "Counts of 1 to 4 read <5; a count that would let "
         "one be worked out reads withheld"],
    ]
    for section in report.sections:
        for table in section.tables:
            out.append([])
            out.append([section.heading, table.title])
            out.append(table.head)
            if table.whole_table_withheld:
                out.append(["This table is withheld: its figures are too few to publish safely"])
                continue
            if not table.rows:
                out.append([table.empty])
            for label, counts, extras in table.all_rows():
                out.append([label, *(c.csv for c in counts), *extras])
    return out
