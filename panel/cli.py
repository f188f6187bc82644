"""`flask --app wsgi panel ...` commands."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from panel import demo
from panel.audit import verify_chain
from panel.auth.passwords import MIN_LENGTH
from panel.extensions import db
from panel.models import Agency, ApiToken
from panel.referrals.tokens import create_token, list_tokens, revoke_token
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
def audit_verify_command() -> None:
    """Check the audit trail's hash chain. Exit 0 when intact, 1 naming the first broken row."""
    report = verify_chain()
    if report.ok:
        click.echo(f"Audit trail intact: {report.checked} entries checked.")
        return
    click.echo(f"Audit trail broken at entry {report.broken_id}: {report.reason} "
               f"({report.checked} entries before it are intact).", err=True)
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
