"""Fixtures for the outbox tests: a free port, an app that sends to it, and a real SMTP server on it."""

from __future__ import annotations

import pytest

from tests.notify.smtp_server import SmtpSink, free_port

SENDER = "Panel <panel@panel.test>"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def app_config(smtp_port):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_TIMEOUT": 5, "MAIL_FROM": SENDER}


@pytest.fixture
def smtp_server(smtp_port):
    sink = SmtpSink(smtp_port).start()
    yield sink
    sink.stop()
