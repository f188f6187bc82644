"""The pathway's capacity: occupancy, the admission lock and the waiting list.

Open referrals (submitted, info requested, awaiting panel) plus open cases (active, closure
proposed) never exceed CASE_CAP. Every change that can add to that count first calls lock():
PostgreSQL takes a row lock on the single pathway row (SELECT ... FOR UPDATE); SQLite
takes the database's single write lock (a form post's transaction began IMMEDIATE and holds it
already: panel/transactions.py). Counting and admitting then happen inside that lock, so concurrent requests
can never pass the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app

from panel.extensions import db
from panel.models import (
    OPEN_CASE_STATUSES,
    OPEN_REFERRAL_STATUSES,
    Case,
    Pathway,
    Referral,
    ReferralStatus,
    RiskLevel,
)


@dataclass(frozen=True)
class Occupancy:
    referrals: int
    cases: int
    cap: int

    @property
    def used(self) -> int:
        return self.referrals + self.cases

    @property
    def free(self) -> int:
        return max(self.cap - self.used, 0)

    @property
    def full(self) -> bool:
        return self.used >= self.cap

    @property
    def words(self) -> str:
        """The stable dashboard wording: "13 of 15 places used"."""
        return f"{self.used} of {self.cap} places used"


def cap() -> int:
    return int(current_app.config["CASE_CAP"])


def occupancy() -> Occupancy:
    """Count what holds a place now (two queries in one statement)."""
    referrals = sa.select(sa.func.count()).select_from(Referral).where(Referral.status.in_(OPEN_REFERRAL_STATUSES))
    cases = sa.select(sa.func.count()).select_from(Case).where(Case.status.in_(OPEN_CASE_STATUSES))
    row = db.session.execute(sa.select(referrals.scalar_subquery(), cases.scalar_subquery())).one()
    return Occupancy(referrals=row[0], cases=row[1], cap=cap())


def lock() -> Pathway:
    """Serialise admissions for the rest of the transaction and return the pathway row."""
    query = sa.select(Pathway).where(Pathway.id == 1).with_for_update()
    row = db.session.execute(query).scalar_one_or_none()
    if row is None:  # a database made without the migration's row
        row = Pathway(id=1)
        db.session.add(row)
        db.session.flush()
    return row


def admit_status() -> ReferralStatus:
    """Call under lock(): submitted when there is room, else waiting."""
    return ReferralStatus.WAITING if occupancy().full else ReferralStatus.SUBMITTED


def next_referral_reference(row: Pathway, today: date) -> str:
    """R-2026-00042: the year submitted and a number that never repeats. Call under lock()."""
    number = row.next_referral_number
    row.next_referral_number = number + 1
    return f"R-{today.year}-{number:05d}"


def next_case_reference(row: Pathway, today: date) -> str:
    """CASPA-2027-004: the year accepted and a number counted from 1 each year. Call under lock()."""
    if row.next_case_year != today.year:
        row.next_case_year = today.year
        row.next_case_number = 1
    number = row.next_case_number
    row.next_case_number = number + 1
    return f"CASPA-{today.year}-{number:03d}"


def waiting_list() -> list[Referral]:
    """Waiting referrals, most urgent risk first, then the longest waiting."""
    rank = sa.case({level.value: level.rank for level in RiskLevel}, value=Referral.risk_level, else_=9)
    return list(
        db.session.execute(
            sa.select(Referral)
            .where(Referral.status == ReferralStatus.WAITING)
            .order_by(rank, Referral.submitted_at, Referral.id)
            .options(sa.orm.joinedload(Referral.referring_agency), sa.orm.joinedload(Referral.person))
        ).scalars()
    )
