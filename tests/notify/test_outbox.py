"""The email outbox against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa

from panel.auth import policy
from panel.extensions import db
from panel.models import OutboxMessage, OutboxStatus, utcnow
from panel.notify import deliver_due, queue_email, wake
from panel.notify.delivery import backoff
from tests.conftest import PG_URL, page
from tests.notify.conftest import SENDER
from tests.notify.smtp_server import SmtpSink

pytestmark = pytest.mark.own_app  # adds routes to the app it tests

BODY = "A referral has been allocated to you.\nSign in to Panel to see it.\n"


def _queue(n: int = 1, **kwargs) -> OutboxMessage:
    return queue_email(to=kwargs.pop("to", f"spoc{n}@agency.test"), subject=kwargs.pop("subject", f"Panel update {n}"),
                       body=kwargs.pop("body", BODY), **kwargs)


def _text(part) -> str:
    """A part's content with SMTP's CRLF line ends turned back into the LF that was queued."""
    content = part.get_content()
    return (content.decode() if isinstance(content, bytes) else content).replace("\r\n", "\n")


def _all() -> list[OutboxMessage]:
    """Every outbox row as it is now, detached, so that reading them later starts no transaction
    (on SQLite a transaction holds the write lock that delivery in another session needs)."""
    rows = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id).execution_options(
        populate_existing=True)).all()
    for row in rows:
        db.session.expunge(row)
    db.session.rollback()
    return list(rows)


@pytest.fixture
def routes(app, monkeypatch):
    """Two test-only pages: one queues an email and commits, one queues, flushes and rolls back."""
    seen: dict[str, int] = {}

    def send():
        _queue(1)
        db.session.commit()
        sink = app.extensions.get("test_sink")
        seen["received_at_commit"] = len(sink.messages) if sink else 0
        return "queued"

    def send_then_roll_back():
        _queue(1)
        db.session.flush()
        db.session.rollback()
        return "rolled back"

    for name, view in (("send", send), ("roll_back", send_then_roll_back)):
        app.add_url_rule(f"/test-outbox/{name}", f"test_outbox.{name}", view)
        monkeypatch.setitem(policy.ACCESS, f"test_outbox.{name}", policy.PUBLIC)
    return seen


@pytest.fixture
def sink_in_app(app, smtp_server):
    app.extensions["test_sink"] = smtp_server
    return smtp_server


@pytest.fixture
def scheduler_socket(app):
    """The scheduler's end of the SQLite wake-up: a real Unix socket the app is set to ring."""
    with tempfile.TemporaryDirectory(prefix="wake-", dir="/tmp") as folder:
        listener = wake.SocketListener(f"{folder}/outbox.sock")
        app.config["OUTBOX_WAKE_SOCKET"] = listener.path
        yield listener
        listener.close()


@pytest.mark.skipif(bool(PG_URL), reason="SQLite rings a socket; PostgreSQL's NOTIFY is tested in test_wake")
def test_a_request_never_talks_to_the_mail_server_and_the_outbox_job_sends_after_its_commit(
        client, routes, sink_in_app, scheduler_socket):
    response = client.get("/test-outbox/send")

    assert response.status_code == 200
    assert scheduler_socket.wait(5)  # the commit rang the scheduler
    assert routes["received_at_commit"] == 0 and sink_in_app.messages == []  # the request sent nothing
    [row] = _all()
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)

    assert deliver_due()["sent"] == 1  # what the woken outbox job runs
    [received] = sink_in_app.wait_for(1)
    assert received.mail_from == "panel@panel.test"
    assert received.rcpt_tos == ["spoc1@agency.test"]
    email = received.email
    assert email["From"] == SENDER
    assert email["To"] == "spoc1@agency.test"
    assert email["Subject"] == "Panel update 1"
    assert email["Message-ID"].startswith("<outbox.") and email["Message-ID"].endswith("@panel.test>")
    assert email.get_content_type() == "text/plain"
    assert _text(email) == BODY
    [row] = _all()
    assert parsedate_to_datetime(email["Date"]) == row.created_at.replace(microsecond=0)
    assert (row.status, row.attempts, row.last_error, row.claimed_at) == (OutboxStatus.SENT, 0, "", None)
    assert row.sent_at is not None


def test_no_page_waits_on_a_mail_server_that_accepts_and_never_answers(app, client, routes):
    """The server takes the connection and says nothing: delivery would wait MAIL_TIMEOUT for
    its greeting. The page must not even connect to it."""
    silent = socket.create_server(("127.0.0.1", 0))
    connections: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: connections.append(silent.accept()[0]), daemon=True)
    accepting.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=silent.getsockname()[1], MAIL_TIMEOUT=10)
    try:
        assert client.get("/test-outbox/send").status_code == 200
        accepting.join(0.5)  # a connection attempt would be accepted at once
        assert connections == []
        assert [(m.status, m.attempts) for m in _all()] == [(OutboxStatus.PENDING, 0)]
    finally:
        silent.close()
        for conn in connections:
            conn.close()


@pytest.mark.skipif(bool(PG_URL), reason="SQLite rings a socket; PostgreSQL's NOTIFY is tested in test_wake")
def test_nothing_is_sent_and_nobody_is_rung_when_the_transaction_rolls_back(client, routes, sink_in_app,
                                                                              scheduler_socket):
    assert client.get("/test-outbox/roll_back").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)  # another request: nothing left over to send

    assert not scheduler_socket.wait(0)
    assert _all() == []
    assert deliver_due()["sent"] == 0
    assert sink_in_app.messages == []


def test_a_rolled_back_email_is_not_sent_with_a_later_commit(app, client, routes, sink_in_app):
    _queue(2)
    db.session.flush()
    db.session.rollback()

    client.get("/test-outbox/send")
    deliver_due()

    assert [r.rcpt_tos for r in sink_in_app.wait_for(1)] == [["spoc1@agency.test"]]
    assert [m.to_addr for m in _all()] == ["spoc1@agency.test"]


def test_outside_a_request_delivery_waits_for_deliver_due(app, sink_in_app):
    _queue()
    db.session.commit()
    assert sink_in_app.messages == []

    assert deliver_due()["sent"] == 1
    assert len(sink_in_app.wait_for(1)) == 1


def test_with_the_server_down_the_message_waits_a_minute(client, routes, smtp_port, app):
    app.extensions["test_sink"] = SmtpSink(smtp_port)  # never started: nothing listens on the port

    response = client.get("/test-outbox/send")
    assert response.status_code == 200
    assert deliver_due()["retrying"] == 1

    [row] = _all()
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 1
    assert row.claimed_at is None
    assert "refused" in row.last_error.lower()
    assert "agency.test" not in row.last_error and "Panel update" not in row.last_error
    waited = row.next_attempt_at - row.created_at
    assert timedelta(seconds=59) < waited < timedelta(seconds=65)


def test_backoff_is_1_5_30_then_60_minutes(app, smtp_port):
    message = _queue()
    db.session.commit()
    start = message.next_attempt_at  # due from the moment it was queued

    now = start
    waits = []
    for _ in range(6):
        assert deliver_due(now=now - timedelta(seconds=1))["sent"] == 0  # not due yet: not tried
        counts = deliver_due(now=now)
        assert counts["retrying"] == 1
        [row] = _all()
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert [w.total_seconds() / 60 for w in waits] == [1, 5, 30, 60, 60, 60]
    assert _all()[0].attempts == 6
    assert [backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4, 10)] == [1, 5, 30, 60, 60]


def test_when_the_server_comes_back_the_message_is_sent_exactly_once(app, smtp_port):
    message = _queue()
    db.session.commit()
    start = message.next_attempt_at
    assert deliver_due(now=start)["retrying"] == 1

    sink = SmtpSink(smtp_port).start()  # the server comes back on the same port
    try:
        assert deliver_due(now=start + timedelta(seconds=30))["sent"] == 0  # still waiting out its minute
        assert deliver_due(now=start + timedelta(minutes=1))["sent"] == 1
        assert deliver_due(now=start + timedelta(hours=2))["sent"] == 0
        assert len(sink.wait_for(1)) == 1
        [row] = _all()
        assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
        assert _text(sink.messages[0].email) == BODY
    finally:
        sink.stop()


def test_after_24_hours_of_failures_the_message_is_failed_and_listed_for_admins(app, client, login_as, smtp_port):
    message = _queue(subject="Action overdue")
    db.session.commit()
    start, now, runs = message.created_at, message.next_attempt_at, 0

    while True:
        deliver_due(now=now)
        runs += 1
        [row] = _all()
        if row.status != OutboxStatus.PENDING:
            break
        assert now - start <= timedelta(hours=24)
        now = row.next_attempt_at
    assert row.status == OutboxStatus.FAILED
    assert now - start > timedelta(hours=24)  # given up on the first failure after 24 hours
    # Tries at 0, 1, 6 and 36 minutes, then hourly: 27 within the day, the 28th after it.
    assert row.attempts == runs == 28

    login_as("admin")
    response = client.get("/admin/outbox")
    assert response.status_code == 200
    cells = [td.get_text(" ", strip=True) for td in page(response).select("table tbody td")]
    assert "spoc1@agency.test" in cells and "Action overdue" in cells


def test_with_no_mail_server_each_email_is_written_as_an_eml_file(app, tmp_path):
    app.config["MAIL_SERVER"] = ""
    message = _queue(calendar="BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n", calendar_method="request")
    db.session.commit()

    assert deliver_due()["sent"] == 1

    [path] = (tmp_path / "outbox").glob("*.eml")
    assert path.name.endswith(f"-{message.id:06d}.eml")
    assert path.stat().st_mode & 0o077 == 0  # readable by the service's own user only
    from email import message_from_bytes, policy as email_policy

    email = message_from_bytes(path.read_bytes(), policy=email_policy.default)
    assert email["To"] == "spoc1@agency.test"
    assert email.get_content_type() == "multipart/mixed"
    [row] = _all()
    assert row.status == OutboxStatus.SENT


def test_an_invitation_is_text_and_calendar_alternatives_with_an_ics_attachment(app, smtp_server):
    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    _queue(calendar=ics, calendar_method="REQUEST")
    db.session.commit()
    deliver_due()

    email = smtp_server.wait_for(1)[0].email
    assert email.get_content_type() == "multipart/mixed"
    alternative, attachment = email.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, calendar = alternative.iter_parts()
    assert _text(text) == BODY
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    assert _text(calendar) == ics.replace("\r\n", "\n")
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == ics.encode()  # base64 keeps the CRLF iCalendar needs


def test_the_server_login_is_used_when_configured(app, smtp_port):
    sink = SmtpSink(smtp_port, credentials=("panel-relay", "relay password")).start()
    try:
        app.config.update(MAIL_USERNAME="panel-relay", MAIL_PASSWORD="wrong")
        _queue()
        db.session.commit()
        assert deliver_due()["retrying"] == 1
        assert "SMTPAuthenticationError" in _all()[0].last_error

        app.config["MAIL_PASSWORD"] = "relay password"
        assert deliver_due(now=utcnow() + timedelta(minutes=2))["sent"] == 1
        assert [r.login for r in sink.wait_for(1)] == ["panel-relay"]
    finally:
        sink.stop()


def test_two_concurrent_deliveries_never_send_a_message_twice(app, smtp_port):
    sink = SmtpSink(smtp_port, delay=0.005).start()
    try:
        for n in range(20):
            _queue(n)
        db.session.commit()
        barrier = threading.Barrier(2)
        results: list[dict] = []
        errors: list[BaseException] = []

        def worker():
            try:
                with app.app_context():
                    barrier.wait()
                    results.append(deliver_due())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

        assert errors == []
        assert sum(r["sent"] for r in results) == 20
        ids = [r.email["Message-ID"] for r in sink.wait_for(20)]
        assert len(ids) == len(set(ids)) == 20
        assert {m.status for m in _all()} == {OutboxStatus.SENT}
    finally:
        sink.stop()


def test_no_transaction_is_left_open_while_the_mail_server_answers(app, smtp_server):
    """On SQLite an open transaction holds the database's write lock: web requests would wait
    for the mail server. While the server holds the DATA reply, another writer must get in."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite:///"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    import sqlite3

    outcomes: list[str] = []

    def write_meanwhile() -> None:
        conn = sqlite3.connect(uri.removeprefix("sqlite:///"), timeout=0.5, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            outcomes.append("written")
        except sqlite3.OperationalError as exc:
            outcomes.append(str(exc))
        finally:
            conn.close()

    smtp_server.on_data = write_meanwhile
    _queue(1)
    _queue(2)
    db.session.commit()

    assert deliver_due()["sent"] == 2
    assert outcomes == ["written", "written"]


def test_queue_email_refuses_anything_but_one_address(app):
    for bad in ("", "no-at-sign", "a@b.test, c@d.test", "a@b.test\r\nBcc: c@d.test"):
        with pytest.raises(ValueError):
            queue_email(to=bad, subject="S", body="B")


def test_a_stale_claim_goes_back_to_pending_and_a_recent_one_is_left_alone(app, smtp_server):
    now = utcnow()
    crashed, busy = _queue(1), _queue(2)
    db.session.flush()
    crashed.status = busy.status = OutboxStatus.SENDING
    crashed.claimed_at = now - timedelta(minutes=11)
    busy.claimed_at = now - timedelta(minutes=2)
    db.session.commit()

    counts = deliver_due(now=now)

    assert (counts["released"], counts["sent"]) == (1, 1)
    assert [m.status for m in _all()] == [OutboxStatus.SENT, OutboxStatus.SENDING]
    assert [r.rcpt_tos for r in smtp_server.wait_for(1)] == [["spoc1@agency.test"]]


def test_logs_name_ids_and_counts_but_never_addresses_subjects_or_bodies(app, smtp_port, caplog):
    caplog.set_level(logging.INFO)
    _queue(1, to="someone.private@agency.test", subject="Private subject", body="Private body")
    db.session.commit()
    deliver_due()  # the server is down
    sink = SmtpSink(smtp_port).start()
    try:
        deliver_due(now=utcnow() + timedelta(minutes=2))
        sink.wait_for(1)
    finally:
        sink.stop()

    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("panel"))
    assert "sent ids [1]" in ours and "message 1 attempt 1 failed" in ours
    for secret in ("someone.private", "agency.test", "Private subject", "Private body"):
        assert secret not in ours


def test_a_subject_is_always_one_line(app):
    message = _queue(subject="Line one\r\nBcc: someone@example.test")
    assert message.subject == "Line one Bcc: someone@example.test"


def test_the_calendar_parts_method_is_the_method_inside_the_calendar(app):
    from panel.notify.delivery import build_email

    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n"
    message = _queue(calendar=ics, calendar_method="REQUEST")
    db.session.flush()

    email = build_email(message, sender=SENDER)

    alternative, _ = email.iter_parts()
    _, calendar = alternative.iter_parts()
    assert calendar.get_param("method") == "CANCEL"
