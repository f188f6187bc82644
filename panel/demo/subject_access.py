"""Demo data: one open subject-access request (issue 13): Alex Sample, whose case has been in the
pathway longest, asked for their information twelve days ago, so it is due in about three weeks
and shows on the coordinator's home page."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from panel.extensions import db
from panel.models import Case, Person, SubjectAccessRequest, User
from panel.reports import subject_access

RECEIVED_DAYS_AGO = 12


def load(*, today: date) -> int:
    """Add this part of the demo data (flushes, does not commit); returns how many records it made."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(SubjectAccessRequest)):
        return 0  # already there: --force adds nothing twice
    person = db.session.scalar(sa.select(Person).join(Case, Case.person_id == Person.id).where(
        Person.given_name == "Alex", Person.family_name == "Sample").limit(1))
    coordinator = db.session.scalar(sa.select(User).where(User.email == "coordinator@demo.invalid"))
    if person is None or coordinator is None:
        return 0
    subject_access.open_request(person, received_on=today - timedelta(days=RECEIVED_DAYS_AGO), by=coordinator,
                                today=today)
    return 1
