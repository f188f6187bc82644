"""The name index of migration 0015 is kept by the database itself: every way a person row is
written, changed or removed keeps it in step (SQLite's FTS5 tables and their triggers), and on
PostgreSQL the search's queries can use its trigram and full-text indexes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.models import SEARCH_INDEX_TABLES, SEARCH_INDEXES, Person
from panel.search import services
from panel.search.words import understand
from panel.dates import london_today
from tests import factories
from tests.conftest import PG_URL

sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="SQLite's FTS5 index")
postgresql_only = pytest.mark.skipif(not PG_URL, reason="PostgreSQL's pg_trgm and full-text indexes")


def _trigram_hits(gram: str) -> set[int]:
    return set(db.session.scalars(sa.text("SELECT rowid FROM person_search WHERE person_search MATCH :m"),
                                  {"m": f'"{gram}"'}))


def _word_hits(word: str) -> set[int]:
    return set(db.session.scalars(sa.text("SELECT rowid FROM person_search_words WHERE person_search_words MATCH :m"),
                                  {"m": f'"{word}"'}))


@sqlite_only
def test_sqlite_keeps_both_indexes_in_step_with_every_insert_change_and_delete(app):
    tables = set(sa.inspect(db.engine).get_table_names())
    assert SEARCH_INDEX_TABLES <= tables
    triggers = set(db.session.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    assert {"persons_search_insert", "persons_search_update", "persons_search_delete"} <= triggers

    db.session.execute(sa.insert(Person), [{"id": 900001, "given_name": "Zoë", "family_name": "O'Brien-Smythe"}])
    assert 900001 in _trigram_hits("rie") and 900001 in _trigram_hits(" o ")  # "O'Brien" as two words
    assert 900001 in _word_hits("zoe") and 900001 in _word_hits("smythe")    # accents and case folded

    db.session.execute(sa.update(Person).where(Person.id == 900001).values(family_name="Quartermaine"))
    assert 900001 not in _trigram_hits("rie") and 900001 not in _word_hits("smythe")
    assert 900001 in _trigram_hits("qua") and 900001 in _word_hits("quartermaine")

    db.session.execute(sa.update(Person).where(Person.id == 900001).values(postcode="LU1 2AB"))  # not a name
    assert 900001 in _word_hits("quartermaine")

    db.session.execute(sa.delete(Person).where(Person.id == 900001))
    assert 900001 not in _trigram_hits("qua") and 900001 not in _word_hits("zoe")


@sqlite_only
def test_the_orm_and_the_factories_are_indexed_too(app):
    referral = factories.create_referral(given_name="Perpetua", family_name="Winterbottom")
    assert referral.person_id in _word_hits("winterbottom")


@postgresql_only
def test_postgresql_folds_names_as_the_search_does(app):
    folded = db.session.scalar(sa.text("SELECT panel_search_names('Zoë-Ælfgifu', 'O’Brien-SMITH', 'Straße')"))
    assert folded == " zoe aelfgifu o brien smith strasse "
    indexes = set(db.session.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'persons'")))
    assert SEARCH_INDEXES <= indexes


@postgresql_only
def test_postgresql_serves_a_name_search_from_its_indexes(app):
    coordinator = factories.create_user(role="coordinator")
    factories.create_referral(given_name="Perpetua", family_name="Winterbottom")
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))  # what the planner may use, not what it likes
    understood = understand("Perpetua Winterbotom", london_today())
    candidates = services._pg_name_candidates(understood, [services.person_scope(coordinator)])
    sql = str(candidates.compile(db.engine, compile_kwargs={"literal_binds": True})).replace("%%", "%")
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    cursor.execute("EXPLAIN " + sql)  # no parameters: psycopg leaves the % of pg_trgm's %> alone
    plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ix_persons_search_trgm" in plan and "ix_persons_search_words" in plan, plan
