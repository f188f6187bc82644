"""Everything the service holds about one person, gathered for a subject-access request.

`gather(person_id, now=...)` reads the database and writes nothing. It returns the bundle as
plain, JSON-ready data (the release's PDF and JSON file are both drawn from it, so they hold the
same content): sections with plain-English headings, each a list of entries, each a list of
fields. A field the coordinator must review for third-party information (free text) carries a
`key`, "<kind>:<id>:<field>" (ids and field names only), by which it is withheld.

What it holds: the person record; every referral (with the details as the referrer gave them,
the agencies named, and every decision on it); every case (its record, agencies, risk history,
staff-safety warnings, engagement log, insight versions, outcomes, chronology); every action on
their cases with its updates and escalations; the meetings where they were an agenda item, with
THEIR item's minutes only (from the finalised record where there is one), never another
person's; and the audit trail's entries about their person record, referrals, cases, actions
and subject-access requests (who looked at or changed them, and when).

A fixed number of queries whatever the amount of data (lists are read with subqueries on the
person, or by the lists of ids of their cases, referrals and agenda items read first; never one
query per row).
"""

from __future__ import annotations

import collections
import functools
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from panel.cases.services import INSIGHT_QUESTIONS
from panel.dates import govuk_date, govuk_datetime
from panel.extensions import db
from panel.meetings.record import item_title
from panel.models import (
    Action,
    ActionUpdate,
    Agency,
    AgendaItem,
    AuditAction,
    AuditEvent,
    Case,
    CaseEvent,
    EngagementAttempt,
    Escalation,
    InsightVersion,
    Involvement,
    Meeting,
    MeetingKind,
    MeetingStatus,
    MinutesAmendment,
    MinutesSnapshot,
    Need,
    Person,
    PersonalOutcome,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RiskChange,
    StaffSafetyFlag,
    SubjectAccessRequest,
    User,
)
from panel.referrals.linking import PERSON_LABELS

VERSION = 1
TITLE = "Information we hold about you"
TRAIL = "Who has looked at or changed your records"  # the heading of the audit trail's section

AUDIT_WORDS = {
    AuditAction.VIEW: "Looked at it",
    AuditAction.CREATE: "Created it",
    AuditAction.UPDATE: "Changed it",
    AuditAction.DELETE: "Deleted it",
    AuditAction.EXPORT: "Printed or downloaded it",
    AuditAction.DENIED: "Asked to see it and was refused",
}


# ---- building blocks ------------------------------------------------------------------------


def _field(name: str, label: str, value: Any, key: str = "") -> dict[str, str] | None:
    """One labelled value as text; None when there is nothing to show."""
    if type(value) is str:  # most values: tested first, as the bundle writes thousands of fields
        if not value:
            return None
        text = value
    elif value is None or value == []:
        return None
    elif isinstance(value, bool):
        text = "Yes" if value else "No"
    elif isinstance(value, datetime):
        text = govuk_datetime(value)
    elif isinstance(value, date):
        text = govuk_date(value)
    elif isinstance(value, (list, tuple)):
        text = "\n".join(str(v) for v in value if v)
    else:
        text = str(value)
    out = {"name": name, "label": label, "value": text}
    if key:
        out["key"] = key
    return out


def _text(kind: str, row_id: int, name: str, label: str, value: Any) -> dict[str, str] | None:
    """Free text written by staff or others: listed for the coordinator to review."""
    return _field(name, label, value, key=f"{kind}:{row_id}:{name}")


def _entry(heading: str, when: date | datetime | None, *fields: dict | None) -> dict[str, Any]:
    return {"heading": heading, "date": when.isoformat() if when is not None else None,
            "fields": [f for f in fields if f is not None]}


def _section(key: str, heading: str, intro: str, empty: str, entries: list[dict], *,
             layout: str = "entries") -> dict[str, Any]:
    """A section; a "table" one also names its columns (every field any entry has, in order)."""
    section = {"key": key, "heading": heading, "intro": intro, "empty": empty, "layout": layout, "entries": entries}
    if layout == "table":
        columns: dict[str, str] = {}
        for entry in entries:
            for item in entry["fields"]:
                columns.setdefault(item["name"], item["label"])
        section["columns"] = [{"name": name, "label": label} for name, label in columns.items()]
    return section


def _nhs(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}" if len(number) == 10 else number


def _need(value: str) -> str:
    try:
        return Need(value).label
    except ValueError:
        return value


def _person_fields(person: Person) -> list[dict | None]:
    """The person record's details: those a referral copies (PERSON_LABELS), then what is recorded
    on the person record only (disability, for equality monitoring, where recorded)."""
    values = {name: getattr(person, name) for name in PERSON_LABELS}
    values["nhs_number"] = _nhs(person.nhs_number or "")
    fields = [_field(name, label, values[name]) for name, label in PERSON_LABELS.items()]
    fields.append(_field("disability", "Disability", person.disability.label if person.disability else None))
    return fields


# ---- reading ------------------------------------------------------------------------------------


_ENTITIES = ("referrals", "cases")  # read as objects (their agencies and copies of the person)
_PAIRS = ("items",)                 # agenda items with their meetings, as objects


# What each section is drawn from, for a page that shows one entry (gather(..., entry=...)): the
# statements, then the kinds of record of the union (_RECORD_KINDS). The referrals and the cases
# are always read: the headings name them.
_BASE = ("referrals", "cases")
_NEEDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "referrals": ((*_BASE, "involvements"), ()),
    "decisions": (_BASE, ("decisions",)),
    "cases": ((*_BASE, "involvements"), ()),
    "risk": (_BASE, ("risks",)),
    "staff_safety": (_BASE, ("flags",)),
    "engagement": (_BASE, ("engagement",)),
    "insight": (_BASE, ("insight",)),
    "outcomes": (_BASE, ("outcomes",)),
    "actions": (_BASE, ("actions", "updates")),
    "escalations": (_BASE, ("escalations",)),
    "meetings": ((*_BASE, "items", "snapshots"), ("amendments",)),
    "timeline": (_BASE, ("events",)),
}
# the section holding the free text of each kind of record (the first part of an entry's key)
SECTION_OF = {
    "referral": "referrals", "referral_decision": "decisions", "case": "cases", "risk_change": "risk",
    "staff_safety_flag": "staff_safety", "engagement_attempt": "engagement", "insight_version": "insight",
    "personal_outcome": "outcomes", "action": "actions", "action_update": "actions", "escalation": "escalations",
    "meeting": "meetings", "agenda_item": "meetings", "minutes_amendment": "meetings", "case_event": "timeline",
}


def _read(person_id: int, trail: bool = True, section: str = "") -> dict[str, Any]:
    """Every row the bundle needs, in a few statements. The referrals, the cases and the
    agenda items are read as objects; the agencies involved in the referrals and the cases are
    read together (one statement); every other kind of record is read as plain rows, all kinds
    in one UNION ALL statement (see _records). At ten years, loading objects took most of the
    time of the subject-access pages, and on PostgreSQL, which plans each statement afresh,
    planning a statement a kind of record took longer than running them."""
    s = db.session
    s.flush()  # the plain rows are read on the session's connection, which does not flush
    connection = s.connection()
    params = {"person_id": person_id}
    rows: dict[str, Any] = {name: [] for name in (*_statements(), *_RECORD_KINDS)}
    wanted, kinds = _NEEDS[section] if section else (tuple(_statements()), _RECORD_KINDS)
    for name, statement in _statements().items():
        if name not in wanted or name == "audit" and not trail:
            continue
        if name in _ENTITIES:
            rows[name] = list(s.scalars(statement, params))
        elif name in _PAIRS:
            rows[name] = list(s.execute(statement, params))
        else:
            rows[name] = connection.execute(statement, params).all()
    if kinds:
        # the union's branches look up the person's records by the ids read above (the
        # referrals and the cases are always read; the agenda items when the amendments are)
        statement, shapes = _records(kinds)
        ids = {"case_ids": [c.id for c in rows["cases"]], "referral_ids": [r.id for r in rows["referrals"]],
               "item_ids": [item.id for item, _ in rows["items"]]}
        rows.update(_records_read(connection.execute(statement, ids), shapes))
    involved: dict[tuple[str, int], list[str]] = {}
    for referral_id, case_id, agency, named_worker, has_rapport in rows.pop("involvements"):
        extra = [f"named worker: {named_worker}" if named_worker else "",
                 "has a good relationship with you" if has_rapport else ""]
        extra = [e for e in extra if e]
        named = agency + (f" ({'; '.join(extra)})" if extra else "")
        if referral_id is not None:
            involved.setdefault(("referral", referral_id), []).append(named)
        if case_id is not None:
            involved.setdefault(("case", case_id), []).append(named)
    rows["involved"] = involved
    rows["snapshots"] = dict(rows["snapshots"])
    return rows


@functools.cache
def _statements() -> dict[str, sa.Select]:
    """The bundle's queries, built once (they differ only by the person's id, a bound parameter
    named person_id): building them and working out their cache keys took as long as running
    them. In the order the bundle reads them."""
    person_id, case_ids, referral_ids, action_ids, on_item = _ids()
    meeting_ids = sa.select(AgendaItem.meeting_id).where(on_item).scalar_subquery()
    return {
        "referrals": sa.select(Referral).where(Referral.id.in_(referral_ids))
        .options(joinedload(Referral.referring_agency), joinedload(Referral.referred_person))
        .order_by(Referral.submitted_at, Referral.id),
        "cases": sa.select(Case).where(Case.person_id == person_id)
        .options(joinedload(Case.lead_agency), joinedload(Case.step_down_agency))
        .order_by(Case.accepted_on, Case.id),
        # the agencies involved in the referrals and in the cases (in the order of the
        # relationships, Involvement.id); a union, as PostgreSQL read every involvement for
        # one OR of the two
        "involvements": _involvements(referral_ids, case_ids),
        "items": sa.select(AgendaItem, Meeting).join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(on_item, Meeting.status != MeetingStatus.CANCELLED)
        .order_by(Meeting.starts_at, AgendaItem.position, AgendaItem.id),
        "snapshots": sa.select(MinutesSnapshot.meeting_id, MinutesSnapshot.document)
        .where(MinutesSnapshot.meeting_id.in_(meeting_ids)),
        "audit": _audit_query(person_id, case_ids, referral_ids, action_ids),
    }


@functools.cache
def _ids() -> tuple[Any, ...]:
    """The person's id (a bound parameter), and subqueries for their records' ids."""
    person_id = sa.bindparam("person_id", type_=sa.Integer)
    case_ids = sa.select(Case.id).where(Case.person_id == person_id).scalar_subquery()
    referral_ids = sa.select(Referral.id).where(Referral.person_id == person_id,
                                                Referral.status != ReferralStatus.DRAFT).scalar_subquery()
    action_ids = sa.select(Action.id).where(Action.case_id.in_(case_ids)).scalar_subquery()
    on_item = sa.or_(AgendaItem.case_id.in_(case_ids), AgendaItem.referral_id.in_(referral_ids))
    return person_id, case_ids, referral_ids, action_ids, on_item


def _involvements(referral_ids, case_ids) -> sa.Select:
    none = sa.cast(sa.null(), sa.Integer)
    both = sa.union_all(*[  # each row under its referral, then under its case: one owner a row
        sa.select(Involvement.id, referral.label("referral_id"), case.label("case_id"), Involvement.agency_id,
                  Involvement.named_worker, Involvement.has_rapport).where(where)
        for referral, case, where in ((Involvement.referral_id, none, Involvement.referral_id.in_(referral_ids)),
                                      (none, Involvement.case_id, Involvement.case_id.in_(case_ids)))]).subquery()
    return (sa.select(both.c.referral_id, both.c.case_id, Agency.name, both.c.named_worker, both.c.has_rapport)
            .join(Agency, Agency.id == both.c.agency_id).order_by(both.c.id))


# ---- the plain rows, one statement ------------------------------------------------------------
#
# Each kind of record read as plain rows is one branch of a UNION ALL, tagged with its kind:
# its table's columns sit in shared slots (a slot holds one type, so the rows come back typed as
# before: enums, UTC datetimes), NULL where a kind has no such column; the users and the agency
# a kind names (by, acknowledged_by, assignee; agency) are joined once, to the union. The rows
# come back ordered by kind, then as each kind was ordered; each is turned back into a row with
# the kind's own column names (and <user>_name, agency_name).


class _Kind:
    """One kind of record in the union: its table, the users and agency it names, its order."""

    def __init__(self, name: str, model: type, where: Any, order_at: Any = None,
                 users: tuple[tuple[str, Any], ...] = (), agency: str = "", via: Any = None):
        self.name, self.model, self.where, self.order_at = name, model, where, order_at
        self.users, self.agency, self.via = users, agency, via  # via: the join to the actions


_RECORD_KINDS = ("decisions", "risks", "flags", "engagement", "insight", "outcomes", "events", "actions",
                 "updates", "escalations", "amendments")


@functools.cache
def _records(names: tuple[str, ...]) -> tuple[sa.Select, list[tuple[str, Any, tuple[int, ...], int | None]]]:
    """The union of these kinds of record (built once for each set of kinds), and how to read its rows.
    Its parameters are the ids of the person's cases, referrals and (shown) agenda items, as
    lists: each branch is a plain lookup along an index, with no subquery (PostgreSQL, which plans
    each statement afresh, took 4 to 6 ms to plan the union when each branch repeated subqueries
    on the person, four times as long as running it)."""
    case_ids, referral_ids, item_ids = (sa.bindparam(name, expanding=True, type_=sa.Integer)
                                        for name in ("case_ids", "referral_ids", "item_ids"))
    return _records_query([kind for kind in _record_kinds(case_ids, referral_ids, item_ids) if kind.name in names])


def _record_kinds(case_ids, referral_ids, item_ids) -> list[_Kind]:
    """Each ordered as it was when read on its own. The actions' updates and escalations are
    joined to their actions, on the person's cases. The amendments are those of the agenda items
    shown (other items' amendments were never written out)."""
    return [
        _Kind("decisions", ReferralDecision, ReferralDecision.referral_id.in_(referral_ids), ReferralDecision.at,
              users=(("by", ReferralDecision.by_id),)),
        _Kind("risks", RiskChange, RiskChange.case_id.in_(case_ids), RiskChange.at,
              users=(("by", RiskChange.by_id),)),
        _Kind("flags", StaffSafetyFlag, StaffSafetyFlag.case_id.in_(case_ids), StaffSafetyFlag.set_at,
              users=(("set_by", StaffSafetyFlag.set_by_id),)),
        _Kind("engagement", EngagementAttempt, EngagementAttempt.case_id.in_(case_ids), EngagementAttempt.occurred_at,
              agency="agency_id"),
        _Kind("insight", InsightVersion, InsightVersion.case_id.in_(case_ids), InsightVersion.written_at,
              users=(("written_by", InsightVersion.written_by_id),)),
        _Kind("outcomes", PersonalOutcome, PersonalOutcome.case_id.in_(case_ids)),  # by id only
        _Kind("events", CaseEvent, CaseEvent.case_id.in_(case_ids), CaseEvent.at),
        _Kind("actions", Action, Action.case_id.in_(case_ids), Action.created_at,
              users=(("assignee", Action.assignee_id),), agency="agency_id"),
        _Kind("updates", ActionUpdate, Action.case_id.in_(case_ids), ActionUpdate.at,
              users=(("by", ActionUpdate.by_id),), via=Action.__table__.c.id == ActionUpdate.action_id),
        _Kind("escalations", Escalation, Action.case_id.in_(case_ids), Escalation.at,
              via=Action.__table__.c.id == Escalation.action_id,
              users=(("by", Escalation.by_id), ("acknowledged_by", Escalation.acknowledged_by_id))),
        _Kind("amendments", MinutesAmendment, MinutesAmendment.agenda_item_id.in_(item_ids), MinutesAmendment.at),
    ]


def _family(column: Any) -> tuple[Any, ...]:
    """Which slots a column can share: columns whose values come back the same way."""
    kind = column.type
    if isinstance(kind, sa.Enum):
        return ("enum", kind.enum_class)
    if isinstance(kind, sa.String):
        return ("text",)
    return (type(kind),)


def _records_query(kinds: list[_Kind]) -> tuple[sa.Select, list[tuple[str, Any, tuple[int, ...], int | None]]]:
    """The UNION ALL of the kinds (see the notes above), and each kind's name, row type, where its
    fields are in the union's row and which field it is ordered by (then by id)."""
    slots: dict[tuple[Any, ...], list[Any]] = {}  # family -> the type of each of its slots
    placed: list[list[tuple[str, tuple[Any, ...], int]]] = []  # per kind: (column, family, index)
    users = max(len(kind.users) for kind in kinds)
    for kind in kinds:
        used: dict[tuple[Any, ...], int] = {}
        mine = []
        for column in kind.model.__table__.c:
            family = _family(column)
            index = used.get(family, 0)
            used[family] = index + 1
            types = slots.setdefault(family, [])
            if index == len(types):
                types.append(sa.Text() if family == ("text",) else column.type)
            mine.append((column.name, family, index))
        placed.append(mine)
    order = [(family, index) for family, types in slots.items() for index in range(len(types))]
    names = {slot: f"c{n}" for n, slot in enumerate(order)}
    branches = []
    for rank, (kind, mine) in enumerate(zip(kinds, placed, strict=True)):
        table = kind.model.__table__
        at = {(family, index): table.c[name] for name, family, index in mine}
        columns = [sa.literal_column(str(rank), sa.Integer).label("kind")]
        columns += [(kind.users[n][1] if n < len(kind.users) else sa.cast(sa.null(), sa.Integer)).label(f"user{n}")
                    for n in range(users)]
        columns.append((table.c[kind.agency] if kind.agency else sa.cast(sa.null(), sa.Integer)).label("agency"))
        columns += [(at[slot] if slot in at else sa.cast(sa.null(), slots[slot[0]][slot[1]])).label(names[slot])
                    for slot in order]
        branch = sa.select(*columns)
        if kind.via is not None:
            branch = branch.select_from(table.join(Action.__table__, kind.via))
        branches.append(branch.where(kind.where))
    union = sa.union_all(*branches).subquery("records")
    # the users' names looked up a row at a time along their primary key (joined, PostgreSQL
    # read and hashed every user twice); the agencies (a few dozen) joined
    people = [User.__table__.alias(f"user{n}") for n in range(users)]
    agencies = Agency.__table__
    head = [union.c.kind]
    head += [sa.select(person.c.name).where(person.c.id == union.c[f"user{n}"]).scalar_subquery()
             .label(f"user{n}_name") for n, person in enumerate(people)]
    head.append(agencies.c.name.label("agency_name"))
    # not ordered here: sorting the wide rows of the union took PostgreSQL longer than reading
    # them; each kind's rows are sorted as they are read (_records_read)
    statement = (sa.select(*head, *[union.c[names[slot]] for slot in order])
                 .select_from(union.outerjoin(agencies, agencies.c.id == union.c.agency)))
    width = len(head)
    shapes = []
    for kind, mine in zip(kinds, placed, strict=True):
        fields = [name for name, _, _ in mine] + [f"{label}_name" for label, _ in kind.users]
        where = [width + order.index((family, index)) for _, family, index in mine]
        where += [1 + n for n in range(len(kind.users))]
        if kind.agency:
            fields.append("agency_name")
            where.append(1 + users)
        shape = collections.namedtuple(f"{kind.name}_row", fields)
        at = fields.index(kind.order_at.name) if kind.order_at is not None else None
        shapes.append((kind.name, shape, tuple(where), at))
    return statement, shapes


def _records_read(result: Any, shapes: list[tuple[str, Any, tuple[int, ...], int | None]]) -> dict[str, list[Any]]:
    """The union's rows, by kind, each as a row of the kind's own columns, in the kind's order
    (its date and time, then its id: none of those dates is ever empty)."""
    out: dict[str, list[Any]] = {name: [] for name, _, _, _ in shapes}
    read = [(out[name], shape, where) for name, shape, where, _ in shapes]
    for row in result:
        into, shape, where = read[row[0]]
        into.append(shape._make([row[i] for i in where]))
    for name, _, _, at in shapes:
        out[name].sort(key=(lambda r: r.id) if at is None else (lambda r, at=at: (r[at], r.id)))
    return out


def _audit_query(person_id, case_ids, referral_ids, action_ids) -> sa.Select:
    """The audit trail's entries about the person's records, with who (name and agency)."""
    text = sa.String(64)
    # The records' (type, id) pairs, joined to the trail along its index on (object_type,
    # object_id). As one OR of five IN lists, PostgreSQL read all two million entries (0.55 s at
    # ten years); the join reads only the entries about these records.
    targets = sa.union_all(
        sa.select(sa.literal("person", text).label("object_type"), sa.cast(person_id, text).label("object_id")),
        sa.select(sa.literal("case", text), Case.reference).where(Case.id.in_(case_ids)),
        sa.select(sa.literal("referral", text), sa.cast(Referral.id, text)).where(Referral.id.in_(referral_ids)),
        sa.select(sa.literal("action", text), sa.cast(Action.id, text)).where(Action.id.in_(action_ids)),
        sa.select(sa.literal("subject_access_request", text), sa.cast(SubjectAccessRequest.id, text))
        .where(SubjectAccessRequest.person_id == person_id),
    ).subquery("targets")
    return (sa.select(AuditEvent.occurred_at, AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id,
                      User.name.label("user_name"), Agency.name.label("agency"))
            .join(targets, sa.and_(AuditEvent.object_type == targets.c.object_type,
                                   AuditEvent.object_id == targets.c.object_id))
            .outerjoin(User, User.id == AuditEvent.user_id).outerjoin(Agency, Agency.id == User.agency_id)
            .where(AuditEvent.action.in_(list(AUDIT_WORDS)))
            .order_by(AuditEvent.occurred_at, AuditEvent.id))


# ---- the sections -------------------------------------------------------------------------------


def gather(person_id: int, *, now: datetime, trail: bool = True, entry: str = "") -> dict[str, Any]:
    """The bundle for one person (see the module's notes). Reads only; a fixed number of queries.
    With trail=False, for the pages that review the free text only, the audit trail's section
    (which has none, and is the longest) is neither read nor written: it is left out. With an
    entry's key (for the page withholding it), only the section that can hold it is read and
    written (as in the whole bundle), or none when no section can."""
    person = db.session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person {person_id}")
    section = SECTION_OF.get(entry.split(":", 1)[0], "-") if entry else ""
    if section == "-":
        return {"version": VERSION, "title": TITLE, "made_at": now.isoformat(), "sections": []}
    rows = _read(person_id, trail and not section, section)
    references = {r.id: r.reference or f"number {r.id}" for r in rows["referrals"]}
    cases = {c.id: c.reference for c in rows["cases"]}
    sections = [
        _section("about_you", "About you", "The details we hold about you on your person record.",
                 "We hold no details about you.", [_entry("Your details", None, *_person_fields(person))]),
        _section("referrals", "Referrals made about you",
                 "Each time an agency asked the panel to help you, with your details as they gave them.",
                 "No referrals have been made about you.", [_referral(r, rows["involved"]) for r in rows["referrals"]]),
        _section("decisions", "What was decided about each referral",
                 "Each step in a referral’s progress: who decided, when and why.",
                 "No decisions have been recorded.", [_decision(d, references) for d in rows["decisions"]]),
        _section("cases", "Your case record", "Your case with the panel: the plan, who is involved and its closure.",
                 "You have not had a case with the panel.", [_case(c, rows["involved"]) for c in rows["cases"]]),
        _section("risk", "Changes to the risk level", "How the panel has judged the risk to you over time, and why.",
                 "No changes to the risk level have been recorded.", [_risk(r, cases) for r in rows["risks"]]),
        _section("staff_safety", "Warnings for staff safety",
                 "Warnings staff are shown before they contact you.",
                 "There are no staff-safety warnings.", [_flag(f, cases) for f in rows["flags"]]),
        _section("engagement", "Contact with you", "Each time a worker tried to contact you, and what happened.",
                 "No contact has been recorded.", [_attempt(a, cases) for a in rows["engagement"]]),
        _section("insight", "What helps you",
                 "What workers have written about what settles you and who you get on with, version by version.",
                 "Nothing has been written.", [_insight(v, cases) for v in rows["insight"]]),
        _section("outcomes", "What you want to achieve", "The outcomes you told us you want, and how they went.",
                 "No outcomes have been recorded.", [_outcome(o, cases) for o in rows["outcomes"]]),
        _section("actions", "Actions agreed to help you", "What agencies agreed to do, and what happened.",
                 "No actions have been agreed.", _actions(rows, cases)),
        _section("escalations", "Actions that were escalated",
                 "When an agency was late with an action and it was raised with a more senior person.",
                 "No actions were escalated.", [_escalation(e) for e in rows["escalations"]]),
        _section("meetings", "Meetings where you were discussed",
                 "The part of each meeting’s notes about you. Other people discussed at the same meeting are left out.",
                 "You have not been discussed at a meeting.", _meetings(rows, cases, references, now)),
        _section("timeline", "Timeline of your case", "Everything that happened on your case, in date order.",
                 "Nothing has happened on a case yet.", [_event(e, cases) for e in rows["events"]], layout="table"),
    ]
    if section:
        sections = [s for s in sections if s["key"] == section]
    elif trail:
        sections.append(_section(
            "audit", TRAIL,
            "Each time someone opened, changed, printed or downloaded one of your records.",
            "Nobody has looked at your records.", [_audit(a, cases, references) for a in rows["audit"]],
            layout="table"))
    return {"version": VERSION, "title": TITLE, "made_at": now.isoformat(), "sections": sections}


def _referral(r: Referral, involved: dict[tuple[str, int], list[str]]) -> dict[str, Any]:
    k = "referral"
    as_referred = r.as_referred
    return _entry(
        f"Referral {r.reference or r.id}", r.submitted_at,
        _field("submitted_at", "Received", r.submitted_at),
        _field("referring_agency", "Referred by", r.referring_agency.name),
        _field("referrer_name", "Worker who referred you", r.referrer_name),
        _field("manager_name", "Their manager", r.manager_name),
        _field("status", "Where it is now", r.status.label),
        *[_field(f"as_referred.{name}", f"{label} (as the referrer gave it)",
                 _nhs(getattr(as_referred, name)) if name == "nhs_number" else getattr(as_referred, name))
          for name, label in PERSON_LABELS.items()],
        _field("needs", "Needs", [_need(n) for n in r.needs or []]),
        _field("risk_level", "Risk level given", r.risk_level.label if r.risk_level else ""),
        _text(k, r.id, "risk_summary", "The risks", r.risk_summary),
        _text(k, r.id, "risk_assessment", "The agency’s risk assessment", r.risk_assessment),
        _text(k, r.id, "tried_already", "What had been tried already", r.tried_already),
        _text(k, r.id, "rapport", "Who you get on with", r.rapport),
        _text(k, r.id, "persons_views", "Your views", r.persons_views),
        _text(k, r.id, "desired_outcomes", "What you want to happen", r.desired_outcomes or []),
        _text(k, r.id, "capacity", "Mental capacity", r.capacity),
        _field("consent_given", "You agreed to your information being shared", r.consent_given),
        _field("consent_lawful_basis", "Why it was shared without your agreement",
               r.consent_lawful_basis.label if r.consent_lawful_basis else ""),
        _text(k, r.id, "consent_reason", "More about why it was shared", r.consent_reason),
        _field("staff_hostility", "Concern about hostility towards staff", r.staff_hostility or None),
        _field("staff_lone_working_restricted", "Staff should not visit alone", r.staff_lone_working_restricted or None),
        _text(k, r.id, "staff_safety_details", "About staff safety", r.staff_safety_details),
        _text(k, r.id, "info_requested", "More information asked for", r.info_requested),
        _field("agencies", "Agencies involved", involved.get(("referral", r.id), [])),
    )


def _decision(d: sa.Row, references: dict[int, str]) -> dict[str, Any]:
    k = "referral_decision"
    return _entry(
        f"Referral {references.get(d.referral_id, d.referral_id)}: {d.outcome.replace('_', ' ')}", d.at,
        _field("at", "When", d.at),
        _field("by", "Who", d.by_name),
        _field("to_status", "Its status became", _status(d.to_status)),
        _text(k, d.id, "reason", "Why", d.reason),
        _text(k, d.id, "signposting", "Other services suggested", d.signposting),
    )


def _status(value: str) -> str:
    try:
        return ReferralStatus(value).label
    except ValueError:
        return value


def _case(c: Case, involved: dict[tuple[str, int], list[str]]) -> dict[str, Any]:
    k = "case"
    return _entry(
        f"Case {c.reference}", c.accepted_on,
        _field("accepted_on", "Accepted by the panel", c.accepted_on),
        _field("status", "Where it is now", c.status.label),
        _field("lead_agency", "Lead agency", c.lead_agency.name),
        _field("risk_level", "Risk level now", c.risk_level.label),
        _text(k, c.id, "risk_summary", "The risks", c.risk_summary),
        _text(k, c.id, "contingency_plan", "What to do if things get worse", c.contingency_plan),
        _field("agencies", "Agencies involved", involved.get(("case", c.id), [])),
        _text(k, c.id, "closure_rationale", "Why the case is closing", c.closure_rationale),
        _field("step_down_agency", "Agency carrying on the work", c.step_down_agency.name if c.step_down_agency else ""),
        _field("closed_on", "Closed", c.closed_on),
    )


def _risk(r: sa.Row, cases: dict[int, str]) -> dict[str, Any]:
    return _entry(
        f"Case {cases[r.case_id]}: risk {r.to_level.label.lower()}", r.at,
        _field("at", "When", r.at),
        _field("from_level", "From", r.from_level.label if r.from_level else "Not set"),
        _field("to_level", "To", r.to_level.label),
        _text("risk_change", r.id, "reason", "Why", r.reason),
        _field("by", "Who", r.by_name),
    )


def _flag(f: sa.Row, cases: dict[int, str]) -> dict[str, Any]:
    return _entry(
        f"Case {cases[f.case_id]}: {f.kind.label}", f.set_at,
        _field("set_at", "Set", f.set_at),
        _field("set_by", "Set by", f.set_by_name),
        _text("staff_safety_flag", f.id, "details", "Details", f.details),
        _field("cleared_at", "Cleared", f.cleared_at),
    )


def _attempt(a: sa.Row, cases: dict[int, str]) -> dict[str, Any]:
    k = "engagement_attempt"
    return _entry(
        f"Case {cases[a.case_id]}: {a.method.label.lower()}, {govuk_date(a.occurred_at)}", a.occurred_at,
        _field("occurred_at", "When", a.occurred_at),
        _field("agency", "Agency", a.agency_name),
        _field("method", "How", a.method.label),
        _field("planned", "Planned", a.planned),
        _field("out_of_hours", "Out of working hours", a.out_of_hours),
        _field("outcome", "What happened", a.outcome.label),
        _text(k, a.id, "persons_words", "What you said", a.persons_words),
        _text(k, a.id, "worker_view", "What the worker thought", a.worker_view),
        _field("non_engagement", "Kind of non-engagement seen", a.non_engagement.label if a.non_engagement else ""),
        _field("small_step", "A small step forward", a.small_step or None),
    )


def _insight(v: sa.Row, cases: dict[int, str]) -> dict[str, Any]:
    return _entry(
        f"Case {cases[v.case_id]}: version of {govuk_date(v.written_at)}", v.written_at,
        _field("written_at", "Written", v.written_at),
        _field("written_by", "By", v.written_by_name),
        *[_text("insight_version", v.id, name, question, getattr(v, name)) for name, question in INSIGHT_QUESTIONS.items()],
    )


def _outcome(o: sa.Row, cases: dict[int, str]) -> dict[str, Any]:
    return _entry(
        f"Case {cases[o.case_id]}: outcome {o.id}", o.created_at,
        _text("personal_outcome", o.id, "words", "In your words", o.words),
        _field("review", "How it went", o.review.label),
        _field("reviewed_on", "Reviewed", o.reviewed_on),
    )


def _actions(rows: dict[str, Any], cases: dict[int, str]) -> list[dict[str, Any]]:
    updates: dict[int, list[sa.Row]] = {}
    for update in rows["updates"]:
        updates.setdefault(update.action_id, []).append(update)
    out = []
    for a in rows["actions"]:
        out.append(_entry(
            f"Case {cases[a.case_id]}: action {a.id}", a.created_at,
            _text("action", a.id, "description", "What was agreed", a.description),
            _field("agency", "Agency", a.agency_name),
            _field("assignee", "Worker", a.assignee_name),
            _field("due_on", "Due", a.due_on),
            _field("status", "Where it is now", a.status.label),
        ))
        for u in updates.get(a.id, []):
            out.append(_entry(
                f"Action {a.id}: update of {govuk_date(u.at)}", u.at,
                _field("at", "When", u.at),
                _field("by", "Who", u.by_name),
                _text("action_update", u.id, "note", "Note", u.note),
                _field("new_status", "Status became", u.new_status.label if u.new_status else ""),
                _field("new_due_on", "New due date", u.new_due_on),
                _text("action_update", u.id, "due_change_reason", "Why the due date moved", u.due_change_reason),
            ))
    return out


def _escalation(e: sa.Row) -> dict[str, Any]:
    return _entry(
        f"Action {e.action_id}: {e.step.label.lower()}", e.at,
        _field("at", "When", e.at),
        _field("by", "Escalated by", e.by_name or "Automatically, by the daily check"),
        _text("escalation", e.id, "reason", "Why", e.reason),
        _field("acknowledged_at", "Acknowledged", e.acknowledged_at),
        _field("acknowledged_by", "Acknowledged by", e.acknowledged_by_name),
        _text("escalation", e.id, "acknowledgement", "Their reply", e.acknowledgement),
    )


def _minuted(item: AgendaItem, meeting: Meeting, snapshots: dict[int, dict]) -> tuple[str, str, bool] | None:
    """The item's notes and decisions: from the finalised record when there is one (None when
    the item is not in it), else as recorded now."""
    document = snapshots.get(meeting.id) if meeting.minutes_finalised_at is not None else None
    if document is None:
        return item.notes or "", item.decision or "", False
    stored = next((i for i in document.get("agenda", []) if i.get("id") == item.id), None)
    if stored is None:
        return None
    return stored.get("notes") or "", "\n".join(stored.get("decisions") or []), True


def _meetings(rows: dict[str, Any], cases: dict[int, str], references: dict[int, str],
              now: datetime) -> list[dict[str, Any]]:
    amendments: dict[int, list[sa.Row]] = {}
    for amendment in rows["amendments"]:
        amendments.setdefault(amendment.agenda_item_id, []).append(amendment)
    out = []
    for item, meeting in rows["items"]:
        minuted = _minuted(item, meeting, rows["snapshots"])
        if minuted is None:
            continue
        notes, decision, final = minuted
        title = item_title(item.kind, item.title, cases.get(item.case_id), references.get(item.referral_id))
        if meeting.kind == MeetingKind.PANEL:
            state = "Finalised minutes" if final else ("Draft minutes" if meeting.starts_at <= now else "Not yet held")
        else:
            state = "Notes of the meeting" if meeting.starts_at <= now else "Not yet held"
        out.append(_entry(
            f"{meeting.kind.label}, {govuk_date(meeting.starts_at)}: {title}", meeting.starts_at,
            _field("starts_at", "When", meeting.starts_at),
            _field("kind", "Meeting", meeting.kind.label),
            _field("state", "Record", state),
            _text("meeting", meeting.id, "purpose", "Why the meeting was called",
                  meeting.purpose if meeting.kind == MeetingKind.MDT else ""),
            _text("agenda_item", item.id, "notes", "Notes about you", notes),
            _text("agenda_item", item.id, "decision", "Decisions", decision),
            *[f for a in amendments.get(item.id, []) for f in (
                _text("minutes_amendment", a.id, "text", f"Correction of {govuk_date(a.at)}", a.text),
                _text("minutes_amendment", a.id, "reason", "Why it was corrected", a.reason))],
        ))
    return out


def _event(e: sa.Row, cases: dict[int, str]) -> dict[str, Any]:
    at = govuk_datetime(e.at)  # written once for the heading and the field
    return _entry(
        f"Case {cases[e.case_id]}, {at}", e.at,
        _field("at", "When", at),
        _field("case", "Case", cases[e.case_id]),
        _text("case_event", e.id, "summary", "What happened", e.summary),
    )


def _audit(row: Any, cases: dict[int, str], references: dict[int, str]) -> dict[str, Any]:
    if row.object_type == "case":
        record = f"Case {row.object_id}"
    elif row.object_type == "referral":
        number = int(row.object_id) if row.object_id.isdigit() else None
        record = f"Referral {references.get(number, row.object_id)}"
    elif row.object_type == "person":
        record = "Your person record"
    elif row.object_type == "action":
        record = f"Action {row.object_id}"
    else:
        record = f"Your request for your information ({row.object_id})"
    who = f"{row.user_name}, {row.agency}" if row.user_name else "The system"
    at = govuk_datetime(row.occurred_at)  # written once for the heading and the field
    # every field always has a value: the entry is written out (the trail is the longest section)
    return {"heading": f"{record}, {at}", "date": row.occurred_at.isoformat(), "fields": [
        {"name": "at", "label": "When", "value": at},
        {"name": "who", "label": "Who", "value": who},
        {"name": "what", "label": "What they did", "value": AUDIT_WORDS.get(row.action, str(row.action))},
        {"name": "record", "label": "Record", "value": record},
    ]}


# ---- for the coordinator's review -------------------------------------------------------------


def free_text(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """Every free-text field, in order, with where it is: {"section", "entry", "field"}."""
    return [{"section": section["heading"], "entry": entry["heading"], "field": field}
            for section in bundle["sections"] for entry in section["entries"] for field in entry["fields"]
            if field.get("key")]


def review_groups(bundle: dict[str, Any]) -> list[tuple[str, list[tuple[str, list[dict[str, str]]]]]]:
    """The free text grouped for the review page: [(section, [(entry, [fields])])], skipping
    sections and entries that have none."""
    out = []
    for section in bundle["sections"]:
        entries = [(entry["heading"], [f for f in entry["fields"] if f.get("key")]) for entry in section["entries"]]
        entries = [(heading, fields) for heading, fields in entries if fields]
        if entries:
            out.append((section["heading"], entries))
    return out


def find(bundle: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The free-text field with this key, with where it is, or None."""
    return next((found for found in free_text(bundle) if found["field"]["key"] == key), None)


def counts(bundle: dict[str, Any]) -> list[tuple[str, int]]:
    """How many entries each section holds: [(heading, count)]."""
    return [(section["heading"], len(section["entries"])) for section in bundle["sections"]]


def trail_count(person_id: int) -> int:
    """How many entries the audit trail's section holds (one query), for a page that shows the
    count without the section (gather(..., trail=False)): the trail grows with every view of the
    request's own pages, so it is counted, not written out."""
    return db.session.scalar(_trail_count_query(), {"person_id": person_id}) or 0


@functools.cache
def _trail_count_query() -> sa.Select:
    return sa.select(sa.func.count()).select_from(_statements()["audit"].order_by(None).subquery())
