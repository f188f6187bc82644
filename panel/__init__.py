"""Panel: multi-agency safeguarding panel and MDT coordination. create_app() builds the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader

from panel import transactions  # noqa: F401 - registers how SQLite's transactions begin
from panel.config import INSTANCE_DIR, load_config
from panel.extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


class RecordIdConverter(IntegerConverter):
    """`<int:...>` in every route: a whole number up to the database's integer maximum, so an
    absurd id in a URL is a 404 (no record) rather than an overflow in the database driver."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(overrides: dict[str, Any] | None = None, *, env: str | None = None) -> Flask:
    """Build the web app. Never starts the scheduler: that is its own process."""
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    app.config.from_object(load_config(env))
    if overrides:
        app.config.update(overrides)
    _engine_options(app)
    app.url_map.converters["int"] = RecordIdConverter
    register_logging(app)
    register_extensions(app)
    register_templates(app)
    register_security(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_notify(app)
    return app


def _engine_options(app: Flask) -> None:
    uri: str = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    busy = float(app.config.get("DATABASE_BUSY_TIMEOUT", 30))
    if uri.startswith("sqlite"):
        if uri.startswith("sqlite:///") and ":memory:" not in uri:
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # timeout: sqlite3's busy handler, how long a write waits for another writer's lock
        options.setdefault("connect_args", {}).update({"timeout": busy, "check_same_thread": False})
    elif uri.startswith("postgresql"):
        # Timestamps set by the database are UTC whatever the server's own zone.
        # lock_timeout: a row held by another writer for DATABASE_BUSY_TIMEOUT seconds is answered
        # with the "service is busy, your text is kept" page (panel/main/errors.py), as SQLite's
        # busy timeout is.
        # jit=off: the JIT compiler is for long analytical queries; on a web page's query whose
        # estimate is large (a recursive CTE, a report's grouping) it spent half a second
        # compiling for a millisecond of work (EXPLAIN ANALYZE at ten years, issue 18).
        # max_parallel_workers_per_gather=0: no parallel workers for a page's query; starting them
        # took 9 to 11 ms on a subject-access page whose count did 0.2 ms of work (the same
        # EXPLAIN ANALYZE). The exports read in batches along the primary key, which no worker
        # would share.
        options.setdefault("connect_args", {}).update(
            {"options": f"-c timezone=UTC -c lock_timeout={round(busy * 1000)}ms -c jit=off "
                        "-c max_parallel_workers_per_gather=0"})
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def register_logging(app: Flask) -> None:
    """One line per request, text or JSON, nothing secret in any logger's lines (panel/ops/logs.py)."""
    from panel.ops import logs

    logs.register(app)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # our own idle and absolute timeouts apply


def register_templates(app: Flask) -> None:
    from govuk_frontend_wtf.main import WTFormsHelpers

    from panel import filters

    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(ROOT / "templates")),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    WTFormsHelpers(app)
    filters.register(app)


def register_security(app: Flask) -> None:
    from panel.auth import guard

    guard.register(app)


def register_blueprints(app: Flask) -> None:
    from panel.actions.views import bp as actions_bp
    from panel.admin import bp as admin_bp
    from panel.agencies.absence_views import bp as absences_bp
    from panel.agencies.views import bp as agencies_bp
    from panel.auth.views import bp as auth_bp
    from panel.cases.views import bp as cases_bp
    from panel.main import bp as main_bp
    from panel.meetings.feed import bp as calendar_bp
    from panel.meetings.views import bp as meetings_bp
    from panel.referrals.api import api_bp
    from panel.referrals.views import bp as referrals_bp
    from panel.reports.views import blueprints as reports_bps
    from panel.search.views import bp as search_bp

    for bp in (main_bp, auth_bp, admin_bp, agencies_bp, absences_bp, referrals_bp, api_bp, cases_bp, actions_bp, meetings_bp,
               calendar_bp, search_bp, *reports_bps):
        app.register_blueprint(bp)
    csrf.exempt(api_bp)  # bearer-token API: no cookies, so no CSRF


def register_errorhandlers(app: Flask) -> None:
    from panel.main.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from panel.cli import panel_cli

    app.cli.add_command(panel_cli)


def register_notify(app: Flask) -> None:
    from panel.notify import register

    register(app)
