"""Fixtures: app (a fresh, migrated database per test), db, client, login_as(role), live_server.

SQLite (the default): the migrations run once into a template file, and each test gets its
own copy. PostgreSQL (DATABASE_URL=postgresql+psycopg://...): the migrations run once, and
every table is truncated before each test. Either way each test starts from an empty,
migrated schema, and code under test can commit as it does in production.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from werkzeug.serving import make_server

from panel import create_app
from panel.extensions import db as _db
from panel.models import Role

from tests import factories

PG_URL = os.environ.get("DATABASE_URL", "") if os.environ.get("DATABASE_URL", "").startswith("postgresql") else ""

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once per run: a template SQLite file, or the PostgreSQL schema."""
    tmp = tmp_path_factory.mktemp("template")
    if PG_URL:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        _upgrade(_make_app(PG_URL, tmp))
        return PG_URL
    path = tmp / "template.db"
    _upgrade(_make_app(f"sqlite:///{path}", tmp))
    return str(path)


def _truncate_all() -> None:
    tables = [t.name for t in _db.metadata.sorted_tables]
    _db.session.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    _db.session.execute(sa.text("INSERT INTO pathway (id) VALUES (1)"))  # as the migration leaves it
    _db.session.commit()


@pytest.fixture
def app_config():
    """Override in a test module to change settings for the app fixture."""
    return {}


def _fresh_g(sender, **extra) -> None:
    """Test requests reuse the test's app context, and so its `g`: Flask-Login's cached user and
    Flask-WTF's CSRF token would leak from one request (or client) to the next. Start each clean."""
    from flask import g

    g.__dict__.clear()


@pytest.fixture
def app(database_template, tmp_path, app_config):
    if PG_URL:
        application = _make_app(PG_URL, tmp_path, **app_config)
    else:
        path = tmp_path / "panel.db"
        shutil.copyfile(database_template, path)
        application = _make_app(f"sqlite:///{path}", tmp_path, **app_config)
    from flask import request_started

    request_started.connect(_fresh_g, application)
    with application.app_context():
        if PG_URL:
            _truncate_all()
        yield application
        _db.session.remove()
        _db.engine.dispose()


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
            import time

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
        return self.target(environ, start_response)


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
    import contextlib

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
