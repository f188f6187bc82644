"""The migrations build exactly the schema the models describe, and run down and up again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from panel.models import SEARCH_INDEX_TABLES, SEARCH_INDEXES

from tests.conftest import _make_app

pytestmark = pytest.mark.real_commits  # migrations and a second connection


def _not_alembic_version(name, type_, parent_names) -> bool:
    """alembic_version, and the search's index of names that the database keeps itself
    (migration 0015: tested in tests/search/test_search_index.py), are not in the models."""
    if type_ == "table":
        return name != "alembic_version" and name not in SEARCH_INDEX_TABLES
    return not (type_ == "index" and name in SEARCH_INDEXES)


def _differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            "include_name": _not_alembic_version,
        })
        return compare_metadata(context, _db.metadata)


def _triggers(engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        return set(connection.execute(sa.text(query)).scalars())


def test_the_migrated_database_matches_the_models(app, db):
    """The app fixture's database was built by `flask db upgrade` from empty (SQLite or PostgreSQL)."""
    assert _differences(db.engine) == []


def test_the_migrated_database_has_the_audit_triggers(app, db):
    triggers = _triggers(db.engine)
    assert "audit_events_no_update" in triggers
    if db.engine.dialect.name == "sqlite":
        assert "audit_events_no_delete" in triggers


def test_the_database_is_at_the_latest_revision(app, db):
    from alembic.script import ScriptDirectory

    config = app.extensions["migrate"].migrate.get_config()
    heads = ScriptDirectory.from_config(config).get_heads()
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    assert len(heads) == 1, f"the migrations have more than one head: {heads}"
    assert set(current) == set(heads)


def test_downgrade_to_base_and_upgrade_again_on_a_fresh_sqlite_file(tmp_path):
    application = _make_app(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    with application.app_context():
        try:
            upgrade()
            assert _differences(_db.engine) == []
            with _db.engine.connect() as connection:  # the planner's statistics refreshed by the upgrade
                assert connection.exec_driver_sql(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar_one() == 1

            downgrade(revision="base")
            remaining = set(sa.inspect(_db.engine).get_table_names()) - {"alembic_version"}
            assert remaining == set()
            assert _triggers(_db.engine) == set()

            upgrade()
            assert _differences(_db.engine) == []
            assert {"audit_events_no_update", "audit_events_no_delete"} <= _triggers(_db.engine)
        finally:
            _db.session.remove()
            _db.engine.dispose()


@pytest.mark.parametrize("step", ["upgrade", "downgrade"])
def test_each_migration_runs_on_its_own(tmp_path, step):
    """Walk the history one revision at a time, up and then down, on a fresh SQLite file."""
    from alembic.script import ScriptDirectory

    application = _make_app(f"sqlite:///{tmp_path / 'steps.db'}", tmp_path)
    with application.app_context():
        try:
            config = application.extensions["migrate"].migrate.get_config()
            revisions = [r.revision for r in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]
            for revision in revisions:
                upgrade(revision=revision)
            if step == "downgrade":
                for revision in reversed(revisions[:-1]):
                    downgrade(revision=revision)
                downgrade(revision="base")
                assert set(sa.inspect(_db.engine).get_table_names()) <= {"alembic_version"}
            else:
                assert _differences(_db.engine) == []
        finally:
            _db.session.remove()
            _db.engine.dispose()
