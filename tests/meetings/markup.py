"""Markup compared as a browser reads it: each element with its attributes (class lists as
written) and its own text, whitespace between tags and around text set aside. For templates that
write out what a GOV.UK macro draws (issue 18: a macro called for every row of a long page cost
most of its time): the test renders both and compares them."""

from __future__ import annotations

from bs4 import BeautifulSoup


def elements(html: str) -> list[tuple[str, tuple[tuple[str, str], ...], str]]:
    soup = BeautifulSoup(str(html), "html.parser")
    out = []
    for element in soup.find_all(True):
        attributes = tuple(sorted((name, " ".join(value) if isinstance(value, list) else value)
                                  for name, value in element.attrs.items()))
        text = " ".join(" ".join(t.split()) for t in element.find_all(string=True, recursive=False) if t.strip())
        out.append((element.name, attributes, text))
    return out
