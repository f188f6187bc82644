"""Ten years of a busy pathway: a database generator for the page benchmark (tests/bench_pages.py).

    .venv/bin/python -P tests/tenyears.py [--scale 1.0] [--rebuild]    # build (or reuse) on SQLite,
                                                                        # and on PostgreSQL when
                                                                        # TEST_DATABASE_URL is one

On top of the demo data (panel.demo.load, as `flask panel demo-data` makes it) it adds, by bulk
inserts (never the ORM row by row), ten years of history back from now, all of it settled: about
48 more agencies, 1,447 users (a fifth of them since left), 5,256 people, 5,980 referrals (declined
at triage or at panel, withdrawn, or accepted), 1,994 cases (all closed), 1,482 meetings (a monthly
panel with its agenda and attendance for every month the demo has none, and case MDTs), 79,981
actions (all closed) with 399,990 updates, escalations where they ran late, 198,822 engagement
attempts, 711,155 chronology entries and 1,999,505 audit rows. The figures are the issue's (issue
18); --scale multiplies them all. Nothing is left open: the demo already fills the pathway's cap
of fifteen open referrals and cases, and it stays exactly as the demo makes it.

The work of a case (its actions, attempts, chronology) is shared out by a skewed weight, so a few
long cases carry hundreds of actions and thousands of chronology entries, as real ones do.

The audit rows continue the demo's hash chain in id order, each hash (and seal, when AUDIT_KEY is
set) made as panel.audit.record() makes it; after the build audit.verify_chain() walks the whole
trail and the build fails unless it is intact.

Cached: SQLite as instance/bench/<label>-<key>.db, PostgreSQL as the database panel_bench_<key>
kept as a template (copied with CREATE DATABASE ... TEMPLATE for each run). The key is a hash of
migrations/versions/*.py, this file, panel/demo/*.py, the scale and today's date (the demo data is
built relative to today, so yesterday's copy would have its next panel in the past).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import hmac
import json
import logging
import os
import random
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Iterator

ROOT = Path(__file__).resolve().parent.parent
# the project's root, not tests/ (Python puts a script's folder first), whose html/ would hide the
# standard library's html
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "tests"]

import sqlalchemy as sa  # noqa: E402

UTC = timezone.utc
SEED = 18
BENCH_DIR = ROOT / "instance" / "bench"
PASSWORD = "bench-sign-in-2027"
# a fixed key, so the seals made at build time are the ones the benchmark's app checks
AUDIT_KEY = "bench-audit-key-not-secret-0123456789abcdef"
CHUNK = 10_000

# the ten years (issue 18), added to the demo's own rows
SIZES = {"agencies": 48, "users": 1447, "persons": 5256, "referrals": 5980, "cases": 1994, "meetings": 1482,
         "actions": 79981, "action_updates": 399990, "engagement_attempts": 198822, "case_events": 711155,
         "audit_events": 1999505}
MINIMUM = {"agencies": 3, "users": 30, "persons": 8, "referrals": 10, "cases": 4, "meetings": 4, "actions": 8,
           "action_updates": 8, "engagement_attempts": 8, "case_events": 8, "audit_events": 50}

GIVEN = ["Ash", "Bay", "Cal", "Dee", "Eden", "Fern", "Glen", "Hal", "Isa", "Jo", "Kai", "Lou", "Mo", "Nat", "Ode",
         "Pip", "Rae", "Sol", "Tam", "Val", "Wren", "Zed"]
FAMILY = ["Tenyear", "Longago", "Decade", "Oldrecord", "Pastpanel", "Closedfile", "Historic", "Bygone", "Formerly",
          "Yore", "Archive", "Earlier", "Ledgerton", "Backdate"]
KINDS = ["police", "adult_social_care", "housing", "mental_health", "acute_health", "primary_care",
         "drug_and_alcohol", "probation", "fire", "voluntary_sector", "local_authority", "other"]
NEEDS = ["dual_diagnosis", "offending", "mental_health", "self_neglect", "housing", "social_exclusion",
         "poorly_managed_health", "victimisation", "antisocial_behaviour", "unable_to_protect_self",
         "unhelpful_thinking", "poor_engagement"]
ACTION_WORDS = ["Joint home visit with the housing officer", "Refer to the community mental health team",
                "Arrange a benefits check", "Book a GP health check", "Share the safety plan with partners",
                "Offer a place at the recovery service", "Review the tenancy support plan",
                "Fire safety visit with the SPoC", "Agree a single point of contact for the person"]
EVENT_KINDS = [("engagement", 30), ("action", 25), ("meeting", 10), ("agency", 8), ("risk", 6), ("outcome", 5),
               ("escalation", 6), ("insight", 3), ("notice", 3), ("staff_safety", 2), ("closure", 2)]
METHODS = ["phone", "text", "letter", "email", "home_visit", "joint_visit", "unannounced_visit", "office_appointment"]
OUTCOMES = [("engaged", 30), ("partly_engaged", 15), ("no_answer", 20), ("not_in", 12), ("declined", 10),
            ("cancelled_by_person", 5), ("missed_appointment", 8)]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15"]
SECTIONS = ["summary", "chronology", "actions", "engagement", "people", "outcomes"]


def sizes(scale: float) -> dict[str, int]:
    return {name: max(MINIMUM[name], round(n * scale)) for name, n in SIZES.items()}


# ---- the cache ------------------------------------------------------------------------------------


def cache_key(scale: float, today: date | None = None) -> str:
    """A hash of what the database is made from: the migrations, this file, the demo data, the
    scale, and the day (the demo is built relative to today)."""
    digest = hashlib.sha256()
    files = sorted((ROOT / "migrations" / "versions").glob("*.py")) + [Path(__file__).resolve()] + \
        sorted((ROOT / "panel" / "demo").glob("*.py"))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(f"{scale!r}|{(today or date.today()).isoformat()}".encode())
    return digest.hexdigest()[:12]


def make_app(uri: str, tmp: Path):
    from tests.conftest import _make_app

    app = _make_app(uri, tmp, AUDIT_KEY=AUDIT_KEY)
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app


def _migrate(app) -> None:
    from flask_migrate import upgrade

    from panel.extensions import db

    with app.app_context():
        previous = logging.root.manager.disable
        logging.disable(max(previous, logging.INFO))  # alembic's logging set-up would print every migration
        try:
            upgrade()
        finally:
            logging.disable(previous)
        db.session.remove()
        db.engine.dispose()


def _load_demo(app) -> None:
    from panel import demo
    from panel.extensions import db

    with app.app_context():
        demo.load(password=PASSWORD)
        db.session.commit()
        db.session.remove()


class SQLiteStore:
    """Built databases as files under instance/bench/; each run works on a copy."""

    name = "sqlite"

    def __init__(self, work: Path) -> None:
        self.work = work

    def path(self, label: str, key: str) -> Path:
        return BENCH_DIR / f"{label}-{key}.db"  # the label carries the scale (see ensure)

    def exists(self, label: str, key: str) -> bool:
        return self.path(label, key).exists()

    def build_uri(self, label: str, key: str) -> str:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        partial = self.path(label, key).with_suffix(".building")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{partial}"

    def keep(self, label: str, key: str) -> None:
        """The build finished: move it into place, and drop other days' copies of this label."""
        partial = self.path(label, key).with_suffix(".building")
        assert not Path(f"{partial}-wal").exists(), "the WAL was not folded into the file"
        partial.rename(self.path(label, key))
        for old in BENCH_DIR.glob(f"{label}-*.db"):
            if old != self.path(label, key) and old.stem.count("-") == self.path(label, key).stem.count("-"):
                old.unlink()
        for stale in BENCH_DIR.glob(f"{label}-*.building*"):
            stale.unlink()

    def copy(self, label: str, key: str) -> str:
        target = self.work / f"{label}-{key}-run.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.path(label, key), target)
        return f"sqlite:///{target}"

    def drop(self, uri: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(uri.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)


class PostgresStore:
    """Built databases as panel_bench_<label>_<key>, kept as templates; each run works on a copy."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = sa.engine.make_url(url)
        self.admin = sa.create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def _name(self, label: str, key: str) -> str:
        return f"panel_bench_{label}_{key}"

    def _uri(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def _databases(self) -> list[str]:
        with self.admin.connect() as conn:
            return list(conn.scalars(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'panel_bench_%'")))

    def exists(self, label: str, key: str) -> bool:
        return self._name(label, key) in self._databases()

    def build_uri(self, label: str, key: str) -> str:
        name = self._name(label, key) + "_building"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        return self._uri(name)

    def keep(self, label: str, key: str) -> None:
        name = self._name(label, key)
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'ALTER DATABASE "{name}_building" RENAME TO "{name}"'))
            for old in self._databases():
                if old.startswith(f"panel_bench_{label}_") and old != name and "_run" not in old:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)'))

    def copy(self, label: str, key: str) -> str:
        name = f"{self._name(label, key)}_run"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self._name(label, key)}"'))
        return self._uri(name)

    def drop(self, uri: str) -> None:
        name = sa.engine.make_url(uri).database
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def ensure(store, label: str, *, scale: float, tmp: Path, rebuild: bool = False, log=print) -> tuple[str, float | None]:
    """The key of a built database `label` ("demo" or "tenyears") in the store, building it when
    it is not cached (or --rebuild). Returns (key, seconds the build took, or None when cached)."""
    key = cache_key(scale if label == "tenyears" else 0.0)
    building = label
    label = label_for(label, scale)
    if store.exists(label, key) and not rebuild:
        return key, None
    started = time.perf_counter()
    uri = store.build_uri(label, key)
    app = make_app(uri, tmp)
    _migrate(app)
    _load_demo(app)
    if building == "tenyears":
        made = build(app, scale=scale, log=log)
        log(f"  {store.name}: " + ", ".join(f"{n:,} {name}" for name, n in made.items()))
    _finish(app)
    store.keep(label, key)
    return key, time.perf_counter() - started


def label_for(label: str, scale: float) -> str:
    """The stored name of a database: "tenyears" at full size, "tenyears_0_01" at a hundredth."""
    if label == "tenyears" and scale != 1.0:
        return f"tenyears_{scale:g}".replace(".", "_").replace("-", "_")
    return label


def _finish(app) -> None:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would have by then. SQLite is left as the app
    leaves it (no ANALYZE), with its WAL folded into the file."""
    from panel.extensions import db

    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
        db.session.remove()
        engine.dispose()  # SQLite: the last connection to close folds the WAL into the file


# ---- writing rows in bulk ---------------------------------------------------------------------------


class Writer:
    """Bulk inserts of row dicts: `executemany` of one prepared INSERT on SQLite, COPY on
    PostgreSQL. Values are turned into what the column type would store (naive UTC for
    UTCDateTime, text for JSON); columns a row leaves out take their scalar default."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.raw = conn.connection.driver_connection
        self.counts: dict[str, int] = {}
        self.max_ids: dict[str, int] = {}

    def _converter(self, column: sa.Column) -> Callable[[Any], Any]:
        from panel.models import UTCDateTime

        kind = column.type
        sqlite = self.dialect == "sqlite"
        if isinstance(kind, UTCDateTime):
            if sqlite:
                # as SQLAlchemy's SQLite DATETIME stores it: "YYYY-MM-DD HH:MM:SS.ffffff"
                return lambda v: None if v is None else v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            return lambda v: None if v is None else v.astimezone(UTC).replace(tzinfo=None)
        if isinstance(kind, sa.JSON):
            return lambda v: None if v is None else json.dumps(v)
        if isinstance(kind, sa.Enum):
            return lambda v: None if v is None else str(getattr(v, "value", v))
        if isinstance(kind, sa.Boolean) and sqlite:
            return lambda v: None if v is None else int(bool(v))
        if isinstance(kind, sa.Date) and sqlite:
            return lambda v: None if v is None else v.isoformat()
        return lambda v: v

    def write(self, table: sa.Table, rows: Iterable[dict], *, reindex: bool = False) -> int:
        """Insert the rows (all with the same keys) in chunks; returns how many. reindex: drop
        the table's plain indexes first and make them again after (one sort instead of a
        b-tree insert per row), for the big tables."""
        if not reindex:
            return self._write(table, rows)
        if self.dialect == "postgresql":
            indexes = list(self.conn.execute(sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)"), {"t": table.name}))
        else:
            indexes = list(self.conn.execute(sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"),
                {"t": table.name}))
        for name, _ in indexes:
            self.conn.exec_driver_sql(f'DROP INDEX "{name}"')
        n = self._write(table, rows)
        for _, ddl in indexes:
            self.conn.exec_driver_sql(ddl)
        return n

    def _write(self, table: sa.Table, rows: Iterable[dict]) -> int:
        columns = pairs = defaults = None
        n = 0
        chunk: list[tuple] = []
        for row in rows:
            if columns is None:
                columns, defaults = self._columns(table, row)
                pairs = [(name, self._converter(table.c[name])) for name in columns]
            values = {**defaults, **row}
            chunk.append(tuple(convert(values[name]) for name, convert in pairs))
            if "id" in row and row["id"] > self.max_ids.get(table.name, 0):
                self.max_ids[table.name] = row["id"]
            if len(chunk) >= CHUNK:
                self._flush(table, columns, chunk)
                n += len(chunk)
                chunk = []
        if chunk:
            self._flush(table, columns, chunk)
            n += len(chunk)
        self.counts[table.name] = self.counts.get(table.name, 0) + n
        return n

    def _columns(self, table: sa.Table, row: dict) -> tuple[list[str], dict[str, Any]]:
        defaults = {}
        for column in table.columns:
            if column.name in row:
                continue
            if column.default is not None and column.default.is_scalar:
                defaults[column.name] = column.default.arg
            elif column.server_default is None and not column.nullable and not column.primary_key:
                raise ValueError(f"{table.name}.{column.name} needs a value (NOT NULL, no default)")
        return [c.name for c in table.columns if c.name in row or c.name in defaults], defaults

    def _flush(self, table: sa.Table, columns: list[str], chunk: list[tuple]) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        if self.dialect == "postgresql":
            with self.raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for values in chunk:
                    copy.write_row(values)
        else:
            marks = ", ".join("?" * len(columns))
            cur = self.raw.cursor()
            cur.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', chunk)
            cur.close()

    def move_sequences(self) -> None:
        """PostgreSQL: the rows carry their own ids; move each table's id sequence past them."""
        if self.dialect != "postgresql":
            return
        for name, top in self.max_ids.items():
            self.conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {int(top)})"))


# ---- the history -------------------------------------------------------------------------------------


def _weighted(rng: random.Random, pairs: list[tuple[Any, int]], k: int) -> list[Any]:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs], k=k)


def _share(total: int, weights: list[float]) -> list[int]:
    """Split total over the weights (largest remainders), every share an integer."""
    whole = sum(weights)
    raw = [total * w / whole for w in weights]
    shares = [int(r) for r in raw]
    rest = total - sum(shares)
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - shares[i], reverse=True)[:rest]:
        shares[i] += 1
    return shares


def _at(day: date, rng: random.Random, first: int = 8, last: int = 18) -> datetime:
    """A moment on a working-hours clock that day, UTC, with microseconds."""
    return datetime.combine(day, clock(rng.randint(first, last - 1), rng.randrange(60), rng.randrange(60),
                                       rng.randrange(1_000_000)), tzinfo=UTC)


@dataclass
class World:
    """What later tables need to know of earlier ones."""

    today: date
    start: date
    agencies: list[int] = field(default_factory=list)
    agency_names: dict[int, str] = field(default_factory=dict)
    staff: dict[int, dict[str, list[int]]] = field(default_factory=dict)  # agency -> role -> user ids
    users: list[tuple[int, str, str]] = field(default_factory=list)  # (id, email, role) for the audit trail
    coordinators: list[int] = field(default_factory=list)
    chairs: list[int] = field(default_factory=list)
    # cases: (id, reference, accepted_on, closed_on, involved agency ids, lead agency, weight)
    cases: list[tuple[int, str, date, date, list[int], int, float]] = field(default_factory=list)
    referral_ids: list[tuple[int, date]] = field(default_factory=list)
    panel_days: list[date] = field(default_factory=list)


def _next_id(conn, table: str) -> int:
    return int(conn.execute(sa.text(f'SELECT coalesce(max(id), 0) FROM "{table}"')).scalar_one()) + 1


def build(app, *, scale: float = 1.0, log=print) -> dict[str, int]:
    """Add ten years of history to the demo database of `app`; check the audit chain. Returns
    the rows added per table."""
    from panel import audit
    from panel.extensions import db
    from panel.models import (
        Action, ActionUpdate, AgendaItem, Agency, Attendance, AuditEvent, Case, CaseEvent, EngagementAttempt,
        Escalation, InsightVersion, Involvement, Meeting, Pathway, Person, PersonalOutcome, Referral,
        ReferralDecision, RiskChange, StaffSafetyFlag, User)

    n = sizes(scale)
    # bandit B311: repeatable test data, not security
    rng = random.Random(SEED)  # nosec B311
    today = date.today()
    world = World(today=today, start=today - timedelta(days=3652))
    t = lambda model: model.__table__  # noqa: E731
    timings: dict[str, float] = {}

    def timed(label: str, started: float) -> None:
        timings[label] = time.perf_counter() - started
        log(f"    {label}: {timings[label]:.1f} s")

    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA cache_size = -500000")  # 500 MB for this build's connection
            w = Writer(conn)
            started = time.perf_counter()
            _agencies_and_users(conn, w, world, n, rng, t(Agency), t(User))
            timed("agencies and users", started)
            started = time.perf_counter()
            _people_referrals_cases(conn, w, world, n, rng, t(Person), t(Referral), t(ReferralDecision),
                                    t(Involvement), t(Case), t(RiskChange), t(PersonalOutcome),
                                    t(InsightVersion), t(StaffSafetyFlag))
            timed("people, referrals and cases", started)
            started = time.perf_counter()
            _meetings(conn, w, world, n, rng, t(Meeting), t(AgendaItem), t(Attendance))
            timed("meetings", started)
            started = time.perf_counter()
            _actions(conn, w, world, n, rng, t(Action), t(ActionUpdate), t(Escalation))
            timed("actions", started)
            started = time.perf_counter()
            _case_work(conn, w, world, n, rng, t(EngagementAttempt), t(CaseEvent))
            timed("engagement and chronology", started)
            started = time.perf_counter()
            _audit_trail(conn, w, world, n, rng, t(AuditEvent), app.config.get("AUDIT_KEY") or "")
            timed("audit trail", started)
            # the pathway's counter moves past the references used here
            top = conn.execute(sa.select(sa.func.max(Referral.id))).scalar_one()
            conn.execute(sa.update(t(Pathway)).values(next_referral_number=Pathway.next_referral_number + top))
            w.move_sequences()
        started = time.perf_counter()
        _snapshots(world)
        timed("minutes snapshots", started)
        started = time.perf_counter()
        report = audit.verify_chain()
        timed("audit.verify_chain", started)
        if not report.ok:
            raise RuntimeError(f"the audit chain is broken at entry {report.broken_id}: {report.reason}")
        log(f"    audit chain intact: {report.checked:,} entries")
        db.session.remove()
    return dict(w.counts)


def _agencies_and_users(conn, w: Writer, world: World, n: dict, rng, agencies: sa.Table, users: sa.Table) -> None:
    first_agency, first_user = _next_id(conn, "agencies"), _next_id(conn, "users")
    existing = [(row.id, row.name)
                for row in conn.execute(sa.select(agencies.c.id, agencies.c.name).order_by(agencies.c.id))]
    caspa = conn.execute(sa.select(agencies.c.id).where(agencies.c.code == "caspa")).scalar_one()
    rows = []
    for i in range(n["agencies"]):
        aid = first_agency + i
        kind = KINDS[i % len(KINDS)]
        signed = world.today - timedelta(days=rng.randint(30, 330))
        rows.append({"id": aid, "name": f"Bench {kind.replace('_', ' ').title()} Service {i + 1}",
                     "code": f"bench-{i + 1}", "kind": kind, "isa_signed_on": signed,
                     "isa_review_due": signed + timedelta(days=365),
                     "created_at": _at(world.start + timedelta(days=rng.randrange(600)), rng)})
    w.write(agencies, rows)
    world.agencies = [a for a, _ in existing] + [r["id"] for r in rows]
    world.agency_names = dict(existing) | {r["id"]: r["name"] for r in rows}
    world.coordinators = list(conn.scalars(sa.text("SELECT id FROM users WHERE role = 'coordinator' ORDER BY id")))
    world.chairs = list(conn.scalars(sa.text("SELECT id FROM users WHERE role = 'chair' ORDER BY id")))
    for uid, email, role, agency in conn.execute(sa.text("SELECT id, email, role, agency_id FROM users ORDER BY id")):
        world.users.append((uid, email, role))
        world.staff.setdefault(agency, {}).setdefault(role, []).append(uid)
    users_rows = []
    new_agencies = [r["id"] for r in rows]
    count = n["users"]
    # every new agency gets a SPoC, a deputy and an escalation contact; the rest are practitioners,
    # with a few more coordinators and chairs in the CASPA team and board members
    for i in range(count):
        uid = first_user + i
        if i < 3 * len(new_agencies):
            agency, role = new_agencies[i // 3], "spoc"
        elif i % 97 == 0:
            agency, role = caspa, "coordinator"
        elif i % 89 == 0:
            agency, role = world.agencies[i % len(world.agencies)], "chair"
        elif i % 71 == 0:
            agency, role = caspa, "board"
        else:
            agency, role = world.agencies[i % len(world.agencies)], "practitioner"
        left = i >= 3 * len(new_agencies) and rng.random() < 0.2
        email = f"{role}.{uid}@bench.invalid"
        users_rows.append({"id": uid, "email": email, "name": f"{GIVEN[i % len(GIVEN)]} {FAMILY[i % len(FAMILY)]}-Staff",
                           "role": role, "agency_id": agency, "active": not left, "password_hash": "!",
                           "session_token": secrets.token_hex(32),
                           "created_at": _at(world.start + timedelta(days=rng.randrange(3000)), rng),
                           "last_login_at": None if left else _at(world.today - timedelta(days=rng.randint(1, 90)), rng)})
        world.users.append((uid, email, role))
        world.staff.setdefault(agency, {}).setdefault(role, []).append(uid)
        if role == "coordinator":
            world.coordinators.append(uid)
        if role == "chair":
            world.chairs.append(uid)
    w.write(users, users_rows)
    for k, agency in enumerate(new_agencies):
        spoc, deputy, lead = (first_user + 3 * k + j for j in range(3))
        conn.execute(agencies.update().where(agencies.c.id == agency).values(
            spoc_id=spoc, deputy_spoc_id=deputy, escalation_contact_id=lead))


def _staff(world: World, agency: int, rng) -> int:
    roles = world.staff.get(agency) or {}
    pool = roles.get("practitioner") or roles.get("spoc") or world.coordinators
    return rng.choice(pool)


def _people_referrals_cases(conn, w: Writer, world: World, n: dict, rng, persons, referrals, decisions,
                            involvements, cases, risks, outcomes, insights, flags) -> None:
    first_person, first_referral = _next_id(conn, "persons"), _next_id(conn, "referrals")
    first_case, first_decision = _next_id(conn, "cases"), _next_id(conn, "referral_decisions")
    first_involvement = _next_id(conn, "involvements")
    taken_cases = set(conn.scalars(sa.text("SELECT reference FROM cases")))
    taken_refs = set(conn.scalars(sa.text("SELECT reference FROM referrals WHERE reference IS NOT NULL")))
    next_number = int(conn.execute(sa.text("SELECT next_referral_number FROM pathway")).scalar() or 1)
    span = (world.today - timedelta(days=45) - world.start).days
    people = []
    for i in range(n["persons"]):
        pid = first_person + i
        age = rng.randint(19, 88)
        people.append({"id": pid, "given_name": GIVEN[i % len(GIVEN)], "family_name": f"{FAMILY[(i // 7) % len(FAMILY)]}",
                       "other_names": "", "date_of_birth": world.today - timedelta(days=365 * age + rng.randrange(365)),
                       "gender": rng.choice(["Female", "Male", "Non-binary", ""]), "ethnicity": "White British",
                       "first_language": "English", "interpreter_needed": False, "communication_needs": "",
                       "address": f"{1 + i % 300} Decade Road, Demo Town", "postcode": f"LU{1 + i % 7} {i % 9}TY",
                       "nhs_number": f"{9990100000 + i:010d}" if i % 3 else "", "other_identifiers": "",
                       "created_at": None, "age_band": ""})
    # referrals: one per person, the rest repeat referrals of earlier people; dated across the years
    count = n["referrals"]
    days = sorted(world.start + timedelta(days=rng.randrange(span)) for _ in range(count))
    who = list(range(len(people))) + [rng.randrange(len(people)) for _ in range(max(0, count - len(people)))]
    rng.shuffle(who)
    who = who[:count]
    case_slots = set(rng.sample(range(count), min(n["cases"], count)))
    out: dict[str, Any] = {"cases": [], "involvements": [], "risks": [], "outcomes": [], "insights": [], "flags": [],
                           "case_numbers": {}, "taken_cases": taken_cases, "first_case": first_case,
                           "first_involvement": first_involvement}
    rows, decision_rows, involvement_rows = [], [], out["involvements"]
    coordinator = world.coordinators[0]
    chair = world.chairs[0]
    for i in range(count):
        rid = first_referral + i
        day = days[i]
        person = people[who[i]]
        if person["created_at"] is None:
            person["created_at"] = _at(day, rng)
        agency = rng.choice(world.agencies)
        referrer = _staff(world, agency, rng)
        number = next_number + i
        reference = f"R-{day.year}-{number:05d}"
        while reference in taken_refs:
            number += count
            reference = f"R-{day.year}-{number:05d}"
        taken_refs.add(reference)
        submitted = _at(day, rng, 9, 12)
        plan, steps, decided = _referral_steps(rng, day, submitted, accepted=i in case_slots, referrer=referrer,
                                               coordinator=coordinator, chair=chair)
        band = _age_band(person["date_of_birth"], day)
        status = steps[-1][2]
        rows.append({"id": rid, "reference": reference, "status": status, "source": "form" if i % 9 else "api",
                     "person_id": person["id"], "referring_agency_id": agency, "created_by_id": referrer,
                     "referrer_name": "A referrer (bench)", "referrer_email": f"referrer.{referrer}@bench.invalid",
                     "referrer_phone": "01632 960000", "manager_name": "Team Manager (bench)", "lives_in_area": True,
                     "single_agency_tried": True, "needs": rng.sample(NEEDS, 2),
                     "risk_level": "critical" if rng.random() < 0.5 else "high",
                     "risk_summary": "Repeated crises despite single-agency work (bench).",
                     "risk_assessment": "Agency assessment (bench).", "tried_already": "Outreach (bench).",
                     "rapport": "The outreach worker (bench).", "persons_views": "“Leave me be.” (bench)",
                     "desired_outcomes": ["Somewhere safe to live"], "capacity": "No concerns recorded (bench).",
                     "consent_given": True, "consent_reason": "", "staff_hostility": i % 11 == 0,
                     "staff_lone_working_restricted": False, "staff_safety_details": "", "info_requested": "",
                     "created_at": submitted - timedelta(hours=1), "submitted_at": submitted,
                     "decided_at": steps[-1][3], "age_band": band})
        for outcome, before, after, at, by in steps:
            declined = after == "declined"
            decision_rows.append({"id": first_decision + len(decision_rows), "referral_id": rid, "outcome": outcome,
                                  "from_status": before, "to_status": after, "by_id": by, "at": at,
                                  "reason": "Declined (bench)." if declined else "", "signposting": "",
                                  "signposted": declined and rng.random() < 0.6,
                                  "reason_kind": rng.choice(["not_critical", "single_agency", "not_eligible",
                                                             "other_pathway", "other"]) if declined else None})
        others = [a for a in rng.sample(world.agencies, 3) if a != agency][:2]
        for j, a in enumerate([agency, *others]):
            involvement_rows.append({"id": first_involvement + len(involvement_rows), "referral_id": rid,
                                     "case_id": None, "agency_id": a, "named_worker": f"Worker {rid}-{j}", "has_rapport": j == 0,
                                     "created_at": submitted})
        world.referral_ids.append((rid, day))
        if plan == "accepted":
            _add_case(out, world, rng, rid=rid, person_id=person["id"], agency=agency, accepted=decided,
                      from_level=rows[-1]["risk_level"])
    world.cases.sort(key=lambda c: c[2])
    for person in people:
        person["created_at"] = person["created_at"] or _at(world.start, rng)
    w.write(persons, people)
    w.write(referrals, rows)
    w.write(decisions, decision_rows)
    w.write(cases, out["cases"])
    w.write(involvements, involvement_rows)
    w.write(risks, out["risks"])
    w.write(outcomes, out["outcomes"])
    w.write(insights, out["insights"])
    w.write(flags, out["flags"])


def _age_band(born: date, day: date) -> str:
    age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    if age < 18:
        return "under_18"
    return next((b for b in ("18_24", "25_34", "35_44", "45_54", "55_64", "65_74", "75_84") if age <= int(b[3:])),
                "85_plus")


def _referral_steps(rng, day: date, submitted: datetime, *, accepted: bool, referrer: int, coordinator: int,
                    chair: int) -> tuple[str, list[tuple], date]:
    """What became of a referral: (plan, its decisions as (outcome, from, to, at, by), the day decided)."""
    plan = "accepted" if accepted else \
        _weighted(rng, [("declined", 55), ("declined_at_panel", 20), ("withdrawn", 25)], 1)[0]
    steps = [("submitted", "draft", "submitted", submitted, referrer)]
    decided = day + timedelta(days=rng.randint(2, 30))
    if plan in ("accepted", "declined_at_panel"):
        steps.append(("to_panel", "submitted", "awaiting_panel", _at(day + timedelta(days=rng.randint(1, 5)), rng),
                      coordinator))
        steps.append((plan, "awaiting_panel", "accepted" if accepted else "declined", _at(decided, rng), chair))
    elif plan == "declined":
        steps.append(("declined", "submitted", "declined", _at(decided, rng), coordinator))
    else:
        steps.append(("withdrawn", "submitted", "withdrawn", _at(decided, rng), referrer))
    return plan, steps, decided


def _add_case(out: dict, world: World, rng, *, rid: int, person_id: int, agency: int, accepted: date,
              from_level: str) -> None:
    """A closed case for an accepted referral: its agencies, risk lowered, outcomes, insight, flags."""
    coordinator, chair = world.coordinators[0], world.chairs[0]
    case_rows, involvement_rows = out["cases"], out["involvements"]
    risk_rows, outcome_rows, insight_rows, flag_rows = out["risks"], out["outcomes"], out["insights"], out["flags"]
    case_numbers, taken_cases = out["case_numbers"], out["taken_cases"]
    first_case, first_involvement = out["first_case"], out["first_involvement"]
    lead_choices = world.agencies
    cid = first_case + len(case_rows)
    weight = rng.lognormvariate(0, 0.9)
    length = int(min(900, max(42, 110 * weight * rng.uniform(0.7, 1.3))))
    closed = min(accepted + timedelta(days=length), world.today - timedelta(days=30))
    if closed <= accepted + timedelta(days=14):
        closed = accepted + timedelta(days=14)
    case_numbers[accepted.year] = case_numbers.get(accepted.year, 700) + 1
    reference = f"CASPA-{accepted.year}-{case_numbers[accepted.year]:03d}"
    while reference in taken_cases:
        case_numbers[accepted.year] += 1
        reference = f"CASPA-{accepted.year}-{case_numbers[accepted.year]:03d}"
    taken_cases.add(reference)
    lead = rng.choice(lead_choices)
    involved = sorted({lead, agency, *rng.sample(world.agencies, rng.randint(2, 5))})
    closing = "low" if rng.random() < 0.4 else "medium"
    case_rows.append({"id": cid, "reference": reference, "person_id": person_id, "referral_id": rid,
                      "status": "closed", "lead_agency_id": lead, "risk_level": closing, "accepted_on": accepted,
                      "accepted_by_id": chair, "closed_on": closed, "created_at": _at(accepted, rng),
                      "risk_summary": "Risk reduced over the time in the pathway (bench).",
                      "contingency_plan": "Step-down agency calls the coordinator (bench).",
                      "closure_rationale": "Risk reduced and stable (bench).",
                      "closure_for_non_engagement": rng.random() < 0.2,
                      "closure_proposed_at": _at(closed - timedelta(days=7), rng),
                      "closure_proposed_by_id": coordinator, "step_down_agency_id": lead,
                      "step_down_accepted_by": "Team Manager (bench)",
                      "step_down_accepted_on": closed - timedelta(days=9), "closure_approved_by_id": chair,
                      "closure_panel_date": closed})
    for a in involved:
        involvement_rows.append({"id": first_involvement + len(involvement_rows), "referral_id": None,
                                 "case_id": cid, "agency_id": a,
                                 "named_worker": f"Case worker {cid}", "has_rapport": a == lead,
                                 "created_at": _at(accepted, rng)})
    lowered = accepted + timedelta(days=(closed - accepted).days * 2 // 3)
    risk_rows.append({"case_id": cid, "from_level": from_level, "to_level": closing,
                      "reason": "Lowered at panel (bench).", "by_id": chair, "at": _at(lowered, rng)})
    for k in range(rng.randint(1, 3)):
        outcome_rows.append({"case_id": cid, "words": "To feel safe at home (bench)", "asked": True,
                             "expressed": True, "review": rng.choice(["achieved", "partly_achieved", "not_achieved"]),
                             "reviewed_on": closed - timedelta(days=k), "reviewed_by_id": coordinator,
                             "created_at": _at(accepted, rng)})
    insight_rows.append({"case_id": cid, "most_settled": "At the day centre (bench).", "upsets": "Loud places.",
                         "responds_to": "Calm, short visits.", "engages_best_with": "The outreach worker.",
                         "matters_and_trust": "Their dog.", "written_by_id": coordinator,
                         "written_at": _at(accepted + timedelta(days=7), rng)})
    if rng.random() < 0.15:
        flag_rows.append({"case_id": cid, "kind": rng.choice(["hostility", "no_lone_visits", "other"]),
                          "details": "Visit in pairs (bench).", "set_by_id": coordinator,
                          "set_at": _at(accepted, rng), "cleared_by_id": coordinator,
                          "cleared_at": _at(closed, rng)})
    world.cases.append((cid, reference, accepted, closed, involved, lead, weight))


def _meetings(conn, w: Writer, world: World, n: dict, rng, meetings, items, attendance) -> None:
    from panel.dates import LONDON

    first_meeting = _next_id(conn, "meetings")
    taken = set(conn.scalars(sa.text("SELECT series_key FROM meetings WHERE series_key IS NOT NULL")))
    earliest = conn.execute(sa.select(sa.func.min(meetings.c.starts_at))).scalar()
    meeting_rows, item_rows, attendance_rows = [], [], []
    coordinator, chair = world.coordinators[0], world.chairs[0]
    by_referral_day = sorted(world.referral_ids, key=lambda r: r[1])
    referral_days = [d for _, d in by_referral_day]
    case_starts = [c[2] for c in world.cases]

    def meeting(kind: str, day: date, case_id: int | None, key: str | None, hours: int) -> int:
        mid = first_meeting + len(meeting_rows)
        starts = datetime.combine(day, clock(10), tzinfo=LONDON).astimezone(UTC)
        cancelled = rng.random() < 0.02
        meeting_rows.append({
            "id": mid, "kind": kind, "status": "cancelled" if cancelled else "scheduled", "series_key": key,
            "case_id": case_id, "starts_at": starts, "ends_at": starts + timedelta(hours=hours),
            "cutoff_on": day - timedelta(days=7) if kind == "panel" else None,
            "location": "Room 1, Demo Civic Centre", "online_url": "", "purpose": "" if kind == "panel" else
            "Agree a plan with the agencies involved (bench).", "moved_reason": "",
            "cancelled_reason": "Not quorate (bench)." if cancelled else "",
            "ical_uid": f"{secrets.token_hex(16)}@panel", "ical_sequence": 1,
            "agenda_published_at": starts - timedelta(days=5), "agenda_published_by_id": coordinator,
            "minutes_finalised_at": None if cancelled else starts + timedelta(days=2),
            "minutes_finalised_by_id": None if cancelled else chair,
            "created_at": starts - timedelta(days=60), "created_by_id": coordinator})
        return mid

    def item(mid: int, position: int, kind: str, **extra) -> None:
        item_rows.append({"meeting_id": mid, "position": position, "kind": kind, "title": extra.pop("title", ""),
                          "minutes": extra.pop("minutes", 15), "notes": "Discussed (bench).",
                          "decision": "Agreed (bench).", "referral_id": extra.pop("referral_id", None),
                          "case_id": extra.pop("case_id", None)})

    panels = 0
    # every month's panel at full size; at a small --scale only the latest, half the meetings at most
    for key, day in _panel_months(world, taken, earliest)[-max(1, n["meetings"] // 2):]:
        mid = meeting("panel", day, None, key, 3)
        panels += 1
        world.panel_days.append(day)
        item(mid, 1, "welcome", minutes=5)
        item(mid, 2, "last_minutes", minutes=5)
        position = 3
        lo = bisect.bisect_left(referral_days, day - timedelta(days=30))
        hi = bisect.bisect_left(referral_days, day)
        for rid, _ in by_referral_day[lo:hi][:6]:
            item(mid, position, "referral", referral_id=rid)
            position += 1
        open_cases = [c for c in world.cases[:bisect.bisect_right(case_starts, day)] if c[3] > day]
        for c in open_cases[:12]:
            item(mid, position, "closure" if c[3] - day < timedelta(days=31) else "case", case_id=c[0])
            position += 1
        item(mid, position, "escalations", minutes=10)
        item(mid, position + 1, "aob", minutes=5)
        for agency in rng.sample(world.agencies, min(len(world.agencies), 14)):
            status = _weighted(rng, [("present", 7), ("apologies_with_update", 2), ("apologies", 1), ("absent", 1)], 1)[0]
            attendance_rows.append({"meeting_id": mid, "agency_id": agency, "status": status,
                                    "attendee_name": "A SPoC (bench)" if status == "present" else "",
                                    "deputised_by": "", "written_update": "", "confidentiality_acknowledged":
                                    status == "present", "recorded_at": datetime.combine(day, clock(10), tzinfo=UTC),
                                    "recorded_by_id": coordinator})
    for k in range(max(0, n["meetings"] - panels)):
        c = world.cases[k % len(world.cases)] if world.cases else None
        if c is None:
            break
        cid, _, accepted, closed, involved, _, _ = c
        day = accepted + timedelta(days=rng.randrange(max(1, (closed - accepted).days)))
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        mid = meeting("mdt", day, cid, None, 1)
        item(mid, 1, "case", case_id=cid, minutes=45)
        for agency in involved[:5]:
            attendance_rows.append({"meeting_id": mid, "agency_id": agency, "status": "present",
                                    "attendee_name": "A worker (bench)", "deputised_by": "", "written_update": "",
                                    "confidentiality_acknowledged": True,
                                    "recorded_at": datetime.combine(day, clock(10), tzinfo=UTC),
                                    "recorded_by_id": coordinator})
    w.write(meetings, meeting_rows)
    w.write(items, item_rows)
    w.write(attendance, attendance_rows)


def _panel_months(world: World, taken: set[str], earliest: datetime | None) -> list[tuple[str, date]]:
    """(series key, day) of the monthly panels of the ten years the demo has none for (the second
    Wednesday, or the next working day), held more than forty days ago."""
    from panel.dates import next_working_day

    out = []
    year, month = world.start.year, world.start.month
    while (year, month) < (world.today.year, world.today.month):
        key = f"panel-{year:04d}-{month:02d}"
        eighth = date(year, month, 8)
        day = next_working_day(eighth + timedelta(days=(2 - eighth.weekday()) % 7))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        too_late = earliest is not None and day >= earliest.date() - timedelta(days=20)
        if key not in taken and not too_late and day < world.today - timedelta(days=40):
            out.append((key, day))
    return out


def _actions(conn, w: Writer, world: World, n: dict, rng, actions, updates, escalations) -> None:
    first_action = _next_id(conn, "actions")
    coordinator, chair = world.coordinators[0], world.chairs[0]
    weights = [c[6] for c in world.cases]
    per_case = _share(n["actions"], weights)
    per_action_updates = n["action_updates"] / max(1, n["actions"])
    action_rows = []
    closing = []
    aid = first_action
    ends = [("done", 70), ("not_possible", 10), ("not_done", 10), ("cancelled", 10)]
    for c, count in zip(world.cases, per_case, strict=True):
        cid, _, accepted, closed, involved, _, _ = c
        span = max(1, (closed - accepted).days - 14)
        for _ in range(count):
            agreed = accepted + timedelta(days=rng.randrange(span))
            due = agreed + timedelta(days=rng.randint(7, 40))
            status = _weighted(rng, ends, 1)[0]
            late = status == "not_done" or rng.random() < 0.2
            finished = min(due + timedelta(days=rng.randint(1, 15)) if late else due - timedelta(days=rng.randint(0, 5)),
                           closed)
            finished = max(finished, agreed)
            agency = rng.choice(involved)
            created = _at(agreed, rng)
            closed_at = max(_at(finished, rng), created + timedelta(minutes=5))
            action_rows.append({"id": aid, "case_id": cid, "meeting_id": None,
                                "description": ACTION_WORDS[aid % len(ACTION_WORDS)], "agency_id": agency,
                                "assignee_id": _staff(world, agency, rng) if rng.random() < 0.6 else None,
                                "due_on": due, "status": status, "created_at": created, "created_by_id": coordinator,
                                "closed_at": closed_at, "ladder_round": 1, "next_step": None, "next_step_on": None,
                                "escalated_to_chair_at": None})
            closing.append((aid, created, closed_at, status, due, late, agency))
            aid += 1
    # updates: notes along the way, the last one closing the action
    total_updates = n["action_updates"]
    shares = _share(total_updates, [1.0] * len(closing)) if closing else []

    def update_rows() -> Iterator[dict]:
        for (action_id, created, closed_at, status, _due, _, agency), k in zip(closing, shares, strict=True):
            gap = (closed_at - created) / max(1, k)
            by = _staff(world, agency, rng)
            for j in range(k - 1):
                yield {"action_id": action_id, "at": created + gap * (j + 1) - timedelta(minutes=1), "by_id": by,
                       "note": "Progress update (bench).", "old_status": None, "new_status": None,
                       "old_due_on": None, "new_due_on": None, "due_change_reason": ""}
            if k:
                yield {"action_id": action_id, "at": closed_at, "by_id": by, "note": "Closed (bench).",
                       "old_status": "open", "new_status": status, "old_due_on": None, "new_due_on": None,
                       "due_change_reason": ""}

    from panel.dates import add_working_days

    escalation_rows = []
    for action_id, created, closed_at, _status, due, late, _agency in closing:
        rungs = [("reminder", add_working_days(due, -3))] if rng.random() < 0.3 or late else []
        if late:
            rungs += [("overdue", add_working_days(due, 1)), ("agency", add_working_days(due, 5))]
        for step, day in rungs:
            at = datetime.combine(day, clock(6), tzinfo=UTC)
            if not (created < at < closed_at):
                continue
            escalation_rows.append({"action_id": action_id, "step": step, "round": 1, "due_for": day, "at": at,
                                    "by_id": None, "reason": "", "told": "A SPoC <spoc@bench.invalid>",
                                    "contact_id": None if step != "agency" else chair, "acknowledgement": ""})
    del per_action_updates
    w.write(actions, action_rows)
    w.write(updates, update_rows(), reindex=True)
    w.write(escalations, escalation_rows)


def _case_work(conn, w: Writer, world: World, n: dict, rng, attempts, events) -> None:
    from panel.dates import govuk_date

    weights = [c[6] for c in world.cases]
    kinds = [k for k, _ in EVENT_KINDS]
    kind_weights = [k for _, k in EVENT_KINDS]
    outcome_names = [o for o, _ in OUTCOMES]
    outcome_weights = [o for _, o in OUTCOMES]

    def attempt_rows() -> Iterator[dict]:
        for c, count in zip(world.cases, _share(n["engagement_attempts"], weights), strict=True):
            cid, _, accepted, closed, involved, _, _ = c
            span = max(1, (closed - accepted).days)
            for outcome in rng.choices(outcome_names, weights=outcome_weights, k=count):
                agency = rng.choice(involved)
                method = rng.choice(METHODS)
                at = _at(accepted + timedelta(days=rng.randrange(span)), rng, 7, 21)
                yield {"case_id": cid, "agency_id": agency, "recorded_by_id": _staff(world, agency, rng),
                       "method": method, "occurred_at": at, "out_of_hours": at.hour >= 18,
                       "planned": method in ("home_visit", "joint_visit", "office_appointment"), "outcome": outcome,
                       "persons_words": "", "worker_view": "Seen briefly (bench)." if outcome == "engaged" else "",
                       "non_engagement": "avoidance" if outcome in ("declined", "not_in") else None,
                       "small_step": outcome == "partly_engaged", "created_at": at + timedelta(hours=2)}

    def event_rows() -> Iterator[dict]:
        for c, count in zip(world.cases, _share(n["case_events"], weights), strict=True):
            cid, _, accepted, closed, involved, _, _ = c
            span = max(1, (closed - accepted).days)
            for kind in rng.choices(kinds, weights=kind_weights, k=count):
                agency = rng.choice(involved)
                day = accepted + timedelta(days=rng.randrange(span))
                yield {"case_id": cid, "at": _at(day, rng), "kind": kind, "agency_id": agency,
                       "by_id": _staff(world, agency, rng),
                       "summary": f"{kind.replace('_', ' ').capitalize()} recorded by "
                                  f"{world.agency_names.get(agency, 'an agency')} on {govuk_date(day)} (bench)",
                       "ref_type": "", "ref_id": None}
            yield {"case_id": cid, "at": _at(closed, rng), "kind": "closure", "agency_id": None, "by_id": None,
                   "summary": "Closure approved at panel; case closed", "ref_type": "", "ref_id": None}

    w.write(attempts, attempt_rows(), reindex=True)
    # the closing entry of each case counts towards the total
    total = n["case_events"]
    n = dict(n, case_events=max(len(world.cases), total - len(world.cases)))
    w.write(events, event_rows(), reindex=True)


def _audit_trail(conn, w: Writer, world: World, n: dict, rng, table: sa.Table, key: str) -> None:
    """Audit rows continuing the chain after the demo's, in time order over the ten years."""
    from panel.audit import _digest

    first = _next_id(conn, "audit_events")
    prev = conn.execute(sa.text("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")).scalar() or "0" * 64
    total = n["audit_events"]
    start = datetime.combine(world.start, clock(0), tzinfo=UTC)
    end = datetime.combine(world.today - timedelta(days=1), clock(0), tzinfo=UTC)
    step = (end - start) / total
    users = world.users
    staff_weights = [8 if role in ("coordinator", "chair") else 1 for _, _, role in users]
    case_starts = [c[2] for c in world.cases]
    referral_ids = [r for r, _ in world.referral_ids]
    kinds = [("case", 45), ("login", 8), ("referral", 10), ("meeting", 8), ("action_update", 10), ("action_log", 6),
             ("our_actions", 4), ("case_update", 4), ("login_failed", 1), ("logout", 4)]
    key_bytes = key.encode()

    def rows() -> Iterator[dict]:
        nonlocal prev
        moment = start
        picks_kind = rng.choices([k for k, _ in kinds], weights=[k for _, k in kinds], k=total)
        picks_user = rng.choices(range(len(users)), weights=staff_weights, k=total)
        for i in range(total):
            moment = moment + step * (0.5 + rng.random())
            if moment >= end:
                moment = end - timedelta(microseconds=total - i)
            uid, email, _ = users[picks_user[i]]
            kind = picks_kind[i]
            upto = bisect.bisect_right(case_starts, moment.date()) or 1
            case = world.cases[rng.randrange(upto)] if world.cases else None
            if kind == "case" and case:
                action, object_type, object_id = "view", "case", case[1]
                summary = json.dumps({"access": "involved", "section": rng.choice(SECTIONS)}, sort_keys=True)
            elif kind == "case_update" and case:
                action, object_type, object_id = "update", "case", case[1]
                summary = json.dumps({"changes": {"risk_summary": ["[text]", "[text]"]}}, sort_keys=True)
            elif kind == "referral" and referral_ids:
                action, object_type, object_id = "view", "referral", str(rng.choice(referral_ids))
                summary = ""
            elif kind == "meeting":
                action, object_type, object_id, summary = "view", "meeting", str(rng.randint(1, 1500)), ""
            elif kind == "action_update":
                action, object_type = "update", "action"
                object_id, summary = str(rng.randint(1, max(1, n["actions"]))), json.dumps({"note": True})
            elif kind in ("action_log", "our_actions"):
                action, object_type, object_id, summary = "view", kind, "", ""
            elif kind == "login":
                action, object_type, object_id = "login", "user", str(uid)
                summary = json.dumps({"mfa": False})
            elif kind == "login_failed":
                action, object_type, object_id, summary = "login_failed", "user", str(uid), ""
            else:
                action, object_type, object_id, summary = "logout", "user", str(uid), ""
            row = {"id": first + i, "occurred_at": moment, "user_id": uid, "user_email": email, "action": action,
                   "object_type": object_type, "object_id": object_id, "summary": summary,
                   "ip": f"10.{uid % 250}.{(uid // 250) % 250}.{1 + i % 200}", "user_agent": AGENTS[uid % len(AGENTS)],
                   "prev_hash": prev}
            row["hash"] = _digest(prev, SimpleNamespace(**row))
            row["seal"] = hmac.new(key_bytes, row["hash"].encode(), hashlib.sha256).hexdigest() if key else None
            prev = row["hash"]
            yield row

    w.write(table, rows(), reindex=True)


def _snapshots(world: World) -> None:
    """The signed-off record of each panel's minutes, as finalising them stores it."""
    from panel.extensions import db
    from panel.meetings import record
    from panel.models import Meeting, MinutesSnapshot

    ids = list(db.session.scalars(sa.select(Meeting.id).where(
        Meeting.kind == "panel", Meeting.minutes_finalised_at.is_not(None),
        ~sa.exists().where(MinutesSnapshot.meeting_id == Meeting.id))))
    for mid in ids:
        meeting = db.session.get(Meeting, mid)
        made = record.build_minutes_record(mid, now=meeting.minutes_finalised_at)
        db.session.add(MinutesSnapshot(meeting_id=mid, version=made.version, source="finalised",
                                       taken_at=meeting.minutes_finalised_at, taken_by_id=meeting.minutes_finalised_by_id,
                                       document=made.to_json()))
    db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every figure (default 1.0)")
    parser.add_argument("--rebuild", action="store_true", help="build again even if cached")
    parser.add_argument("--only-sqlite", action="store_true")
    args = parser.parse_args()
    import tempfile

    url = os.environ.get("TEST_DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix="panel-tenyears-") as tmpdir:
        stores = [SQLiteStore(Path(tmpdir))]
        if url.startswith("postgresql") and not args.only_sqlite:
            stores.append(PostgresStore(url))
        for store in stores:
            key, took = ensure(store, "tenyears", scale=args.scale, tmp=Path(tmpdir), rebuild=args.rebuild)
            print(f"{store.name}: tenyears-{key} " + (f"built in {took:.1f} s" if took is not None else "cached"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
