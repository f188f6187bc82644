"""Issue 14: GET /logout signed out (reachable cross-site); sign-out is now a POST with CSRF that
also sends Clear-Site-Data. And the headers the probe found missing."""

from __future__ import annotations

import pytest

from panel.auth.guard import PERMISSIONS_POLICY
from tests.conftest import page, post_form


def test_get_logout_shows_the_button_and_signs_nobody_out(client, login_as):
    login_as("coordinator")
    response = client.get("/logout")
    assert response.status_code == 200
    form = page(response).find("form", attrs={"action": "/logout"})
    assert form["method"] == "post" and form.find("input", attrs={"name": "csrf_token"})
    assert form.find("button").get_text(strip=True) == "Sign out"
    assert client.get("/").status_code == 200  # still signed in


def test_post_logout_without_csrf_is_refused_and_signs_nobody_out(client, login_as):
    login_as("coordinator")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_sign_out_clears_the_sites_data(client, login_as):
    login_as("coordinator")
    response = post_form(client, "/logout", {})
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert client.get("/").status_code == 302


def test_get_logout_signed_out_goes_to_sign_in(client):
    response = client.get("/logout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


@pytest.mark.parametrize("url", ["/login", "/healthz", "/no-such-page", "/static/favicon.svg", "/api/openapi.json"])
def test_cross_origin_isolation_and_a_full_permissions_policy(client, url):
    response = client.get(url)
    response.close()
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    policy = dict(item.strip().split("=", 1) for item in response.headers["Permissions-Policy"].split(","))
    assert response.headers["Permissions-Policy"] == PERMISSIONS_POLICY
    assert set(policy.values()) == {"()"}
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "serial", "bluetooth", "hid",
                    "display-capture", "fullscreen", "sync-xhr", "interest-cohort",
                    "browsing-topics", "publickey-credentials-get", "screen-wake-lock", "xr-spatial-tracking"):
        assert feature in policy
