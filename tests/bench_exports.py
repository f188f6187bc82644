"""Benchmark: the audit export of every date (/admin/audit.csv?all=y, 2 million rows at ten years)
against the database's own bare dump of the same rows (issue 18). Not collected by pytest.

    make bench                                   # every tests/bench_*.py; this one on SQLite, and on
                                                 # PostgreSQL too when TEST_DATABASE_URL is one
    .venv/bin/python -P tests/bench_exports.py [--runs 3] [--only-sqlite] [--rebuild] [--scale 1.0]
                                               [--file instance/bench/tenyears-<key>.db]

It works on a copy of the ten-year database that tests/tenyears.py builds and caches (as
tests/bench_pages.py does; the export writes its own audit entry), or with --file on a copy of
a ten-year SQLite file built before (the cache's key changes with every migration, and a build
takes minutes; the export needs no migration's index beyond the trail's own). In each run, back
to back:

- the bare dump: on SQLite the `sqlite3` shell's `.mode csv` (Debian's `sqlite3` package; the
  script stops, saying so, when it is missing), on PostgreSQL `COPY (...) TO STDOUT WITH CSV`
  through `psql` (psycopg's COPY when psql is missing), of the trail's columns as stored, newest
  first; its output read to the end through a pipe by this script, as the export's body is;
- the same dump written to /dev/null, read by no one (shown, not judged);
- the export through the app, in-process (the Flask test client, signed in as the demo's
  administrator), its streamed body read to the end and dropped.

Each is timed wall-clock and in CPU time (the dump's process; the export's, this process). The
target (issue 18): the export takes at most 2 times the bare dump read to the end, judged on the
median of the runs' ratios (they are timed back to back, so they see the same load): wall-clock,
and on SQLite CPU time too (which other work on the machine disturbs less; on PostgreSQL the
server's share of the work is in neither process, so the CPU times are shown only). The script
exits 1 when a judged ratio is above it. The ratio to the dump written to /dev/null is printed
beside it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the project's root, not tests/ (Python puts a script's folder first), whose html/ would hide the
# standard library's html
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "tests"]

import sqlalchemy as sa  # noqa: E402

from tests import tenyears  # noqa: E402

TARGET_RATIO = 2.0
URL = "/admin/audit.csv?all=y"
ADMIN = "admin@demo.invalid"  # tests/html/crawl.py's DEMO_ROLES["admin"]
COLUMNS = "occurred_at, user_email, action, object_type, object_id, summary, ip, user_agent"


@dataclass
class Measure:
    store: str
    dump_command: str
    rows: int = 0
    export_bytes: int = 0
    dump_bytes: int = 0
    dump: list[tuple[float, float]] = field(default_factory=list)     # (wall, cpu) seconds, read to the end
    null: list[tuple[float, float]] = field(default_factory=list)     # to /dev/null
    export: list[tuple[float, float]] = field(default_factory=list)

    def ratio(self, which: int, to: str = "dump") -> float:
        return statistics.median(e[which] / d[which] for e, d in zip(self.export, getattr(self, to), strict=True))

    @property
    def met(self) -> bool:
        """Within the target: wall-clock, and CPU on SQLite (all of whose work is in the two
        processes measured)."""
        return self.ratio(0) <= TARGET_RATIO and (self.store != "sqlite" or self.ratio(1) <= TARGET_RATIO)

    def median(self, runs: list[tuple[float, float]], which: int) -> float:
        return statistics.median(r[which] for r in runs)


def _dump_sql(newest: int) -> str:
    """The rows the export has (every entry up to the newest one), as stored, newest first."""
    return f"SELECT {COLUMNS} FROM audit_events WHERE id <= {newest:d} ORDER BY id DESC"


def _dump_command(uri: str, newest: int, *, shown: bool = False) -> list[str]:
    """The bare dump's command line (shown: with any password hidden, to be printed)."""
    url = sa.engine.make_url(uri)
    if url.get_backend_name() == "sqlite":
        return ["sqlite3", "-readonly", url.database, ".mode csv", _dump_sql(newest)]
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=shown)
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c",
            f"COPY ({_dump_sql(newest)}) TO STDOUT WITH CSV"]


def _timed_dump(uri: str, newest: int, *, read: bool) -> tuple[float, float, int]:
    """The bare dump, read to the end through a pipe (or written to /dev/null): (wall, CPU of its
    process, bytes read) in seconds."""
    command = _dump_command(uri, newest)
    if command[0] == "psql" and shutil.which("psql") is None:
        return _timed_psycopg_copy(uri, newest)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    size = 0
    if read:
        with subprocess.Popen(command, stdout=subprocess.PIPE) as dump:
            while chunk := dump.stdout.read(1 << 20):
                size += len(chunk)
        if dump.returncode:
            raise subprocess.CalledProcessError(dump.returncode, command[0])
    else:
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), size


def _timed_psycopg_copy(uri: str, newest: int) -> tuple[float, float, int]:
    import psycopg

    conninfo = sa.engine.make_url(uri).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
        started, cpu, size = time.perf_counter(), time.process_time(), 0
        with cursor.copy(f"COPY ({_dump_sql(newest)}) TO STDOUT WITH CSV") as copy:
            for data in copy:
                size += len(data)
        return time.perf_counter() - started, time.process_time() - cpu, size


def _client(app):
    from tests.html.crawl import sign_in

    from panel.extensions import db
    from panel.models import User

    client = app.test_client()
    with app.app_context():
        sign_in(client, db.session.scalar(sa.select(User).where(User.email == ADMIN)))
        db.session.remove()
    return client


def _timed_export(client) -> tuple[float, float, int]:
    """The export through the app, its body read to the end: (wall, CPU, bytes)."""
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get(URL, buffered=False)
    size = sum(len(chunk) for chunk in response.response)
    response.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if response.status_code != 200:
        raise RuntimeError(f"{URL} answered {response.status_code}")
    return wall, cpu, size


def _newest_and_rows(app) -> tuple[int, int]:
    """The newest entry's id, and the rows the last export says it had (its audit entry)."""
    from panel.extensions import db
    from panel.models import AuditAction, AuditEvent

    with app.app_context():
        newest = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0
        summary = db.session.scalar(sa.select(AuditEvent.summary).where(AuditEvent.action == AuditAction.EXPORT)
                                    .order_by(AuditEvent.id.desc()).limit(1))
        db.session.remove()
    return newest, json.loads(summary)["rows"] if summary else 0


def _copy(store, args, tmp: Path, log) -> str:
    """A copy of the ten-year database to work on: --file's, or the cache's (built when missing)."""
    if args.file and isinstance(store, tenyears.SQLiteStore):
        target = tmp / "tenyears-file-run.db"
        shutil.copyfile(args.file, target)
        log(f"{store.name}: ten years from {args.file}")
        return f"sqlite:///{target}"
    key, built = tenyears.ensure(store, "tenyears", scale=args.scale, tmp=tmp, rebuild=args.rebuild, log=log)
    log(f"{store.name}: ten years (scale {args.scale:g}) {'built in %.1f s' % built if built else 'cached'}")
    return store.copy(tenyears.label_for("tenyears", args.scale), key)


def run(store, args, tmp: Path, log) -> Measure:
    uri = _copy(store, args, tmp, log)
    try:
        app = tenyears.make_app(uri, tmp)
        client = _client(app)
        newest, _ = _newest_and_rows(app)
        measure = Measure(store=store.name, dump_command=" ".join(_dump_command(uri, newest, shown=True)[:-1]) + " '<SELECT>'")
        _timed_export(client)  # warm-up: the file's pages in the OS cache, the app's first request
        for n in range(args.runs):
            newest, _ = _newest_and_rows(app)  # the export's own entries of the runs before are rows too
            *dump, measure.dump_bytes = _timed_dump(uri, newest, read=True)
            measure.dump.append(tuple(dump))
            measure.null.append(_timed_dump(uri, newest, read=False)[:2])
            wall, cpu, measure.export_bytes = _timed_export(client)
            measure.export.append((wall, cpu))
            log(f"  run {n + 1}: bare dump read {dump[0]:.2f} s ({dump[1]:.2f} s CPU), to /dev/null "
                f"{measure.null[-1][0]:.2f} s; export {wall:.2f} s ({cpu:.2f} s CPU)")
        measure.rows = _newest_and_rows(app)[1]
        with app.app_context():
            from panel.extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        store.drop(uri)
    return measure


def table(measures: list[Measure], runs: int) -> str:
    lines = [f"The audit export of every date against the database's bare dump of the same rows, {runs} runs, "
             f"back to back (target: at most {TARGET_RATIO:g}×, median of the runs' ratios)", "",
             "| database | rows | bare dump read, s (CPU s) | export s (CPU s) | ratio wall | ratio CPU¹ | target "
             "| dump to /dev/null, s (CPU s) | ratio to it, wall (CPU) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in measures:
        ok = m.met
        lines.append(f"| {m.store} | {m.rows:,} | {m.median(m.dump, 0):.2f} ({m.median(m.dump, 1):.2f}) | "
                     f"{m.median(m.export, 0):.2f} ({m.median(m.export, 1):.2f}) | {m.ratio(0):.2f}× | "
                     f"{m.ratio(1):.2f}× | {'met' if ok else 'MISSED'} | {m.median(m.null, 0):.2f} "
                     f"({m.median(m.null, 1):.2f}) | {m.ratio(0, 'null'):.2f}× ({m.ratio(1, 'null'):.2f}×) |")
    lines += ["", "¹ judged on SQLite only: on PostgreSQL the server's work is in neither process measured", ""]
    lines += [f"- {m.store} bare dump: `{m.dump_command}`, {m.dump_bytes:,} bytes; the export: "
              f"{m.export_bytes:,} bytes" for m in measures]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--only-sqlite", action="store_true", help="SQLite only, whatever TEST_DATABASE_URL says")
    parser.add_argument("--rebuild", action="store_true", help="build the database again even if cached")
    parser.add_argument("--scale", type=float, default=1.0, help="the ten-year data's size (default 1.0)")
    parser.add_argument("--file", type=Path, help="SQLite: a ten-year database file to copy instead of the cache's")
    args = parser.parse_args()
    if args.file and not args.file.is_file():
        parser.error(f"no such file: {args.file}")
    if shutil.which("sqlite3") is None:
        print("The bare dump needs the sqlite3 shell: apt-get install sqlite3 (Debian's package).", file=sys.stderr)
        return 1
    logging.disable(logging.WARNING)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    url = os.environ.get("TEST_DATABASE_URL", "")
    measures = []
    with tempfile.TemporaryDirectory(prefix="panel-bench-exports-") as tmpdir:
        tmp = Path(tmpdir)
        stores = [tenyears.SQLiteStore(tmp)]
        if url.startswith("postgresql") and not args.only_sqlite:
            stores.append(tenyears.PostgresStore(url))
        for store in stores:
            measures.append(run(store, args, tmp, log))
            if isinstance(store, tenyears.PostgresStore):
                store.admin.dispose()
    print(table(measures, args.runs))
    missed = [m for m in measures if not m.met]
    if missed:
        print(f"\nTarget MISSED on {', '.join(m.store for m in missed)}: the export takes more than "
              f"{TARGET_RATIO:g} times the bare dump.")
        return 1
    print(f"\nTarget met: the export within {TARGET_RATIO:g} times the bare dump.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
