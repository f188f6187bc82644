"""Referral API tokens: made and hashed by the service, the CLI (create, list, revoke) and the admin page."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.models import AgencyKind, ApiToken, AuditAction, AuditEvent, Role
from panel.referrals import tokens
from tests import factories
from tests.conftest import csrf_token, page, post_form

PAGE = "/admin/api-tokens"


@pytest.fixture
def police(app):
    return factories.create_agency(code="police", name="Test Police", kind=AgencyKind.POLICE)


def _token_row(token_id: int) -> ApiToken:
    db.session.rollback()
    return db.session.get(ApiToken, token_id)


# ---- the service -----------------------------------------------------------------------


def test_a_token_is_random_prefixed_and_stored_only_as_its_hash(police):
    row, token = tokens.create_token(agency=police, label="Niche RMS")
    _, other = tokens.create_token(agency=police)

    assert re.fullmatch(r"pnl_[A-Za-z0-9_-]{43}", token)
    assert token != other
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:12]
    assert row.label == "Niche RMS" and row.agency_id == police.id
    stored = db.session.execute(sa.text("SELECT * FROM api_tokens WHERE id = :id"), {"id": row.id}).one()
    assert all(token not in str(value) for value in stored)


def test_making_a_token_is_audited_without_the_token(police):
    row, token = tokens.create_token(agency=police)

    entry = db.session.execute(sa.select(AuditEvent).where(AuditEvent.object_type == "api_token")).scalar_one()
    assert (entry.action, entry.object_id) == (AuditAction.CREATE, str(row.id))
    assert token not in entry.summary and row.token_hash not in entry.summary
    assert json.loads(entry.summary)["agency"] == "police"


def test_find_token(police, count_queries):
    row, token = tokens.create_token(agency=police)

    assert tokens.find_token(token).id == row.id
    assert tokens.find_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    with count_queries() as counter:
        for bad in ("", "pnl_", "abc", token + "x", " " + token, "pnl_" + "!" * 43, row.token_hash):
            assert tokens.find_token(bad) is None
    assert counter.count == 0  # not shaped like one of ours: no lookup


def test_revoking_sets_the_time_once_and_is_audited(police):
    row, _ = tokens.create_token(agency=police)

    assert tokens.revoke_token(row) is True
    first = row.revoked_at
    assert first is not None
    assert tokens.revoke_token(row) is False
    assert row.revoked_at == first
    entries = db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.object_type == "api_token")).scalars()
    assert list(entries) == [AuditAction.CREATE, AuditAction.UPDATE]


def test_the_label_is_cleaned_and_cut_to_fit(police):
    row, _ = tokens.create_token(agency=police, label="  Case\x00 system\n" + "x" * 200)

    assert row.label.startswith("Case system ")
    assert len(row.label) == 120


# ---- the command line ------------------------------------------------------------------


def test_the_cli_creates_a_token_that_works(app, client, police):
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["panel", "api-token", "create", "--agency", "police",
                                                "--label", "Case system"])

    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("pnl_") and "cannot be shown again" in result.output
    row = tokens.find_token(token)
    assert row.agency_id == police.id and row.label == "Case system"
    response = client.post("/api/referrals", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422  # authenticated; the empty body is then refused


def test_the_cli_refuses_an_unknown_agency(app):
    result = app.test_cli_runner().invoke(args=["panel", "api-token", "create", "--agency", "nope"])

    assert result.exit_code == 2
    assert "No agency has the code 'nope'" in result.output
    assert db.session.execute(sa.select(sa.func.count()).select_from(ApiToken)).scalar_one() == 0


def test_the_cli_lists_and_revokes_tokens(app, police):
    row, token = tokens.create_token(agency=police, label="Case system")
    db.session.commit()
    token_id = row.id
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["panel", "api-token", "list"])
    assert listed.exit_code == 0
    assert f"{token_id}\tpolice\t{token[:12]}…\tCase system" in listed.output
    assert "active" in listed.output and token not in listed.output

    revoked = runner.invoke(args=["panel", "api-token", "revoke", str(token_id)])
    assert revoked.exit_code == 0 and "is revoked" in revoked.output
    assert _token_row(token_id).revoked_at is not None
    again = runner.invoke(args=["panel", "api-token", "revoke", str(token_id)])
    assert "already revoked" in again.output
    assert "revoked 20" in runner.invoke(args=["panel", "api-token", "list"]).output
    missing = runner.invoke(args=["panel", "api-token", "revoke", "999"])
    assert missing.exit_code == 2


def test_the_cli_list_when_there_are_none(app):
    assert "No API tokens." in app.test_cli_runner().invoke(args=["panel", "api-token", "list"]).output


# ---- the admin page --------------------------------------------------------------------


def test_the_admin_page_lists_tokens_without_showing_them(client, login_as, police):
    active, token = tokens.create_token(agency=police, label="<b>Niche</b> RMS")
    revoked, other = tokens.create_token(agency=police, label="Old system")
    tokens.revoke_token(revoked)
    login_as("admin")

    response = client.get(PAGE)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert token not in html and other not in html and active.token_hash not in html
    assert "&lt;b&gt;Niche&lt;/b&gt; RMS" in html
    rows = [[c.get_text(" ", strip=True) for c in tr.find_all("td")]
            for tr in page(response).select("#api-tokens tbody tr")]
    assert rows[0][:3] == ["Test Police", "<b>Niche</b> RMS", f"{token[:12]}…"]
    assert rows[0][4] == "Never" and rows[0][5] == "Active" and rows[0][6] == "Revoke"
    assert rows[1][1] == "Old system" and rows[1][5].startswith("Revoked") and rows[1][6] == ""


def test_the_admin_page_when_there_are_none(client, login_as):
    login_as("admin")

    assert "No API tokens have been made." in client.get(PAGE).get_data(as_text=True)


def test_the_dashboard_links_to_the_tokens(client, login_as):
    login_as("admin")

    assert page(client.get("/admin/")).find("a", href=PAGE) is not None


def test_an_admin_revokes_a_token(client, login_as, police):
    row, token = tokens.create_token(agency=police)
    admin = login_as("admin")
    token_id = row.id

    response = post_form(client, f"/admin/api-tokens/{token_id}/revoke", {}, token_from=PAGE)

    assert response.status_code == 302 and response.headers["Location"].endswith(PAGE)
    assert _token_row(token_id).revoked_at is not None
    entry = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    assert (entry.action, entry.object_type, entry.object_id, entry.user_id) == (
        AuditAction.UPDATE, "api_token", str(token_id), admin.id)
    followed = client.get(PAGE)
    assert "is revoked" in followed.get_data(as_text=True)
    api = client.post("/api/referrals", json={}, headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


def test_revoking_twice_says_so(client, login_as, police):
    row, _ = tokens.create_token(agency=police)
    login_as("admin")
    url = f"/admin/api-tokens/{row.id}/revoke"
    csrf = csrf_token(client, PAGE)

    client.post(url, data={"csrf_token": csrf})
    client.post(url, data={"csrf_token": csrf})

    assert "already revoked" in client.get(PAGE).get_data(as_text=True)


def test_revoking_needs_the_csrf_token(client, login_as, police):
    row, _ = tokens.create_token(agency=police)
    login_as("admin")
    token_id = row.id

    response = client.post(f"/admin/api-tokens/{token_id}/revoke", data={})

    assert response.status_code in (302, 400)
    assert _token_row(token_id).revoked_at is None


def test_revoking_an_unknown_token_is_404(client, login_as):
    login_as("admin")

    csrf = csrf_token(client, "/admin/users/new")

    assert client.post("/admin/api-tokens/999/revoke", data={"csrf_token": csrf}).status_code == 404


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN])
def test_only_admins_reach_the_token_pages(client, login_as, police, role):
    row, _ = tokens.create_token(agency=police)
    login_as(role)
    token_id = row.id

    csrf = csrf_token(client, "/account/password")

    assert client.get(PAGE).status_code == 404
    assert client.post(f"/admin/api-tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert _token_row(token_id).revoked_at is None


def test_the_page_uses_the_same_queries_for_1_or_20_tokens(client, login_as, count_queries):
    login_as("admin")

    def queries() -> int:
        db.session.commit()
        with count_queries() as counter:
            assert client.get(PAGE).status_code == 200
        return counter.count

    tokens.create_token(agency=factories.create_agency())
    one = queries()
    for _ in range(19):
        tokens.create_token(agency=factories.create_agency())
    assert queries() == one
