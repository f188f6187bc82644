"""Fixtures for the whole-site checks: the demo data loaded into the test database, and a
crawl of every page each demo role can reach (tests/html/crawl.py)."""

from __future__ import annotations

import pytest

from panel.extensions import db
from panel.models import User
from tests.html.crawl import DEMO_ROLES, crawl, sign_in

DEMO_PASSWORD = "demo-sign-in-2027"


def load_demo(app) -> None:
    result = app.test_cli_runner().invoke(args=["panel", "demo-data", "--password", DEMO_PASSWORD])
    assert result.exit_code == 0, result.output
    db.session.remove()


@pytest.fixture
def demo(app):
    load_demo(app)


def crawl_as_each_role(app, shape_limit: int) -> dict[str, dict[str, str]]:
    """{role: {url: html}} for every demo role, each signed in by its own client."""
    pages = {}
    for role, email in DEMO_ROLES.items():
        user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one()
        client = app.test_client()
        sign_in(client, user)
        pages[role] = crawl(client, shape_limit=shape_limit)
    return pages
