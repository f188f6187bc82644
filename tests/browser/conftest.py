"""Browser tests: Playwright driving Debian's chromium against a live server, plus axe-core.

Mind the database: on SQLite every transaction begins IMMEDIATE, so after a test commits its
data it must not touch a model (a lazy load or attribute refresh opens a transaction) until the
browser is done, or the server waits for the write lock. Keep ids in local variables, and call
db.session.remove() before reading results back.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
_axe = Axe()


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


def assert_accessible(page) -> None:
    """axe-core finds no WCAG 2.2 AA violation on the page as it is now."""
    # resultTypes: only the violations get every node's details (a unique selector for each); the
    # passes and the rest get one node each. Every rule still runs; axe-core documents the option
    # for speed, and it took a third off the coordinator's month (60 runs: 27 s -> 18 s).
    results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS},
                                      "resultTypes": ["violations"]})
    violations = results.response["violations"]
    assert not violations, "\n".join(
        f"{v['id']}: {v['help']} — {[n['target'] for n in v['nodes']][:5]}" for v in violations
    )


def keyboard_fill(page, label: str, text: str) -> None:
    """Tab to a field by its label (focus only, no clicks) and type into it."""
    page.get_by_label(label, exact=True).focus()
    page.keyboard.type(text)


def tab_until(page, predicate_js: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches the JS predicate (el) => bool."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return ({predicate_js})(el); }})()"):
            return
    raise AssertionError(f"never reached an element matching {predicate_js} by Tab")


@pytest.fixture(autouse=True)
def _serve_this_tests_app(live_server):
    """Every browser test talks to its own app and database through the shared live server."""
    return live_server


def press_and_wait(page, key: str = "Enter") -> None:
    """Press a key that navigates, and wait for the new page."""
    with page.expect_navigation():
        page.keyboard.press(key)


def sign_in(page, email: str, password: str | None = None) -> None:
    """Sign in by keyboard alone: Tab to the email field, type, Tab, type, Enter."""
    from tests import factories

    page.goto("/login")
    tab_until(page, "el => el.name === 'email'")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password or factories.PASSWORD)
    press_and_wait(page)


def follow_link(page, text: str, limit: int = 200) -> None:
    """Tab to a link by its whole visible text (visually hidden words included, spaces
    normalised), press Enter, and check the new page with axe-core."""
    tab_until(page, f"el => el.tagName === 'A' && el.textContent.replace(/\\s+/g, ' ').trim() === {text!r}",
              limit=limit)
    press_and_wait(page)
    assert_accessible(page)


def submit_button(page, name: str = "submit", limit: int = 200) -> None:
    """Tab to the submit button with this name and press Enter."""
    tab_until(page, f"el => el.type === 'submit' && el.name === {name!r}", limit=limit)
    press_and_wait(page)
