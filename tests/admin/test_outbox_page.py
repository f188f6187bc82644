"""The admin email outbox page: what it lists, retrying a failed email, and who may see it."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from panel.extensions import db
from panel.models import AuditAction, AuditEvent, OutboxMessage, OutboxStatus, utcnow
from panel.notify import deliver_due, queue_email
from tests.conftest import page, post_form
from tests.notify.smtp_server import free_port

URL = "/admin/outbox"


def _message(status: OutboxStatus, n: int = 1, *, attempts: int = 3, age: timedelta = timedelta(hours=25),
             error: str = "ConnectionRefusedError: Connection refused") -> OutboxMessage:
    now = utcnow()
    message = queue_email(to=f"person{n}@agency.test", subject=f"Subject {n}", body="Body text")
    message.status = status
    message.attempts = attempts
    message.last_error = error if attempts else ""
    message.created_at = now - age
    message.next_attempt_at = now + timedelta(minutes=30) if status == OutboxStatus.PENDING else now - age
    db.session.flush()
    return message


def _cells(response, table_id: str) -> list[list[str]]:
    table = page(response).find(id=table_id)
    assert table is not None, f"no table #{table_id}"
    return [[c.get_text(" ", strip=True) for c in row.find_all(["td", "th"])] for row in table.select("tbody tr")]


def test_admin_sees_failed_and_retrying_emails_and_counts(client, login_as):
    _message(OutboxStatus.FAILED, 1, attempts=28)
    _message(OutboxStatus.PENDING, 2, attempts=2, age=timedelta(minutes=10))
    _message(OutboxStatus.PENDING, 3, attempts=0, age=timedelta(seconds=5))  # first try not made yet
    _message(OutboxStatus.SENT, 4, attempts=0)
    login_as("admin")

    response = client.get(URL)

    assert response.status_code == 200
    assert page(response).h1.get_text(strip=True) == "Email outbox"
    counts = dict((row[0], row[1]) for row in _cells(response, "outbox-counts"))
    assert counts == {"Failed": "1", "Waiting to retry": "1", "Waiting to be sent": "1", "Being sent now": "0",
                      "Sent in the last 30 days": "1"}
    [failed] = _cells(response, "outbox-failed")
    assert failed[0:2] == ["person1@agency.test", "Subject 1"]
    assert failed[3:] == ["28", "ConnectionRefusedError: Connection refused", "Retry the email to person1@agency.test"]
    assert page(response).select_one("#outbox-failed button .govuk-visually-hidden")
    [retrying] = _cells(response, "outbox-retrying")
    assert retrying[0:2] == ["person2@agency.test", "Subject 2"] and retrying[3] == "2"
    assert retrying[5]  # the next attempt's time
    text = response.get_data(as_text=True)
    assert "person3@agency.test" not in text and "person4@agency.test" not in text
    assert "Body text" not in text


def test_subjects_and_errors_are_shown_as_text_not_html(client, login_as):
    _message(OutboxStatus.FAILED, 1, error="SMTPDataError: SMTP 554 <b>rejected</b>")
    message = _message(OutboxStatus.FAILED, 2)
    message.subject = "<script>alert(1)</script>"
    login_as("admin")

    response = client.get(URL)

    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    cells = [c for row in _cells(response, "outbox-failed") for c in row]
    assert "<script>alert(1)</script>" in cells and "SMTPDataError: SMTP 554 <b>rejected</b>" in cells


def test_an_empty_outbox_says_so(client, login_as):
    login_as("admin")
    soup = page(client.get(URL))
    assert soup.find(id="no-failed") and soup.find(id="no-retrying")


def test_the_page_runs_the_same_number_of_queries_for_2_or_20_emails(client, login_as, count_queries):
    login_as("admin")
    _message(OutboxStatus.FAILED, 0)
    _message(OutboxStatus.PENDING, 1)
    db.session.commit()
    with count_queries() as few:
        assert client.get(URL).status_code == 200
    for n in range(2, 20):
        _message(OutboxStatus.FAILED if n % 2 else OutboxStatus.PENDING, n)
    db.session.commit()
    with count_queries() as many:
        response = client.get(URL)
    assert len(_cells(response, "outbox-failed")) + len(_cells(response, "outbox-retrying")) == 20
    assert many.count == few.count, many.statements


def test_retry_puts_a_failed_email_back_and_the_outbox_job_sends_it(app, client, login_as, tmp_path):
    message = _message(OutboxStatus.FAILED)
    admin = login_as("admin")  # commits the message too

    response = post_form(client, f"{URL}/{message.id}/retry", {}, token_from=URL)

    assert response.status_code == 302 and response.headers["Location"].endswith(URL)
    db.session.rollback()
    assert db.session.get(OutboxMessage, message.id).status == OutboxStatus.PENDING  # the request sends nothing
    assert deliver_due()["sent"] == 1  # the scheduler's outbox job, woken by the commit
    db.session.rollback()
    sent = db.session.get(OutboxMessage, message.id, populate_existing=True)
    assert sent.status == OutboxStatus.SENT  # no MAIL_SERVER in tests: written as an .eml file
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "outbox_message")).one()
    assert (event.action, event.object_id, event.user_id) == (AuditAction.UPDATE, str(message.id), admin.id)
    assert json.loads(event.summary) == {"retry": True}
    followed = client.get(response.headers["Location"])
    assert "back in the queue" in page(followed).select_one(".govuk-notification-banner").get_text()


def test_a_retry_that_fails_again_lists_the_email_as_failed_again(app, client, login_as):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nothing listens there
    message = _message(OutboxStatus.FAILED, attempts=28)
    login_as("admin")

    post_form(client, f"{URL}/{message.id}/retry", {}, token_from=URL)
    db.session.rollback()
    deliver_due()

    db.session.rollback()
    again = db.session.get(OutboxMessage, message.id, populate_existing=True)
    assert (again.status, again.attempts) == (OutboxStatus.FAILED, 29)
    assert _cells(client.get(URL), "outbox-failed")[0][3] == "29"


def test_retrying_an_email_that_has_not_failed_changes_nothing(client, login_as):
    failed = _message(OutboxStatus.FAILED, 1)
    waiting = _message(OutboxStatus.PENDING, 2, attempts=1)
    login_as("admin")

    response = post_form(client, f"{URL}/{waiting.id}/retry", {}, token_from=URL, follow_redirects=True)

    assert "nothing to retry" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(OutboxMessage, waiting.id).attempts == 1
    assert db.session.get(OutboxMessage, failed.id).status == OutboxStatus.FAILED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.object_type == "outbox_message")) == 0


def test_retry_of_an_unknown_email_is_404(client, login_as):
    _message(OutboxStatus.FAILED)
    login_as("admin")
    assert post_form(client, f"{URL}/999999/retry", {}, token_from=URL).status_code == 404


def test_retry_needs_the_csrf_token(client, login_as):
    message = _message(OutboxStatus.FAILED)
    login_as("admin")
    assert client.post(f"{URL}/{message.id}/retry").status_code == 400
    db.session.rollback()
    assert db.session.get(OutboxMessage, message.id).status == OutboxStatus.FAILED


def test_a_coordinator_gets_404_for_the_page(client, login_as):
    login_as("coordinator")
    assert client.get(URL).status_code == 404


def test_a_coordinator_cannot_retry_even_with_a_valid_token(client, login_as):
    message = _message(OutboxStatus.FAILED)
    login_as("coordinator")

    # The token comes from a form the coordinator may see.
    response = post_form(client, f"{URL}/{message.id}/retry", {}, token_from="/account/password")

    assert response.status_code == 404
    db.session.rollback()
    assert db.session.get(OutboxMessage, message.id).status == OutboxStatus.FAILED


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
