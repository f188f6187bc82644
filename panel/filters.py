"""Jinja filters and globals: GOV.UK dates shown in Europe/London, and the policy for templates."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask

LONDON = ZoneInfo("Europe/London")


def govuk_date(value: date | datetime | None) -> str:
    """14 January 2027 (a datetime is first moved to Europe/London)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON)
    return f"{value.day} {value:%B %Y}"


def govuk_datetime(value: datetime | None) -> str:
    """14 January 2027 at 2:05pm, in Europe/London."""
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    time = f"{hour}{suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d}{suffix}"
    if local.hour == 12 and local.minute == 0:
        time = "midday"
    elif local.hour == 0 and local.minute == 0:
        time = "midnight"
    return f"{govuk_date(local)} at {time}"


def register(app: Flask) -> None:
    from panel.auth import policy

    app.add_template_filter(govuk_date)
    app.add_template_filter(govuk_datetime)
    app.add_template_global(policy, "policy")
    app.add_template_global(lambda: app.config["SERVICE_NAME"], "service_name")
    app.add_template_global(lambda: {rule.endpoint for rule in app.url_map.iter_rules()}, "url_map_endpoints")
