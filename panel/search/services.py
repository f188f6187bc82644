"""Search across people, referrals (any status) and cases (open and closed), within need to know.

Need to know is applied in the SQL, never after it, so nothing about a record the user may not
see reaches the results, their count or the work done on them. The rules are the records' own
(panel.auth.policy): coordinators and chairs see every referral and case; a SPoC their agency's
referrals and the cases their agency is involved in; a practitioner their own referrals and the
cases their agency is involved in; drafts only their writer; nobody whose agency's information
sharing agreement is not current sees anything. A SPoC whose agency is not involved in a case
finds it only by its reference, and only as the restricted view (reference, initials, risk,
lead agency, involved agencies): a search by name, date of birth, NHS number or postcode never
reaches a case the user may see only that way, since that would tell them who it is about.

A search runs a fixed number of queries whatever the data size: one for the people (a ranked
candidate list of at most CANDIDATES from the database's own name index: pg_trgm and full-text
search on PostgreSQL, FTS5 on SQLite; see migration 0015), one for their cases, one for their
referrals, two for a summary-only case by reference (SPoCs), and the audit entry. The candidates
are then ranked by words.name_score. Every search is audited with its words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from panel import audit
from panel.auth.policy import OPERATIONS, can_access_case_records, isa_block_reason
from panel.dates import london_today
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.forms.text import clean_text
from panel.models import AuditAction, Case, Involvement, Person, Referral, ReferralStatus, Role, User
from panel.search.words import Understood, name_score, trigrams, understand

MAX_LENGTH = 100       # characters of search text
MAX_RESULTS = 50       # people shown
CANDIDATES = 150       # people the name index proposes, before ranking
THRESHOLD = 0.6        # the name score a person needs to be shown
PG_WORD_SIMILARITY = "0.3"  # pg_trgm's word_similarity_threshold for the candidates


@dataclass
class Found:
    """A person row the user may see, with the cases and referrals of theirs the user may open."""

    person: Person
    score: float
    cases: list[Case] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)

    @property
    def as_referred(self) -> Referral | None:
        """The referral, when this row is a linked referral's copy of the person as referred."""
        if self.cases:
            return None
        copies = [r for r in self.referrals if r.referred_person_id == self.person.id]
        return copies[0] if copies and len(copies) == len(self.referrals) else None


@dataclass
class Results:
    """What a search found, and how its words were read."""

    understood: Understood
    people: list[Found] = field(default_factory=list)
    summary_only: list[Case] = field(default_factory=list)  # restricted view, found by reference
    more: bool = False        # more people matched than MAX_RESULTS
    isa_message: str | None = None

    @property
    def count(self) -> int:
        return len(self.people) + len(self.summary_only)


# ---- need to know, as SQL (the same rules as panel.auth.policy) ------------------------------

def referral_scope(user: User) -> sa.ColumnElement[bool]:
    """The referrals the user may open (policy.can_view_referral, the ISA checked before)."""
    own_draft = sa.and_(Referral.status == ReferralStatus.DRAFT, Referral.created_by_id == user.id)
    if user.role in OPERATIONS:
        scope: sa.ColumnElement[bool] = sa.true()
    elif user.role == Role.SPOC:
        scope = Referral.referring_agency_id == user.agency_id
    elif user.role == Role.PRACTITIONER:
        scope = Referral.created_by_id == user.id
    else:
        return sa.false()
    return sa.or_(sa.and_(Referral.status != ReferralStatus.DRAFT, scope), own_draft)


def case_full_scope(user: User) -> sa.ColumnElement[bool]:
    """The cases whose full record the user may open (policy.case_access == "full")."""
    if user.role in OPERATIONS:
        return sa.true()
    if user.role in (Role.SPOC, Role.PRACTITIONER):
        return sa.exists(sa.select(Involvement.id).where(Involvement.case_id == Case.id,
                                                         Involvement.agency_id == user.agency_id))
    return sa.false()


def person_scope(user: User) -> sa.ColumnElement[bool]:
    """Person rows the user may see: the person (or a linked referral's copy of the person as
    referred) of a referral they may open, or the person of a case whose full record they may."""
    referrals = referral_scope(user)
    return sa.or_(
        sa.exists(sa.select(Referral.id).where(Referral.person_id == Person.id, referrals)),
        sa.exists(sa.select(Referral.id).where(Referral.referred_person_id == Person.id, referrals)),
        sa.exists(sa.select(Case.id).where(Case.person_id == Person.id, case_full_scope(user))),
    )


# ---- the search -------------------------------------------------------------------------------

def _record_terms(understood: Understood, user: User) -> list[sa.ColumnElement[bool]]:
    """Conditions on the person row for what was searched besides a name (all must hold)."""
    where: list[sa.ColumnElement[bool]] = []
    if understood.date_of_birth is not None:
        where.append(Person.date_of_birth == understood.date_of_birth)
    if understood.nhs_number:
        where.append(Person.nhs_number == understood.nhs_number)
    if understood.postcode:
        where.append(Person.postcode == understood.postcode)
    if understood.outward_code:  # "LU1 2AB" for "LU1", on the index: from "LU1 " up to "LU1!"
        where.append(sa.and_(Person.postcode >= f"{understood.outward_code} ",
                             Person.postcode < f"{understood.outward_code}!"))
    if understood.case_reference:
        where.append(Person.id.in_(sa.select(Case.person_id).where(
            Case.reference == understood.case_reference, case_full_scope(user))))
    if understood.referral_reference:
        where.append(Person.id.in_(sa.select(Referral.person_id).where(
            Referral.reference == understood.referral_reference, referral_scope(user))))
    return where


def _sqlite_name_candidates(understood: Understood, where: list[sa.ColumnElement[bool]]) -> sa.Select:
    """Ids of the best CANDIDATES people by FTS5 rank in each of the two indexes."""
    chosen = []
    grams = trigrams(understood.name_words + understood.raw_name_words)
    if grams:
        table = sa.table("person_search", sa.column("rowid"), sa.column("person_search"), sa.column("rank"))
        match = " OR ".join(f'"{gram}"' for gram in grams)
        chosen.append(sa.select(table.c.rowid.label("id")).join(Person, Person.id == table.c.rowid)
                      .where(table.c.person_search.op("MATCH")(match), *where)
                      .order_by(table.c.rank).limit(CANDIDATES).subquery())
    words = " OR ".join(f'"{word}"*' for word in understood.name_words if word.isalnum())
    if words:
        table = sa.table("person_search_words", sa.column("rowid"), sa.column("person_search_words"),
                         sa.column("rank"))
        chosen.append(sa.select(table.c.rowid.label("id")).join(Person, Person.id == table.c.rowid)
                      .where(table.c.person_search_words.op("MATCH")(words), *where)
                      .order_by(table.c.rank).limit(CANDIDATES).subquery())
    if not chosen:
        return sa.select(sa.null()).where(sa.false())
    return sa.union(*(sa.select(sub.c.id) for sub in chosen))


def _pg_name_candidates(understood: Understood, where: list[sa.ColumnElement[bool]]) -> sa.Select:
    """Ids of the best CANDIDATES people by pg_trgm's word similarity, or whose names begin
    with every word typed (full-text search); on the indexes of migration 0015."""
    names = sa.func.panel_search_names(Person.given_name, Person.family_name, Person.other_names)
    typed = " ".join(understood.name_words)
    simple = sa.literal_column("'simple'::regconfig")
    prefixes = " & ".join(f"'{word}':*" for word in understood.name_words)
    db.session.execute(sa.text("SELECT set_config('pg_trgm.word_similarity_threshold', :limit, true)"),
                       {"limit": PG_WORD_SIMILARITY})
    return (sa.select(Person.id)
            .where(sa.or_(names.op("%>")(typed),
                          sa.func.to_tsvector(simple, names).op("@@")(sa.func.to_tsquery(simple, prefixes))),
                   *where)
            .order_by(sa.func.word_similarity(typed, names).desc(), sa.func.similarity(typed, names).desc(),
                      Person.id)
            .limit(CANDIDATES))


def _people(understood: Understood, user: User) -> tuple[list[Found], bool]:
    """The people the search finds, best first, at most MAX_RESULTS, and whether there were more."""
    where = [person_scope(user), *_record_terms(understood, user)]
    if not understood.name_words:
        people = list(db.session.scalars(
            sa.select(Person).where(*where).order_by(Person.family_name, Person.given_name, Person.id)
            .limit(MAX_RESULTS + 1)))
        return [Found(p, 1.0) for p in people[:MAX_RESULTS]], len(people) > MAX_RESULTS
    if understood.other_terms and not understood.outward_code:
        # few people share a date of birth, an NHS number, a postcode or a record: rank them all
        # by name, so a name too misspelt for the index is still found beside them
        query = sa.select(Person).where(*where).order_by(Person.id.desc()).limit(CANDIDATES)
    elif db.session.get_bind().dialect.name == "postgresql":
        query = sa.select(Person).where(Person.id.in_(_pg_name_candidates(understood, where)))
    else:
        query = sa.select(Person).where(Person.id.in_(_sqlite_name_candidates(understood, where)))
    scored = [Found(p, name_score(understood.name_words, p.given_name, p.family_name, p.other_names))
              for p in db.session.scalars(query)]
    scored = sorted((f for f in scored if f.score >= THRESHOLD),
                    key=lambda f: (-f.score, f.person.family_name.casefold(), f.person.given_name.casefold(),
                                   f.person.id))
    return scored[:MAX_RESULTS], len(scored) > MAX_RESULTS


def _records(found: list[Found], user: User) -> None:
    """Attach to each person the cases and referrals of theirs the user may open (two queries)."""
    ids = [f.person.id for f in found]
    by_id = {f.person.id: f for f in found}
    for case in db.session.scalars(
            sa.select(Case).where(Case.person_id.in_(ids), case_full_scope(user))
            .options(joinedload(Case.lead_agency), joinedload(Case.step_down_agency))
            .order_by(Case.accepted_on.desc(), Case.id.desc())):
        by_id[case.person_id].cases.append(case)
    for referral in db.session.scalars(
            sa.select(Referral).where(sa.or_(Referral.person_id.in_(ids), Referral.referred_person_id.in_(ids)),
                                      referral_scope(user))
            .options(joinedload(Referral.referring_agency))
            .order_by(Referral.submitted_at.desc().nulls_first(), Referral.id.desc())):
        for person_id in {referral.person_id, referral.referred_person_id} & by_id.keys():
            by_id[person_id].referrals.append(referral)


def _summary_only(understood: Understood, user: User) -> list[Case]:
    """The case with the reference searched for, when the user may see it only as a summary."""
    if not understood.case_reference or user.role != Role.SPOC:
        return []
    return list(db.session.scalars(
        sa.select(Case).where(Case.reference == understood.case_reference, sa.not_(case_full_scope(user)))
        .options(joinedload(Case.person), joinedload(Case.lead_agency),
                 selectinload(Case.involvements).joinedload(Involvement.agency))))


def search(*, text: str, user: User, today: date | None = None) -> Results:
    """Find people, referrals and cases by the words typed, within the user's need to know.

    Audits the search with its words and the number of results (the audit trail is the one
    place the words are kept). Raises ServiceError (field "q") when there is nothing to search
    by, the text is too long or a date of birth is not a real date.
    """
    text = clean_text(text)
    if len(text) > MAX_LENGTH:
        raise ServiceError(f"Search must be {MAX_LENGTH} characters or fewer", field="q")
    today = today or london_today()
    understood = understand(text, today)
    if understood.empty:
        raise ServiceError("Enter a name, date of birth, NHS number, postcode or case or referral reference",
                           field="q")
    results = Results(understood=understood)
    if not can_access_case_records(user, today):
        results.isa_message = isa_block_reason(user.agency, today)
    elif user.role in OPERATIONS or user.role in (Role.SPOC, Role.PRACTITIONER):
        results.people, results.more = _people(understood, user)
        _records(results.people, user)
        results.summary_only = _summary_only(understood, user)
    audit.record(AuditAction.VIEW, "search", "", user=user, summary={"q": text, "results": results.count})
    return results
