"""Upgrades: a database at every earlier migration, with data in every table, upgrades to head
without losing a value; every migration has a working downgrade or says plainly it has none.

The data is made from the schema as it was at that revision (reflected), one row per table with
every column filled, so a migration added later is covered without this file changing.
"""

from __future__ import annotations

import ast
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from panel.extensions import db as _db
from tests.conftest import blank_database, _make_app

pytestmark = pytest.mark.real_commits

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
NO_DOWNGRADE = "has no downgrade"  # the words a migration without one must say (and raise)


def _revisions() -> list[str]:
    return [r.revision for r in reversed(list(ScriptDirectory(str(VERSIONS.parent)).walk_revisions()))]


REVISIONS = _revisions()


@pytest.fixture
def blank_uri(tmp_path):
    """An empty database of the suite's kind to migrate step by step."""
    with blank_database(tmp_path / 'upgrade.db', "upgrade") as uri:
        yield uri


def _value(column: sa.Column, n: int):
    """A distinctive value the column accepts."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return True
    if kind is int:
        return 1000 + n
    if kind is float:
        return 1.5
    if kind is datetime:
        return datetime(2027, 1, 14, 10, 30, n % 60)
    if kind is date:
        return date(2027, 1, 14)
    if kind is dict:
        return {"kept": n}
    if kind is list:
        return [n]
    if kind is bytes:
        return b"kept"
    length = getattr(column.type, "length", None) or 40
    return f"k{n}-{column.name}"[:length]


def _fill(engine) -> dict[str, list[dict]]:
    """One row in every table (that the migration left empty), every column given a value."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    # parents first; a nullable key (agencies.spoc_id -> users) may point nowhere, which breaks the cycle
    tables = [t for t in sa.schema.sort_tables(metadata.tables.values(), skip_fn=lambda fk: fk.parent.nullable)
              if t.name != "alembic_version"]
    with engine.begin() as conn:
        filled = set()
        for n, table in enumerate(tables):
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
                filled.add(table.name)
                continue
            row = {}
            for i, column in enumerate(table.columns):
                foreign = next(iter(column.foreign_keys), None)
                if foreign is not None:
                    target = foreign.column.table.name
                    if column.nullable and target not in filled:
                        row[column.name] = None
                    else:
                        row[column.name] = conn.execute(sa.select(sa.func.min(foreign.column))).scalar_one()
                elif column.name.endswith("_id") and column.nullable:
                    row[column.name] = None  # a key whose constraint a later migration adds
                else:
                    row[column.name] = _value(column, n * 100 + i)
            conn.execute(table.insert().values(**row))
            filled.add(table.name)
        if engine.dialect.name == "postgresql":
            for table in tables:
                for column in [c for c in table.primary_key.columns if isinstance(c.type, sa.Integer)]:
                    conn.execute(sa.text(
                        "SELECT setval(pg_get_serial_sequence(:t, :c), (SELECT max(" + column.name + ") FROM "
                        + table.name + ")) WHERE pg_get_serial_sequence(:t, :c) IS NOT NULL"),
                        {"t": table.name, "c": column.name})
    return _snapshot(engine, {t.name: [c.name for c in t.columns] for t in tables})


def _snapshot(engine, columns: dict[str, list[str]]) -> dict[str, list[dict]]:
    metadata = sa.MetaData()
    metadata.reflect(engine)
    out = {}
    with engine.connect() as conn:
        for name, names in columns.items():
            table = metadata.tables[name]
            keys = list(table.primary_key.columns) or [table.c[n] for n in names]
            out[name] = [dict(r._mapping) for r in conn.execute(
                sa.select(*[table.c[n] for n in names]).order_by(*keys))]
    return out


@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_a_database_at_an_earlier_migration_with_data_upgrades_to_head_without_loss(tmp_path, blank_uri, revision):
    application = _make_app(blank_uri, tmp_path)
    with application.app_context():
        try:
            upgrade(revision=revision)
            before = _fill(_db.engine)
            _db.engine.dispose()

            upgrade()

            after = _snapshot(_db.engine, {name: list(rows[0]) if rows else [] for name, rows in before.items()
                                           if rows})
        finally:
            _db.session.remove()
            _db.engine.dispose()
    for name, rows in before.items():
        if rows:
            assert after[name][:len(rows)] == rows, f"{name} changed upgrading from {revision}"


def test_a_full_database_downgrades_step_by_step_to_the_first_migration(tmp_path, blank_uri):
    """Downgrades work with data in every table (down to where one says it has none)."""
    application = _make_app(blank_uri, tmp_path)
    with application.app_context():
        try:
            upgrade()
            _fill(_db.engine)
            _db.engine.dispose()
            for revision in reversed(REVISIONS[:-1]):
                if NO_DOWNGRADE in _source(REVISIONS[REVISIONS.index(revision) + 1]):
                    break
                downgrade(revision=revision)
        finally:
            _db.session.remove()
            _db.engine.dispose()


def _source(revision: str) -> str:
    [path] = [p for p in VERSIONS.glob("*.py") if _revision_of(p) == revision]
    return path.read_text()


def _revision_of(path: Path) -> str | None:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "revision" for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def _body(tree: ast.Module, name: str) -> list[ast.stmt]:
    [function] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    return body


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.stem)
def test_every_migration_has_a_downgrade_or_says_plainly_it_has_none(path):
    tree = ast.parse(path.read_text())
    up, down = _body(tree, "upgrade"), _body(tree, "downgrade")
    does_nothing = lambda body: all(isinstance(s, ast.Pass) for s in body)  # noqa: E731
    if does_nothing(up):
        return  # a reserved, empty step: nothing to undo
    if does_nothing(down):
        pytest.fail(f"{path.name} changes the schema but its downgrade does nothing: write one, or raise "
                    f"NotImplementedError saying the migration {NO_DOWNGRADE!r} and why")
    raises = any(isinstance(s, ast.Raise) for s in down)
    if raises:
        assert NO_DOWNGRADE in path.read_text(), f"{path.name}: a downgrade that raises must say it {NO_DOWNGRADE}"
