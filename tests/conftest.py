"""Fixtures: app (one application per worker, each test in a rolled-back transaction), db, client,
login_as(role), live_server.

The migrations run once per worker. Each test then runs inside one database transaction that is
rolled back at its end; the session joins it with a SAVEPOINT, so code under test that commits
(as views and jobs do) still works and sees its own writes. A test that needs real commits seen
by other connections (threads, subprocesses, the live server, the scheduler's lock) is marked
``real_commits``: it gets an empty, migrated database that is really written, reset after it. A
test that changes the application itself (adds a route) is marked ``own_app``.

The database: SQLite files under pytest's temporary folder by default; PostgreSQL when
TEST_DATABASE_URL names one (its database name must end in ``_test`` and it must be on this
machine). DATABASE_URL is the application's setting: the suite refuses to start while it is set,
so it can never drop the tables of whatever DATABASE_URL names.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from flask import g, request_started
from flask_migrate import upgrade
from werkzeug.serving import make_server

from panel import create_app
from panel.extensions import db as _db
from panel.models import Role

from tests import factories
from tests.safety import refusal

TEST_URL = os.environ.get("TEST_DATABASE_URL", "")
PG_URL = TEST_URL if TEST_URL.startswith("postgresql") else ""
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_configure(config):
    reason = refusal(os.environ)
    if reason:
        raise pytest.UsageError(reason)
    config.addinivalue_line("markers", "real_commits: the test gets a real, empty database (commits are seen "
                                       "by other connections); reset after it")
    config.addinivalue_line("markers", "own_app: the test gets an application and database of its own")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "live_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_commits)
    if PG_URL:
        # The PostgreSQL pass: browser tests, tests that never touch a database, and tests marked
        # sqlite_pass (what they check does not depend on the database: rendered PDFs) ran on SQLite.
        kept, dropped = [], []
        for item in items:
            names = getattr(item, "fixturenames", ())
            touches = "app" in names or item.get_closest_marker("real_commits") or item.get_closest_marker("own_app")
            elsewhere = item.get_closest_marker("browser") or item.get_closest_marker("sqlite_pass")
            (dropped if elsewhere or not touches else kept).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept


def _make_app(uri: str, tmp_path, **overrides):
    config = {
        "SQLALCHEMY_DATABASE_URI": uri,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_SERVER": "",
        "REQUIRE_MFA_FOR": frozenset(),
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return create_app(config, env="testing")


def _upgrade(app) -> None:
    with app.app_context():
        upgrade()
        _db.session.remove()
        _db.engine.dispose()


def _recreate_pg_database(name: str) -> str:
    """A new, empty PostgreSQL database called name (ending in _test) beside TEST_DATABASE_URL's."""
    base = sa.engine.make_url(PG_URL)
    url = base.set(database=name)
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    engine = sa.create_engine(sa.engine.make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _pg_name(label: str) -> str:
    return f"{sa.engine.make_url(PG_URL).database.removesuffix('_test')}_{label}_test"


def _worker_pg_url() -> str:
    """This worker's own PostgreSQL database (panel_gw0_test beside panel_test), made afresh."""
    return _recreate_pg_database(_pg_name(WORKER)) if WORKER else PG_URL


@contextlib.contextmanager
def blank_database(sqlite_path: Path, label: str):
    """The URI of a new, empty database of the suite's kind for a test that builds its own: the
    SQLite file sqlite_path, or a PostgreSQL database beside the test database (its name ends in
    _test and carries label and the worker), dropped afterwards."""
    if not PG_URL:
        yield f"sqlite:///{sqlite_path}"
        return
    name = _pg_name(f"{label}{WORKER}")
    try:
        yield _recreate_pg_database(name)
    finally:
        _drop_pg_database(name)


class _Database:
    """The worker's database: where it is, and how to put it back to empty and migrated."""

    def __init__(self, tmp: Path) -> None:
        if PG_URL:
            self.uri = _worker_pg_url()
            engine = sa.create_engine(self.uri)
            with engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
            _upgrade(_make_app(self.uri, tmp))
            self.template = None
        else:
            self.template = tmp / "template.db"
            _upgrade(_make_app(f"sqlite:///{self.template}", tmp))
            self.path = tmp / "panel.db"
            shutil.copyfile(self.template, self.path)
            self.uri = f"sqlite:///{self.path}"

    def reset(self) -> None:
        """Back to empty and migrated. Every connection to it must be closed first (SQLite)."""
        if PG_URL:
            tables = [t.name for t in _db.metadata.sorted_tables]
            _db.session.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            _db.session.execute(sa.text("INSERT INTO pathway (id) VALUES (1)"))  # as the migrations leave them
            _db.session.execute(sa.text(
                "INSERT INTO report_data_version (id, token) VALUES (1, replace(gen_random_uuid()::text, '-', ''))"))
            _db.session.commit()
        else:
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.template, self.path)


@pytest.fixture(scope="session")
def database(tmp_path_factory) -> _Database:
    """Migrate once per worker."""
    return _Database(tmp_path_factory.mktemp("database"))


@pytest.fixture(scope="session")
def database_template(database) -> str:
    """The migrated database a test's own app may copy (SQLite) or share (PostgreSQL)."""
    return str(database.template) if database.template else database.uri


@pytest.fixture(scope="session")
def _session_app(database, tmp_path_factory):
    """One application per worker: created, and its templates compiled, once."""
    application = _make_app(database.uri, tmp_path_factory.mktemp("app"))
    request_started.connect(_fresh_g, application)
    return application


@pytest.fixture
def app_config():
    """Override in a test module to change settings for the app fixture."""
    return {}


def _fresh_g(sender, **extra) -> None:
    """Test requests reuse the test's app context, and so its `g`: Flask-Login's cached user and
    Flask-WTF's CSRF token would leak from one request (or client) to the next. Start each clean."""
    g.__dict__.clear()


def _sequences() -> list[str]:
    rows = _db.session.execute(sa.text(
        "SELECT sequence_schema || '.' || sequence_name FROM information_schema.sequences"
        " WHERE sequence_schema = current_schema()"))
    return [name for (name,) in rows]


_PG_SEQUENCES: list[str] = []


def _in_rolled_back_transaction(application):
    """Bind every session of the app to one connection whose transaction is rolled back at the end."""
    engines = _db._app_engines[application]
    engine = engines[None]
    connection = engine.connect()
    outer = connection.begin()
    engines[None] = connection
    factory = _db.session.session_factory
    factory.kw["join_transaction_mode"] = "create_savepoint"
    try:
        if PG_URL:
            # Sequences ignore rollbacks: start every test's ids at 1, as an empty database would.
            if not _PG_SEQUENCES:
                _PG_SEQUENCES.extend(_sequences())
            if _PG_SEQUENCES:
                calls = ", ".join(f"setval('{name}', 1, false)" for name in _PG_SEQUENCES)
                _db.session.execute(sa.text(f"SELECT {calls}"))
            # The reports' token changes at each write, not at a COMMIT this transaction never
            # makes (migration 0023; each commit of the test is a savepoint's release).
            connection.execute(sa.text("SET CONSTRAINTS report_data_changed IMMEDIATE"))
        yield application
    finally:
        _db.session.remove()
        del factory.kw["join_transaction_mode"]
        engines[None] = engine
        if outer.is_active:
            outer.rollback()
        connection.close()


def _put_back(database, *, worker_file: bool) -> None:
    """After a test that really committed: close every connection and empty the database again
    (PostgreSQL's through a session, before the engine goes; the worker's SQLite file is copied
    over once nothing holds it open)."""
    _db.session.remove()
    if PG_URL:
        database.reset()
    _db.engine.dispose()
    if worker_file and not PG_URL:
        database.reset()


def _with_real_commits(application, database):
    _db.session.remove()
    _db.engine.dispose()
    try:
        yield application
    finally:
        _put_back(database, worker_file=True)


@pytest.fixture
def app(request, database, tmp_path, app_config):
    if request.node.get_closest_marker("own_app"):
        yield from _own_app(database, tmp_path, app_config)
        return
    application = request.getfixturevalue("_session_app")
    saved = dict(application.config)
    application.config.update(OUTBOX_DIR=str(tmp_path / "outbox"), **app_config)
    try:
        with application.app_context():
            if request.node.get_closest_marker("real_commits"):
                yield from _with_real_commits(application, database)
            else:
                yield from _in_rolled_back_transaction(application)
    finally:
        application.config.clear()
        application.config.update(saved)


def _own_app(database, tmp_path, app_config):
    """Today's way, for tests that change the application: a new app on a fresh database."""
    if PG_URL:
        application = _make_app(database.uri, tmp_path, **app_config)
    else:
        path = tmp_path / "panel.db"
        shutil.copyfile(database.template, path)
        application = _make_app(f"sqlite:///{path}", tmp_path, **app_config)
    request_started.connect(_fresh_g, application)
    with application.app_context():
        try:
            yield application
        finally:
            _put_back(database, worker_file=False)


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login_as(app, client):
    """login_as(role_or_user) signs the test client in and returns the user."""

    def _login(who, **kwargs):
        user = factories.create_user(role=Role(who), **kwargs) if isinstance(who, (str, Role)) else who
        _db.session.commit()
        with client.session_transaction() as sess:
            sess["_user_id"] = user.session_token
            sess["_fresh"] = True
            sess["signed_in_at"] = time.time()
            sess["last_seen"] = time.time()
        return user

    return _login


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf_token(client, url: str) -> str:
    soup = page(client.get(url))
    field = soup.find("input", attrs={"name": "csrf_token"})
    assert field is not None, f"no CSRF token on {url}"
    return field["value"]


def post_form(client, url: str, data: dict, *, follow_redirects: bool = False, token_from: str | None = None):
    """Post a form the way a browser does: fetch the page for its CSRF token first."""
    payload = dict(data)
    payload["csrf_token"] = csrf_token(client, token_from or url)
    return client.post(url, data=payload, follow_redirects=follow_redirects)


def error_summary(response) -> list[str]:
    soup = page(response)
    box = soup.select_one(".govuk-error-summary")
    return [a.get_text(" ", strip=True) for a in box.select("li")] if box else []


# ---- browser tests -------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


class _SwitchableApp:
    """The live server is started once per run; each test points it at that test's app."""

    target = None

    def __call__(self, environ, start_response):
        if self.target is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app under test"]
        return _closed_when_done(self.target(environ, start_response))


def _closed_when_done(body):
    """Close a response body as soon as it has been sent.

    Werkzeug's development server closes the body only after draining the socket; when the
    browser has already dropped the connection (a favicon's 304 on a page it is leaving) the
    drain raises first, the static file is left open and its ResourceWarning fails whichever
    test the garbage collector happens to run in.
    """
    try:
        yield from body
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


_switch = _SwitchableApp()


@pytest.fixture(scope="session")
def _live_server_url():
    server = make_server("127.0.0.1", 0, _switch, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def base_url(_live_server_url):
    return _live_server_url


@pytest.fixture
def live_server(app, _live_server_url):
    """Serve this test's app at base_url for the length of the test."""
    _switch.target = app
    yield _live_server_url
    _switch.target = None


@pytest.fixture
def count_queries(app):
    """with count_queries() as counter: ...; counter.count is the number of SQL statements run."""

    class Counter:
        count = 0
        statements: list[str] = []

    @contextlib.contextmanager
    def _counting():
        counter = Counter()
        counter.statements = []

        def _before(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "PRAGMA")):
                counter.count += 1
                counter.statements.append(statement)

        engine = _db.engine
        sa.event.listen(engine, "before_cursor_execute", _before)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", _before)

    return _counting
