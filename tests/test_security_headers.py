"""Security headers, cookie flags, and no inline script or style on any page (the CSP forbids them)."""

from __future__ import annotations

from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

from panel import audit
from panel.config import load_config
from panel.models import AuditAction, Role

from tests import factories
from tests.conftest import page, post_form


def _csp(response) -> dict[str, list[str]]:
    policy = {}
    for directive in response.headers["Content-Security-Policy"].split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


def test_content_security_policy_forbids_inline_script_and_framing(client):
    policy = _csp(client.get("/login"))

    for directive in ("default-src", "script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive]
        assert "'unsafe-eval'" not in policy[directive]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


@pytest.mark.parametrize("url", ["/login", "/healthz", "/no-such-page", "/static/favicon.svg"])
def test_every_response_has_the_headers(client, url):
    response = client.get(url)
    response.close()

    assert "Content-Security-Policy" in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_are_not_cached_but_static_files_may_be(client, login_as):
    login_as("practitioner")
    assert client.get("/").headers["Cache-Control"] == "no-store"
    static = client.get("/static/favicon.svg")
    static.close()
    assert static.headers.get("Cache-Control") != "no-store"


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers

    secure = client.get("/login", base_url="https://localhost")

    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(secure.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 31_536_000


def test_session_cookie_is_httponly_and_samesite_lax(client):
    response = client.get("/login")  # the sign-in form puts a CSRF token in the session

    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("panel_session=")]
    assert cookies
    attributes = [a.strip().lower() for a in cookies[0].split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


def test_session_cookie_is_secure_in_production(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("AUDIT_KEY", "y" * 40)
    config = load_config("production")

    assert config.SESSION_COOKIE_SECURE is True
    assert config.SESSION_COOKIE_HTTPONLY is True
    assert config.SESSION_COOKIE_SAMESITE == "Lax"


def test_production_refuses_to_start_without_a_strong_secret_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "short")
    monkeypatch.setenv("AUDIT_KEY", "y" * 40)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config("production")


@pytest.mark.parametrize("key", ["", "short"])
def test_production_refuses_to_start_without_a_strong_audit_key(monkeypatch, key):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("AUDIT_KEY", key)
    monkeypatch.delenv("AUDIT_KEY_FILE", raising=False)
    with pytest.raises(RuntimeError, match="AUDIT_KEY"):
        load_config("production")


def test_production_reads_the_audit_key_from_its_file(monkeypatch, tmp_path):
    (tmp_path / "audit_key").write_text("z" * 48 + "\n")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    monkeypatch.setenv("AUDIT_KEY_FILE", str(tmp_path / "audit_key"))
    assert load_config("production").AUDIT_KEY == "z" * 48


# ---- no inline script or style anywhere ------------------------------------------------

def _inline_problems(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    problems = [f"inline <script>: {s}"[:120] for s in soup.find_all("script") if not s.get("src")]
    problems += [f"<style> element: {s}"[:120] for s in soup.find_all("style")]
    problems += [f"style attribute on <{t.name}>" for t in soup.find_all(style=True)]
    problems += [f"{a} handler on <{t.name}>" for t in soup.find_all(True) for a in t.attrs
                 if a.lower().startswith("on")]
    problems += [f"javascript: link {t.get('href')}" for t in soup.find_all(href=True)
                 if t["href"].strip().lower().startswith("javascript:")]
    return problems


SKIP = ("/logout", "/static/")


def _crawl(client, start: list[str], limit: int = 150) -> dict[str, list[str]]:
    """GET every same-site page reachable by links from start; return problems by URL."""
    seen: set[str] = set()
    queue = deque(start)
    found: dict[str, list[str]] = {}
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen or url.startswith(SKIP):
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code != 500, url
        if response.status_code in (301, 302, 303):
            queue.append(urlsplit(response.headers["Location"]).path)
            continue
        if response.mimetype != "text/html":
            response.close()  # a streamed export: end its generator before the next request
            continue
        html = response.get_data(as_text=True)
        found[url] = _inline_problems(html)
        for link in page(response).find_all("a", href=True):
            target = urljoin(url, link["href"])
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not target.startswith("/"):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


@pytest.fixture
def some_data(db):
    admin = factories.create_user(role=Role.ADMIN, email="admin.for.data@council.invalid")
    agency = factories.create_agency(name="Housing Trust")
    for role in Role:
        factories.create_user(role=role, agency=agency)
    for i in range(60):
        audit.record(AuditAction.UPDATE, "user", i, summary={"n": i}, user=admin)
    db.session.commit()


@pytest.mark.sqlite_pass  # the markup is the same on either database
@pytest.mark.parametrize("role", [Role.ADMIN, Role.PRACTITIONER, Role.COORDINATOR])
def test_no_page_has_inline_script_or_style(client, login_as, some_data, role):
    login_as(role)

    found = _crawl(client, ["/", "/account", "/account/password", "/account/two-factor", "/no-such-page",
                            "/admin/", "/admin/audit", "/admin/audit?page=2", "/admin/audit?from=99"])

    assert "/" in found and "/account" in found
    if role == Role.ADMIN:
        assert "/admin/audit" in found
    assert {url: problems for url, problems in found.items() if problems} == {}


def test_signed_out_pages_have_no_inline_script_or_style(client):
    found = _crawl(client, ["/login", "/login/two-factor", "/no-such-page"])
    error = post_form(client, "/login", {"email": "", "password": ""})
    expired = client.post("/login", data={})

    assert "/login" in found
    assert {url: problems for url, problems in found.items() if problems} == {}
    assert _inline_problems(error.get_data(as_text=True)) == []
    assert _inline_problems(expired.get_data(as_text=True)) == []


def test_pages_with_form_errors_have_no_inline_script_or_style(client, login_as):
    login_as("practitioner")
    response = post_form(client, "/account/password", {"current_password": "", "new_password": "short",
                                                       "confirm_password": "other"})

    assert page(response).select_one(".govuk-error-summary") is not None
    assert _inline_problems(response.get_data(as_text=True)) == []
