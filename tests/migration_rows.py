"""Rows for migration tests: insert into a table as it is at some earlier revision (reflected from
the database, not the models), giving every other required column a plain value."""

from __future__ import annotations

import contextlib
import itertools
from datetime import date, datetime

import sqlalchemy as sa

_n = itertools.count(1)


def filler(column: sa.Column):
    """A value for a required column the test does not care about."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return False
    if kind is int:
        return 0
    if kind is datetime:
        return datetime(2026, 1, 1)
    if kind is date:
        return date(2026, 1, 1)
    if kind in (dict, list):
        return []
    return f"v{next(_n)}"


def insert_row(connection, table_name: str, /, **values) -> int:
    """Insert a row and return its id; columns not given get filler() unless they may be empty."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    row = {c.name: filler(c) for c in table.columns
           if not (c.name in values or c.primary_key or c.nullable or c.server_default is not None)}
    row.update(values)
    return connection.execute(table.insert().values(**row)).inserted_primary_key[0]


@contextlib.contextmanager
def migrating(tmp_path, label: str):
    """For a test that upgrades and downgrades a database step by step: an app on a new, empty
    database of the suite's kind (tests.conftest.blank_database), its context pushed; every
    connection closed after."""
    from panel.extensions import db
    from tests.conftest import _make_app, blank_database

    with blank_database(tmp_path / f"{label}.db", label) as uri:
        application = _make_app(uri, tmp_path)
        with application.app_context():
            try:
                yield application
            finally:
                db.session.remove()
                db.engine.dispose()
