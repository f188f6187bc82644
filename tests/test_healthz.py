"""/healthz: 200 only when the database answers, the scheduler beat recently and no email is stuck."""

from __future__ import annotations

from datetime import timedelta

import pytest

from panel import create_app
from panel.extensions import db
from panel.models import OutboxStatus, utcnow
from panel.notify import queue_email
from panel.scheduler import heartbeat, run_job
from tests.notify.smtp_server import free_port

pytestmark = pytest.mark.real_commits  # checks the real engine and disposes it


def test_without_a_heartbeat_the_service_is_degraded(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    report = response.get_json()
    assert report["status"] == "degraded" and report["database"] == "ok"
    assert report["scheduler"] == {"last_heartbeat": None, "ok": False}


def test_after_a_heartbeat_with_an_empty_outbox_the_service_is_ok(client):
    run_job("heartbeat")

    response = client.get("/healthz")

    assert response.status_code == 200
    report = response.get_json()
    assert report["status"] == "ok" and report["scheduler"]["ok"] is True
    assert report["outbox"] == {"backlog": 0, "failed": 0, "ok": True, "oldest_waiting": None}


def test_a_heartbeat_older_than_3_minutes_is_stale(client):
    heartbeat(now=utcnow() - timedelta(minutes=4))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["scheduler"]["ok"] is False


def test_an_email_waiting_more_than_an_hour_makes_the_service_degraded(client):
    heartbeat()
    message = queue_email(to="spoc@agency.test", subject="Stuck", body="Body")
    message.created_at = utcnow() - timedelta(minutes=61)
    db.session.commit()

    response = client.get("/healthz")

    assert response.status_code == 503
    report = response.get_json()
    assert report["outbox"]["backlog"] == 1 and report["outbox"]["ok"] is False
    assert "spoc@agency.test" not in response.get_data(as_text=True)


def test_failed_emails_are_counted_but_do_not_fail_the_check(client):
    heartbeat()
    message = queue_email(to="spoc@agency.test", subject="Gone", body="Body")
    message.status = OutboxStatus.FAILED
    db.session.commit()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json()["outbox"]["failed"] == 1


def test_an_unreachable_database_answers_503(tmp_path):
    bad = create_app({"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://panel@127.0.0.1:{free_port()}/nowhere",
                      "OUTBOX_DIR": str(tmp_path / "outbox"), "SERVER_NAME": None}, env="testing")
    try:
        response = bad.test_client().get("/healthz")
    finally:
        with bad.app_context():
            db.engine.dispose()

    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable", "scheduler": {}, "outbox": {}}
