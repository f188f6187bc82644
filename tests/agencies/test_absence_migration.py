"""Migration 0017 on data: an agency whose SPoC was marked absent by the old tick box has them
away from the upgrade until further notice (the deputy still acts, and the SPoC or the
coordinator ends it); the others are not; and the downgrade puts the tick box back as it stands."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from panel.models import Agency, SpocAbsence
from tests.conftest import _make_app
from tests.migration_rows import insert_row

pytestmark = pytest.mark.real_commits  # its own database file, migrated step by step


def test_a_spoc_marked_absent_is_away_until_further_notice_after_the_upgrade(tmp_path):
    application = _make_app(f"sqlite:///{tmp_path / 'old.db'}", tmp_path)
    with application.app_context():
        try:
            upgrade(revision="0016")
            with _db.engine.begin() as connection:
                ids = {}
                for code, absent in (("away", True), ("here", False), ("nobody", True)):
                    ids[code] = insert_row(connection, "agencies", name=code.title(), code=code, kind="police",
                                           spoc_absent=absent)
                for code, role in (("away", "spoc"), ("away-deputy", "spoc"), ("here", "spoc")):
                    ids[f"{code}-user"] = insert_row(
                        connection, "users", email=f"{code}@test.invalid", name=code, role=role,
                        agency_id=ids[code.removesuffix("-deputy")], password_hash="x", session_token=code)
                connection.execute(sa.text("UPDATE agencies SET spoc_id = :s, deputy_spoc_id = :d WHERE id = :a"),
                                   {"s": ids["away-user"], "d": ids["away-deputy-user"], "a": ids["away"]})
                connection.execute(sa.text("UPDATE agencies SET spoc_id = :s WHERE id = :a"),
                                   {"s": ids["here-user"], "a": ids["here"]})

            upgrade(revision="0017")

            [absence] = _db.session.scalars(sa.select(SpocAbsence)).all()
            assert (absence.user_id, absence.ends_on, absence.ends_at, absence.note) == (ids["away-user"], None, None, "")
            away, here = _db.session.get(Agency, ids["away"]), _db.session.get(Agency, ids["here"])
            assert away.spoc_absent and away.acting_spoc.id == ids["away-deputy-user"]
            assert not here.spoc_absent and here.acting_spoc.id == ids["here-user"]
            _db.session.remove()

            downgrade(revision="0016")
            with _db.engine.connect() as connection:
                flags = dict(connection.execute(sa.text("SELECT code, spoc_absent FROM agencies")).all())
            assert {code: bool(flag) for code, flag in flags.items()} == {"away": True, "here": False, "nobody": False}
        finally:
            _db.session.remove()
            _db.engine.dispose()
