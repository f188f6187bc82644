"""Benchmark of the daily escalation sweep (panel.actions.jobs.sweep). Not a test: pytest does
not collect it (its name does not match test_*.py).

    make bench                                   # every tests/bench_*.py; this one on SQLite, and on
                                                 # PostgreSQL too when TEST_DATABASE_URL is one
    .venv/bin/python tests/bench_escalations.py [--runs 5] [--actions 100000] [--open 20000]

Builds a fresh migrated database of 100,000 actions, 20,000 of them open, on 4,000 cases (1,000
open) with 40 partner agencies besides the CASPA team and 326 staff, with the history a live system would have (escalations and filed
digests for the rungs already taken). Open actions' due dates are spread from 60 days overdue
to 120 days ahead, and each open action's `next_step`/`next_step_on` is what yesterday's sweep
left (ladder.plan as of yesterday). Then it times jobs.sweep() at 07:00 London on a Wednesday:

  typical day   - the rungs that fall due that day;
  all due       - the worst case: every open action has a rung due at once (20,000 rungs).

Each run starts from a fresh copy of the built database (a file copy on SQLite, CREATE DATABASE
... TEMPLATE on PostgreSQL) in the same process, as the long-running scheduler would; "first"
is the first run in the process (statement caches cold). The target is a typical day's sweep
under 2 s (median); the script exits 1 if it is missed, so `make bench` fails.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from panel import create_app  # noqa: E402

# Build one app before importing the action log's modules, so that the blueprints are imported
# in the app's own order whatever imports what.
create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, env="testing")

from panel.actions import jobs, ladder  # noqa: E402
from panel.extensions import db  # noqa: E402
from panel.models import (  # noqa: E402
    Action,
    ActionStatus,
    Agency,
    AgencyKind,
    Case,
    CaseStatus,
    Digest,
    DigestItem,
    Escalation,
    Involvement,
    LadderStep,
    Person,
    Referral,
    ReferralStatus,
    RiskLevel,
    Role,
    SpocAbsence,
    User,
)
from panel.dates import LONDON, add_working_days  # noqa: E402

TODAY = date(2027, 4, 14)  # a Wednesday, after Easter and the change to BST
NOW = datetime(2027, 4, 14, 7, 0, tzinfo=LONDON).astimezone(timezone.utc)
AGENCIES = 40
PRACTITIONERS = 5  # per agency, besides its SPoC, deputy and escalation contact
CASES = 4000
OPEN_CASES = 1000
UTC = timezone.utc
TARGET_SECONDS = 2.0


def _app(uri: str, tmp: Path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "OUTBOX_DIR": str(tmp / "outbox"), "MAIL_SERVER": "",
                      "REQUIRE_MFA_FOR": frozenset(), "SERVER_NAME": None}, env="testing")
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app


def _insert(conn, table, rows: list[dict], batch: int = 5000) -> None:
    for start in range(0, len(rows), batch):
        conn.execute(table.insert(), rows[start:start + batch])


def _seven(day: date) -> datetime:
    return datetime.combine(day, clock(7), tzinfo=LONDON).astimezone(UTC)


def _taken_rungs(history: list, staff: dict, coordinators: list[int], chairs: list[int]) -> tuple[list, list, dict]:
    """The escalation rows of the rungs already taken, the digest items telling each person, and
    the digests they were filed in (one a person a day)."""
    escalations, items, digests = [], [], {}
    for esc_id, (action_id, agency, assignee, rung, day) in enumerate(history, start=1):
        s = staff[agency]
        told = {LadderStep.REMINDER: [assignee or s["spoc"]], LadderStep.OVERDUE: [s["spoc"], *coordinators],
                LadderStep.AGENCY: [s["contact"]], LadderStep.CHAIR: chairs}[rung]
        escalations.append({"id": esc_id, "action_id": action_id, "step": rung, "round": 1, "due_for": day,
                            "at": _seven(day), "told": "Bench person <bench@bench.invalid>",
                            "contact_id": s["contact"] if rung == LadderStep.AGENCY else None})
        for person in told:
            digest = digests.setdefault((person, day), {"id": len(digests) + 1, "user_id": person, "day": day,
                                                        "sent_at": _seven(day), "items": 0})
            digest["items"] += 1
            items.append({"user_id": person, "escalation_id": esc_id, "created_at": _seven(day),
                          "digest_id": digest["id"]})
    return escalations, items, digests


def build(uri: str, tmp: Path, *, actions: int, open_actions: int, worst: bool) -> dict[str, int]:
    """Migrate an empty database at `uri` and fill it. Returns what was made."""
    from flask_migrate import upgrade

    rng = random.Random(20270414)
    app = _app(uri, tmp)
    with app.app_context():
        logging.disable(logging.INFO)  # alembic's own logging set-up would print every migration
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        engine = db.engine
        offsets = ladder.Offsets.from_config(app.config)
        yesterday = TODAY - timedelta(days=1)
        with engine.begin() as conn:
            _insert(conn, Agency.__table__, [
                {"id": 1, "name": "Bench CASPA Team", "code": "caspa", "kind": AgencyKind.LOCAL_AUTHORITY},
                *({"id": n, "name": f"Bench Agency {n}", "code": f"agency-{n}", "kind": list(AgencyKind)[n % 11]}
                  for n in range(2, AGENCIES + 2))])
            users, staff = [], {}
            uid = 0

            def user(role: Role, agency_id: int, label: str) -> int:
                nonlocal uid
                uid += 1
                users.append({"id": uid, "email": f"{label}.{uid}@bench.invalid", "name": f"Bench {label} {uid}",
                              "role": role, "agency_id": agency_id, "password_hash": "x"})
                return uid

            coordinators = [user(Role.COORDINATOR, 1, "coordinator") for _ in range(3)]
            chairs = [user(Role.CHAIR, 1, "chair") for _ in range(2)]
            user(Role.ADMIN, 1, "admin")
            for agency in range(2, AGENCIES + 2):
                staff[agency] = {"spoc": user(Role.SPOC, agency, "spoc"), "deputy": user(Role.SPOC, agency, "deputy"),
                                 "contact": user(Role.SPOC, agency, "lead"),
                                 "workers": [user(Role.PRACTITIONER, agency, "worker") for _ in range(PRACTITIONERS)]}
            _insert(conn, User.__table__, users)
            for agency, s in staff.items():
                conn.execute(Agency.__table__.update().where(Agency.__table__.c.id == agency).values(
                    spoc_id=s["spoc"], deputy_spoc_id=s["deputy"], escalation_contact_id=s["contact"]))
            # every tenth agency's SPoC is away (since long ago, until further notice): its deputy acts
            _insert(conn, SpocAbsence.__table__, [
                {"user_id": s["spoc"], "starts_on": date(2000, 1, 1), "starts_at": datetime(2000, 1, 1, tzinfo=timezone.utc),
                 "note": "", "created_at": datetime(2000, 1, 1, tzinfo=timezone.utc)}
                for agency, s in staff.items() if agency % 10 == 0])

            persons, referrals, cases, involvements, involved = [], [], [], [], {}
            for n in range(1, CASES + 1):
                lead = 2 + n % AGENCIES
                persons.append({"id": n, "given_name": f"Given{n}", "family_name": f"Family{n}",
                                "date_of_birth": date(1950 + n % 50, 1 + n % 12, 1 + n % 28)})
                referrals.append({"id": n, "reference": f"R-B-{n:06d}", "status": ReferralStatus.ACCEPTED,
                                  "person_id": n, "referring_agency_id": lead, "risk_level": RiskLevel.CRITICAL})
                open_case = n <= OPEN_CASES
                cases.append({"id": n, "reference": f"CASPA-B-{n:06d}", "person_id": n, "referral_id": n,
                              "status": CaseStatus.ACTIVE if open_case else CaseStatus.CLOSED, "lead_agency_id": lead,
                              "risk_level": RiskLevel.CRITICAL, "accepted_on": TODAY - timedelta(days=rng.randint(30, 1500))})
                involved[n] = sorted({lead, *rng.sample(range(2, AGENCIES + 2), 3)})
                involvements += [{"case_id": n, "agency_id": a} for a in involved[n]]
            _insert(conn, Person.__table__, persons)
            _insert(conn, Referral.__table__, referrals)
            _insert(conn, Case.__table__, cases)
            _insert(conn, Involvement.__table__, involvements)

            rows, history = [], []
            open_due: list[tuple[int, date]] = []
            for n in range(1, actions + 1):
                is_open = n <= open_actions
                case = 1 + (n % OPEN_CASES if is_open else rng.randrange(CASES))
                agency = rng.choice(involved[case])
                assignee = rng.choice(staff[agency]["workers"]) if rng.random() < 0.5 else None
                row = {"id": n, "case_id": case, "description": f"Bench action {n}", "agency_id": agency,
                       "assignee_id": assignee, "ladder_round": 1, "created_by_id": coordinators[0],
                       "next_step": None, "next_step_on": None, "closed_at": None, "escalated_to_chair_at": None}
                if is_open:
                    due = TODAY + timedelta(days=rng.randint(-60, 120))
                    # what the sweeps up to yesterday did: each rung on its day, and the next one
                    dates = ladder.step_dates(due, offsets)
                    taken = [rung for rung in ladder.AUTOMATIC if dates[rung] <= yesterday]
                    after = ladder.plan(due, yesterday, offsets, start=ladder.first_step(due, TODAY - timedelta(days=90),
                                                                                          offsets)[0])
                    history += [(n, agency, assignee, rung, dates[rung]) for rung in taken]
                    row.update(due_on=due, status=ActionStatus.OPEN, next_step=after.next_step, next_step_on=after.next_on,
                               created_at=_seven(due - timedelta(days=30)),
                               escalated_to_chair_at=_seven(dates[LadderStep.CHAIR]) if LadderStep.CHAIR in taken else None)
                    open_due.append((n, due))
                else:
                    due = TODAY - timedelta(days=rng.randint(30, 1100))
                    row.update(due_on=due, status=rng.choice([ActionStatus.DONE] * 6 + [
                        ActionStatus.NOT_POSSIBLE, ActionStatus.NOT_DONE, ActionStatus.CANCELLED]),
                        created_at=_seven(due - timedelta(days=30)), closed_at=_seven(due + timedelta(days=2)))
                    history.append((n, agency, assignee, LadderStep.REMINDER,
                                    ladder.step_dates(due, offsets)[LadderStep.REMINDER]))
                    if rng.random() < 0.2:
                        history.append((n, agency, assignee, LadderStep.OVERDUE,
                                        ladder.step_dates(due, offsets)[LadderStep.OVERDUE]))
                rows.append(row)
            _insert(conn, Action.__table__, rows)

            # the rungs already taken, each told to someone, filed in that day's digest
            escalations, items, digests = _taken_rungs(history, staff, coordinators, chairs)
            _insert(conn, Escalation.__table__, escalations)
            _insert(conn, Digest.__table__, list(digests.values()))
            _insert(conn, DigestItem.__table__, items)

            if worst:
                # every open action has a rung due today, in a new ladder round (its due date moved)
                rungs = list(ladder.AUTOMATIC)
                due_for = {LadderStep.REMINDER: add_working_days(TODAY, 3), LadderStep.OVERDUE: add_working_days(TODAY, -1),
                           LadderStep.AGENCY: add_working_days(TODAY, -5), LadderStep.CHAIR: add_working_days(TODAY, -10)}
                t = Action.__table__
                conn.execute(t.update().where(t.c.id == sa.bindparam("b_id")).values(
                    due_on=sa.bindparam("b_due"), next_step=sa.bindparam("b_step"), next_step_on=TODAY, ladder_round=2),
                    [{"b_id": n, "b_due": due_for[rungs[n % 4]], "b_step": rungs[n % 4]} for n, _ in open_due])
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:  # the rows above carry their own ids: move the sequences past them
                for table in ("agencies", "users", "persons", "referrals", "cases", "actions", "escalations", "digests"):
                    conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                         f"(SELECT max(id) FROM {table}))"))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        counts = {"actions": len(rows), "open": len(open_due), "cases": CASES, "agencies": AGENCIES + 1,
                  "users": len(users), "escalations": len(escalations), "digest items": len(items)}
        db.session.remove()
        engine.dispose()  # SQLite: the last connection to close folds the WAL into the file
    return counts


def due_today(uri: str, tmp: Path) -> int:
    app = _app(uri, tmp)
    with app.app_context():
        n = db.session.scalar(sa.select(sa.func.count()).select_from(Action).where(
            Action.next_step_on <= TODAY, Action.status == ActionStatus.OPEN))
        db.session.remove()
        db.engine.dispose()
    return n


def time_sweep(uri: str, tmp: Path) -> tuple[float, dict[str, int]]:
    app = _app(uri, tmp)
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))  # connect outside the timing
        db.session.rollback()
        started = time.perf_counter()
        result = jobs.sweep(now=NOW)
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return elapsed, result


class SQLiteCopies:
    name = "sqlite"

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    def create(self, label: str) -> str:
        return self.template(label)

    def template(self, label: str) -> str:
        return f"sqlite:///{self.tmp / (label + '.db')}"

    def fresh(self, label: str, n: int) -> str:
        path = self.tmp / f"{label}-run{n}.db"
        assert not (self.tmp / f"{label}.db-wal").exists()
        shutil.copyfile(self.tmp / f"{label}.db", path)
        return f"sqlite:///{path}"

    def drop(self, uri: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(uri.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)


class PostgresCopies:
    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = sa.engine.make_url(url)
        self.admin = sa.create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def _db(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, label: str) -> str:
        name = f"bench_{label}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        return self._db(name)

    def template(self, label: str) -> str:
        return self._db(f"bench_{label}")

    def fresh(self, label: str, n: int) -> str:
        name = f"bench_{label}_run{n}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "bench_{label}"'))
        return self._db(name)

    def drop(self, uri: str) -> None:
        name = sa.engine.make_url(uri).database
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=20_000)
    args = parser.parse_args()
    url = os.environ.get("TEST_DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix="panel-bench-") as tmpdir:
        tmp = Path(tmpdir)
        backends = [SQLiteCopies(tmp)]
        if url.startswith("postgresql"):
            backends.append(PostgresCopies(url))
        lines = []
        made = {}
        for backend in backends:
            for label, worst in (("typical", False), ("worst", True)):
                started = time.perf_counter()
                made = build(backend.create(label), tmp, actions=args.actions, open_actions=args.open, worst=worst)
                built = time.perf_counter() - started
                due = due_today(backend.template(label), tmp)
                times, result = [], {}
                for n in range(args.runs):
                    uri = backend.fresh(label, n)
                    elapsed, result = time_sweep(uri, tmp)
                    times.append(elapsed)
                    backend.drop(uri)
                lines.append((backend.name, "typical day" if not worst else "all open due at once", due,
                              result["steps"], result["digests"], times[0], min(times), statistics.median(times),
                              args.runs, built))
                print(f"  built {backend.name} {label} in {built:.1f} s; sweeps: "
                      + " ".join(f"{t:.3f}" for t in times), file=sys.stderr, flush=True)
            if isinstance(backend, PostgresCopies):
                for label in ("typical", "worst"):
                    backend.drop(backend.template(label))
                backend.admin.dispose()
    print(f"Escalation sweep benchmark: {made['actions']:,} actions ({made['open']:,} open), {made['cases']:,} cases, "
          f"{made['agencies']} agencies, {made['users']} staff, {made['escalations']:,} past escalations; "
          f"sweep at 07:00 London on {TODAY:%A} {TODAY.day} {TODAY:%B %Y}; target under 2 s")
    header = f"{'database':<11}{'scenario':<23}{'due':>7}{'steps':>7}{'digests':>9}{'first s':>9}{'min s':>8}{'median s':>10}{'runs':>6}"
    print(header)
    print("-" * len(header))
    for name, scenario, due, steps, digests, first, fastest, median, runs, _ in lines:
        print(f"{name:<11}{scenario:<23}{due:>7,}{steps:>7,}{digests:>9,}{first:>9.3f}{fastest:>8.3f}{median:>10.3f}{runs:>6}")
    typical = {line[0]: line[7] for line in lines if line[1] == "typical day"}
    met = all(median < TARGET_SECONDS for median in typical.values())
    print(f"Target (typical day, median under {TARGET_SECONDS:g} s): {'met' if met else 'MISSED'} "
          f"({', '.join(f'{name} {median:.3f} s' for name, median in typical.items())}); "
          "the all-due case is the worst case, shown for information")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
