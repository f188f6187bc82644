"""Issue 14: a database held by another writer past the busy timeout gave the generic 500 page
and lost what the user typed; and a form sent twice at once could hit a unique constraint (a 500).
Now: a "the service is busy, your text is kept" page that can post the same form again, /healthz
saying why; and a lost race answered like a repeat, never the error page."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from panel.actions import services as action_services
from panel.main import health
from panel.models import Escalation
from tests.actions import pages_world
from tests.conftest import csrf_token, page, post_form

REASON = "Six weeks <b>without</b> progress; 'quoted' & \"double\"\nsecond line"


def _locked(*args, **kwargs):
    raise sa.exc.OperationalError("INSERT INTO escalations ...", {}, sqlite3.OperationalError("database is locked"))


@pytest.fixture(autouse=True)
def _forget_busy():
    health._busy.update(at=None, detail="")
    yield
    health._busy.update(at=None, detail="")


def test_a_busy_database_keeps_the_text_and_offers_to_send_it_again(client, login_as, db, monkeypatch):
    world = pages_world.build()
    db.session.commit()
    login_as(world.user("coordinator"))
    url = f"/actions/{world.action.id}/escalate"
    monkeypatch.setattr(action_services, "escalate_by_hand", _locked)

    response = post_form(client, url, {"to": "chair", "reason": REASON})

    assert response.status_code == 503 and response.headers["Retry-After"] == "10"
    soup = page(response)
    assert soup.h1.get_text(strip=True) == "The service is busy"
    assert "Your text is kept" in soup.get_text(" ")
    form = soup.find("form")
    assert form["action"] == url and form["method"] == "post"
    hidden = {i["name"]: i["value"] for i in form.find_all("input", attrs={"type": "hidden"})}
    assert hidden["reason"] == REASON.replace("\n", "\r\n") or hidden["reason"] == REASON
    assert hidden["to"] == "chair" and hidden["csrf_token"]
    assert "<b>" not in response.get_data(as_text=True).split("What you entered")[1].replace("&lt;b&gt;", "")

    health_report = client.get("/healthz").get_json()
    assert health_report["database"] == "busy" and health_report["status"] == "degraded"
    assert "locked by another writer" in health_report["database_busy"]["detail"]

    monkeypatch.undo()  # the database is free again: "Try again" posts the same form
    again = client.post(url, data=hidden)
    assert again.status_code == 302


def test_other_database_errors_are_still_the_500_page(client, login_as, db, monkeypatch):
    world = pages_world.build()
    db.session.commit()
    login_as(world.user("coordinator"))

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: nowhere"))

    monkeypatch.setattr(action_services, "escalate_by_hand", broken)
    response = post_form(client, f"/actions/{world.action.id}/escalate", {"to": "chair", "reason": "x"})
    assert response.status_code == 500
    assert client.get("/healthz").get_json()["database"] == "ok"


def test_a_lost_race_to_a_unique_row_answers_like_a_repeat(client, login_as, db, monkeypatch):
    world = pages_world.build()
    db.session.commit()
    login_as(world.user("coordinator"))
    url = f"/actions/{world.action.id}/escalate"
    token = csrf_token(client, url)

    def lost(*args, **kwargs):
        raise sa.exc.IntegrityError("INSERT INTO escalations ...", {}, Exception("duplicate key value"))

    monkeypatch.setattr(action_services, "escalate_by_hand", lost)
    response = client.post(url, data={"to": "chair", "reason": "x", "csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200
    assert "That had already been saved" in page(response).get_text(" ")


@contextmanager
def _writer_holding_the_lock(app):
    """Another writer, on its own connection, holding what the escalation needs and not letting go:
    SQLite's single write lock, or on PostgreSQL the escalations table."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        other = sqlite3.connect(uri.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as other:
            other.execute(sa.text("LOCK TABLE escalations IN EXCLUSIVE MODE"))
            yield
            other.rollback()
    finally:
        engine.dispose()


@pytest.mark.own_app
@pytest.mark.real_commits
@pytest.mark.parametrize("app_config", [{"DATABASE_BUSY_TIMEOUT": 1}])
def test_a_database_really_held_by_another_writer_answers_the_busy_page_and_keeps_the_text(client, login_as, db,
                                                                                           app, app_config):
    world = pages_world.build()
    db.session.commit()
    login_as(world.user("coordinator"))
    url = f"/actions/{world.action.id}/escalate"
    token = csrf_token(client, url)
    db.session.remove()  # this test's own connection holds nothing

    with _writer_holding_the_lock(app):
        response = client.post(url, data={"to": "chair", "reason": REASON, "csrf_token": token})

        assert response.status_code == 503
        soup = page(response)
        assert soup.h1.get_text(strip=True) == "The service is busy"
        form = soup.find("form")
        hidden = {i["name"]: i["value"] for i in form.find_all("input", attrs={"type": "hidden"})}
        assert hidden["reason"].replace("\r\n", "\n") == REASON and hidden["to"] == "chair"
        monitor = app.test_client()  # a monitoring probe, signed in as nobody
        report = monitor.get("/healthz")
        assert report.status_code == 503 and report.get_json()["database"] == "busy"

    again = client.post(url, data=hidden)  # the other writer has gone: the same form saves
    assert again.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 1
