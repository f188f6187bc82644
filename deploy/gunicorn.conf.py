"""gunicorn settings for Panel: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (run from the checkout).

Listens on loopback only; nginx (deploy/nginx/panel.conf) is in front, terminates TLS and buffers
request bodies, so a slow client never ties up a worker. Each setting can be overridden on the
command line or in GUNICORN_CMD_ARGS, e.g. GUNICORN_CMD_ARGS="--workers 8".
"""

import os

bind = os.environ.get("PANEL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
timeout = 60                 # the agenda PDF takes a few seconds; nothing takes a minute
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (WeasyPrint's memory), rarely and far apart: a worker takes a few
# seconds to start, and with 1,000 +/- 100 both workers of the load test (tests/bench_load.py)
# restarted within a second of each other, holding every request for 3.5 s.
max_requests = 5000
max_requests_jitter = 2500
control_socket_disable = True
forwarded_allow_ips = "127.0.0.1,::1"   # only the local nginx may set X-Forwarded-*

# Logs: no access log (Panel writes one line per request itself, with the request id, the user id
# and the endpoint, never the path); gunicorn's own lines go to stderr in Panel's format (text,
# or JSON when LOG_FORMAT=json), redacted like every other line (panel/ops/logs.py).
accesslog = None
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"panel": {"()": "panel.ops.logs.make_formatter"}},
    "filters": {"redact": {"()": "panel.ops.logs.RedactingFilter"}},
    "handlers": {"stderr": {"class": "panel.ops.logs.PanelHandler", "filters": ["redact"]}},
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}
