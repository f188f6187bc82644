"""Which databases the test suite may touch: it drops schemas and truncates tables, so only a local
database whose name ends in ``_test``, named by TEST_DATABASE_URL, and never DATABASE_URL's."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}


def refusal(environ: Mapping[str, str]) -> str | None:
    """Why the suite must not run with these environment variables, or None when it may.

    Reads nothing but the variables: it is called before any database is opened.
    """
    if environ.get("DATABASE_URL", "").strip():
        return ("DATABASE_URL is set. It is the application's database, and the test suite empties the database "
                "it runs on, so it will not run while DATABASE_URL is set. Unset it; to test on PostgreSQL set "
                "TEST_DATABASE_URL to a database on this machine whose name ends in _test.")
    url = environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        return None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "TEST_DATABASE_URL is not a database URL."
    if parsed.get_backend_name() == "sqlite":
        return "TEST_DATABASE_URL is for PostgreSQL; the SQLite test databases are made under pytest's temporary folder."
    if parsed.get_backend_name() != "postgresql":
        return f"TEST_DATABASE_URL must name a PostgreSQL database, not {parsed.get_backend_name()}."
    if not (parsed.database or "").endswith("_test"):
        return (f"TEST_DATABASE_URL names the database {parsed.database!r}: the test suite only runs on a database "
                "whose name ends in _test, because it empties it.")
    if parsed.host not in LOCAL_HOSTS:
        return (f"TEST_DATABASE_URL is on {parsed.host!r}: the test suite only runs on a database on this machine "
                "(localhost, 127.0.0.1 or ::1), because it empties it.")
    return None
