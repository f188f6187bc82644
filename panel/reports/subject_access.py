"""Subject-access requests (UK GDPR article 15): find the person, open a request with the date it
was received, review the free text for information about other people and withhold what must be,
make the release (a PDF for the person and a JSON file of the same content, both drawn from one
stored document), and close the request with the date it was sent.

The deadline is one calendar month (article 12(3)), counted as the ICO does: from the day the
request is received to the same date next month, or the last day of next month when it has no
such date (received 31 January: due at the end of February), moved to the next working day when
that is a weekend or a bank holiday.

Services flush but never commit, write the audit trail (ids, kinds and field names only, never
what the person's records say) and refuse with ServiceError naming the form field.
"""

from __future__ import annotations

import calendar
import copy
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from panel import audit
from panel.dates import govuk_date, govuk_datetime, london_today, next_working_day
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.forms.text import clean_text
from panel.models import (
    AuditAction,
    Case,
    CaseStatus,
    Person,
    Referral,
    ReferralStatus,
    SubjectAccessRequest,
    SubjectAccessStatus,
    SubjectAccessWithholding,
    User,
    WithholdingReason,
    utcnow,
)
from panel.reports import subject_access_bundle as bundles

MAX_RESULTS = 50
CLOSED_SHOWN = 50
QUERY_MAX = 100
PASSAGE_MIN = 3
PASSAGE_MAX = 5000
NOTE_MAX = 500
MARKING = "OFFICIAL-SENSITIVE"
SHORT_REASONS = {
    WithholdingReason.THIRD_PARTY: "information about someone else",
    WithholdingReason.SERIOUS_HARM: "risk of serious harm",
}
_NHS = re.compile(r"[0-9]{10}")
_REFERENCE = re.compile(r"(CASPA|R)-[0-9]{4}-[0-9]{1,6}", re.IGNORECASE)
_LIKE_SPECIAL = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


# ---- the deadline -------------------------------------------------------------------------------


def deadline(received_on: date) -> date:
    """The date the release is due: one calendar month after the request was received (see the
    module's notes: the last day of a shorter month; then the next working day)."""
    year, month = (received_on.year + 1, 1) if received_on.month == 12 else (received_on.year, received_on.month + 1)
    day = min(received_on.day, calendar.monthrange(year, month)[1])
    return next_working_day(date(year, month, day))


def countdown(due_on: date, today: date) -> str:
    """"12 days left", "1 day left", "Due today", "3 days overdue"."""
    left = (due_on - today).days
    if left == 0:
        return "Due today"
    if left > 0:
        return f"{left} day{'s' if left != 1 else ''} left"
    return f"{-left} day{'s' if left != -1 else ''} overdue"


# ---- finding the person -------------------------------------------------------------------------


@dataclass
class Found:
    """A person record matched by the search, with their references and any open request."""

    person: Person
    references: list[str] = field(default_factory=list)
    closed_only: bool = True
    open_request: SubjectAccessRequest | None = None


def search_kind(text: str) -> str:
    """What the search text looks like: "nhs" (ten digits, spaces allowed), "reference", or "name"."""
    squeezed = re.sub(r"[\s-]", "", text)
    if _NHS.fullmatch(squeezed):
        return "nhs"
    if _REFERENCE.fullmatch(text.strip()):
        return "reference"
    return "name"


def _record_ids() -> sa.Select:
    """People with a record: the person of a case, or of a referral that is not a draft."""
    return sa.union(sa.select(Case.person_id),
                    sa.select(Referral.person_id).where(Referral.status != ReferralStatus.DRAFT))


def _matching(text: str, date_of_birth: date | None) -> sa.Select:
    """Ids of person rows (records, and the copies linked referrals keep) matching the search."""
    query = sa.select(Person.id)
    if text:
        kind = search_kind(text)
        if kind == "nhs":
            query = query.where(Person.nhs_number == re.sub(r"[\s-]", "", text))
        elif kind == "reference":
            ref = text.strip().upper()
            query = query.where(Person.id.in_(sa.union(
                sa.select(Case.person_id).where(Case.reference == ref),
                sa.select(Referral.person_id).where(Referral.reference == ref))))
        else:
            for word in text.split()[:6]:
                pattern = f"%{word.translate(_LIKE_SPECIAL)}%"
                query = query.where(sa.or_(*(column.ilike(pattern, escape="\\") for column in (
                    Person.given_name, Person.family_name, Person.other_names))))
    if date_of_birth is not None:
        query = query.where(Person.date_of_birth == date_of_birth)
    return query


def find_people(*, text: str, date_of_birth: date | None, by: User) -> tuple[list[Found], bool]:
    """People with a record (open or closed) matching a name, NHS number (with or without
    spaces) or case or referral reference, and/or a date of birth. A referral's copy of the
    details as referred leads to the person record it is linked to. Returns up to MAX_RESULTS
    and whether there were more. Audited with what was searched by, never the words."""
    text = clean_text(text)
    if not text and date_of_birth is None:
        raise ServiceError("Enter a name, NHS number or case reference, or a date of birth", field="q")
    if len(text) > QUERY_MAX:
        raise ServiceError(f"The search must be {QUERY_MAX} characters or fewer", field="q")
    matched = _matching(text, date_of_birth).subquery()
    records = _record_ids().subquery()
    via_copies = sa.select(Referral.person_id).where(Referral.referred_person_id.in_(sa.select(matched.c.id)),
                                                     Referral.status != ReferralStatus.DRAFT)
    people = list(db.session.scalars(
        sa.select(Person).where(sa.or_(
            sa.and_(Person.id.in_(sa.select(matched.c.id)), Person.id.in_(sa.select(records.c.person_id))),
            Person.id.in_(via_copies)))
        .order_by(Person.family_name, Person.given_name, Person.id).limit(MAX_RESULTS + 1)))
    more = len(people) > MAX_RESULTS
    found = _describe(people[:MAX_RESULTS])
    audit.record(AuditAction.VIEW, "people_search", "", user=by, summary={
        "by": [k for k, v in (("text", text), ("date_of_birth", date_of_birth)) if v]
        + ([search_kind(text)] if text else []), "results": len(found)})
    return found, more


def _describe(people: list[Person]) -> list[Found]:
    """Each person's case and referral references and open request (three queries)."""
    ids = [p.id for p in people] or [-1]
    out = {p.id: Found(person=p) for p in people}
    for person_id, reference, status in db.session.execute(
            sa.select(Case.person_id, Case.reference, Case.status).where(Case.person_id.in_(ids))
            .order_by(Case.id)):
        out[person_id].references.append(f"Case {reference}")
        out[person_id].closed_only &= status == CaseStatus.CLOSED
    for person_id, reference, status in db.session.execute(
            sa.select(Referral.person_id, Referral.reference, Referral.status)
            .where(Referral.person_id.in_(ids), Referral.status != ReferralStatus.DRAFT).order_by(Referral.id)):
        out[person_id].references.append(f"Referral {reference}")
        out[person_id].closed_only &= status in (ReferralStatus.ACCEPTED, ReferralStatus.DECLINED,
                                                 ReferralStatus.WITHDRAWN)
    for request in db.session.scalars(sa.select(SubjectAccessRequest).where(
            SubjectAccessRequest.person_id.in_(ids), SubjectAccessRequest.status == SubjectAccessStatus.OPEN)):
        out[request.person_id].open_request = request
    return list(out.values())


def record_person(person_id: int) -> Person | None:
    """The person, if they have a record (a case or a referral that is not a draft), else None."""
    records = _record_ids().subquery()
    return db.session.scalar(sa.select(Person).where(Person.id == person_id,
                                                     Person.id.in_(sa.select(records.c.person_id))))


def person_references(person: Person) -> list[str]:
    return _describe([person])[0].references


# ---- the request --------------------------------------------------------------------------------


def requests_for(person: Person) -> list[SubjectAccessRequest]:
    return list(db.session.scalars(sa.select(SubjectAccessRequest).where(SubjectAccessRequest.person_id == person.id)
                                   .order_by(SubjectAccessRequest.received_on.desc(), SubjectAccessRequest.id.desc())))


def open_request_for(person: Person) -> SubjectAccessRequest | None:
    return db.session.scalar(sa.select(SubjectAccessRequest).where(
        SubjectAccessRequest.person_id == person.id, SubjectAccessRequest.status == SubjectAccessStatus.OPEN)
        .order_by(SubjectAccessRequest.id).limit(1))


def open_request(person: Person, *, received_on: date | None, by: User,
                 today: date | None = None) -> tuple[SubjectAccessRequest, bool]:
    """Open a request for the person, received on that date, due a calendar month later. A
    person has one open request at a time: asked again (a double submit), the open one is
    returned with False. Audited."""
    today = today or london_today()
    if received_on is None:
        raise ServiceError("Enter the date the request was received", field="received_on")
    if received_on > today:
        raise ServiceError("The date the request was received must be today or in the past", field="received_on")
    # Serialise openings for this person (PostgreSQL; SQLite transactions are already serial).
    db.session.execute(sa.select(Person.id).where(Person.id == person.id).with_for_update())
    existing = open_request_for(person)
    if existing is not None:
        return existing, False
    request = SubjectAccessRequest(person_id=person.id, received_on=received_on, due_on=deadline(received_on),
                                   opened_by_id=by.id, opened_at=utcnow())
    db.session.add(request)
    db.session.flush()
    audit.record(AuditAction.CREATE, "subject_access_request", request.id, user=by,
                 summary={"person": person.id, "received_on": received_on.isoformat(),
                          "due_on": request.due_on.isoformat()})
    return request, True


def get_request(person_id: int, request_id: int) -> SubjectAccessRequest | None:
    return db.session.scalar(sa.select(SubjectAccessRequest).where(
        SubjectAccessRequest.id == request_id, SubjectAccessRequest.person_id == person_id)
        .options(joinedload(SubjectAccessRequest.person)))


def gather(request: SubjectAccessRequest, now: datetime | None = None, *, trail: bool = True,
           entry: str = "") -> dict[str, Any]:
    """Everything held about the request's person, as it stands (panel.reports.subject_access_bundle);
    without the audit trail's section when `trail` is False (the pages reviewing the free text);
    only the section that can hold an entry when its key is given (the page withholding it)."""
    return bundles.gather(request.person_id, now=now or utcnow(), trail=trail, entry=entry)


def trail_count(request: SubjectAccessRequest) -> int:
    """How many entries the bundle's audit trail section holds (one query)."""
    return bundles.trail_count(request.person_id)


def record_view(request: SubjectAccessRequest, page: str, *, by: User) -> None:
    audit.record(AuditAction.VIEW, "subject_access_request", request.id, user=by, summary={"page": page})


def _refuse_if_closed(request: SubjectAccessRequest, doing: str) -> None:
    if not request.is_open:
        raise ServiceError(f"This request was closed on {govuk_date(request.closed_at)}, so {doing}")


# ---- withholding --------------------------------------------------------------------------------


def current_withholdings(request: SubjectAccessRequest) -> list[SubjectAccessWithholding]:
    return [w for w in request.withholdings if w.current]


def withhold(request: SubjectAccessRequest, *, bundle: dict[str, Any], key: str, whole: bool, passage: str,
             reason: WithholdingReason | None, note: str, by: User) -> tuple[SubjectAccessWithholding, bool]:
    """Withhold an entry of the release, all of it or a passage copied from it (a passage is
    withheld wherever it appears in the release), with the reason. The same withholding asked
    again is returned with False. Audited with the entry's key, never its words."""
    _refuse_if_closed(request, "nothing more can be withheld")
    found = bundles.find(bundle, key)
    if found is None:
        raise ServiceError("That entry is no longer in the person’s records", field="part")
    if reason is None:
        raise ServiceError("Select why it is withheld", field="reason")
    note = clean_text(note, multiline=True)
    if len(note) > NOTE_MAX:
        raise ServiceError(f"The note must be {NOTE_MAX} characters or fewer", field="note")
    text = found["field"]["value"]
    passage = "" if whole else clean_text(passage, multiline=True)
    if not whole:
        _check_passage(passage, text)
        if passage == text.strip():
            passage = ""  # the passage is all of it
    for existing in current_withholdings(request):
        if existing.entry == key and existing.passage == passage:
            return existing, False
    withholding = SubjectAccessWithholding(request=request, entry=key, passage=passage, reason=reason,
                                           note=note, by_id=by.id, at=utcnow())
    db.session.add(withholding)
    db.session.flush()
    audit.record(AuditAction.CREATE, "subject_access_withholding", withholding.id, user=by, summary={
        "request": request.id, "entry": key, "part": "passage" if passage else "whole", "reason": str(reason)})
    return withholding, True


def _check_passage(passage: str, text: str) -> None:
    if not passage:
        raise ServiceError("Enter the passage to withhold, copied from the entry", field="passage")
    if len(passage) > PASSAGE_MAX:
        raise ServiceError(f"The passage must be {PASSAGE_MAX:,} characters or fewer", field="passage")
    if len(passage) < PASSAGE_MIN:
        raise ServiceError(f"The passage must be at least {PASSAGE_MIN} characters", field="passage")
    if passage not in text:
        raise ServiceError("The passage must be copied exactly from the entry", field="passage")


def reinstate(request: SubjectAccessRequest, withholding: SubjectAccessWithholding, *, by: User) -> bool:
    """Release a withheld entry after all. The withholding is kept, marked reinstated (who and
    when), so the decision stays recorded. False when it was already reinstated. Audited."""
    _refuse_if_closed(request, "what is withheld can no longer change")
    if not withholding.current:
        return False
    withholding.reinstated_at, withholding.reinstated_by_id = utcnow(), by.id
    db.session.flush()
    audit.record(AuditAction.UPDATE, "subject_access_withholding", withholding.id, user=by,
                 summary={"request": request.id, "entry": withholding.entry, "reinstated": True})
    return True


def withheld_fields(bundle: dict[str, Any], withholdings: list[SubjectAccessWithholding]) -> dict[str, str]:
    """For the review page: each entry's key and how it is withheld ("all" or "part")."""
    whole = {w.entry for w in withholdings if w.whole}
    pattern = _passages(withholdings)
    out = {}
    for found in bundles.free_text(bundle):
        key = found["field"]["key"]
        if key in whole:
            out[key] = "all"
        elif pattern is not None and pattern.search(found["field"]["value"]):
            out[key] = "part"
    return out


def _passages(withholdings: list[SubjectAccessWithholding]) -> re.Pattern | None:
    passages = sorted({w.passage for w in withholdings if not w.whole}, key=len, reverse=True)
    return re.compile("|".join(re.escape(p) for p in passages)) if passages else None


def apply_withholdings(bundle: dict[str, Any], withholdings: list[SubjectAccessWithholding]) -> dict[str, Any]:
    """A copy of the bundle with every withheld entry, and every withheld passage wherever it
    appears in free text, replaced by a note of why; and a list of what was withheld and why
    (where and the reason, never the words)."""
    out = copy.deepcopy(bundle)
    whole = {w.entry: w for w in withholdings if w.whole}
    reasons = {}
    for w in withholdings:
        reasons.setdefault(w.passage, w.reason)
    pattern = _passages(withholdings)
    located = {}
    for section in out["sections"]:
        for entry in section["entries"]:
            for item in entry["fields"]:
                key = item.get("key")
                if not key:
                    continue
                located[key] = (section["heading"], entry["heading"], item["label"])
                if key in whole:
                    item["value"] = f"[Withheld: {SHORT_REASONS[whole[key].reason]}]"
                    item["withheld"] = "all"
                elif pattern is not None and pattern.search(item["value"]):
                    item["value"] = pattern.sub(lambda m: f"[withheld: {SHORT_REASONS[reasons[m.group(0)]]}]",
                                                item["value"])
                    item["withheld"] = "part"
    out["withheld"] = [
        {"section": located[w.entry][0], "entry": located[w.entry][1], "field": located[w.entry][2],
         "part": "All of it" if w.whole else "Part of it (wherever it appears)", "reason": w.reason.label}
        for w in withholdings if w.entry in located]
    return out


# ---- the release and closing --------------------------------------------------------------------


def create_release(request: SubjectAccessRequest, *, by: User, service_name: str,
                   now: datetime | None = None) -> dict[str, Any]:
    """Make the release from the records as they stand, with what is withheld taken out, and
    keep it on the request (the PDF and the JSON file are both drawn from it). Made again, it
    replaces the last one. Audited."""
    _refuse_if_closed(request, "the release can no longer be made again")
    now = now or utcnow()
    release = apply_withholdings(gather(request, now), current_withholdings(request))
    person = request.person
    release.update({
        "marking": MARKING, "service": service_name,
        "request": {"id": request.id, "received_on": request.received_on.isoformat(),
                    "received": govuk_date(request.received_on), "due_on": request.due_on.isoformat()},
        "made": govuk_datetime(now), "for": person.full_name,
    })
    request.release_document, request.released_at, request.released_by_id = release, now, by.id
    db.session.flush()
    audit.record(AuditAction.CREATE, "subject_access_request", request.id, user=by, summary={
        "release": "created", "entries": sum(len(s["entries"]) for s in release["sections"]),
        "withheld": len(release["withheld"])})
    return release


def release_is_stale(request: SubjectAccessRequest) -> bool:
    """True when what is withheld has changed since the release was made."""
    if request.released_at is None:
        return False
    return any(w.at > request.released_at or (w.reinstated_at is not None and w.reinstated_at > request.released_at)
               for w in request.withholdings)


def record_download(request: SubjectAccessRequest, file: str, *, by: User) -> None:
    """Audit a download of the release ("pdf" or "json")."""
    audit.record(AuditAction.EXPORT, "subject_access_request", request.id, user=by, summary={"file": file})


def close_request(request: SubjectAccessRequest, *, sent_on: date | None, by: User,
                  today: date | None = None) -> None:
    """Close the request with the date the release was sent. The release must have been made,
    with what is withheld as it now stands. Audited, with whether it was in time."""
    today = today or london_today()
    _refuse_if_closed(request, "it cannot be closed again")
    if request.release_document is None:
        raise ServiceError("Make the release before closing the request", field="sent_on")
    if release_is_stale(request):
        raise ServiceError("What is withheld has changed since the release was made. Make the release again "
                           "before closing the request", field="sent_on")
    if sent_on is None:
        raise ServiceError("Enter the date the release was sent", field="sent_on")
    if sent_on > today:
        raise ServiceError("The date the release was sent must be today or in the past", field="sent_on")
    if sent_on < request.received_on:
        raise ServiceError("The date the release was sent must be on or after the date the request was received, "
                           f"{govuk_date(request.received_on)}", field="sent_on")
    request.status, request.sent_on, request.closed_at, request.closed_by_id = (
        SubjectAccessStatus.CLOSED, sent_on, utcnow(), by.id)
    db.session.flush()
    audit.record(AuditAction.UPDATE, "subject_access_request", request.id, user=by, summary={
        "status": "closed", "sent_on": sent_on.isoformat(), "in_time": sent_on <= request.due_on})


# ---- lists ----------------------------------------------------------------------------------------


def open_requests() -> list[SubjectAccessRequest]:
    """Every open request, the soonest due first (one query)."""
    return list(db.session.scalars(
        sa.select(SubjectAccessRequest).where(SubjectAccessRequest.status == SubjectAccessStatus.OPEN)
        .options(joinedload(SubjectAccessRequest.person))
        .order_by(SubjectAccessRequest.due_on, SubjectAccessRequest.id)))


def closed_requests(limit: int = CLOSED_SHOWN) -> list[SubjectAccessRequest]:
    """The most recently closed requests (one query)."""
    return list(db.session.scalars(
        sa.select(SubjectAccessRequest).where(SubjectAccessRequest.status == SubjectAccessStatus.CLOSED)
        .options(joinedload(SubjectAccessRequest.person))
        .order_by(SubjectAccessRequest.closed_at.desc(), SubjectAccessRequest.id.desc()).limit(limit)))
