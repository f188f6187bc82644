"""What every PostgreSQL connection of the app is set to (panel/__init__.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


def test_each_connection_is_utc_with_a_lock_timeout_no_jit_and_no_parallel_workers(app, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's settings")
    settings = {name: db.session.execute(sa.text(f"SHOW {name}")).scalar()
                for name in ("timezone", "lock_timeout", "jit", "max_parallel_workers_per_gather")}

    # jit off: at ten years its compiling took half a second on pages whose queries take milliseconds
    assert settings["jit"] == "off"
    # no parallel workers: starting them took longer than the small queries they shared
    assert settings["max_parallel_workers_per_gather"] == "0"
    assert settings["timezone"] == "UTC"
    assert settings["lock_timeout"] == f"{app.config['DATABASE_BUSY_TIMEOUT']}s"
