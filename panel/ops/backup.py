"""Backup and restore of the whole database: `panel backup FILE` and `panel restore FILE [--force]`.

- SQLite: SQLite's online backup API copies a consistent snapshot while the service writes
  (readers never block writers in WAL mode); the backup is itself a SQLite database.
- PostgreSQL: ``pg_dump --format=custom``, which reads one consistent snapshot. The pg_dump
  (and pg_restore) used is the one matching the server's major version: ``PG_BIN_DIR`` when set,
  else Debian's ``/usr/lib/postgresql/<major>/bin``, else the one on PATH if it is new enough.

Each backup is written under a temporary name and renamed when complete, readable only by its
owner (it holds OFFICIAL-SENSITIVE data), with ``FILE.sha256`` beside it in ``sha256sum``'s
format (``sha256sum -c FILE.sha256`` checks it). A restore checks that checksum, refuses a
database that holds data unless forced, and replaces the database in one transaction.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from panel.models import SEARCH_INDEX_TABLES

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# Tables that hold no one's data: a database whose only rows are in these is "empty".
# The search's index of names (SQLite's FTS5 tables) is made from persons, and is never empty.
NOT_DATA = frozenset({"alembic_version", "pathway", "scheduler_state", *SEARCH_INDEX_TABLES})


class OpsError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    checksum_path: Path
    sha256: str
    size: int
    kind: str


@dataclass
class RestoreResult:
    path: Path
    kind: str
    checksum: str                      # "matches", or why it was not checked
    counts: dict[str, int] = field(default_factory=dict)
    revision: str | None = None


# ---- shared helpers -----------------------------------------------------------------------------

def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _private_temp(path: Path) -> Path:
    """A temporary name beside ``path`` (same filesystem, so the final rename is atomic), mode 600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    os.chmod(name, 0o600)
    return Path(name)


def _finish(temporary: Path, path: Path, kind: str) -> BackupResult:
    os.replace(temporary, path)
    digest = sha256_of(path)
    sums = checksum_path(path)
    sums.write_text(f"{digest}  {path.name}\n")
    return BackupResult(path, sums, digest, path.stat().st_size, kind)


def kind_of(uri: str) -> str:
    backend = make_url(uri).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise OpsError(f"Backups are for SQLite and PostgreSQL, not {backend}")
    return backend


def data_counts(engine: Engine) -> dict[str, int]:
    """Rows in each table of the database, alembic_version aside."""
    names = sorted(set(sa.inspect(engine).get_table_names()) - {"alembic_version"})
    with engine.connect() as conn:
        preparer = engine.dialect.identifier_preparer
        # bandit B608: the names are the database's own tables, quoted by the dialect
        return {name: conn.execute(sa.text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar_one()  # nosec B608
                for name in names}


def holds_data(engine: Engine) -> bool:
    return any(count for name, count in data_counts(engine).items() if name not in NOT_DATA)


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _check_checksum(path: Path) -> str:
    sums = checksum_path(path)
    if not sums.exists():
        return f"not checked: no {sums.name} beside the backup"
    expected = sums.read_text().split()[0].lower() if sums.read_text().split() else ""
    if sha256_of(path) != expected:
        raise OpsError(f"{path.name} does not match its checksum in {sums.name}: it is damaged or not the file "
                       "that was backed up. Nothing was restored.")
    return "matches"


def _magic(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(16)


# ---- SQLite -------------------------------------------------------------------------------------

def _sqlite_path(uri: str) -> Path:
    database = make_url(uri).database
    if not database or database == ":memory:":
        raise OpsError("An in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _sqlite_backup(uri: str, path: Path) -> BackupResult:
    source_path = _sqlite_path(uri)
    if not source_path.exists():
        raise OpsError(f"There is no database at {source_path}")
    temporary = _private_temp(path)
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(temporary)
    try:
        source.backup(target)  # all pages in one step: one consistent snapshot
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        target.close()
        source.close()
    return _finish(temporary, path, "sqlite")


def _sqlite_restore(uri: str, path: Path) -> None:
    check = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as error:
        result = str(error)
    finally:
        check.close()
    if result != "ok":
        raise OpsError(f"{path.name} is not a sound SQLite database ({result}). Nothing was restored.")
    target_path = _sqlite_path(uri)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target)  # replaces every page of the target in one transaction
        target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()
        source.close()


# ---- PostgreSQL ---------------------------------------------------------------------------------

def _libpq(uri: str) -> tuple[str, dict[str, str]]:
    """The connection string for libpq's tools (no password in it) and the environment with it."""
    url: URL = make_url(uri)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _server_major(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SHOW server_version_num")).scalar_one()) // 10000


def _tool_major(binary: str) -> int | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else None


def pg_tool(name: str, server_major: int, bin_dir: str = "") -> str:
    """The path of pg_dump / pg_restore / psql that can handle a server of this major version."""
    candidates = []
    if bin_dir:
        candidates.append(Path(bin_dir) / name)
    candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin") / name)
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.exists():
            major = _tool_major(str(candidate))
            if major is not None and major >= server_major:
                return str(candidate)
    raise OpsError(f"No {name} for PostgreSQL {server_major} or later was found. Install Debian's "
                   f"postgresql-client-{server_major} (or set PG_BIN_DIR to the folder holding {name}).")


def _pg_backup(engine: Engine, uri: str, path: Path, bin_dir: str) -> BackupResult:
    pg_dump = pg_tool("pg_dump", _server_major(engine), bin_dir)
    conninfo, env = _libpq(uri)
    temporary = _private_temp(path)
    done = subprocess.run([pg_dump, "--format=custom", f"--file={temporary}", f"--dbname={conninfo}"],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        temporary.unlink(missing_ok=True)
        raise OpsError(f"pg_dump failed: {done.stderr.strip()}")
    return _finish(temporary, path, "postgresql")


_RESET_SCHEMA = b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n"


def _pg_restore(engine: Engine, uri: str, path: Path, bin_dir: str) -> None:
    """Empty the schema and load the dump in one transaction: all of it, or (on any error) nothing."""
    major = _server_major(engine)
    pg_restore, psql = pg_tool("pg_restore", major, bin_dir), pg_tool("psql", major, bin_dir)
    conninfo, env = _libpq(uri)
    listing = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True, env=env)
    if listing.returncode != 0:
        raise OpsError(f"{path.name} is not a dump pg_restore can read: {listing.stderr.strip()}")
    with tempfile.TemporaryFile() as dump_errors, tempfile.TemporaryFile() as load_errors:
        load = subprocess.Popen([psql, "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", f"--dbname={conninfo}"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=load_errors, env=env)
        dump = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "--file=-", str(path)],
                                stdout=subprocess.PIPE, stderr=dump_errors, env=env)
        assert load.stdin is not None and dump.stdout is not None
        try:
            load.stdin.write(b"BEGIN;\n" + _RESET_SCHEMA)
            shutil.copyfileobj(dump.stdout, load.stdin)
            dumped = dump.wait()
            # COMMIT only when pg_restore read the whole file; otherwise psql ends without it and
            # PostgreSQL rolls the whole transaction back.
            load.stdin.write(b"COMMIT;\n" if dumped == 0 else b"ROLLBACK;\n")
        except BrokenPipeError:
            dumped = dump.wait()
        finally:
            dump.stdout.close()
            try:
                load.stdin.close()
            except BrokenPipeError:
                pass
            loaded = load.wait()
        dump_errors.seek(0)
        load_errors.seek(0)
        if dumped != 0 or loaded != 0:
            why = (load_errors.read() or dump_errors.read()).decode(errors="replace").strip()
            raise OpsError(f"The restore failed and was rolled back, so the database is as it was: {why}")


# ---- the two commands ---------------------------------------------------------------------------

def backup(engine: Engine, uri: str, path: Path, *, bin_dir: str = "") -> BackupResult:
    """Write a consistent copy of the database to ``path`` and its checksum beside it."""
    path = Path(path)
    if path.is_dir():
        raise OpsError(f"{path} is a folder: give the backup file's name")
    if kind_of(uri) == "sqlite":
        return _sqlite_backup(uri, path)
    return _pg_backup(engine, uri, path, bin_dir)


def restore(engine: Engine, uri: str, path: Path, *, force: bool = False, bin_dir: str = "") -> RestoreResult:
    """Replace the database with the backup at ``path``. The caller disposes of pooled connections
    first and checks the audit trail after. Refuses a database holding data unless ``force``."""
    path = Path(path)
    if not path.is_file():
        raise OpsError(f"There is no backup file at {path}")
    kind = kind_of(uri)
    magic = _magic(path)
    if kind == "sqlite" and not magic.startswith(SQLITE_MAGIC):
        raise OpsError(f"{path.name} is not a SQLite backup; this service's database is SQLite")
    if kind == "postgresql" and not magic.startswith(PG_MAGIC):
        raise OpsError(f"{path.name} is not a pg_dump custom-format backup; this service's database is PostgreSQL")
    checksum = _check_checksum(path)
    if not force and holds_data(engine):
        raise OpsError("The database already holds data. Restoring would replace all of it: back it up first, "
                       "then run the restore again with --force.")
    engine.dispose()
    if kind == "sqlite":
        _sqlite_restore(uri, path)
    else:
        _pg_restore(engine, uri, path, bin_dir)
    engine.dispose()
    return RestoreResult(path, kind, checksum, data_counts(engine), revision_of(engine))
