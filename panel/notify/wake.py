"""Waking the scheduler's outbox job the moment an email is committed, so no page waits on SMTP.

Web requests never talk to the mail server. A transaction that adds outbox rows rings the
scheduler instead, and the scheduler process runs its "outbox" job at once rather than at the
next minute:

- PostgreSQL: ``NOTIFY panel_outbox`` inside the committing transaction, so it is delivered
  if and only if the emails were committed, to a scheduler on any host. The scheduler LISTENs
  on a connection of its own.
- SQLite (one machine by nature): after the commit, one datagram to the Unix socket
  ``OUTBOX_WAKE_SOCKET`` (default ``instance/outbox-wake.sock``) that the scheduler listens on.
  Sending never blocks and never fails the caller: with no scheduler listening it is dropped.

Either way the once-a-minute run stays as the safety net, so a lost wake-up only means the
email leaves within the minute.
"""

from __future__ import annotations

import logging
import os
import select
import socket
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

CHANNEL = "panel_outbox"
_MESSAGE = b"outbox"


def socket_path() -> str:
    return current_app.config.get("OUTBOX_WAKE_SOCKET", "") if has_app_context() else ""


def notify_sql() -> sa.TextClause:
    """The statement a PostgreSQL transaction runs to ring the scheduler when it commits."""
    return sa.text(f"NOTIFY {CHANNEL}")


def ring_socket(path: str) -> bool:
    """Send one wake-up datagram to the scheduler's socket; False when nobody is listening."""
    if not path:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        try:
            sender.sendto(_MESSAGE, path)
        except OSError:  # no scheduler listening, or its queue is full: the minute's run sends it
            return False
    return True


class Listener(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until rung (True) or until timeout seconds pass (False)."""

    def close(self) -> None: ...


class SocketListener:
    """The SQLite scheduler's end: a Unix datagram socket only its own user may write to."""

    def __init__(self, path: str) -> None:
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)  # left by a scheduler that died; the scheduler lock says we are the one
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(path)
        os.chmod(path, 0o600)
        self._sock.setblocking(False)

    def wait(self, timeout: float) -> bool:
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return False
        try:
            while self._sock.recv(64):  # many rings at once are one wake-up
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        self._sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class PostgresListener:
    """The PostgreSQL scheduler's end: LISTEN on a dedicated autocommit connection."""

    def __init__(self, engine: Engine) -> None:
        self._raw = engine.raw_connection()
        self._conn = self._raw.driver_connection
        self._conn.autocommit = True
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        woken = False
        for _ in self._conn.notifies(timeout=timeout, stop_after=1):
            woken = True
        if woken:  # drain the others that came with it
            for _ in self._conn.notifies(timeout=0):
                pass
        return woken

    def close(self) -> None:
        try:
            self._conn.execute(f"UNLISTEN {CHANNEL}")
        finally:
            self._raw.invalidate()  # autocommit was changed: never hand this connection back to the pool


def listen(engine: Engine, path: str) -> Listener | None:
    """The scheduler's listener for its database, or None (then only the minute's run sends)."""
    try:
        if engine.dialect.name == "postgresql":
            return PostgresListener(engine)
        if path:
            return SocketListener(path)
    # e.g. a socket path longer than the system allows, or the database refusing LISTEN
    except Exception as exc:  # noqa: BLE001
        log.warning("outbox: cannot listen for wake-ups (%s); emails go out on the minute's run", exc)
    return None
