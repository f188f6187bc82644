"""Jinja filters and globals: GOV.UK dates shown in Europe/London, and the policy for templates."""

from __future__ import annotations

from flask import Flask

from panel.auth import policy
from panel.dates import govuk_date, govuk_datetime, html_datetime


def register(app: Flask) -> None:
    app.add_template_filter(govuk_date)
    app.add_template_filter(govuk_datetime)
    app.add_template_filter(html_datetime)
    app.add_template_global(policy, "policy")
    app.add_template_global(lambda: app.config["SERVICE_NAME"], "service_name")
    app.add_template_global(lambda: {rule.endpoint for rule in app.url_map.iter_rules()}, "url_map_endpoints")
