"""A case's chronology: its events and its referral's decisions as one timeline, newest first.

Two queries whatever the size of the case (a case of ten years holds thousands of entries):

- `summary`: one GROUP BY over both sources, by type and agency, with the agencies' names and
  the newest entry's time. It gives the agencies the filter offers, every count the page shows
  (the whole, or what the filters leave) and where the printable version's default dates end.
  The events are counted from the index on (case_id, kind, agency_id) (migration 0021), without
  reading their rows.
- `entries`: one page of the timeline. Each source is read newest first through its own index
  and cut at the page's end (offset + limit rows: the page's rows are among them), the two are
  merged and cut to the page, and only then are the agency, author and action names joined, for
  the page's rows only. Nothing sorts the whole timeline.

Referral decisions are not copied onto the case, so they are read from where they are; a
decision counts under the agency of the user who made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime

import sqlalchemy as sa

from panel.dates import DateRange, london_today
from panel.extensions import db
from panel.models import Action, Agency, Case, CaseEvent, ReferralDecision, User

REFERRAL = "referral"  # the type of a referral decision's entry


@dataclass(frozen=True)
class Filters:
    """What the chronology is cut to: a type, an agency, London dates (both inclusive)."""

    kind: str | None = None
    agency_id: int | None = None
    dates: DateRange | None = None


@dataclass
class Summary:
    counts: dict[tuple[str, int | None], int]   # (kind, agency id) -> entries
    agencies: list[tuple[int, str]]              # those with an entry, by name
    newest: datetime | None                      # the newest entry's time

    def total(self, kind: str | None = None, agency_id: int | None = None) -> int:
        """Entries of this type and agency (None: any), whatever their dates."""
        return sum(n for (k, a), n in self.counts.items()
                   if (kind is None or k == kind) and (agency_id is None or a == agency_id))

    def last_day(self) -> date:
        """The London date of the newest entry (today when there is none, or it is later)."""
        today = london_today()
        return min(london_today(self.newest), today) if self.newest else today


def summary(case: Case) -> Summary:
    """Counts by type and agency, the agencies' names and the newest entry, in one query."""
    rows = db.session.execute(_summary_statement(), {"case_id": case.id, "referral_id": case.referral_id}).all()
    result = Summary(counts={}, agencies=[], newest=None)
    names: dict[int, str] = {}
    for row in rows:
        result.counts[(row.kind, row.agency_id)] = result.counts.get((row.kind, row.agency_id), 0) + row.n
        if row.agency_id is not None and row.name is not None:
            names[row.agency_id] = row.name
        result.newest = max((t for t in (row.newest_event, row.newest_decision) if t is not None), default=None)
    result.agencies = sorted(names.items(), key=lambda item: (item[1], item[0]))
    return result


def entries(case: Case, filters: Filters, *, limit: int | None, offset: int = 0) -> list[sa.Row]:
    """One page of the timeline, newest first: at, kind, agency_id, by_id, summary, reason, source
    ('case' or 'referral'), row_id, ref_type, ref_id, agency_name, by_name, action_description.
    `limit` None: every entry the filters leave."""
    start, end = filters.dates.utc_bounds() if filters.dates is not None else (None, None)
    statement = _entries_statement(kind=filters.kind is not None, agency=filters.agency_id is not None,
                                   start=start is not None, end=end is not None, limited=limit is not None)
    values = {"case_id": case.id, "referral_id": case.referral_id, "kind": filters.kind,
              "agency_id": filters.agency_id, "start": start, "end": end}
    if limit is not None:
        values.update(arm_limit=offset + limit, page_limit=limit, page_offset=offset)
    return db.session.execute(statement, values).all()


# ---- the statements, built once for each shape (building them costs more than running them) ----


@lru_cache(maxsize=None)
def _summary_statement() -> sa.Select:
    events = (sa.select(CaseEvent.kind.label("kind"), CaseEvent.agency_id.label("agency_id"),
                        sa.func.count().label("n"))
              .where(CaseEvent.case_id == sa.bindparam("case_id")).group_by(CaseEvent.kind, CaseEvent.agency_id))
    decisions = (sa.select(sa.literal(REFERRAL, sa.String).label("kind"), User.agency_id.label("agency_id"),
                           sa.func.count().label("n"))
                 .select_from(ReferralDecision).outerjoin(User, User.id == ReferralDecision.by_id)
                 .where(ReferralDecision.referral_id == sa.bindparam("referral_id")).group_by(User.agency_id))
    counts = sa.union_all(events, decisions).subquery("counts")
    # the newest of each source, read from the end of its index (uncorrelated: evaluated once)
    newest_event = (sa.select(sa.func.max(CaseEvent.at)).where(CaseEvent.case_id == sa.bindparam("case_id"))
                    .scalar_subquery())
    newest_decision = (sa.select(sa.func.max(ReferralDecision.at))
                       .where(ReferralDecision.referral_id == sa.bindparam("referral_id")).scalar_subquery())
    return (sa.select(counts.c.kind, counts.c.agency_id, Agency.name, counts.c.n,
                      newest_event.label("newest_event"), newest_decision.label("newest_decision"))
            .outerjoin(Agency, Agency.id == counts.c.agency_id))


@lru_cache(maxsize=64)
def _entries_statement(*, kind: bool, agency: bool, start: bool, end: bool, limited: bool) -> sa.Select:
    """The page's statement for these filters; its values are bound when it runs: case_id,
    referral_id, kind, agency_id, start, end (UTC) and, when `limited`, arm_limit (offset + limit),
    page_limit and page_offset."""
    def dated(column) -> list[sa.ColumnElement[bool]]:
        return ([column >= sa.bindparam("start", type_=CaseEvent.at.type)] if start else []) + \
               ([column < sa.bindparam("end", type_=CaseEvent.at.type)] if end else [])

    arm_limit = sa.bindparam("arm_limit", type_=sa.Integer) if limited else None
    event_where = [CaseEvent.case_id == sa.bindparam("case_id"), *dated(CaseEvent.at)]
    if kind:
        event_where.append(CaseEvent.kind == sa.bindparam("kind", type_=sa.String))
    if agency:
        event_where.append(CaseEvent.agency_id == sa.bindparam("agency_id", type_=sa.Integer))
    events = (sa.select(
        CaseEvent.at.label("at"), CaseEvent.kind.label("kind"), CaseEvent.agency_id.label("agency_id"),
        CaseEvent.by_id.label("by_id"), CaseEvent.summary.label("summary"),
        sa.literal_column("''", sa.Text).label("reason"), sa.literal_column("'case'", sa.String).label("source"),
        CaseEvent.id.label("row_id"), CaseEvent.ref_type.label("ref_type"), CaseEvent.ref_id.label("ref_id"))
        .where(*event_where).order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(arm_limit).subquery("events"))
    decision_where = [ReferralDecision.referral_id == sa.bindparam("referral_id"), *dated(ReferralDecision.at)]
    if kind:  # a referral decision's type is "referral"
        decision_where.append(sa.bindparam("kind", type_=sa.String) == REFERRAL)
    if agency:
        decision_where.append(User.agency_id == sa.bindparam("agency_id", type_=sa.Integer))
    decisions = (sa.select(
        ReferralDecision.at.label("at"), sa.literal_column(f"'{REFERRAL}'", sa.String).label("kind"),
        User.agency_id.label("agency_id"), ReferralDecision.by_id.label("by_id"),
        ReferralDecision.outcome.label("summary"), ReferralDecision.reason.label("reason"),
        sa.literal_column(f"'{REFERRAL}'", sa.String).label("source"), ReferralDecision.id.label("row_id"),
        sa.literal_column("''", sa.String).label("ref_type"), sa.cast(sa.null(), sa.Integer).label("ref_id"))
        .select_from(ReferralDecision).outerjoin(User, User.id == ReferralDecision.by_id)
        .where(*decision_where).order_by(ReferralDecision.at.desc(), ReferralDecision.id.desc()).limit(arm_limit)
        .subquery("decisions"))
    both = sa.union_all(sa.select(events), sa.select(decisions)).subquery("timeline")
    page = sa.select(both).order_by(both.c.at.desc(), both.c.source, both.c.row_id.desc())
    if limited:
        page = page.limit(sa.bindparam("page_limit", type_=sa.Integer)).offset(
            sa.bindparam("page_offset", type_=sa.Integer))
    page = page.subquery("page")
    by = sa.orm.aliased(User)
    return (sa.select(page, Agency.name.label("agency_name"), by.name.label("by_name"),
                      Action.description.label("action_description"))
            .outerjoin(Agency, Agency.id == page.c.agency_id).outerjoin(by, by.id == page.c.by_id)
            .outerjoin(Action, sa.and_(page.c.ref_type == "action", Action.id == page.c.ref_id))
            .order_by(page.c.at.desc(), page.c.source, page.c.row_id.desc()))
