"""`flask --app wsgi panel ...` commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from panel import demo
from panel.audit import verify_chain, verify_trail
from panel.dates import london_today
from panel.auth.passwords import MIN_LENGTH
from panel.extensions import db
from panel.models import Agency, ApiToken
from panel.forms.errors import ServiceError
from panel.ops import backup as backups
from panel.ops.admin import DEFAULT_AGENCY_CODE, create_admin
from panel.referrals.tokens import create_token, list_tokens, revoke_token
from panel.reports import retention
from panel.scheduler import JOBS, run_job, run_scheduler

panel_cli = AppGroup("panel", help="Panel's own commands.")


@panel_cli.command("demo-data")
@click.option("--password", required=True, help="The password every demo user gets (12 characters or more).")
@click.option("--force", is_flag=True, help="Add the demo data even though the database is not empty.")
def demo_data_command(password: str, force: bool) -> None:
    """Create fictional agencies, users and (later) cases for trying the service."""
    if len(password) < MIN_LENGTH:
        raise click.UsageError(f"--password must be {MIN_LENGTH} characters or more")
    if not force and not demo.database_is_empty():
        click.echo("The database already has data. Use --force to add the demo data anyway.", err=True)
        sys.exit(1)
    users = demo.load(password=password)
    db.session.commit()
    click.echo("Demo data loaded. Sign in at /login with any of these, password as given:")
    for email in users:
        click.echo(f"  {email}")


@panel_cli.command("audit-verify")
@click.option("--anchors", "anchor_path", type=click.Path(dir_okay=False), default=None,
              help="The anchor file to check against (default: the setting AUDIT_ANCHOR_PATH).")
def audit_verify_command(anchor_path: str | None) -> None:
    """Check the audit trail: its hash chain, every entry's seal (AUDIT_KEY) and the anchors
    written outside the database. Exit 0 when intact; 1 saying what was tampered with."""
    report = verify_trail(anchor_path)
    chain = report.chain
    if not chain.ok:
        click.echo(f"Audit trail broken at entry {chain.broken_id}: {chain.reason} "
                   f"({chain.checked} entries before it are intact).", err=True)
    for problem in report.problems:
        click.echo(f"Audit trail tampered with: {problem}.", err=True)
    if report.ok:
        click.echo(f"Audit trail intact: {report.checked} entries checked.")
        click.echo(f"Seals checked{'' if current_app.config.get('AUDIT_KEY') else ' (none: AUDIT_KEY is not set)'}; "
                   f"{report.anchors} anchor{'s' if report.anchors != 1 else ''} checked.")
    for first, last, why in report.unvouched:
        span = f"entry {first}" if first == last else f"entries {first}-{last}"
        click.echo(f"Could not fully vouch for {span}: {why}.")
    if not report.ok:
        sys.exit(1)


@panel_cli.command("scheduler")
def scheduler_command() -> None:
    """Run the job scheduler in this process (one per deployment; a second one exits)."""
    sys.exit(run_scheduler(current_app._get_current_object()))


@panel_cli.command("run-job")
@click.argument("name")
def run_job_command(name: str) -> None:
    """Run one scheduled job now, by name (see panel/scheduler.py for the list)."""
    if name not in JOBS:
        raise click.UsageError(f"Unknown job {name!r}. Jobs: {', '.join(sorted(JOBS))}")
    click.echo(run_job(name))


@panel_cli.command("retention")
@click.option("--dry-run", is_flag=True, help="Only list what would be anonymised now; change nothing.")
def retention_command(dry_run: bool) -> None:
    """Anonymise the records past RETENTION_YEARS, as the daily job "retention" does; with
    --dry-run, list them (person ids, references and the rule, never names) and change nothing."""
    today = london_today()
    found = retention.due(today)
    for adult in found:
        held = f"; under a legal hold ({adult.hold.kind.label.lower()}): kept" if adult.hold else ""
        click.echo(f"person {', '.join(map(str, adult.person_ids))}: {', '.join(adult.references)}; "
                   f"{adult.rule.label.lower()} on {adult.ended_on.isoformat()}; "
                   f"due {adult.due_on.isoformat()}{held}")
    going = sum(1 for a in found if a.hold is None)
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run: {going} would be anonymised, {len(found) - going} kept under a legal hold. "
                   "Nothing was changed.")
        return
    result = retention.run_retention(today)
    click.echo(f"Anonymised {result['anonymised']}; {result['held']} kept under a legal hold.")


@panel_cli.group("api-token")
def api_token_cli() -> None:
    """Tokens for the referral API: create (shown once), list, revoke."""


@api_token_cli.command("create")
@click.option("--agency", "agency_code", required=True, help="The code of the agency the token belongs to.")
@click.option("--label", default="", help="What the token is for, e.g. the system that uses it.")
def api_token_create_command(agency_code: str, label: str) -> None:
    """Make a token for an agency and print it once. Only its hash is kept."""
    agency = db.session.execute(db.select(Agency).filter_by(code=agency_code)).scalar_one_or_none()
    if agency is None:
        raise click.UsageError(f"No agency has the code {agency_code!r}")
    row, token = create_token(agency=agency, label=label)
    db.session.commit()
    click.echo(f"Token {row.id} for {agency.name}. Copy it now: it is not stored and cannot be shown again.")
    click.echo(token)


@api_token_cli.command("list")
def api_token_list_command() -> None:
    """List tokens: id, agency, prefix, label, created, last used, revoked."""
    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    rows = list_tokens()
    if not rows:
        click.echo("No API tokens.")
    for row in rows:
        state = f"revoked {when(row.revoked_at)}" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.agency.code}\t{row.prefix}…\t{row.label or '-'}\tcreated {when(row.created_at)}"
                   f"\tlast used {when(row.last_used_at)}\t{state}")


@api_token_cli.command("revoke")
@click.argument("token_id", type=int)
def api_token_revoke_command(token_id: int) -> None:
    """Revoke a token by its id: calls with it are refused from now on."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise click.UsageError(f"No API token has the id {token_id}")
    if revoke_token(row):
        db.session.commit()
        click.echo(f"Token {token_id} ({row.prefix}…) is revoked.")
    else:
        click.echo(f"Token {token_id} was already revoked.")


@panel_cli.command("create-admin")
@click.option("--email", required=True, help="The administrator's email address: they sign in with it.")
@click.option("--name", required=True, help="The administrator's name, as others see it.")
@click.option("--agency", "agency_code", default=DEFAULT_AGENCY_CODE, show_default=True,
              help="The code of the agency they belong to; the default one is made when missing.")
def create_admin_command(email: str, name: str, agency_code: str) -> None:
    """Add an administrator. The password comes from PANEL_ADMIN_PASSWORD, else it is asked twice."""
    password = os.environ.get("PANEL_ADMIN_PASSWORD")
    if password is None:
        password = click.prompt("Password (12 characters or more)", hide_input=True,
                                confirmation_prompt="Type the password again")
    try:
        user = create_admin(email=email, name=name, password=password, agency_code=agency_code)
    except ServiceError as error:
        db.session.rollback()
        click.echo(f"Not created: {error.message}.", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Administrator {user.name} (user {user.id}) created. Sign in at /login with their email "
               "address and the password given.")


@panel_cli.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write a consistent copy of the database to FILE (while the service runs) and FILE.sha256 beside it."""
    try:
        result = backups.backup(db.engine, current_app.config["SQLALCHEMY_DATABASE_URI"], file,
                                bin_dir=current_app.config.get("PG_BIN_DIR", ""))
    except backups.OpsError as error:
        click.echo(f"Backup failed: {error}", err=True)
        sys.exit(1)
    click.echo(f"Backed up the {result.kind} database to {result.path} ({result.size:,} bytes).")
    click.echo(f"SHA-256 {result.sha256}, written to {result.checksum_path} (check it with sha256sum -c).")


@panel_cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def restore_command(file: Path, force: bool) -> None:
    """Replace the database with the backup FILE, then check the audit trail. Stop the service first."""
    uri = current_app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    try:
        result = backups.restore(db.engine, uri, file, force=force, bin_dir=current_app.config.get("PG_BIN_DIR", ""))
    except backups.OpsError as error:
        click.echo(f"Not restored: {error}", err=True)
        sys.exit(1)
    db.session.remove()
    click.echo(f"Restored {result.path} into the {result.kind} database (checksum {result.checksum}).")
    click.echo(f"Migration: {result.revision or 'none'}.")
    for name, count in result.counts.items():
        click.echo(f"  {name}: {count:,} rows")
    report = verify_chain()
    db.session.remove()
    if not report.ok:
        click.echo(f"The restored audit trail is broken at entry {report.broken_id}: {report.reason} "
                   f"({report.checked} entries before it are intact).", err=True)
        sys.exit(1)
    click.echo(f"Audit trail intact: {report.checked} entries checked.")
    click.echo("If the code is newer than the backup, run `flask --app wsgi db upgrade` before starting the service.")
