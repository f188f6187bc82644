"""HTML to PDF with WeasyPrint, for the chair's agenda and case pack and the minutes.

The PDF is the PDF/UA-1 variant (tagged for screen readers), with the document title and
language taken from the HTML's <title> and <html lang>. It is drawn from the same HTML as the
print view, with static/print/pack.css (A4, "Page N of M", OFFICIAL-SENSITIVE at the top and
bottom of every page). Nothing is fetched over the network: only files under static/ load.
"""

from __future__ import annotations

from pathlib import Path

import logging

from flask import Response, current_app

logging.getLogger("weasyprint").setLevel(logging.WARNING)  # its INFO lines narrate every render

PRINT_CSS = Path(__file__).resolve().parent.parent.parent / "static" / "print" / "pack.css"


def local_fetcher():
    """WeasyPrint's URL fetcher, allowed only the app's own static files (no network, nothing
    else on disk: the resolved path must be inside static/, so neither "static-other/" nor
    "static/../" gets out). WeasyPrint 70 wants a URLFetcher instance, not a plain function."""
    from urllib.parse import unquote, urlsplit

    from weasyprint.urls import URLFetcher

    static = Path(current_app.static_folder).resolve()

    class LocalOnly(URLFetcher):
        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            if parts.scheme != "file" or parts.netloc or not Path(unquote(parts.path)).resolve().is_relative_to(static):
                raise ValueError("the PDF may only load the app's own static files")
            return super().fetch(url, headers)

    return LocalOnly(allowed_protocols={"file"})


def render_pdf(html: str) -> bytes:
    """The PDF of a page rendered for print (its <title> and lang become the PDF's)."""
    from weasyprint import CSS, HTML

    document = HTML(string=html, base_url=f"file://{Path(current_app.static_folder).resolve()}/",
                    url_fetcher=local_fetcher())
    return document.write_pdf(stylesheets=[CSS(filename=str(PRINT_CSS))], pdf_variant="pdf/ua-1")


def pdf_response(html: str, filename: str) -> Response:
    """Send a PDF inline (it opens in the browser's viewer), never cached."""
    response = Response(render_pdf(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
