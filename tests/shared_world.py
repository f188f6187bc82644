"""One world built once for a whole test module, each test still rolled back.

Loading the demo data takes seconds (more on PostgreSQL), and a module of read-mostly tests
about it paid that for every test. `shared_world(build)` gives a module two fixtures: the world,
built once per module inside one outer transaction on one connection, and an `app` that
overrides conftest's for that module: each test runs inside a SAVEPOINT of that transaction
which is rolled back at its end, so what a test writes (and commits: the session joins with
its own savepoints) never reaches the next test, and the world is as built for every test.

    from tests.shared_world import shared_world
    _state, demo, app = shared_world(load_demo, name="demo")

Tests of the module then ask for `world` (what build returned) and the usual db, client and
login_as. Not for tests that need real commits or their own app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa  # noqa: F401  (the connection's type below)
from flask import Flask

from panel.extensions import db as _db
from tests.conftest import _in_rolled_back_transaction


def shared_world(build: Callable[[Flask], Any], *, name: str = "world"):
    """The module fixture `shared_world_state`, the world as the fixture `name`, and `app`; assign
    all three to names in the test module so pytest finds them."""

    @pytest.fixture(scope="module", name="shared_world_state")
    def world_fixture(_session_app, tmp_path_factory):
        application = _session_app
        with application.app_context():
            saved = dict(application.config)
            application.config.update(OUTBOX_DIR=str(tmp_path_factory.mktemp("outbox")))
            # conftest's own rolled-back transaction, held for the whole module: it binds the
            # app to one connection (engines[None]) and puts the id sequences back on PostgreSQL
            transaction = _in_rolled_back_transaction(application)
            next(transaction)
            try:
                built = build(application)
                _db.session.remove()
                yield _Shared(application, _db._app_engines[application][None], built)
            finally:
                transaction.close()  # rolls the outer transaction back
                application.config.clear()
                application.config.update(saved)

    @pytest.fixture(name=name)
    def world(shared_world_state, app):  # with app: a test asking only for the world is rolled back too
        return shared_world_state.built

    @pytest.fixture(name="app")
    def app(shared_world_state, tmp_path, app_config):
        world_fixture = shared_world_state
        application = world_fixture.application
        saved = dict(application.config)
        application.config.update(OUTBOX_DIR=str(tmp_path / "outbox"), **app_config)
        savepoint = world_fixture.connection.begin_nested()
        try:
            with application.app_context():
                yield application
        finally:
            _db.session.remove()
            if savepoint.is_active:
                savepoint.rollback()
            application.config.clear()
            application.config.update(saved)

    return world_fixture, world, app


class _Shared:
    def __init__(self, application: Flask, connection: sa.Connection, built: Any) -> None:
        self.application, self.connection, self.built = application, connection, built
