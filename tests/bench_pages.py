"""Benchmark: every page of every role, at demo size and with ten years of data (issue 18). Not a
test: pytest does not collect it (its name does not match test_*.py).

    make bench                                   # every tests/bench_*.py; this one on SQLite, and on
                                                 # PostgreSQL too when TEST_DATABASE_URL is one
    .venv/bin/python -P tests/bench_pages.py [--runs 5] [--only-sqlite] [--rebuild] [--roles coordinator,admin]
                                             [--scale 1.0] [--export-runs 1]

Builds (or reuses, see tests/tenyears.py for the cache) two databases: the demo data alone, and
the demo data with ten years of a busy pathway on top (tests/tenyears.py: 1,994 closed cases,
79,981 actions, 711,155 chronology entries, 2 million audit rows...). Each run works on a copy,
since pages write audit rows.

For each demo role (tests/html/crawl.py's DEMO_ROLES, signed in as its sign_in does) it crawls the
demo database from the home page and keeps one URL of each shape (the path with its numbers and
references replaced; a list's filtered or later page is a shape of its own). At ten years a case's
pages are asked of the longest case the role may see (the most chronology entries), so the pages
that grow with a case are measured where they are largest. To these it adds what the crawl does
not follow: the audit trail searched by user and by object ("who viewed this case"), the printable
chronology, the exports (/actions/export.csv, /admin/audit.csv for the last 12 months and for every
date, /reports/export.csv), the PDFs (the next panel's agenda.pdf, the last finalised panel's
minutes.pdf, the Board's pack.pdf) and the API's GET (/api/openapi.json; the API has no list
endpoint: POST /api/referrals is its only call).

Measured in-process with the Flask test client, the app made as the test suite makes it
(tests/conftest.py _make_app, the testing profile):

- SQL queries per request (sqlalchemy's before_cursor_execute, BEGIN/SAVEPOINT/RELEASE/PRAGMA
  left out), at demo size and at ten years;
- at ten years, the median wall-clock time of --runs requests of the page, each run timing the
  account page (/account, the cheapest signed-in page) just before it, and the ratio of the two
  medians. One request of each page first warms it up, untimed.

Targets (issue 18): at ten years every page within 5 times the account page, with the same number
of queries as at demo size. The exports and PDFs are listed apart with their time, rows and
queries (timed --export-runs times, default once); they are excepted from the 5 times rule (the
PDFs keep the query rule; bench_agenda_pdf.py judges the pack against bare WeasyPrint). The script
prints a markdown table per database and exits 1 when a target is missed, listing the misses.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# the project's root, not tests/ (Python puts a script's folder first), whose html/ would hide the
# standard library's html
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "tests"]

import sqlalchemy as sa  # noqa: E402

from tests import tenyears  # noqa: E402

TARGET_RATIO = 5.0
ACCOUNT = "/account"
SKIPPED = ("BEGIN", "SAVEPOINT", "RELEASE", "PRAGMA")


@dataclass
class Page:
    role: str
    shape: str
    demo_url: str
    ten_url: str
    kind: str = "page"            # page, export (CSV) or pdf
    url: str = ""                 # as crawled (a demo case's page), when another case is measured
    demo_queries: int | None = None
    ten_queries: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    account: list[float] = field(default_factory=list)
    status: int | None = None
    rows: int | None = None
    size: int = 0
    error: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def ratio(self) -> float:
        return self.median / statistics.median(self.account) if self.account and self.times else float("nan")

    @property
    def queries(self) -> int | None:
        return max(self.ten_queries) if self.ten_queries else None


class Counter:
    """Counts the SQL statements an app's engine runs (BEGIN, SAVEPOINT, RELEASE, PRAGMA aside)."""

    def __init__(self, app) -> None:
        from panel.extensions import db

        self.n = 0
        with app.app_context():
            self.engine = db.engine
        sa.event.listen(self.engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(SKIPPED):
            self.n += 1

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)


def shape_of(url: str) -> str:
    from tests.html.crawl import shape

    parts = urlsplit(url)
    keys = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair})
    # one agency's absence page stands for every agency's
    path = re.sub(r"^/agencies/[^/]+/absence$", "/agencies/<code>/absence", parts.path)
    return shape(path) + (f"?{'&'.join(keys)}" if keys else "")


def _client(app, email: str):
    from tests.html.crawl import sign_in

    from panel.extensions import db
    from panel.models import User

    client = app.test_client()
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        sign_in(client, user)
        db.session.remove()
    return client


def _get(client, url: str, counter: Counter) -> tuple[int, bytes, int, float]:
    """GET url, reading the whole body (a streamed export is timed to its last row): (status,
    body, queries, seconds)."""
    counter.n = 0
    started = time.perf_counter()
    response = client.get(url)
    body = response.get_data()
    elapsed = time.perf_counter() - started
    response.close()
    return response.status_code, body, counter.n, elapsed


# ---- choosing the pages ------------------------------------------------------------------------------


def _crawl(app, email: str) -> tuple[list[str], str]:
    from tests.html.crawl import crawl

    client = _client(app, email)
    try:
        return list(crawl(client, shape_limit=1)), ""
    except Exception as error:  # a page answered with (or raised) a server error
        return [], f"crawl stopped: {type(error).__name__}: {str(error)[:200]}"


def _facts(app) -> dict:
    """Ids the extra pages need: the next panel, the last finalised panel, a demo case."""
    from panel.extensions import db
    from panel.models import Case, Meeting, MeetingKind, utcnow

    with app.app_context():
        now = utcnow()
        next_panel = db.session.scalar(sa.select(Meeting.id).where(
            Meeting.kind == MeetingKind.PANEL, Meeting.starts_at > now).order_by(Meeting.starts_at).limit(1))
        last_minutes = db.session.scalar(sa.select(Meeting.id).where(
            Meeting.kind == MeetingKind.PANEL, Meeting.minutes_finalised_at.is_not(None))
            .order_by(Meeting.starts_at.desc()).limit(1))
        demo_case = db.session.scalar(sa.select(Case.reference).where(Case.status != "closed").order_by(Case.id).limit(1))
        db.session.remove()
    return {"next_panel": next_panel, "last_minutes": last_minutes, "demo_case": demo_case}


def _long_cases(app, limit: int = 300) -> list[str]:
    """The closed cases with the most chronology entries, longest first."""
    from panel.extensions import db
    from panel.models import Case, CaseEvent

    with app.app_context():
        refs = list(db.session.scalars(
            sa.select(Case.reference).join(CaseEvent, CaseEvent.case_id == Case.id).where(Case.status == "closed")
            .group_by(Case.id, Case.reference)
            .order_by(sa.func.count(CaseEvent.id).desc()).limit(limit)))
        db.session.remove()
    return refs


EXPORTS = [  # (kind, url template, roles to try in turn)
    ("export", "/actions/export.csv", ("coordinator", "chair", "admin")),
    ("export", "/admin/audit.csv", ("admin",)),
    ("export", "/admin/audit.csv?all=y", ("admin",)),
    ("export", "/reports/export.csv", ("board", "coordinator", "admin")),
    ("pdf", "/meetings/{next_panel}/agenda.pdf", ("chair", "coordinator")),
    ("pdf", "/meetings/{last_minutes}/minutes.pdf", ("chair", "coordinator")),
    ("pdf", "/reports/pack.pdf", ("board", "coordinator")),
]


CASE_PAGE = re.compile(r"^/cases/[A-Z]+-\d{4}-\d+(/[a-z-]+)*$")


SUMMARY_ONLY = b"you see only a summary"  # a SPoC's view of a case its agency is not involved in


def _longest(client, references: list[str], counter: Counter) -> str | None:
    """The longest of the cases the role sees in full, so that demo size and ten years compare
    the same view of a case."""
    for ref in references:
        status, body, *_ = _get(client, f"/cases/{ref}", counter)
        if status == 200 and SUMMARY_ONLY not in body:
            return ref
    return None


def _role_pages(demo_app, ten_app, role: str, email: str, roles: dict[str, str], facts: dict,
                long_cases: tuple[list[str], list[str]], counters: tuple[Counter, Counter]) -> tuple[list[Page], int, str, str]:
    """One page of each shape the role reaches; returns (pages, URLs crawled, longest case, problem).
    A case's page (one with no other id in it) is asked of the longest closed case the role may
    see: in the demo data for the demo-size count, in the ten years for the ten-year measure."""
    urls, problem = _crawl(demo_app, email)
    extra = []
    if role == "admin":
        extra += [f"/admin/audit?user={roles.get('coordinator', email)}",
                  f"/admin/audit?object_type=case&object_id={facts['demo_case']}"]
    if facts["demo_case"] and any(u.startswith(f"/cases/{facts['demo_case']}") for u in urls):
        extra.append(f"/cases/{facts['demo_case']}/chronology?print=1")
    if role == "coordinator":
        extra.append("/api/openapi.json")
    seen: dict[str, str] = {}
    for url in [*urls, *extra]:
        seen.setdefault(shape_of(url), url)
    demo_long = _longest(_client(demo_app, email), long_cases[0], counters[0])
    ten_long = _longest(_client(ten_app, email), long_cases[1], counters[1])
    pages = []
    for key, url in seen.items():
        parts = urlsplit(url)
        page = Page(role=role, shape=key, demo_url=url, ten_url=url)
        if demo_long and ten_long and CASE_PAGE.match(parts.path) and parts.query in ("", "print=1"):
            reference = parts.path.split("/")[2]
            page.url = url
            page.demo_url = url.replace(f"/cases/{reference}", f"/cases/{demo_long}", 1)
            page.ten_url = url.replace(f"/cases/{reference}", f"/cases/{ten_long}", 1)
        elif ten_long and "object_id=" in url:
            page.ten_url = url.replace(f"object_id={facts['demo_case']}", f"object_id={ten_long}")
        pages.append(page)
    return pages, len(urls), f"{demo_long} (demo), {ten_long} (ten years)", problem


def _export_pages(demo_app, roles: dict[str, str], facts: dict, counter: Counter) -> tuple[list[Page], list[str]]:
    """The exports and PDFs, each asked by the first role in its list that may have it."""
    pages, problems = [], []
    for kind, template, wanted in EXPORTS:
        if any(facts[k] is None for k in ("next_panel", "last_minutes") if "{" + k + "}" in template):
            problems.append(f"{template}: no such meeting in the demo data")
            continue
        url = template.format(**facts)
        for role in (r for r in wanted if r in roles):
            if _get(_client(demo_app, roles[role]), url, counter)[0] == 200:
                pages.append(Page(role=role, shape=shape_of(url), demo_url=url, ten_url=url, kind=kind))
                break
    return pages, problems


def choose(demo_app, ten_app, roles: dict[str, str], log) -> tuple[list[Page], list[str]]:
    """The pages to measure: one URL of each shape each role reaches, and the extra ones."""
    problems: list[str] = []
    facts = _facts(demo_app)
    demo_long, long_cases = _long_cases(demo_app), _long_cases(ten_app)
    pages: list[Page] = []
    demo_counter, ten_counter = Counter(demo_app), Counter(ten_app)
    for role, email in roles.items():
        started = time.perf_counter()
        found, crawled, longest, problem = _role_pages(demo_app, ten_app, role, email, roles, facts,
                                                       (demo_long, long_cases), (demo_counter, ten_counter))
        pages += found
        if problem:
            problems.append(f"{role}: {problem}")
        log(f"  {role}: {len(found)} page shapes ({crawled} crawled) in {time.perf_counter() - started:.1f} s; "
            f"longest closed case it may see: {longest}")
    found, missing = _export_pages(demo_app, roles, facts, demo_counter)
    demo_counter.close()
    ten_counter.close()
    return pages + found, problems + missing


# ---- measuring ---------------------------------------------------------------------------------------


def _rows(body: bytes, kind: str) -> int | None:
    if kind != "export":
        return None
    return max(0, body.count(b"\n") - 1)


def measure(demo_app, ten_app, pages: list[Page], roles: dict[str, str], *, runs: int, export_runs: int, log) -> None:
    demo_counter, ten_counter = Counter(demo_app), Counter(ten_app)
    demo_clients = {role: _client(demo_app, email) for role, email in roles.items()}
    ten_clients = {role: _client(ten_app, email) for role, email in roles.items()}
    for n, page in enumerate(pages, 1):
        try:
            _measure_page(page, demo_clients[page.role], ten_clients[page.role], demo_counter, ten_counter,
                          runs=runs, export_runs=export_runs)
        except Exception as error:  # a page that raises is a miss; the others are still measured
            page.error = f"raised {type(error).__name__}: {str(error)[:120]}"
        if n % 25 == 0 or page.kind != "page" or page.median > 1 or page.error:
            log(f"  [{n}/{len(pages)}] {page.role} {page.ten_url}: {page.median:.3f} s, "
                f"{page.demo_queries} -> {page.queries} queries{' ' + page.error if page.error else ''}")
    demo_counter.close()
    ten_counter.close()


def _measure_page(page: Page, demo, ten, demo_counter: Counter, ten_counter: Counter, *, runs: int,
                  export_runs: int) -> None:
    if page.url and _get(demo, page.demo_url, demo_counter)[0] != 200:
        page.demo_url = page.ten_url = page.url  # a page of open cases only: the demo case's, on both
    _get(demo, page.demo_url, demo_counter)  # warm-up
    status, _, page.demo_queries, _ = _get(demo, page.demo_url, demo_counter)
    if status != 200:
        page.error = f"demo answered {status}"
    if page.kind == "page":
        if _get(ten, page.ten_url, ten_counter)[0] != 200 and page.url:  # warm-up
            page.demo_url = page.ten_url = page.url
            status, _, page.demo_queries, _ = _get(demo, page.demo_url, demo_counter)
        _get(ten, ACCOUNT, ten_counter)
        for _ in range(runs):
            *_, account = _get(ten, ACCOUNT, ten_counter)
            status, body, queries, elapsed = _get(ten, page.ten_url, ten_counter)
            page.account.append(account)
            page.times.append(elapsed)
            page.ten_queries.append(queries)
    else:
        for _ in range(export_runs):
            status, body, queries, elapsed = _get(ten, page.ten_url, ten_counter)
            page.times.append(elapsed)
            page.ten_queries.append(queries)
            page.rows, page.size = _rows(body, page.kind), len(body)
    page.status = status
    if status != 200:
        page.error = (page.error + "; " if page.error else "") + f"ten years answered {status}"


def misses_of(pages: list[Page]) -> list[str]:
    out = []
    for p in pages:
        what = f"{p.role} {p.shape}"
        if p.error:
            out.append(f"{what}: {p.error}")
            continue
        if p.kind != "export" and p.queries != p.demo_queries:
            out.append(f"{what}: {p.demo_queries} queries at demo size, {p.queries} at ten years")
        if p.kind == "page" and p.ratio > TARGET_RATIO:
            out.append(f"{what}: {p.ratio:.1f}× the account page ({p.median:.3f} s)")
        if len(set(p.ten_queries)) > 1:
            out.append(f"{what}: the runs took different numbers of queries ({sorted(set(p.ten_queries))})")
    return out


def table(name: str, pages: list[Page], made: str, account: float) -> str:
    lines = [f"### {name}: {made}", "",
             f"Account page (/account), median of every run: {account:.4f} s. Target: within {TARGET_RATIO:g}× of it, "
             "with the queries of demo size.", "",
             "| role | page (URL shape) | queries demo → ten years | median s | ratio | target | URL at ten years |",
             "|---|---|---|---|---|---|---|"]
    for p in sorted((p for p in pages if p.kind == "page"), key=lambda p: -p.ratio if p.ratio == p.ratio else 0):
        ok = not p.error and p.queries == p.demo_queries and p.ratio <= TARGET_RATIO
        lines.append(f"| {p.role} | `{p.shape}` | {p.demo_queries} → {p.queries} | {p.median:.4f} | {p.ratio:.1f}× | "
                     f"{'met' if ok else 'MISSED'}{' (' + p.error + ')' if p.error else ''} | {p.ten_url} |")
    lines += ["", "Exports and PDFs (excepted from the 5× rule; the PDFs keep the query rule):", "",
              "| role | export | queries demo → ten years | seconds | rows | bytes |", "|---|---|---|---|---|---|"]
    for p in (p for p in pages if p.kind != "page"):
        lines.append(f"| {p.role} | `{p.shape}` | {p.demo_queries} → {p.queries} | {p.median:.3f} | "
                     f"{'' if p.rows is None else f'{p.rows:,}'} | {p.size:,} |"
                     + (f" {p.error}" if p.error else ""))
    return "\n".join(lines)


def _counts(app) -> str:
    from panel.extensions import db

    with app.app_context():
        out = []
        for t in ("users", "cases", "actions", "case_events", "audit_events"):
            out.append(f"{db.session.scalar(sa.text(f'SELECT count(*) FROM {t}')):,} {t.replace('_', ' ')}")
        db.session.remove()
    return ", ".join(out)


def _anchored(app, path: Path) -> None:
    """The trail anchored, as the daily job "audit-anchor" leaves it in service (the admin home
    counts the trail from its last anchor), in an anchor file of this run's own."""
    from panel.admin.jobs import write_anchor
    from panel.extensions import db

    path.unlink(missing_ok=True)
    app.config["AUDIT_ANCHOR_PATH"] = str(path)
    with app.app_context():
        write_anchor()
        db.session.remove()


def run(store, args, roles: dict[str, str], tmp: Path, log) -> tuple[str, list[str]]:
    demo_key, demo_built = tenyears.ensure(store, "demo", scale=args.scale, tmp=tmp, rebuild=args.rebuild, log=log)
    ten_key, ten_built = tenyears.ensure(store, "tenyears", scale=args.scale, tmp=tmp, rebuild=args.rebuild, log=log)
    log(f"{store.name}: demo database {'built in %.1f s' % demo_built if demo_built else 'cached'}, "
        f"ten years (scale {args.scale:g}) {'built in %.1f s' % ten_built if ten_built else 'cached'}")
    logging.disable(logging.WARNING)  # WeasyPrint's notes on the screen-only CSS, alembic
    demo_uri, ten_uri = store.copy("demo", demo_key), store.copy(tenyears.label_for("tenyears", args.scale), ten_key)
    try:
        demo_app, ten_app = tenyears.make_app(demo_uri, tmp), tenyears.make_app(ten_uri, tmp)
        for label, app in (("demo", demo_app), ("tenyears", ten_app)):
            _anchored(app, tmp / f"{store.name}-{label}-anchors.jsonl")
        made = _counts(ten_app)
        pages, problems = choose(demo_app, ten_app, roles, log)
        measure(demo_app, ten_app, pages, roles, runs=args.runs, export_runs=args.export_runs, log=log)
        every_account = [t for p in pages for t in p.account]
        account = statistics.median(every_account) if every_account else float("nan")
        for app in (demo_app, ten_app):
            with app.app_context():
                from panel.extensions import db

                db.session.remove()
                db.engine.dispose()
    finally:
        store.drop(demo_uri)
        store.drop(ten_uri)
    built = f" (ten-year database built in {ten_built:.0f} s)" if ten_built else ""
    text = table(store.name, pages, made + built, account)
    return text, [f"{store.name}: {m}" for m in problems + misses_of(pages)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed requests of each page (default 5)")
    parser.add_argument("--export-runs", type=int, default=1, help="timed requests of each export and PDF")
    parser.add_argument("--only-sqlite", action="store_true", help="SQLite only, whatever TEST_DATABASE_URL says")
    parser.add_argument("--only-postgresql", action="store_true", help="PostgreSQL only (TEST_DATABASE_URL)")
    parser.add_argument("--rebuild", action="store_true", help="build the databases again even if cached")
    parser.add_argument("--roles", default="", help="comma-separated demo roles (default: all of them)")
    parser.add_argument("--scale", type=float, default=1.0, help="the ten-year data's size (default 1.0)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from tests.html.crawl import DEMO_ROLES

    wanted = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = [r for r in wanted if r not in DEMO_ROLES]
    if unknown:
        parser.error(f"unknown roles {', '.join(unknown)}; the demo roles are {', '.join(DEMO_ROLES)}")
    roles = {r: e for r, e in DEMO_ROLES.items() if not wanted or r in wanted}

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    url = os.environ.get("TEST_DATABASE_URL", "")
    outputs, misses = [], []
    with tempfile.TemporaryDirectory(prefix="panel-bench-pages-") as tmpdir:
        tmp = Path(tmpdir)
        if args.only_postgresql and not url.startswith("postgresql"):
            parser.error("--only-postgresql needs TEST_DATABASE_URL=postgresql+psycopg://...")
        stores = [] if args.only_postgresql else [tenyears.SQLiteStore(tmp)]
        if url.startswith("postgresql") and not args.only_sqlite:
            stores.append(tenyears.PostgresStore(url))
        for store in stores:
            text, missed = run(store, args, roles, tmp, log)
            outputs.append(text)
            misses += missed
            if isinstance(store, tenyears.PostgresStore):
                store.admin.dispose()
    print(f"Every page of every role at ten years (scale {args.scale:g}), {args.runs} runs each, interleaved "
          "with the account page\n")
    print("\n\n".join(outputs))
    print()
    if misses:
        print(f"Targets MISSED ({len(misses)}):")
        for miss in misses:
            print(f"- {miss}")
        return 1
    print("Targets met: every page within 5× the account page, with the queries of demo size.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
