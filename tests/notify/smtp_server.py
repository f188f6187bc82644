"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, recording every message it accepts.

aiosmtpd's Controller cannot pick its own port (port=0 fails its readiness check), so a free
port is found first by binding a socket to 127.0.0.1:0. Stopping the server and starting a
new SmtpSink on the same port simulates a mail server that goes down and comes back.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None

    @property
    def email(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)  # type: ignore[return-value]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.sink.on_data is not None:
            self.sink.on_data()
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.sink.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login))
        return "250 Message accepted for delivery"


class SmtpSink:
    """Start with start(), stop with stop(); ``messages`` lists what was received, in order."""

    def __init__(self, port: int, *, delay: float = 0.0, credentials: tuple[str, str] | None = None) -> None:
        self.port = port
        self.delay = delay
        self.credentials = credentials
        self.messages: list[Received] = []
        self.on_data: Callable[[], None] | None = None  # called while the client waits for the reply
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.credentials is not None and (
            auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        return AuthResult(success=ok, handled=False, auth_data=auth_data)  # aiosmtpd answers 235 or 535

    def start(self) -> SmtpSink:
        kwargs = {}
        if self.credentials:
            # Plain-text AUTH is fine on loopback in a test (auth_required=True would warn).
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages
