"""GOV.UK pagination for list pages: the page asked for, and the govukPagination parameters."""

from __future__ import annotations

from typing import Any

from flask import request, url_for


def page_number(pages: int) -> int:
    """This page's number from ?page=, clamped to 1..pages (anything odd means page 1)."""
    raw = request.args.get("page", "1")
    number = int(raw) if raw.isascii() and raw.isdecimal() and len(raw) < 9 else 1
    return min(max(number, 1), max(pages, 1))


def pagination(endpoint: str, page: int, pages: int, *, label: str, **url_values: Any) -> dict[str, Any] | None:
    """Parameters for govukPagination: first, last, and the pages either side of this one.
    `url_values` (filters, the case reference) are kept in every link."""
    if pages <= 1:
        return None

    def href(n: int) -> str:
        return url_for(endpoint, **url_values, page=n)

    items: list[dict[str, Any]] = []
    shown = sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1)))
    for i, n in enumerate(shown):
        if i and n - shown[i - 1] > 1:
            items.append({"ellipsis": True})
        items.append({"number": n, "href": href(n), "current": n == page})
    return {
        "previous": {"href": href(page - 1)} if page > 1 else None,
        "next": {"href": href(page + 1)} if page < pages else None,
        "items": items,
        "landmarkLabel": label,
    }
