"""HTML to PDF with WeasyPrint, for the chair's agenda and case pack and the minutes.

The PDF is the PDF/UA-1 variant (tagged for screen readers), with the document title and
language taken from the HTML's <title> and <html lang>. It is drawn from the same HTML as the
print view, with static/print/pack.css (A4, "Page N of M", OFFICIAL-SENSITIVE at the top and
bottom of every page) and static/print/pdf.css (what only the PDF needs). Nothing is fetched
over the network: only files under static/ load.

What WeasyPrint 70 does not do for assistive technology, done here (`TaggedPdf`):
- the running header and footer (the @page margin boxes: the marking, DRAFT, "Page N of M") are
  drawn as pagination artifacts, `/Artifact <</Type /Pagination /Subtype /Header>>`, which a
  screen reader skips. WeasyPrint marks their text as content and leaves it out of the tag tree
  (Kozea/WeasyPrint#1836), so it is neither read nor skipped. The document states its marking
  once, as real text: the first page's marking paragraph, which pdf.css places where the
  running header would be (and the first page's header is left empty);
- dot leaders (CSS `leader()`) are layout artifacts: the contents list reads "Case CASPA-2027-004
  (AB), high risk 5", never "dot dot dot";
- each link's description (`/Contents`) is the link's own words, not its target
  ("case-CASPA-2027-004");
- every table header cell carries its `/Scope` (Row or Column, from its scope attribute).
This uses WeasyPrint's layout boxes and drawing functions, which are not its public API; the
version is pinned in setup.cfg, and tests/meetings/test_pack_pdf.py reads the structure back,
so an upgrade that changes them fails a test rather than a printout. The cost is one walk over
the laid-out boxes: the bench (tests/bench_agenda_pdf.py) compares it with WeasyPrint alone.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from flask import Response, current_app

logging.getLogger("weasyprint").setLevel(logging.WARNING)  # its INFO lines narrate every render

STATIC = Path(__file__).resolve().parent.parent.parent / "static"
PRINT_CSS = STATIC / "print" / "pack.css"
PDF_CSS = STATIC / "print" / "pdf.css"
VARIANT = "pdf/ua-1"


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


def html_document(html: str):
    """WeasyPrint's HTML for a page rendered for print, loading only the app's static files."""
    from weasyprint import HTML

    return HTML(string=html, base_url=f"file://{Path(current_app.static_folder).resolve()}/",
                url_fetcher=local_fetcher())


def stylesheets() -> list:
    from weasyprint import CSS

    return [CSS(filename=str(PRINT_CSS)), CSS(filename=str(PDF_CSS))]


def render_pdf(html: str) -> bytes:
    """The PDF of a page rendered for print (its <title> and lang become the PDF's)."""
    document = html_document(html).render(stylesheets=stylesheets(), pdf_variant=VARIANT)
    tagged = TaggedPdf(document)
    return document.write_pdf(pdf_variant=VARIANT, finisher=tagged.finish)


def bare_pdf(html: str) -> bytes:
    """WeasyPrint alone on the same HTML and stylesheets, without the tagging above: what
    tests/bench_agenda_pdf.py measures the pack against."""
    return html_document(html).write_pdf(stylesheets=stylesheets(), pdf_variant=VARIANT)


def pdf_response(html: str, filename: str) -> Response:
    """Send a PDF inline (it opens in the browser's viewer), never cached."""
    response = Response(render_pdf(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ---- the tagging WeasyPrint leaves out -----------------------------------------------------------


@contextmanager
def _artifact(stream, kind: str, subtype: str | None = None) -> Iterator[None]:
    """Draw as an artifact: marked `/Artifact` with its type, and nothing registered for the
    tag tree while inside (WeasyPrint's stream registers marked text only while it has tags)."""
    import pydyf

    properties = pydyf.Dictionary({"Type": kind})
    if subtype:
        properties["Subtype"] = subtype
    tags, stream._tags = stream._tags, None
    stream.begin_marked_content("Artifact", properties)
    try:
        yield
    finally:
        stream.end_marked_content()
        stream._tags = tags


def _words(element: Any) -> str:
    """What a link says: its aria-label, else its text, spaces normalised."""
    label = element.get("aria-label") or "".join(element.itertext())
    return " ".join(label.split())


class TaggedPdf:
    """Prepares a rendered WeasyPrint document so that its running header and footer and its dot
    leaders are drawn as artifacts (each page painted by `_paint` below), then, as the
    write's finisher, gives each link its words and each table header its scope."""

    def __init__(self, document) -> None:
        from weasyprint.formatting_structure import boxes

        self.headers: list[Any] = []   # every <th> box, for its scope once tagged
        self.links: list[Any] = []     # every link's box, for its description once annotated
        for page in document.pages:
            box = page._page_box
            margins = [child for child in box.children if isinstance(child, boxes.MarginBox)]
            main = box.copy()
            main.children = [child for child in box.children if not isinstance(child, boxes.MarginBox)]
            leaders: list[tuple[Any, ...]] = []
            for each in main.descendants():
                if getattr(each, "is_leader", False):
                    leaders.append(tuple(each.children))
                    each.children = ()  # drawn apart, as an artifact, and so never tagged
                elif each.element_tag == "th" and isinstance(each, boxes.TableCellBox):
                    self.headers.append(each)
            page._page_box = main
            page.paint = _painter(page, main, margins, leaders)
            self.links += [link_box for _, _, _, link_box in page.links]

    def finish(self, document, pdf) -> None:
        """WeasyPrint's finisher: called with the tag tree built, before the file is written."""
        import pydyf

        for box in self.headers:
            mark = getattr(box, "mark", None)
            if mark is not None:
                scope = "/Row" if (box.element.get("scope") or "").lower() == "row" else "/Column"
                mark["A"]["Scope"] = scope
        for box in self.links:
            annotation = getattr(box, "link_annotation", None)
            if annotation is not None and box.element is not None:
                words = _words(box.element)
                if words:
                    annotation["Contents"] = pydyf.String(words)


def _painter(page, main, margins: list[Any], leaders: list[tuple[Any, ...]]):
    """The page's paint(): the content as WeasyPrint draws it (tagged), then the margin boxes
    and the leaders' dots as artifacts."""
    from weasyprint.draw import draw_page, draw_stacking_context
    from weasyprint.draw.text import draw_text
    from weasyprint.stacking import StackingContext

    def paint(stream, scale: float = 1) -> None:
        with stream.stacked():
            stream.transform(a=scale, d=scale)
            draw_page(main, stream)
            for margin in margins:
                place = "/Header" if margin.at_keyword.startswith("@top") else (
                    "/Footer" if margin.at_keyword.startswith("@bottom") else None)
                alone = main.copy()
                alone.children = [margin]
                with _artifact(stream, "/Pagination", place):
                    draw_stacking_context(stream, StackingContext.from_page(alone))
            for dots in leaders:
                with _artifact(stream, "/Layout"):
                    for dot in dots:
                        draw_text(stream, dot, 0, "clip", "none")

    return paint
