"""search: trigram and full-text indexes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 13:30:00

The search (panel/search/) looks people up by name through an index the database keeps itself,
so every way a person row is written (the form, the API, linking, retention, a bulk load, a
restore) keeps it in step:

- PostgreSQL: the pg_trgm extension, an IMMUTABLE function panel_search_names(given, family,
  other) giving the names folded (lower case, common accents and ligatures taken off, punctuation
  as spaces), and two GIN indexes on persons over it: trigrams (pg_trgm) and the words ('simple'
  full-text search).
- SQLite: two FTS5 tables whose rowid is the person's id, contentless (they keep no copy of the
  names, only the index), kept by three triggers on persons: person_search (trigram tokenizer)
  and person_search_words (words, accents and case folded).

Also plain indexes for the other ways in: persons.postcode, and referrals.referred_person_id
(a linked referral's copy of the person as referred, searched like any person row).

A migration that rebuilds persons on SQLite (batch_alter_table) drops its triggers with it: it
must make them again (this file's _sqlite_triggers).
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# Accented letters and what they fold to (their capitals follow from .upper()), for PostgreSQL's
# translate(). Kept here, not imported, so the migration says the same thing for ever; the
# search's Python folding (panel/search/words.py) covers the same letters and more.
_SINGLE = {
    "a": "àáâãäåāăą", "c": "çćĉċč", "d": "ďđð", "e": "èéêëēĕėęě", "g": "ĝğġģ", "h": "ĥħ",
    "i": "ìíîïĩīĭįı", "j": "ĵ", "k": "ķ", "l": "ĺļľŀł", "n": "ñńņň", "o": "òóôõöøōŏő", "r": "ŕŗř",
    "s": "śŝşšș", "t": "ţťŧț", "u": "ùúûüũūŭůűų", "w": "ŵ", "y": "ýÿŷ", "z": "źżž",
}
_MULTI = {"æ": "ae", "œ": "oe", "ß": "ss", "þ": "th", "Æ": "ae", "Œ": "oe", "Þ": "th"}
# Punctuation people type inside names, made spaces in SQLite's trigram index (its parser allows
# only so many nested replace() calls, so the commonest; the others only cost a few trigrams).
_PUNCTUATION = "-'’.,"

FOLD_FROM = "".join(ch + (ch.upper() if len(ch.upper()) == 1 and not ch.upper().isascii() else "")
                    for chars in _SINGLE.values() for ch in chars)
FOLD_TO = "".join(plain * (1 + (len(ch.upper()) == 1 and not ch.upper().isascii()))
                  for plain, chars in _SINGLE.items() for ch in chars)
assert len(FOLD_FROM) == len(FOLD_TO)

PG_INDEXES = ("ix_persons_search_trgm", "ix_persons_search_words")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ---- SQLite -------------------------------------------------------------------------------------
# Two contentless FTS5 tables (they keep no copy of the names, only the index), rowid = persons.id:
#   person_search        the trigram tokenizer (case folded) over ' given family other ', with
#                        hyphens, apostrophes and full stops as spaces: close misspellings, any part
#                        of a name, names run together or split;
#   person_search_words  the unicode61 tokenizer with remove_diacritics 2: whole words and their
#                        beginnings, accents and case folded (SQLite 3.40's trigram tokenizer cannot
#                        fold accents, and its parser cannot nest a replace() for each letter).

def _sqlite_trigram_names(row: str) -> str:
    expr = (f"lower(' ' || coalesce({row}.given_name, '') || ' ' || coalesce({row}.family_name, '') || ' ' "
            f"|| coalesce({row}.other_names, '') || ' ')")
    for ch in _PUNCTUATION:
        expr = f"replace({expr}, {_quote(ch)}, ' ')"
    return expr


def _sqlite_word_names(row: str) -> str:
    return (f"coalesce({row}.given_name, '') || ' ' || coalesce({row}.family_name, '') || ' ' "
            f"|| coalesce({row}.other_names, '')")


def _sqlite_insert(row: str, key: str) -> str:
    return (f"INSERT INTO person_search (rowid, names) VALUES ({key}, {_sqlite_trigram_names(row)}); "
            f"INSERT INTO person_search_words (rowid, names) VALUES ({key}, {_sqlite_word_names(row)});")


def _sqlite_delete(row: str, key: str) -> str:
    """A contentless FTS5 table forgets a row when told the values it was given."""
    return (f"INSERT INTO person_search (person_search, rowid, names) "
            f"VALUES ('delete', {key}, {_sqlite_trigram_names(row)}); "
            f"INSERT INTO person_search_words (person_search_words, rowid, names) "
            f"VALUES ('delete', {key}, {_sqlite_word_names(row)});")


SQLITE_TRIGGERS = ("persons_search_insert", "persons_search_update", "persons_search_delete")


def _sqlite_triggers() -> list[str]:
    return [
        f"CREATE TRIGGER persons_search_insert AFTER INSERT ON persons BEGIN {_sqlite_insert('NEW', 'NEW.id')} END",
        f"CREATE TRIGGER persons_search_update AFTER UPDATE OF given_name, family_name, other_names ON persons "
        f"BEGIN {_sqlite_delete('OLD', 'OLD.id')} {_sqlite_insert('NEW', 'NEW.id')} END",
        f"CREATE TRIGGER persons_search_delete AFTER DELETE ON persons BEGIN {_sqlite_delete('OLD', 'OLD.id')} END",
    ]


def _sqlite_upgrade() -> None:
    op.execute("CREATE VIRTUAL TABLE person_search USING fts5(names, content='', tokenize='trigram')")
    op.execute("CREATE VIRTUAL TABLE person_search_words USING fts5(names, content='', "
               "tokenize='unicode61 remove_diacritics 2')")
    for statement in _sqlite_triggers():
        op.execute(statement)
    op.execute(f"INSERT INTO person_search (rowid, names) SELECT id, {_sqlite_trigram_names('persons')} FROM persons")
    op.execute(f"INSERT INTO person_search_words (rowid, names) SELECT id, {_sqlite_word_names('persons')} "
               "FROM persons")


def _sqlite_downgrade() -> None:
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS person_search_words")
    op.execute("DROP TABLE IF EXISTS person_search")


# ---- PostgreSQL ---------------------------------------------------------------------------------

def _pg_function() -> str:
    names = "coalesce(given, '') || ' ' || coalesce(family, '') || ' ' || coalesce(other, '')"
    folded = f"translate(lower({names}), {_quote(FOLD_FROM)}, {_quote(FOLD_TO)})"
    for before, after in _MULTI.items():
        folded = f"replace({folded}, {_quote(before)}, {_quote(after)})"
    # Letters of other scripts (U+0100 on, less the general punctuation block) are kept as they are.
    return (
        "CREATE OR REPLACE FUNCTION panel_search_names(given text, family text, other text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ' ' || btrim(regexp_replace("
        f"{folded}, '[^a-z0-9\\u0100-\\u1fff\\u3000-\\uffff]+', ' ', 'g')) || ' ' $$"
    )


_PG_NAMES = "panel_search_names(given_name, family_name, other_names)"


def _pg_upgrade() -> None:
    # pg_trgm is a trusted extension (PostgreSQL 13 on): the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(_pg_function())
    op.execute(f"CREATE INDEX ix_persons_search_trgm ON persons USING gin ({_PG_NAMES} gin_trgm_ops)")
    op.execute(f"CREATE INDEX ix_persons_search_words ON persons USING gin "
               f"(to_tsvector('simple'::regconfig, {_PG_NAMES}))")


def _pg_downgrade() -> None:
    for name in PG_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP FUNCTION IF EXISTS panel_search_names(text, text, text)")
    # pg_trgm stays: other things in the database may use it, and it holds no data.


def upgrade():
    with op.batch_alter_table('persons', schema=None, recreate='never') as batch_op:
        batch_op.create_index(batch_op.f('ix_persons_postcode'), ['postcode'], unique=False)
    with op.batch_alter_table('referrals', schema=None, recreate='never') as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_referred_person_id'), ['referred_person_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()
    else:
        _sqlite_upgrade()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _pg_downgrade()
    else:
        _sqlite_downgrade()
    with op.batch_alter_table('referrals', schema=None, recreate='never') as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_referred_person_id'))
    with op.batch_alter_table('persons', schema=None, recreate='never') as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_postcode'))
