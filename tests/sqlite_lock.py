"""Whether another writer could take SQLite's write lock now: for the tests that show a long
response (a streamed export) holds no transaction while its rows go out."""

from __future__ import annotations

import sqlite3


def writer_gets_in(uri: str) -> str:
    """"written" when another connection takes the write lock at once (BEGIN IMMEDIATE, then
    rolled back), else SQLite's message ("database is locked")."""
    other = sqlite3.connect(uri.removeprefix("sqlite:///"), timeout=0.2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return "written"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        other.close()


def writers_between_chunks(response, uri: str, chunks: int) -> tuple[list[str], list]:
    """Read `chunks` chunks of a streamed response, asking after each whether another writer gets
    in; then the rest. Returns (the answers, the chunks left); the response is closed."""
    outcomes, parts = [], iter(response.response)
    for _ in range(chunks):
        next(parts)
        outcomes.append(writer_gets_in(uri))
    rest = list(parts)
    response.close()
    return outcomes, rest
