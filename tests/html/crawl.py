"""Crawl every GET page a demo user can reach, following links from the home page.

Used by the Nu HTML Checker test and the narrow-screen browser test. Links are followed breadth
first; only HTML pages are kept. To keep the cost modest, a URL shape (the path with its numbers
and references replaced) is visited at most SHAPE_LIMIT times, and query strings other than the
first page of a list (filters, sorting, later pages) are visited at most once per path.
Pages that change something answer POST only, so following every link changes nothing.
"""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from urllib.parse import urldefrag, urlsplit

from bs4 import BeautifulSoup

# The demo users each role is crawled as (DESIGN §4), with the SPoCs of two agencies.
DEMO_ROLES = {
    "coordinator": "coordinator@demo.invalid",
    "chair": "chair@demo.invalid",
    "spoc-police": "spoc.police@demo.invalid",
    "spoc-housing": "spoc.housing@demo.invalid",
    "practitioner": "practitioner.health@demo.invalid",
    "board": "board@demo.invalid",
    "admin": "admin@demo.invalid",
}
SKIP = re.compile(r"^/(logout|static/|calendar/)|\.(pdf|ics|csv|json)$|/export")
SHAPE_LIMIT = 3


def shape(path: str) -> str:
    path = re.sub(r"[A-Z]+-\d{4}-\d+", "<ref>", path)
    return re.sub(r"/\d+(?=/|$)", "/<id>", path)


def sign_in(client, user) -> None:
    with client.session_transaction() as sess:
        sess.clear()
        sess["_user_id"] = user.session_token
        sess["_fresh"] = True
        sess["signed_in_at"] = time.time()
        sess["last_seen"] = time.time()


def crawl(client, start: str = "/", limit: int = 400, shape_limit: int = SHAPE_LIMIT) -> dict[str, str]:
    """GET every internal link reachable from start; returns {url: html} for the HTML pages.
    Asserts that no page answers with a server error."""
    seen = {start}
    queue = deque([start])
    shapes: Counter[str] = Counter()
    queried: set[str] = set()
    pages: dict[str, str] = {}
    while queue and len(pages) < limit:
        url = queue.popleft()
        response = client.get(url)
        assert response.status_code < 500, f"{url} answered {response.status_code}"
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        html = response.get_data(as_text=True)
        pages[url] = html
        for link in BeautifulSoup(html, "html.parser").select("a[href]"):
            href = urldefrag(link["href"])[0]
            if not href.startswith("/") or href.startswith("//") or href in seen or SKIP.search(urlsplit(href).path):
                continue
            parts = urlsplit(href)
            key = shape(parts.path)
            if parts.query:
                if parts.path in queried:
                    continue
                queried.add(parts.path)
            else:
                if shapes[key] >= shape_limit:
                    continue
                shapes[key] += 1
            seen.add(href)
            queue.append(href)
    return pages
