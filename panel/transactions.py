"""How a transaction begins on SQLite: reads run beside the writer, only writes take the lock.

SQLite has one write lock for the whole database. In WAL mode a reader never waits for it: a
deferred transaction reads the last committed state while another connection writes. So:

- A request that only reads (GET, HEAD, OPTIONS) begins a deferred transaction (``BEGIN``).
  The pages a user looks at run beside a long export, a PDF being drawn or the scheduler.
- Everything else (a form post, the scheduler's jobs, the command line) begins ``BEGIN
  IMMEDIATE``, taking the lock at once, so two writers are serialised from their first read
  and a rule checked by reading (the case cap, the audit chain) holds when the write lands.
- A read-only request that does write (its audit entry: "who viewed this case") takes the lock
  at its first write: the deferred transaction, which has written nothing, ends and an
  IMMEDIATE one begins, waiting for the lock like any writer (the busy timeout). SQLite cannot
  turn a reader into a writer in place once someone else has committed (SQLITE_BUSY_SNAPSHOT),
  which is why the read transaction is ended rather than upgraded. ``take_write_lock`` does the
  same on purpose, before a read that the write depends on (the audit chain's previous hash,
  the pathway's count), and so does any ``SELECT ... FOR UPDATE``, which SQLite does not have.

PostgreSQL needs none of this: its readers never block and never wait for writers.
"""

from __future__ import annotations

import sqlite3

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import ORMExecuteState, Session

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The first word of a statement that needs the write lock (SAVEPOINT too: a savepoint's
# rollback must not find that the transaction under it was ended by taking the lock).
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT"})
_DEFERRED = "panel_sqlite_deferred"


def _reads_only() -> bool:
    return has_request_context() and request.method in READ_METHODS


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, connection_record) -> None:
    """SQLite: foreign keys on, WAL, and our own BEGIN (the driver's own is switched off)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Connection) -> None:
    if conn.dialect.name != "sqlite":
        return
    if _reads_only():
        conn.exec_driver_sql("BEGIN DEFERRED")
        conn.info[_DEFERRED] = True
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.info.pop(_DEFERRED, None)


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _sqlite_end(conn: Connection) -> None:
    conn.info.pop(_DEFERRED, None)


@event.listens_for(Engine, "before_cursor_execute")
def _sqlite_first_write(conn: Connection, cursor, statement: str, *_args) -> None:
    if conn.info.get(_DEFERRED) and _first_word(statement) in _WRITES:
        _lock(conn)


def _first_word(statement: str) -> str:
    words = statement[:40].split(None, 1)
    return words[0].upper() if words else ""


@event.listens_for(Session, "do_orm_execute")
def _sqlite_for_update(state: ORMExecuteState) -> None:
    """A read that asks to hold its rows (with_for_update) holds the write lock on SQLite."""
    if state.is_select and state.statement._for_update_arg is not None:
        connection = state.session.connection()
        if connection.dialect.name == "sqlite":
            take_write_lock(connection)


def _lock(conn: Connection) -> None:
    """End the deferred (read) transaction, which has written nothing, and begin an IMMEDIATE one."""
    conn.info.pop(_DEFERRED, None)
    raw = conn.connection.dbapi_connection
    try:
        raw.execute("COMMIT")
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:  # "database is locked" past the busy timeout: the busy page
        raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc


def take_write_lock(conn: Connection) -> None:
    """Hold the write lock from here to the end of the transaction (SQLite; elsewhere nothing).

    Call it before reading what a write depends on, so the read sees the newest committed state
    and no other writer can change it before the write lands."""
    if conn.info.get(_DEFERRED):
        _lock(conn)


def commit_read(session: Session) -> None:
    """Commit a page's read (its audit entry) without expiring what it read.

    A commit normally expires every object loaded, so that the next read of an attribute fetches
    the newest value. A page that has already drawn what it read, and reads nothing after, has
    no next read: expiring them is only work, one call per object (a chair's pack loads several
    hundred). The session goes back to expiring on commit for whatever uses it next."""
    expiring = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring
