"""Logging: one line per request and per job, text or JSON, and no secret in any line of any logger.

The line for a request (logger ``panel.request``), written when the response is ready::

    2027-01-14T10:00:00.123Z INFO panel.request: request id=3f9c... user=12 method=GET
        endpoint=cases.summary status=200 ms=41

With ``LOG_FORMAT=json`` every line of every logger is one JSON object with the keys ``time``,
``level``, ``logger``, ``message`` and, for a request, ``request_id``, ``user_id``, ``method``,
``endpoint``, ``status``, ``duration_ms``; for a job (logger ``panel.scheduler``) ``job``,
``outcome`` (``ok`` or ``failed``) and ``duration_ms``.

What is never written: the path or query string (they can hold a search for a name, a case
reference or a calendar-feed token), form fields, email addresses or tokens. The endpoint is the
route's name, not its address. As a second line of defence every log record made in the process,
by any logger (Flask's own "Exception on /calendar/<token>.ics", werkzeug's and gunicorn's access
lines, a traceback), has its message and traceback passed through :func:`redact` when it is made
(a log record factory), and the formatter redacts the finished line again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sys
import time
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

# (pattern, replacement), applied in order to every message and traceback.
_SECRETS: list[tuple[re.Pattern[str], str]] = [
    # the personal calendar feed: the token is the whole of the password
    (re.compile(r"/calendar/[^\s\"'<>?#/\\]+"), "/calendar/[token].ics"),
    # an invitation's reply link (panel.meetings.replies): the token answers for one attendee
    (re.compile(r"/meetings/reply/[^\s\"'<>?#/\\]+"), "/meetings/reply/[token]"),
    # referral API tokens, wherever they appear, and any bearer credential
    (re.compile(r"\bpnl_[A-Za-z0-9_-]+"), "pnl_[token]"),
    (re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+"), r"\1 [token]"),
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)[^\n\"',;]+"), r"\1[redacted]"),
    # credentials in a URL (postgresql://user:password@host)
    (re.compile(r"(://[^/\s:@]*):[^@\s/]+@"), r"\1:[redacted]@"),
    # any query string after a path (a search's words, a filter's name or date of birth): the path
    # stays, the query goes (werkzeug's access line "GET /search?q=... HTTP/1.1")
    (re.compile(r"(/[^\s?#\"'<>]*)\?[^\s#\"'<>]+"), r"\1?[query]"),
    # name=value pairs that name a secret, in a query string, a form body or a message
    (re.compile(r"(?i)\b([a-z_]*(?:password|passwd|token|secret|api_key|apikey|totp|code))=[^&\s\"']+"),
     r"\1=[redacted]"),
    # email addresses: staff are people too, and a log is no place for their addresses
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "[email]"),
]
# Fields a record may carry (through `extra=`) that the JSON line includes.
EXTRA_FIELDS = ("request_id", "user_id", "method", "endpoint", "status", "duration_ms", "job", "outcome")


def redact(text: str) -> str:
    """Blank every token, credential and email address in ``text``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


# ---- every record made in the process is redacted when it is made ----------------------------

_base_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    _redact_record(record)
    return record


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a badly formatted record: keep what can be kept, safely
        message = str(record.msg)
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install_record_factory() -> None:
    """Redact every log record of every logger in this process (idempotent)."""
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)


class RedactingFilter(logging.Filter):
    """For handlers that receive records made before the factory was installed (or elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


# ---- the two formats --------------------------------------------------------------------------

def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE key=value ...``, one line (a traceback follows on its own lines)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{name}={getattr(record, name)}" for name in EXTRA_FIELDS
                          if getattr(record, name, None) not in (None, ""))
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if fields:
            line = f"{line} {fields}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback goes in ``exception`` (its newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "":
                out[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        return redact(json.dumps(out, default=str, ensure_ascii=False))


def make_formatter(log_format: str | None = None) -> logging.Formatter:
    """JSON when ``log_format`` is "json", else text. Also gunicorn's `logconfig_dict` factory."""
    chosen = (log_format or os.environ.get("LOG_FORMAT") or "text").strip().lower()
    return JsonFormatter() if chosen == "json" else TextFormatter()


class PanelHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (journald under systemd), redacting again."""

    def __init__(self, log_format: str | None = None) -> None:
        super().__init__()
        self.setFormatter(make_formatter(log_format))
        self.addFilter(RedactingFilter())

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(log_format: str | None = None, level: str | int = logging.INFO, *,
                      to_stderr: bool = True) -> None:
    """Send every logger's lines to stderr in the chosen format, redacted. Idempotent.

    Keeps handlers someone else put on the root logger (pytest's, gunicorn's), adding ours once
    (not under the test suite, whose commands' output would fill with log lines: pytest captures
    the records); a redacting filter goes on each of them too.
    """
    install_record_factory()
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, PanelHandler)]
    if ours:
        for handler in ours:
            handler.setFormatter(make_formatter(log_format))
    elif to_stderr:
        root.addHandler(PanelHandler(log_format))
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(level)


# ---- one line per request ---------------------------------------------------------------------

request_log = logging.getLogger("panel.request")


def request_id() -> str:
    """This request's id: the proxy's X-Request-ID when it looks like one, else a new random one."""
    if not has_request_context():
        return ""
    if "request_id" not in g:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _GOOD_REQUEST_ID.fullmatch(given) else secrets.token_hex(16)
    return g.request_id


def _signed_in_user_id() -> int | None:
    """The user Flask-Login already loaded for this request, without a query of its own."""
    user = g.get("_login_user")
    state = sa.inspect(user, raiseerr=False) if user is not None else None
    if state is None or not state.identity:  # nobody signed in (Flask-Login's anonymous user)
        return None
    # Its key, known even when a rollback (the busy page) has expired its attributes: reading
    # them would begin a transaction, on SQLite for a form post one that waits for the lock.
    return state.identity[0]


def _start_request() -> None:
    g.request_started = time.monotonic()
    request_id()


def _log_request(response):
    started = g.get("request_started")
    duration = round((time.monotonic() - started) * 1000) if started is not None else None
    rid = request_id()
    response.headers[REQUEST_ID_HEADER] = rid
    user_id = _signed_in_user_id()
    request_log.info(
        "request", extra={
            "request_id": rid, "user_id": user_id if user_id is not None else "-",
            "method": request.method, "endpoint": request.endpoint or "-",
            "status": response.status_code, "duration_ms": duration,
        })
    return response


def register(app: Flask) -> None:
    """Configure logging for the process and add the request line. Call before other hooks."""
    configure_logging(app.config.get("LOG_FORMAT"), to_stderr=not app.testing)
    app.logger  # noqa: B018 - Flask makes its logger (and may add a handler) on first use
    for handler in app.logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_log_request)
