"""400, 404 and 500 answer in the service's own layout, never a bare error."""

from __future__ import annotations

import pytest

from tests.conftest import page


def test_unknown_page_is_a_404_in_the_layout(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    soup = page(response)
    assert soup.h1.get_text(strip=True) == "Page not found"
    assert "OFFICIAL-SENSITIVE" in soup.get_text()


def test_a_post_without_a_csrf_token_is_a_400_page_not_a_500(client):
    response = client.post("/login", data={"email": "a@b.invalid", "password": "x" * 12})
    assert response.status_code == 400
    assert "this form has expired" in page(response).h1.get_text()


@pytest.mark.own_app  # adds a route to the app
def test_an_unexpected_error_is_a_500_page_in_the_layout(app, client):
    # A throwaway route on this test's app only: the access-table test walks its own app.
    from panel.auth import policy

    def explode():
        raise RuntimeError("boom")

    app.add_url_rule("/_explode", "test_explode", explode)
    policy.ACCESS["test_explode"] = policy.PUBLIC
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.get("/_explode")
    finally:
        del policy.ACCESS["test_explode"]
    assert response.status_code == 500
    assert page(response).h1.get_text(strip=True) == "Sorry, there is a problem with the service"
