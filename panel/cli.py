"""`flask --app wsgi panel ...` commands."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from panel.extensions import db

panel_cli = AppGroup("panel", help="Panel's own commands.")


@panel_cli.command("demo-data")
@click.option("--password", required=True, help="The password every demo user gets (12 characters or more).")
@click.option("--force", is_flag=True, help="Add the demo data even though the database is not empty.")
def demo_data_command(password: str, force: bool) -> None:
    """Create fictional agencies, users and (later) cases for trying the service."""
    from panel import demo
    from panel.auth.passwords import MIN_LENGTH

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
    from panel.audit import verify_chain

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
    from flask import current_app

    from panel.scheduler import run_scheduler

    sys.exit(run_scheduler(current_app._get_current_object()))


@panel_cli.command("run-job")
@click.argument("name")
def run_job_command(name: str) -> None:
    """Run one scheduled job now, by name (see panel/scheduler.py for the list)."""
    from panel.scheduler import JOBS, run_job

    if name not in JOBS:
        raise click.UsageError(f"Unknown job {name!r}. Jobs: {', '.join(sorted(JOBS))}")
    click.echo(run_job(name))
