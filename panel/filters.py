"""Jinja filters and globals: GOV.UK dates shown in Europe/London, and the policy for templates."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from panel.auth import policy
from panel.dates import govuk_date, govuk_datetime, govuk_time, html_datetime


def register(app: Flask) -> None:
    app.add_template_filter(govuk_date)
    app.add_template_filter(govuk_datetime)
    app.add_template_filter(html_datetime)
    app.add_template_filter(govuk_time)
    app.add_template_global(policy, "policy")
    app.add_template_global(lambda: app.config["SERVICE_NAME"], "service_name")
    app.add_template_global(_endpoints_of(app), "url_map_endpoints")
    app.add_template_global(lambda: coordinator_contact(app.config), "coordinator_contact")
    app.add_template_global(table_row)


def _endpoints_of(app: Flask):
    """url_map_endpoints(): the app's endpoints, for templates that link only where a page exists.
    Worked out once (the layout asks a dozen times a page), again only if a route is added."""
    known: dict[int, frozenset[str]] = {}

    def endpoints() -> frozenset[str]:
        rules = len(app.url_map._rules)
        if rules not in known:
            known.clear()
            known[rules] = frozenset(rule.endpoint for rule in app.url_map.iter_rules())
        return known[rules]

    return endpoints


def coordinator_contact(config) -> dict[str, str]:
    """Who the coordinator is and how to reach them (COORDINATOR_CONTACT_*), for /help and every
    page that says to contact them. The email is MAIL_FROM's address unless set; no phone unless set."""
    return {
        "name": config.get("COORDINATOR_CONTACT_NAME") or "The panel coordinator",
        "email": config.get("COORDINATOR_CONTACT_EMAIL") or parseaddr(config.get("MAIL_FROM", ""))[1],
        "phone": config.get("COORDINATOR_CONTACT_PHONE") or "",
    }


# ---- the rows of components/table.html's data_table ------------------------------------------------
# A page of ten years' figures has a thousand cells or more; written by a Jinja macro per cell they
# took most of the page's time, so each row is written here. The cells are as that macro documents.


def _attributes(attributes: Mapping | None) -> str:
    return "".join(f' {escape(name)}="{escape(value)}"' for name, value in (attributes or {}).items())


def _cell(cell: Any, row_header: bool) -> str:
    if not isinstance(cell, Mapping):
        content, extra, classes = escape(cell), "", ""
        header = row_header
    else:
        html = cell.get("html")
        # bandit B704: 'html' is markup a template made (data_table's contract, as `| safe` was)
        content = Markup(html) if html is not None else escape(cell.get("text", ""))  # nosec B704
        if cell.get("hidden"):
            content = f'<span class="govuk-visually-hidden">{content}</span>'
        extra = "".join(f' {name}="{escape(cell[name])}"' for name in ("colspan", "rowspan") if cell.get(name))
        extra += _attributes(cell.get("attributes"))
        header = row_header or bool(cell.get("header"))
        classes = "" if header or not cell.get("format") else f" govuk-table__cell--{escape(cell['format'])}"
        if cell.get("classes"):
            classes += f" {escape(cell['classes'])}"
    if header:
        return f'<th scope="row" class="govuk-table__header{classes}"{extra}>{content}</th>'
    return f'<td class="govuk-table__cell{classes}"{extra}>{content}</td>'


def table_row(row: Any, first_cell_is_header: bool = False) -> Markup:
    """One <tr> of data_table: `row` a list of cells, or {'cells': [...], 'attributes': {...}}."""
    if isinstance(row, Mapping):
        cells, attributes = row["cells"], _attributes(row.get("attributes"))
    else:
        cells, attributes = row, ""
    written = "".join(_cell(cell, first_cell_is_header and i == 0) for i, cell in enumerate(cells))
    # bandit B704: every part was escaped above, or is markup a template made
    return Markup(f'<tr class="govuk-table__row"{attributes}>{written}</tr>')  # nosec B704
