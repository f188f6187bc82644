"""Plain builders for test data. They add and flush; the test commits when it needs to."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from panel.auth.passwords import hash_password
from panel.extensions import db
from panel.models import Agency, AgencyKind, Role, User

PASSWORD = "a long test password for everyone"
_HASH = hash_password(PASSWORD)
_seq = itertools.count(1)


def create_agency(*, code: str | None = None, name: str | None = None, kind: AgencyKind = AgencyKind.POLICE,
                  isa: str = "current", **kwargs) -> Agency:
    n = next(_seq)
    today = date.today()
    dates = {
        "current": (today - timedelta(days=100), today + timedelta(days=200)),
        "lapsed": (today - timedelta(days=400), today - timedelta(days=1)),
        "due_soon": (today - timedelta(days=340), today + timedelta(days=10)),
        "unsigned": (None, None),
    }[isa]
    agency = Agency(code=code or f"agency-{n}", name=name or f"Test Agency {n}", kind=kind,
                    isa_signed_on=dates[0], isa_review_due=dates[1], **kwargs)
    db.session.add(agency)
    db.session.flush()
    return agency


def create_user(*, role: Role = Role.PRACTITIONER, agency: Agency | None = None, email: str | None = None,
                name: str | None = None, password: str | None = None, **kwargs) -> User:
    n = next(_seq)
    user = User(
        email=email or f"user{n}@test.invalid",
        name=name or f"Test User {n}",
        role=role,
        agency=agency or create_agency(),
        password_hash=hash_password(password) if password else _HASH,
        **kwargs,
    )
    db.session.add(user)
    db.session.flush()
    return user
