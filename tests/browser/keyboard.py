"""Keyboard helpers for the journey tests: Tab (or Shift+Tab) to an element by what it says,
press Enter, and check the new page with axe-core. Nothing is clicked; the only address typed
is the sign-in page's."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime

import time_machine

from tests import factories
from tests.browser.conftest import assert_accessible, press_and_wait


def _sign_in(page, email: str, password: str | None = None) -> None:
    """As conftest's sign_in (the one address typed), with axe-core on the sign-in page and the next."""
    page.goto("/login")
    assert_accessible(page)
    _type_into(page, "email", email)
    page.keyboard.press("Tab")
    page.keyboard.type(password or factories.PASSWORD)
    press_and_wait(page)
    assert_accessible(page)


def _focus(page, predicate_js: str, *, backwards: bool = False, limit: int = 250) -> None:
    """Tab (or Shift+Tab) until the focused element matches the JS predicate (el) => bool."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate(f"(() => {{ const el = document.activeElement; return ({predicate_js})(el); }})()"):
            return
    raise AssertionError(f"never reached an element matching {predicate_js} by {key}")


def _text_is(text: str) -> str:
    return f"el.textContent.replace(/\\s+/g, ' ').trim() === {text!r}"


def _follow(page, text: str, *, backwards: bool = False) -> None:
    """Tab to a link by its whole text (visually hidden words included), press Enter, check the page."""
    _focus(page, f"el => el.tagName === 'A' && {_text_is(text)}", backwards=backwards)
    press_and_wait(page)
    assert_accessible(page)


def _press_button(page, text: str, *, backwards: bool = False) -> None:
    """Tab to a button (or submit input) by its text and press Enter."""
    _focus(page, f"el => (el.tagName === 'BUTTON' || el.type === 'submit') && "
                 f"(el.tagName === 'BUTTON' ? {_text_is(text)} : el.value === {text!r})", backwards=backwards)
    press_and_wait(page)
    assert_accessible(page)


def _type_into(page, name: str, text: str, *, clear: bool = False) -> None:
    _focus(page, f"el => el.name === {name!r}")
    if clear:
        page.keyboard.press("Control+A")
    page.keyboard.type(text)


def _banner(page):
    return page.locator(".govuk-notification-banner")


@contextlib.contextmanager
def travelling(start: datetime) -> Iterator[Callable[[datetime], None]]:
    """Move the clock to `start` and let it tick from there; yields move_to(instant) to jump on.
    The live server runs in the test's process, so its clock moves too (the browser keys
    nothing on the server's time): a journey starts on a fixed day whatever the day it runs, and
    jumps to a panel's start instead of waiting for it."""
    travellers = []

    def move_to(instant: datetime) -> None:
        traveller = time_machine.travel(instant, tick=True)
        traveller.start()
        travellers.append(traveller)

    move_to(start)
    try:
        yield move_to
    finally:
        for traveller in reversed(travellers):
            traveller.stop()
