"""The README's production section, run for real: an empty database, `flask db upgrade`,
`panel create-admin`, gunicorn with deploy/gunicorn.conf.py, Debian's nginx with
deploy/nginx/panel.conf (TLS with a self-signed certificate made here) on loopback; then sign-in,
a form post, a PDF and the calendar feed through nginx, with the logs checked for secrets.

On PostgreSQL when TEST_DATABASE_URL is set (a new, empty database), else on a SQLite file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from bs4 import BeautifulSoup

from tests.conftest import blank_database

pytestmark = [pytest.mark.real_commits,
              pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                                 reason="Debian's nginx is not installed (bash .ci/system-packages.sh test)")]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ADMIN_EMAIL, ADMIN_NAME, ADMIN_PASSWORD = "it.admin@council.gov.uk", "Ida Admin", "quartz-lantern-meadow-41"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        threading.Event().wait(0.1)
    raise AssertionError(f"nothing listening on {port} after {seconds}s")


def _readme_production() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Production deployment")
    end = text.find("\n## ", start + 5)
    return text[start:end if end > 0 else None]


@pytest.fixture
def database_url(tmp_path):
    """The empty database the README's production steps start from."""
    with blank_database(tmp_path / 'instance' / 'panel.db', "nginx") as uri:
        yield uri


class Stack:
    def __init__(self, tmp: Path, database_url: str) -> None:
        self.tmp = tmp
        self.https, self.http, self.app_port = _free_port(), _free_port(), _free_port()
        self.base = f"https://127.0.0.1:{self.https}"
        (tmp / "instance").mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PANEL_", "GUNICORN", "DATABASE"))}
        self.env.update({  # the keys of deploy/panel.env.example
            "PANEL_ENV": "production", "SECRET_KEY": "k" * 20 + os.urandom(16).hex(),
            "AUDIT_KEY": "a" * 20 + os.urandom(16).hex(),
            "DATABASE_URL": database_url, "PUBLIC_URL": self.base, "LOG_FORMAT": "json",
            "MAIL_SERVER": "", "MAIL_FROM": "Panel <panel@council.gov.uk>",
            "PANEL_INSTANCE_PATH": str(tmp / "instance"), "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        })
        self.processes: list[subprocess.Popen] = []
        self.sessions: list[requests.Session] = []
        self.app_log = tmp / "app.log"

    def flask(self, *args: str, **extra: str) -> subprocess.CompletedProcess:
        done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env={**self.env, **extra},
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def certificate(self) -> None:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(self.tmp / "privkey.pem"), "-out", str(self.tmp / "fullchain.pem")],
                       check=True, capture_output=True)

    def gunicorn(self) -> None:
        log = self.log_handle = self.app_log.open("w")
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"], cwd=ROOT, stdout=log, stderr=log,
            env={**self.env, "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.app_port} --workers 2"},
            start_new_session=True)
        self.processes.append(process)
        _wait_for_port(self.app_port, process)

    def nginx(self) -> None:
        site = (ROOT / "deploy/nginx/panel.conf").read_text()
        for old, new in [
            ("server 127.0.0.1:8000;", f"server 127.0.0.1:{self.app_port};"),
            ("listen 80;", f"listen 127.0.0.1:{self.http};"),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https} ssl http2;"),
            ("/etc/ssl/panel/", f"{self.tmp}/"),
            ("/opt/panel/static/", f"{ROOT}/static/"),
            ("/var/log/nginx/", f"{self.tmp}/"),
        ]:
            assert old in site, old
            site = site.replace(old, new)
        site = "\n".join(line for line in site.splitlines() if "[::]" not in line)
        (self.tmp / "site.conf").write_text(site)
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.tmp / name).mkdir(exist_ok=True)
        (self.tmp / "nginx.conf").write_text(f"""
            user root;
            worker_processes 1;
            pid {self.tmp}/nginx.pid;
            error_log {self.tmp}/error.log warn;
            events {{ worker_connections 64; }}
            http {{
                include /etc/nginx/mime.types;
                client_body_temp_path {self.tmp}/client_body; proxy_temp_path {self.tmp}/proxy;
                fastcgi_temp_path {self.tmp}/fastcgi; uwsgi_temp_path {self.tmp}/uwsgi; scgi_temp_path {self.tmp}/scgi;
                include {ROOT}/deploy/nginx/panel-log-format.conf;
                include {self.tmp}/site.conf;
            }}""")
        subprocess.run([NGINX, "-t", "-c", str(self.tmp / "nginx.conf")], check=True, capture_output=True)
        process = subprocess.Popen([NGINX, "-c", str(self.tmp / "nginx.conf"), "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(process)
        _wait_for_port(self.https, process)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise win over our certificate
        session.verify = str(self.tmp / "fullchain.pem")
        self.sessions.append(session)
        return session

    def stop(self) -> None:
        for session in self.sessions:
            session.close()
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        if getattr(self, "log_handle", None) is not None:
            self.log_handle.close()


def _soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def _post(session, stack, path, data, token_from=None):
    form = _soup(session.get(stack.base + (token_from or path)))
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    # over HTTPS Flask-WTF also wants the same-origin Referer a browser sends
    return session.post(stack.base + path, data={**data, "csrf_token": token}, allow_redirects=False,
                        headers={"Referer": stack.base + (token_from or path)})


def _signed_in(stack, email, password) -> requests.Session:
    session = stack.session()
    response = _post(session, stack, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.text[:500]
    assert "/login" not in response.headers["Location"]
    return session


def test_the_readme_production_steps_from_an_empty_database_to_a_signed_in_admin_behind_nginx(tmp_path, database_url):
    readme = _readme_production()
    for step in ("flask --app wsgi db upgrade", "flask --app wsgi panel create-admin --email",
                 "PANEL_ADMIN_PASSWORD", "gunicorn -c deploy/gunicorn.conf.py wsgi:app",
                 "deploy/nginx/panel.conf", "deploy/nginx/panel-log-format.conf", "deploy/panel.env.example"):
        assert step in readme, f"the README's production section no longer says {step!r}"
    stack = Stack(tmp_path, database_url)
    try:
        # the README's steps
        stack.flask("db", "upgrade")
        created = stack.flask("panel", "create-admin", "--email", ADMIN_EMAIL, "--name", ADMIN_NAME,
                              PANEL_ADMIN_PASSWORD=ADMIN_PASSWORD)
        assert "Administrator Ida Admin" in created.stdout
        stack.certificate()
        stack.gunicorn()
        stack.nginx()

        # plain HTTP is sent to HTTPS
        plain = stack.session()
        redirect = plain.get(f"http://127.0.0.1:{stack.http}/login", allow_redirects=False)
        assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")

        # sign-in through nginx, the session cookie Secure, the proxy's headers trusted
        admin = _signed_in(stack, ADMIN_EMAIL, ADMIN_PASSWORD)
        home = admin.get(stack.base + "/")
        assert home.status_code == 200 and ADMIN_NAME in home.text
        assert "Strict-Transport-Security" in home.headers  # the app saw X-Forwarded-Proto: https
        assert any(c.secure for c in admin.cookies)

        # a form post: the admin adds a chair, who is shown a temporary password once
        agencies = _soup(admin.get(stack.base + "/admin/users/new")).select("select[name=agency_id] option")
        agency_id = next(o["value"] for o in agencies if o.get("value"))
        added = _post(admin, stack, "/admin/users/new", {"name": "Cara Chair", "email": "cara.chair@council.gov.uk",
                                                          "role": "chair", "agency_id": agency_id})
        shown = _soup(added).select_one("#temporary-password")
        assert added.status_code == 200 and shown is not None, _soup(added).select(".govuk-error-summary")
        temporary = shown.get_text(strip=True)

        chair = _signed_in(stack, "cara.chair@council.gov.uk", temporary)
        changed = _post(chair, stack, "/account/password", {
            "current_password": temporary, "new_password": "copper-willow-statue-8",
            "confirm_password": "copper-willow-statue-8"})
        assert changed.status_code == 302, changed.text[:500]

        # a PDF: the scheduler's job makes the panels; the chair prints the next one's agenda
        stack.flask("panel", "run-job", "panel-schedule")
        meetings = chair.get(stack.base + "/meetings")
        meeting_id = re.search(r'href="/meetings/(\d+)"', meetings.text).group(1)
        pdf = chair.get(f"{stack.base}/meetings/{meeting_id}/agenda.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")

        # the feed: switched on by the chair, fetched with no session, as a calendar app does
        switched = _post(chair, stack, "/account/calendar-feed", {}, token_from="/account")
        feed_url = _soup(switched).select_one("#calendar-feed-url")["value"]
        token = re.search(r"/calendar/([A-Za-z0-9_-]+)\.ics", feed_url).group(1)
        calendar_app = stack.session()
        feed = calendar_app.get(feed_url)
        assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")

        # static files come from nginx, not gunicorn
        css = next((ROOT / "static").rglob("*.css"), None)
        if css is not None:
            static = calendar_app.get(f"{stack.base}/static/{css.relative_to(ROOT / 'static')}")
            assert static.status_code == 200 and "public" in static.headers.get("Cache-Control", "")

        # a body over client_max_body_size stops at nginx
        big = admin.post(stack.base + "/login", data={"x": "y" * (3 * 1024 * 1024)}, allow_redirects=False)
        assert big.status_code == 413
    finally:
        stack.stop()

    access = (tmp_path / "panel.access.log").read_text()
    app_lines = [json.loads(line) for line in stack.app_log.read_text().splitlines() if line.startswith("{")]
    everything = access + stack.app_log.read_text() + (tmp_path / "error.log").read_text()
    for secret in (token, ADMIN_PASSWORD, temporary, "copper-willow-statue-8", ADMIN_EMAIL):
        assert secret not in everything
    assert "/calendar/" not in access  # the feed is kept out of nginx's access log
    assert "/static/" not in "".join(line.get("endpoint", "") for line in app_lines)
    requests_logged = [line for line in app_lines if line.get("logger") == "panel.request"]
    assert {"meetings.agenda_pdf", "auth.login", "admin.add_user"} <= {line["endpoint"] for line in requests_logged}
    # the same request id in nginx's line and the app's
    ids = set(re.findall(r"id=([0-9a-f]{32})", access))
    assert ids and ids & {line["request_id"] for line in requests_logged}
    assert any(line.get("endpoint") == "calendar.feed" and line["status"] == 200 for line in requests_logged)
