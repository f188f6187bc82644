"""At 320 CSS pixels wide (WCAG 1.4.10 reflow) no page scrolls sideways: wide tables scroll
inside their own container. The main pages of each demo role are walked in a real browser on
the demo data: every kind of page each role reaches from its home page (one of each shape)."""

from __future__ import annotations

from panel.extensions import db
from tests.browser.conftest import sign_in
from tests.html.conftest import DEMO_PASSWORD, crawl_as_each_role, load_demo
from tests.html.crawl import DEMO_ROLES, shape

WIDTH = 320
# The outermost elements that reach past the right edge, to say what to fix.
CULPRITS = """() => {
  const clipped = el => { for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };
  const over = el => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !clipped(el);
  return [...document.body.querySelectorAll('*')].filter(el => over(el) && !(el.parentElement && over(el.parentElement)))
    .slice(0, 3).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/ +/).join('.') : ''));
}"""


def _pages_to_walk(app) -> dict[str, list[str]]:
    """Each role's pages, one of each URL shape, leaving out shapes an earlier role walked."""
    walked: set[str] = set()
    plan = {}
    for role, pages in crawl_as_each_role(app, shape_limit=1).items():
        urls = [url for url in pages if url == "/" or shape(url.split("?")[0]) not in walked]
        walked |= {shape(url.split("?")[0]) for url in urls}
        plan[role] = urls
    db.session.remove()  # touch no model while the browser runs (SQLite write lock)
    return plan


def test_no_page_is_wider_than_a_320_pixel_screen(app, browser, live_server):
    load_demo(app)
    plan = _pages_to_walk(app)
    assert sum(len(urls) for urls in plan.values()) > 60
    too_wide = []
    for role, urls in plan.items():
        context = browser.new_context(viewport={"width": WIDTH, "height": 640}, base_url=live_server)
        page = context.new_page()
        sign_in(page, DEMO_ROLES[role], DEMO_PASSWORD)
        for url in urls:
            page.goto(url)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > WIDTH:
                too_wide.append(f"{role} {url}: {width}px ({', '.join(page.evaluate(CULPRITS))})")
        context.close()
    assert too_wide == [], "\n".join(too_wide)
