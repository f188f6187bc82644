"""Jinja filters and globals: GOV.UK dates shown in Europe/London, and the policy for templates."""

from __future__ import annotations

from email.utils import parseaddr

from flask import Flask

from panel.auth import policy
from panel.dates import govuk_date, govuk_datetime, govuk_time, html_datetime


def register(app: Flask) -> None:
    app.add_template_filter(govuk_date)
    app.add_template_filter(govuk_datetime)
    app.add_template_filter(html_datetime)
    app.add_template_filter(govuk_time)
    app.add_template_global(policy, "policy")
    app.add_template_global(lambda: app.config["SERVICE_NAME"], "service_name")
    app.add_template_global(lambda: {rule.endpoint for rule in app.url_map.iter_rules()}, "url_map_endpoints")
    app.add_template_global(lambda: coordinator_contact(app.config), "coordinator_contact")


def coordinator_contact(config) -> dict[str, str]:
    """Who the coordinator is and how to reach them (COORDINATOR_CONTACT_*), for /help and every
    page that says to contact them. The email is MAIL_FROM's address unless set; no phone unless set."""
    return {
        "name": config.get("COORDINATOR_CONTACT_NAME") or "The panel coordinator",
        "email": config.get("COORDINATOR_CONTACT_EMAIL") or parseaddr(config.get("MAIL_FROM", ""))[1],
        "phone": config.get("COORDINATOR_CONTACT_PHONE") or "",
    }
