"""Load test: real gunicorn, 2 workers, 8 signed-in clients on the ten-year database (issue 18).
Not a test: pytest does not collect it (its name does not match test_*.py).

    make bench                                     # every tests/bench_*.py; this one on SQLite, and
                                                   # on PostgreSQL too when TEST_DATABASE_URL is one
    .venv/bin/python -P tests/bench_load.py [--seconds 60] [--scale 1.0] [--only-sqlite]
                                            [--worker-class sync] [--heavy-every 60] [--random-phase]

The ten-year database is the one tests/tenyears.py builds and caches for tests/bench_pages.py
(built here too if it is not cached yet). The load runs on a copy in a temporary directory (the
file and its WAL on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), never on the cache.

The server is what a council runs (README, "Production deployment"): gunicorn with
deploy/gunicorn.conf.py (sync workers, timeout 60 s, no access log), here with 2 workers on a
free port on 127.0.0.1, PANEL_ENV=production with a SECRET_KEY and the bench's AUDIT_KEY, the
instance folder in the temporary directory, no mail server and no scheduler. The clients speak to
it as nginx would (X-Forwarded-Proto: https, so the secure session cookie and Flask-WTF's strict
Referer check apply) and each signs in through the real form: GET /login for the CSRF token,
POST the email and password (the demo users have no second factor; a redirect to the two-factor
step is reported as a failure).

Eight client threads, one per demo sign-in: the coordinator, the chair, the SPoCs of the police,
housing and the mental health trust, the health practitioner, a Board member and the admin. Each
loops, back to back with no pause, over a weighted mix of the pages its role uses (PAGES below:
home, case pages, the action log or "our actions", an action, referrals, the next panel's meeting
page, search, the Board's reports, the admin's audit trail searched three ways, users, outbox),
on the records its own lists link to. Mixed in:

- the heavy requests, each once every --heavy-every seconds (default 60), spread evenly over
  the period so that they do not start together (the first at 1/6, 1/2 and 5/6 of it;
  --random-phase starts each at a random time instead, and two may then overlap): the
  coordinator's /actions/export.csv, the chair's /meetings/<next panel>/agenda.pdf and the
  admin's /admin/audit.csv (its default range, the last 12 months). Once a minute is still far
  more often than a council would ask for them;
- writes: a SPoC updating one of their agency's open actions (the update form, its POST with a
  note, and the action page it redirects to), one in 16 of a SPoC's picks (by weight).

Before the clock starts each client requests each of its URLs once (untimed), keeping those that
answer 200: this warms both workers and drops what a role may not see.

Timed at the client, from sending the request to the body's last byte (a streamed export to its
last row), so a request's time includes waiting for a free worker. Each request carries an
X-Request-ID; the app's own log line gives the time inside the app (for a streamed export, until
its first byte), so "waited" is mostly time queued behind other requests.

Targets (issue 18), on the pages and writes (the exports and the PDF are listed apart: they are
judged by bench_pages.py and bench_agenda_pdf.py): p99 under 1 s and no request over 3 s, and
every request answering as expected. Prints markdown tables per database (throughput, p50, p95,
p99, max, how many over 1 s and 3 s; medians per page kind; each slow request with what else was
running) and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess  # nosec B404 - starts gunicorn from this checkout
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# the project's root, not tests/ (Python puts a script's folder first), whose html/ would hide the
# standard library's html
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "tests"]

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tests import tenyears  # noqa: E402

P99_TARGET = 1.0
MAX_TARGET = 3.0
EXTRA_SPOC = ("spoc-mental-health", "spoc.mentalhealth@demo.invalid")
AUDITED_USER = "coordinator@demo.invalid"
SEARCH_TERMS = ("Tenyear", "Fictional", "Decade", "Sample")
WRITE = "action update (POST)"
HEAVY = {"export: actions": ("coordinator", "/actions/export.csv"),
         "PDF: agenda pack": ("chair", "/meetings/{panel}/agenda.pdf"),
         "export: audit": ("admin", "/admin/audit.csv")}

# Each role's pages: (weight, kind, URL template). {case}, {action}, {referral} and {user} are
# filled from the links of the role's own lists; {panel} is the next panel; {q} a search word.
_CASE = [(4, "case", "/cases/{case}"), (2, "case chronology", "/cases/{case}/chronology"),
         (2, "case actions", "/cases/{case}/actions"), (1, "case engagement", "/cases/{case}/engagement")]
_SPOC = [(3, "home", "/"), (3, "our actions", "/actions/ours"), (2, "action", "/actions/{action}"),
         (2, "case", "/cases/{case}"), (1, "case actions", "/cases/{case}/actions"),
         (1, "case chronology", "/cases/{case}/chronology"), (1, "case list", "/cases"),
         (1, "next panel", "/meetings/{panel}"), (1, "referral list", "/referrals"), (1, WRITE, "{action}")]
PAGES: dict[str, list[tuple[int, str, str]]] = {
    "coordinator": [(4, "home", "/"), (2, "case list", "/cases"), *_CASE, (3, "action log", "/actions"),
                    (1, "action log, overdue", "/actions?overdue=y"), (2, "action", "/actions/{action}"),
                    (2, "referral list", "/referrals"), (1, "referral", "/referrals/{referral}"),
                    (1, "triage", "/referrals/triage"), (1, "meetings", "/meetings"),
                    (2, "next panel", "/meetings/{panel}"), (1, "attendance", "/meetings/{panel}/attendance"),
                    (1, "search", "/search?q={q}")],
    "chair": [(3, "home", "/"), (3, "next panel", "/meetings/{panel}"), (1, "agenda print view", "/meetings/{panel}/agenda"),
              (3, "case", "/cases/{case}"), (1, "case chronology", "/cases/{case}/chronology"),
              (1, "case actions", "/cases/{case}/actions"), (2, "action log", "/actions"), (1, "action", "/actions/{action}"),
              (1, "referral list", "/referrals"), (1, "referral", "/referrals/{referral}"), (1, "meetings", "/meetings"),
              (1, "reports", "/reports")],
    "spoc": _SPOC,
    "practitioner": [(3, "home", "/"), (2, "our actions", "/actions/ours"), (1, "action", "/actions/{action}"),
                     (1, "case list", "/cases"), (2, "case", "/cases/{case}"), (1, "case chronology", "/cases/{case}/chronology"),
                     (2, "referral list", "/referrals"), (1, "referral", "/referrals/{referral}"), (1, "search", "/search?q={q}")],
    "board": [(2, "home", "/"), (5, "reports", "/reports"), (1, "help", "/help")],
    "admin": [(2, "home", "/"), (2, "admin home", "/admin/"), (4, "audit trail", "/admin/audit"),
              (1, "audit trail by user", f"/admin/audit?user={AUDITED_USER}"),
              (1, "audit trail by case", "/admin/audit?object_type=case&object_id={case}"),
              (2, "users", "/admin/users"), (1, "user", "/admin/users/{user}"), (1, "outbox", "/admin/outbox"),
              (1, "agencies", "/admin/agencies")],
}
LINKS = {"case": r'href="/cases/([A-Z]+-\d{4}-\d+)"', "action": r'href="/actions/(\d+)"',
         "referral": r'href="/referrals/(\d+)"', "user": r'href="/admin/users/(\d+)"'}
PER_PLACEHOLDER = 4  # records of each list a client uses


def pages_of(role: str) -> list[tuple[int, str, str]]:
    return PAGES["spoc" if role.startswith("spoc") else role]


# ---- one request -------------------------------------------------------------------------------------


@dataclass
class Sample:
    role: str
    kind: str
    method: str
    url: str
    status: int
    start: float      # seconds since the run began
    end: float
    size: int = 0
    rid: str = ""
    error: str = ""
    server_ms: int | None = None

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def heavy(self) -> bool:
        return self.kind in HEAVY

    @property
    def ok(self) -> bool:
        return not self.error


class Client:
    """One signed-in browser, behind the nginx the README deploys: HTTPS as far as the app knows."""

    def __init__(self, base: str, role: str, email: str, number: int) -> None:
        self.base, self.role, self.email, self.number = base, role, email, number
        self.origin = "https://" + urlsplit(base).netloc
        self.http = requests.Session()
        # the session cookie is Secure (production): the app sees HTTPS, but the socket is plain
        # HTTP, so a cookie jar would keep it back; the client sends its cookies itself
        self.cookies: dict[str, str] = {}
        self.http.headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1",
                                  "User-Agent": "panel-bench-load"})
        self.samples: list[Sample] = []
        self.urls: dict[str, list[str]] = {}     # kind -> URLs that answered 200 in the warm-up
        self.writable: list[str] = []             # action ids whose update form this user may send
        self.t0 = 0.0
        self.n = 0

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if method == "POST":
            headers["Referer"] = self.origin + path  # Flask-WTF's strict check on HTTPS
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        response = self.http.request(method, self.base + path, headers=headers, allow_redirects=False, timeout=180,
                                     **kwargs)
        self.cookies.update((cookie.name, cookie.value) for cookie in response.cookies)
        self.http.cookies.clear()
        return response

    def timed(self, kind: str, method: str, path: str, expect: int = 200, **kwargs) -> requests.Response | None:
        self.n += 1
        rid = f"load{self.number}x{self.n:06d}"
        start = time.monotonic()
        try:
            response = self.request(method, path, headers={"X-Request-ID": rid}, **kwargs)
            size = len(response.content)
        except requests.RequestException as error:
            self.samples.append(Sample(self.role, kind, method, path, 0, start - self.t0, time.monotonic() - self.t0,
                                       rid=rid, error=f"{type(error).__name__}"))
            return None
        end = time.monotonic()
        problem = "" if response.status_code == expect else f"answered {response.status_code}, not {expect}"
        self.samples.append(Sample(self.role, kind, method, path, response.status_code, start - self.t0,
                                   end - self.t0, size=size, rid=rid, error=problem))
        return response

    def sign_in(self, password: str) -> None:
        page = self.request("GET", "/login")
        response = self.request("POST", "/login", data={"csrf_token": csrf_token(page.text), "email": self.email,
                                                         "password": password})
        where = response.headers.get("Location", "")
        if response.status_code != 302 or "/login" in urlsplit(where).path:
            step = "a second factor" if "two-factor" in where else f"status {response.status_code}"
            raise RuntimeError(f"{self.role} ({self.email}) could not sign in: {step}")

    # -- choosing the URLs, untimed ---------------------------------------------------------------

    def links(self, path: str, what: str) -> list[str]:
        response = self.request("GET", path)
        if response.status_code != 200:
            return []
        return list(dict.fromkeys(re.findall(LINKS[what], response.text)))[:PER_PLACEHOLDER]

    def prepare(self, facts: dict) -> list[str]:
        """Fill the role's URL templates from its own lists and keep those answering 200; the
        SPoCs' writes need an update form they may send. Returns the kinds dropped."""
        templates = pages_of(self.role)
        values: dict[str, list[str]] = {"panel": [str(facts["next_panel"])] if facts["next_panel"] else [],
                                        "q": list(SEARCH_TERMS)}
        wanted = {name for _, _, t in templates for name in re.findall(r"{(\w+)}", t)}
        if self.role.startswith("spoc"):
            wanted.add("action")
        if "case" in wanted:
            values["case"] = facts["cases"] if self.role == "admin" else self.links("/cases", "case")
        if "action" in wanted:
            values["action"] = self.links("/actions" if self.role in ("coordinator", "chair") else "/actions/ours", "action")
        if "referral" in wanted:
            values["referral"] = self.links("/referrals", "referral")
        if "user" in wanted:
            values["user"] = self.links("/admin/users", "user")
        dropped = []
        for _, kind, template in templates:
            if kind == WRITE:
                self.writable = [a for a in values.get("action", []) if self._update_form(a)[1] is not None]
                if self.writable:
                    self.urls[kind] = self.writable
                else:
                    dropped.append(kind)
                continue
            names = re.findall(r"{(\w+)}", template)
            candidates = [template.format(**{names[0]: v}) for v in values.get(names[0], [])] if names else [template]
            ok = [url for url in candidates if self.request("GET", url).status_code == 200]
            if ok:
                self.urls[kind] = ok
            else:
                dropped.append(kind)
        return dropped

    def _update_form(self, action: str, kind: str = "") -> tuple[str, dict | None]:
        path = f"/actions/{action}/update"
        response = self.timed(kind, "GET", path) if kind else self.request("GET", path)
        if response is None or response.status_code != 200:
            return path, None
        return path, form_fields(response.text, "note")

    # -- the loop ------------------------------------------------------------------------------------

    def write(self, rng: random.Random) -> None:
        """Update one of the agency's open actions: the form, its POST, the action it redirects to."""
        action = rng.choice(self.writable)
        path, fields = self._update_form(action, "action update form")
        if fields is None:
            return
        fields["note"] = f"Load test update {self.number}-{self.n}: phoned, left a message, will try again."
        response = self.timed(WRITE, "POST", path, expect=302, data=fields)
        if response is not None and response.status_code == 302:
            self.timed("action", "GET", urlsplit(response.headers["Location"]).path)

    def run(self, t0: float, args, facts: dict) -> None:
        self.t0 = t0
        rng = random.Random(args.seed * 100 + self.number)
        every = args.heavy_every
        # the heavy requests' first times: spread evenly over the period (the actions export at
        # 1/6 of it, the PDF at 1/2, the audit export at 5/6), or at random with --random-phase
        heavy = [(kind, url.format(panel=facts["next_panel"]),
                  t0 + (rng.uniform(1, every) if args.random_phase else (2 * i + 1) * every / (2 * len(HEAVY))))
                 for i, (kind, (role, url)) in enumerate(HEAVY.items()) if role == self.role]
        weighted = [(w, kind) for w, kind, _ in pages_of(self.role) if kind in self.urls]
        kinds, weights = [k for _, k in weighted], [w for w, _ in weighted]
        time.sleep(max(0.0, t0 - time.monotonic()))
        while time.monotonic() < t0 + args.seconds:
            due = next((i for i, (_, _, at) in enumerate(heavy) if at <= time.monotonic()), None)
            if due is not None:
                kind, url, at = heavy[due]
                heavy[due] = (kind, url, at + every)
                self.timed(kind, "GET", url)
                continue
            kind = rng.choices(kinds, weights)[0]
            if kind == WRITE:
                self.write(rng)
            else:
                self.timed(kind, "GET", rng.choice(self.urls[kind]))


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if not found:
        raise RuntimeError("no CSRF token on the sign-in page")
    return found.group(1)


def form_fields(html: str, marker: str) -> dict | None:
    """The fields a browser would send from the POST form holding a field named marker."""
    from bs4 import BeautifulSoup

    for form in BeautifulSoup(html, "html.parser").find_all("form"):
        if (form.get("method") or "get").lower() != "post" or not form.find(attrs={"name": marker}):
            continue
        data: dict[str, str] = {}
        for element in form.find_all(["input", "textarea", "select"]):
            name, kind = element.get("name"), (element.get("type") or "text").lower()
            if not name or kind in ("submit", "button"):
                continue
            if element.name == "textarea":
                data[name] = element.get_text()
            elif element.name == "select":
                chosen = element.find("option", selected=True)
                data[name] = chosen.get("value", "") if chosen else ""
            elif kind in ("radio", "checkbox"):
                if element.has_attr("checked"):
                    data[name] = element.get("value", "on")
            else:
                data[name] = element.get("value", "")
        return data
    return None


# ---- the server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn -c deploy/gunicorn.conf.py wsgi:app, as panel-web.service runs it, 2 workers."""

    def __init__(self, uri: str, tmp: Path, *, workers: int, worker_class: str, threads: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "gunicorn.log"
        instance = tmp / "instance"
        instance.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "IMAP_", "PANEL_", "GUNICORN_"))}
        env.update({"PANEL_ENV": "production", "DATABASE_URL": uri, "SECRET_KEY": secrets.token_urlsafe(48),
                    "AUDIT_KEY": tenyears.AUDIT_KEY, "PANEL_INSTANCE_PATH": str(instance), "LOG_FORMAT": "json",
                    "PUBLIC_URL": f"https://127.0.0.1:{self.port}", "MAIL_SERVER": "", "IMAP_SERVER": ""})
        env.pop("AUDIT_KEY_FILE", None)
        command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--worker-class", worker_class]
        if worker_class == "gthread":
            command += ["--threads", str(threads)]
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen([*command, "wsgi:app"], cwd=ROOT, env=env, stdout=self.log,  # nosec B603
                                        stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped (status {self.process.returncode}):\n{self.tail()}")
            try:
                if requests.get(self.base + "/login", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def read_log(self, workers: int) -> tuple[dict[str, int], list[str]]:
        """(request id -> milliseconds in the app, gunicorn's notable lines: worker boots after the
        first ones, timeouts, errors)."""
        times, notes, boots = {}, [], 0
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = {"message": line}
            if not isinstance(record, dict):
                continue
            if record.get("request_id") and record.get("duration_ms") is not None:
                times.setdefault(record["request_id"], record["duration_ms"])
            elif "Booting worker" in str(record.get("message")) and boots < workers:
                boots += 1
            elif re.search(r"TIMEOUT|Booting worker|Autorestarting|exited|Traceback|ERROR",
                           f"{record.get('level', '')} {record.get('message', '')}"):
                notes.append(f"{record.get('level', '')} {str(record.get('message', ''))[:160]}".strip())
        return times, notes


# ---- the database ------------------------------------------------------------------------------------


def _wait_for_other_build(store, label: str, key: str, log) -> None:
    """Another process building the same cached database (bench_pages.py in `make bench`, or a
    second run): wait for it rather than start a build on top of it."""
    if not isinstance(store, tenyears.SQLiteStore):
        return
    partial = store.path(label, key).with_suffix(".building")
    waited = False
    while not store.exists(label, key) and any(
            Path(f"{partial}{s}").exists() and time.time() - Path(f"{partial}{s}").stat().st_mtime < 120
            for s in ("", "-wal")):
        if not waited:
            log(f"  another process is building {partial.name}; waiting for it")
            waited = True
        time.sleep(10)


def copy_database(store, scale: float, tmp: Path, log) -> tuple[str, str]:
    """(URI of a copy of the cached ten-year database, what was done to get it)."""
    label = tenyears.label_for("tenyears", scale)
    _wait_for_other_build(store, label, tenyears.cache_key(scale), log)
    key, built = tenyears.ensure(store, "tenyears", scale=scale, tmp=tmp, log=log)
    made = f"built in {built:.0f} s" if built else "cached"
    if isinstance(store, tenyears.SQLiteStore):
        source = store.path(label, key)
        target = tmp / f"{label}-{key}-load.db"
        shutil.copyfile(source, target)
        wal = Path(f"{source}-wal")
        if wal.exists() and wal.stat().st_size:
            shutil.copyfile(wal, f"{target}-wal")
        return f"sqlite:///{target}", f"{source.name} ({made}), copied"
    return store.copy(label, key), f"{label} {key} ({made}), copied from its template"


def facts_of(uri: str) -> dict:
    """The next panel, and some open cases for the admin's audit search (the admin has no case list)."""
    from panel.models import Case, Meeting, MeetingKind, utcnow

    engine = sa.create_engine(uri)
    try:
        with sa.orm.Session(engine) as session:
            next_panel = session.scalar(sa.select(Meeting.id).where(
                Meeting.kind == MeetingKind.PANEL, Meeting.starts_at > utcnow()).order_by(Meeting.starts_at).limit(1))
            cases = list(session.scalars(sa.select(Case.reference).where(Case.status != "closed")
                                         .order_by(Case.id).limit(PER_PLACEHOLDER)))
            counts = {t: session.scalar(sa.text(f"SELECT count(*) FROM {t}"))  # nosec B608 - fixed names
                      for t in ("users", "cases", "actions", "case_events", "audit_events")}
    finally:
        engine.dispose()
    return {"next_panel": next_panel, "cases": cases, "counts": counts}


# ---- the run -----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def shape_of(url: str) -> str:
    from tests.html.crawl import shape

    parts = urlsplit(url)
    keys = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair})
    return shape(parts.path) + (f"?{'&'.join(keys)}" if keys else "")


@dataclass
class Outcome:
    text: str
    misses: list[str] = field(default_factory=list)


def run(store, args, tmp: Path, log) -> Outcome:
    from tests.html.crawl import DEMO_ROLES

    uri, source = copy_database(store, args.scale, tmp, log)
    server = None
    try:
        facts = facts_of(uri)
        made = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in facts["counts"].items())
        log(f"{store.name}: {source}: {made}; next panel {facts['next_panel']}")
        server = Server(uri, tmp, workers=args.workers, worker_class=args.worker_class, threads=args.threads)
        server.wait_ready()
        log(f"  gunicorn ({args.workers} {args.worker_class} workers) on {server.base}")
        clients = [Client(server.base, role, email, n)
                   for n, (role, email) in enumerate([*DEMO_ROLES.items(), EXTRA_SPOC], 1)]
        for client in clients:
            client.sign_in(tenyears.PASSWORD)
        started = time.monotonic()
        problems = _in_threads(clients, lambda c: c.prepare(facts))
        for client, dropped in zip(clients, problems, strict=True):
            if dropped:
                log(f"  {client.role}: nothing to request for {', '.join(dropped)} (no URL answered 200)")
        log(f"  signed in and warmed up in {time.monotonic() - started:.0f} s; "
            f"load for {args.seconds:g} s")
        load_before = os.getloadavg()
        t0 = time.monotonic() + 0.5
        _in_threads(clients, lambda c: c.run(t0, args, facts))
        wall = max(s.end for c in clients for s in c.samples)
        load_after = os.getloadavg()
    finally:
        if server is not None:
            server.stop()
        store.drop(uri)
    samples = [s for c in clients for s in c.samples]
    server_ms, notes = server.read_log(args.workers)
    for s in samples:
        s.server_ms = server_ms.get(s.rid)
    heading = (f"### {store.name}: gunicorn, {args.workers} {args.worker_class} workers"
               f"{f' of {args.threads} threads' if args.worker_class == 'gthread' else ''}, {len(clients)} clients, "
               f"{args.seconds:g} s (ten years at scale {args.scale:g}: {made})")
    loads = (f"Load average (1, 5, 15 min) before the run {', '.join(f'{x:.2f}' for x in load_before)}, "
             f"after {', '.join(f'{x:.2f}' for x in load_after)}.")
    return report(heading, loads, samples, wall, notes)


def _in_threads(clients: list[Client], work) -> list:
    results: list = [None] * len(clients)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = work(clients[i])
        except BaseException as error:  # reported after the others finish
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,), name=c.role) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


# ---- the report --------------------------------------------------------------------------------------


def _row(name: str, samples: list[Sample], wall: float) -> str:
    times = [s.seconds for s in samples]
    if not times:
        return f"| {name} | 0 | | | | | | | | |"
    return (f"| {name} | {len(times):,} | {len(times) / wall:.1f} | {percentile(times, 50):.3f} | "
            f"{percentile(times, 95):.3f} | {percentile(times, 99):.3f} | {max(times):.3f} | "
            f"{sum(t > P99_TARGET for t in times)} | {sum(t > MAX_TARGET for t in times)} | "
            f"{sum(not s.ok for s in samples)} |")


def _alongside(slow: Sample, samples: list[Sample]) -> str:
    others = [o for o in samples if o is not slow and o.start < slow.end and o.end > slow.start]
    heavy = [o for o in others if o.heavy]
    parts = [f"{o.kind} ({o.role}, {o.seconds:.1f} s)" for o in heavy]
    parts.append(f"{len(others) - len(heavy)} other requests")
    return "; ".join(parts)


def report(heading: str, loads: str, samples: list[Sample], wall: float, notes: list[str]) -> Outcome:
    pages = [s for s in samples if not s.heavy]
    heavy = [s for s in samples if s.heavy]
    lines = [heading, "", loads, "",
             "| requests | count | per second | p50 s | p95 s | p99 s | max s | over 1 s | over 3 s | errors |",
             "|---|---|---|---|---|---|---|---|---|---|",
             _row("pages and writes (the targets)", pages, wall), _row("exports and the PDF", heavy, wall),
             _row("all", samples, wall), "",
             "Per page kind (time at the client; \"in the app\" from the app's own log line, for a streamed "
             "export until its first byte):", "",
             "| kind | roles | count | median s | p95 s | max s | median in the app ms |", "|---|---|---|---|---|---|---|"]
    kinds: dict[str, list[Sample]] = {}
    for s in samples:
        kinds.setdefault(s.kind, []).append(s)
    for kind, group in sorted(kinds.items(), key=lambda kv: -percentile([s.seconds for s in kv[1]], 50)):
        times = [s.seconds for s in group]
        inside = [s.server_ms for s in group if s.server_ms is not None]
        roles = ", ".join(sorted({s.role for s in group}))
        lines.append(f"| {kind} | {roles} | {len(group)} | {percentile(times, 50):.3f} | {percentile(times, 95):.3f} | "
                     f"{max(times):.3f} | {percentile(inside, 50) if inside else ''} |")
    slow = sorted((s for s in pages if s.seconds > P99_TARGET), key=lambda s: -s.seconds)
    lines += ["", f"Pages and writes over {P99_TARGET:g} s: {len(slow)}"
              + (f", {sum(bool(_overlaps_heavy(s, samples)) for s in slow)} of them while an export or the PDF was running"
                 if slow else "") + (" (the slowest 40 listed)" if len(slow) > 40 else ""), ""]
    if slow:
        lines += ["| at s | role | kind | URL | seconds | in the app ms | waited s | running alongside |",
                  "|---|---|---|---|---|---|---|---|"]
        for s in slow[:40]:
            waited = f"{s.seconds - s.server_ms / 1000:.2f}" if s.server_ms is not None else ""
            lines.append(f"| {s.start:.1f} | {s.role} | {s.kind} | `{s.method} {shape_of(s.url)}` | {s.seconds:.2f} | "
                         f"{'' if s.server_ms is None else s.server_ms} | {waited} | {_alongside(s, samples)} |")
    errors = [s for s in samples if not s.ok]
    if errors:
        lines += ["", f"Unexpected answers: {len(errors)}"]
        lines += [f"- {s.role} {s.method} {shape_of(s.url)} at {s.start:.1f} s: {s.error}" for s in errors[:20]]
    if notes:
        lines += ["", "gunicorn said:"] + [f"- {n}" for n in notes[:20]]
    times = [s.seconds for s in pages]
    misses = []
    if not times:
        misses.append("no page was requested")
    else:
        if percentile(times, 99) >= P99_TARGET:
            misses.append(f"p99 {percentile(times, 99):.3f} s, target under {P99_TARGET:g} s")
        over = sum(t > MAX_TARGET for t in times)
        if over:
            misses.append(f"{over} requests over {MAX_TARGET:g} s (the slowest {max(times):.2f} s)")
    if errors:
        misses.append(f"{len(errors)} requests answered unexpectedly or failed")
    return Outcome("\n".join(lines), misses)


def _overlaps_heavy(slow: Sample, samples: list[Sample]) -> list[Sample]:
    return [o for o in samples if o.heavy and o.start < slow.end and o.end > slow.start]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs (default 60)")
    parser.add_argument("--scale", type=float, default=1.0, help="the ten-year data's size (default 1.0)")
    parser.add_argument("--only-sqlite", action="store_true", help="SQLite only, whatever TEST_DATABASE_URL says")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"),
                        help="gunicorn worker class (default sync, as deploy/gunicorn.conf.py)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--heavy-every", type=float, default=60,
                        help="seconds between one export (or the PDF) and the next of its kind (default 60)")
    parser.add_argument("--random-phase", action="store_true",
                        help="start the exports and the PDF at random times, not spread evenly (they may overlap)")
    parser.add_argument("--seed", type=int, default=18, help="the mix's random seed (default 18)")
    args = parser.parse_args()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    url = os.environ.get("TEST_DATABASE_URL", "")
    outcomes: list[tuple[str, Outcome]] = []
    with tempfile.TemporaryDirectory(prefix="panel-bench-load-") as tmpdir:
        tmp = Path(tmpdir)
        stores = [tenyears.SQLiteStore(tmp)]
        if url.startswith("postgresql") and not args.only_sqlite:
            stores.append(tenyears.PostgresStore(url))
        for store in stores:
            work = tmp / store.name
            work.mkdir()
            outcomes.append((store.name, run(store, args, work, log)))
            if isinstance(store, tenyears.PostgresStore):
                store.admin.dispose()
    print(f"Load: real gunicorn, 8 demo sign-ins each looping over its role's pages for {args.seconds:g} s, "
          f"each export and the agenda PDF once every {args.heavy_every:g} s "
          f"({'at random times' if args.random_phase else 'spread evenly'}), SPoCs' action updates\n")
    print("\n\n".join(o.text for _, o in outcomes))
    print()
    misses = [f"{name}: {m}" for name, o in outcomes for m in o.misses]
    if misses:
        print(f"Targets MISSED ({len(misses)}):")
        for miss in misses:
            print(f"- {miss}")
        return 1
    print(f"Targets met: p99 under {P99_TARGET:g} s and none over {MAX_TARGET:g} s for the pages and writes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
