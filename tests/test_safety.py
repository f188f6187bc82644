"""The suite is safe to point anywhere: it refuses a database it might wreck, before opening it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.safety import refusal

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("environ", [
    {},
    {"TEST_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:54329/panel_test"},
    {"TEST_DATABASE_URL": "postgresql://panel@localhost/council_panel_test"},
    {"TEST_DATABASE_URL": "postgresql+psycopg://panel@/panel_test?host=/var/run/postgresql"},
], ids=["sqlite-default", "local-127", "localhost", "unix-socket"])
def test_a_local_database_named_for_tests_may_be_used(environ):
    assert refusal(environ) is None


@pytest.mark.parametrize(("environ", "words"), [
    ({"DATABASE_URL": "postgresql+psycopg://panel@db.council.gov.uk/production"}, "DATABASE_URL is set"),
    ({"DATABASE_URL": "sqlite:///instance/panel.db",
      "TEST_DATABASE_URL": "postgresql://panel@127.0.0.1/panel_test"}, "DATABASE_URL is set"),
    ({"TEST_DATABASE_URL": "postgresql://panel@127.0.0.1/production"}, "ends in _test"),
    ({"TEST_DATABASE_URL": "postgresql://panel@127.0.0.1/panel_test_copy"}, "ends in _test"),
    ({"TEST_DATABASE_URL": "postgresql://panel@db.council.gov.uk/panel_test"}, "on this machine"),
    ({"TEST_DATABASE_URL": "mysql://panel@127.0.0.1/panel_test"}, "PostgreSQL"),
    ({"TEST_DATABASE_URL": "sqlite:///elsewhere_test"}, "for PostgreSQL"),
    ({"TEST_DATABASE_URL": "not a url"}, "not a database URL"),
], ids=["database-url", "database-url-beside-test-url", "production-name", "suffix-not-at-end", "remote-host",
        "other-database", "sqlite", "nonsense"])
def test_anything_else_is_refused_with_the_reason(environ, words):
    reason = refusal(environ)
    assert reason is not None and words in reason


@pytest.mark.parametrize(("variable", "database", "words"), [
    ("DATABASE_URL", "production", "DATABASE_URL is set"),
    ("TEST_DATABASE_URL", "production", "ends in _test"),
])
def test_make_test_against_a_production_database_refuses_to_run_and_touches_nothing(variable, database, words):
    """A real listener stands where the database would be: the suite must not even connect to it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "TEST_DATABASE_URL"} and not key.startswith("PYTEST_")}
    env[variable] = f"postgresql+psycopg://panel@127.0.0.1:{port}/{database}"
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "tests/test_smoke_boot.py"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody knocked
    finally:
        listener.close()
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert words in done.stderr
    assert "passed" not in done.stdout
