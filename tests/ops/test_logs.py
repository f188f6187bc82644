"""Logs: one line per request and per job (text, or JSON with LOG_FORMAT=json) with the request id,
user id and endpoint; never a path, query, email address or token, whichever logger writes it."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from panel.meetings import invitations
from panel.models import Role
from panel.ops import logs
from panel.scheduler import run_job
from tests import factories
from tests.conftest import page, post_form

FEED_URL = re.compile(r"/calendar/([A-Za-z0-9_-]+)\.ics")


def _lines(caplog, name="panel.request") -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


def _formatted(record: logging.LogRecord, log_format: str) -> str:
    return logs.make_formatter(log_format).format(record)


def test_one_line_per_request_with_request_id_user_and_endpoint_but_no_path_or_query(app, client, login_as, caplog):
    user = login_as(Role.COORDINATOR)
    caplog.set_level(logging.INFO)

    response = client.get("/cases/CASPA-2027-001?q=Jane+Smith+1970-01-01")

    [record] = _lines(caplog)
    assert record.user_id == user.id
    assert record.endpoint == "cases.summary" or record.endpoint.startswith("cases.")
    assert record.method == "GET" and record.status == response.status_code
    assert isinstance(record.duration_ms, int)
    assert re.fullmatch(r"[0-9a-f]{32}", record.request_id)
    assert response.headers["X-Request-ID"] == record.request_id
    for log_format in ("text", "json"):
        line = _formatted(record, log_format)
        assert "Jane" not in line and "Smith" not in line and "CASPA" not in line and "1970" not in line
        assert record.request_id in line


def test_the_json_line_is_one_object_with_the_documented_keys(app, client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/login")
    [record] = _lines(caplog)

    line = _formatted(record, "json")

    assert "\n" not in line
    data = json.loads(line)
    assert set(data) == {"time", "level", "logger", "message", "request_id", "user_id", "method", "endpoint",
                         "status", "duration_ms"}
    assert data["logger"] == "panel.request" and data["endpoint"] == "auth.login" and data["user_id"] == "-"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["time"])


def test_the_text_line_has_the_fields_as_key_value_pairs(app, client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/login")
    [record] = _lines(caplog)

    line = _formatted(record, "text")

    assert re.fullmatch(r"\S+Z INFO panel\.request: request request_id=[0-9a-f]{32} user_id=- method=GET "
                        r"endpoint=auth\.login status=200 duration_ms=\d+", line)


@pytest.mark.parametrize("given, kept", [
    ("3f9c2a1b-7d4e-4c2b-9a8f-0e1d2c3b4a59", True),
    ("0123456789abcdef0123456789abcdef", True),
    ("short", False),
    ("<script>alert(1)</script>", False),
    ("a" * 65, False),
    ("ok-id-1234 X-Evil: 1", False),
])
def test_the_proxys_request_id_is_kept_only_when_it_looks_like_one(app, client, caplog, given, kept):
    caplog.set_level(logging.INFO)
    response = client.get("/login", headers={"X-Request-ID": given})
    [record] = _lines(caplog)
    assert (record.request_id == given) is kept
    assert response.headers["X-Request-ID"] == record.request_id


def test_a_redirect_from_the_guard_is_logged_too(app, client, caplog):
    caplog.set_level(logging.INFO)
    response = client.get("/cases")
    assert response.status_code == 302
    [record] = _lines(caplog)
    assert record.status == 302 and record.user_id == "-"


def test_the_request_line_costs_no_query(app, client, login_as, count_queries, caplog):
    login_as(Role.ADMIN)
    caplog.set_level(logging.INFO)
    with count_queries() as with_log:
        client.get("/admin/users")
    logger = logging.getLogger("panel.request")
    logger.disabled = True
    try:
        with count_queries() as without_log:
            client.get("/admin/users")
    finally:
        logger.disabled = False
    assert with_log.count == without_log.count


def test_one_line_per_job_with_its_name_outcome_and_duration(app, caplog):
    caplog.set_level(logging.INFO)
    run_job("heartbeat")
    [record] = [r for r in caplog.records if getattr(r, "job", None) == "heartbeat"]
    assert record.outcome == "ok" and isinstance(record.duration_ms, int)
    data = json.loads(_formatted(record, "json"))
    assert data["job"] == "heartbeat" and data["outcome"] == "ok"


# ---- no token, whatever fails -------------------------------------------------------------------

@pytest.fixture
def stream():
    """What the process's own handler (stderr in production) writes, in JSON, while the test runs."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.make_formatter("json"))
    logging.getLogger().addHandler(handler)
    yield buffer
    logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize("app_config", [{"PROPAGATE_EXCEPTIONS": False, "PUBLIC_URL": "https://panel.test"}])
def test_a_failing_feed_never_puts_its_token_in_flasks_exception_log(app, client, login_as, caplog, stream,
                                                                    monkeypatch):
    login_as(factories.create_user(role=Role.SPOC, email="sam@police.test"))
    response = post_form(client, "/account/calendar-feed", {}, token_from="/account")
    token = FEED_URL.search(page(response).select_one("#calendar-feed-url")["value"]).group(1)

    def fails(user, now):
        raise RuntimeError(f"database is locked while reading /calendar/{token}.ics")

    monkeypatch.setattr(invitations, "user_feed", fails)
    caplog.set_level(logging.DEBUG)

    assert app.test_client().get(f"/calendar/{token}.ics").status_code == 500

    assert "Exception on /calendar/[token].ics [GET]" in caplog.text
    assert token not in caplog.text
    assert token not in stream.getvalue()
    assert "database is locked" in stream.getvalue()  # the traceback is kept, the token is not


SECRETS = {
    "feed": ("GET /calendar/Zq3xMrT0kenAbcdEfgh12.ics HTTP/1.1", "Zq3xMrT0kenAbcdEfgh12"),
    "api token": ("refused pnl_abcDEF123_-xyzSECRET", "abcDEF123_-xyzSECRET"),
    "bearer": ("Authorization: Bearer s3cr3tBearerValue", "s3cr3tBearerValue"),
    "url password": ("could not connect to postgresql://panel:hunter2pass@db.example/panel", "hunter2pass"),
    "query": ("POST /login?password=letmein-please-99", "letmein-please-99"),
    "email": ("sent to jane.smith@council.gov.uk", "jane.smith@council.gov.uk"),
}


@pytest.mark.parametrize("logger_name", ["panel", "panel.ops", "flask.app", "werkzeug", "gunicorn.error",
                                         "gunicorn.access", "sqlalchemy.engine", "apscheduler", "someone.else"])
@pytest.mark.parametrize("what", sorted(SECRETS))
def test_no_logger_writes_a_secret_in_a_message_its_arguments_or_a_traceback(app, caplog, stream, logger_name,
                                                                              what):
    text, secret = SECRETS[what]
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger(logger_name)
    logger.setLevel(logging.DEBUG)
    try:
        logger.warning("in the message: %s", text)
        try:
            raise ValueError(text)
        except ValueError:
            logger.exception("with a traceback")
        logger.error(f"formatted before logging: {text}")
    finally:
        logger.setLevel(logging.NOTSET)

    assert secret not in caplog.text
    assert secret not in stream.getvalue()
    assert secret not in logs.make_formatter("text").format(caplog.records[-1])
