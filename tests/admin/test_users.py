"""User administration: listing, adding, changing, deactivating, resetting passwords and unlocking."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g

from panel.admin import services
from panel.auth.passwords import verify_password
from panel.extensions import db
from panel.models import AuditAction, AuditEvent, Role, User, utcnow
from tests import factories
from tests.conftest import error_summary, page, post_form


def _switch() -> None:
    """Forget what ``g`` caches per client before a request from another test client.

    The app fixture keeps one app context open for the whole test and requests reuse it, so
    flask-login's user and flask-wtf's CSRF token would otherwise carry over between clients.
    Harmless where the app fixture already starts each request with a fresh ``g``.
    """
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def _sign_in(client, user: User) -> None:
    """Sign a second test client in as ``user``, the way the login_as fixture does."""
    with client.session_transaction() as sess:
        sess["_user_id"] = user.session_token
        sess["_fresh"] = True
        sess["signed_in_at"] = time.time()
        sess["last_seen"] = time.time()


def _audit(action: AuditAction, object_id) -> list[AuditEvent]:
    return list(db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == action, AuditEvent.object_type == "user",
                                    AuditEvent.object_id == str(object_id)).order_by(AuditEvent.id)
    ).scalars())


def _user_form(agency, **overrides) -> dict:
    data = {"name": "Dana Smith", "email": "dana.smith@example.com", "role": "spoc", "agency_id": str(agency.id)}
    data.update(overrides)
    return data


def _edit_form(user: User, **overrides) -> dict:
    data = {"name": user.name, "role": user.role.value, "agency_id": str(user.agency_id),
            "status": "active" if user.active else "deactivated"}
    data.update(overrides)
    return data


def _temporary_password(response) -> str:
    return page(response).select_one("#temporary-password").get_text(strip=True)


# ---- who may see the pages ------------------------------------------------------------

USER_PAGES = ["/admin/users", "/admin/users/new", "/admin/users/{id}", "/admin/users/{id}/reset-password"]


@pytest.mark.parametrize("url", USER_PAGES)
def test_admin_sees_each_user_page(client, login_as, url):
    login_as("admin")
    target = factories.create_user()
    db.session.commit()
    response = client.get(url.format(id=target.id))
    assert response.status_code == 200
    assert page(response).h1 is not None


@pytest.mark.parametrize("url", USER_PAGES)
def test_coordinator_gets_404_for_user_pages(client, login_as, url):
    login_as("coordinator")
    target = factories.create_user()
    db.session.commit()
    assert client.get(url.format(id=target.id)).status_code == 404


def test_coordinator_cannot_unlock_by_posting(client, login_as):
    login_as("coordinator")
    target = factories.create_user(locked_until=utcnow() + timedelta(minutes=10))
    db.session.commit()
    for url in (f"/admin/users/{target.id}/unlock", f"/admin/users/{target.id}/reset-password",
                f"/admin/users/{target.id}", "/admin/users/new"):
        response = post_form(client, url, {"name": "x", "status": "deactivated"}, token_from="/account/password")
        assert response.status_code == 404
    db.session.refresh(target)
    assert target.locked_until is not None


@pytest.mark.parametrize("url", USER_PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(client, url):
    target = factories.create_user()
    db.session.commit()
    response = client.get(url.format(id=target.id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_unknown_user_answers_404(client, login_as):
    login_as("admin")
    assert client.get("/admin/users/99999").status_code == 404
    assert client.get("/admin/users/99999/reset-password").status_code == 404


# ---- the list ------------------------------------------------------------------------

def test_user_list_shows_each_users_details(client, login_as):
    login_as("admin")
    agency = factories.create_agency(name="Northshire Police")
    factories.create_user(name="Mfa Person", role=Role.SPOC, agency=agency, mfa_enabled=True)
    factories.create_user(name="Gone Person", active=False)
    factories.create_user(name="Locked Person", locked_until=utcnow() + timedelta(minutes=10))
    db.session.commit()
    rows = {r.select("td")[0].get_text(strip=True): [td.get_text(" ", strip=True) for td in r.select("td")]
            for r in page(client.get("/admin/users")).select("#users tbody tr")}
    assert rows["Mfa Person"][2:] == ["Single point of contact (SPoC)", "Northshire Police", "Active", "On"]
    assert rows["Gone Person"][4] == "Deactivated"
    assert rows["Locked Person"][4:] == ["Locked", "Off"]


def test_user_list_filters_by_agency_and_role(client, login_as):
    login_as("admin")
    police = factories.create_agency(name="Police")
    factories.create_user(name="Police SPoC", role=Role.SPOC, agency=police)
    factories.create_user(name="Police Worker", role=Role.PRACTITIONER, agency=police)
    factories.create_user(name="Housing SPoC", role=Role.SPOC)
    db.session.commit()

    def names(query: str) -> set[str]:
        response = client.get(f"/admin/users?{query}")
        assert response.status_code == 200
        return {a.get_text(strip=True) for a in page(response).select("#users tbody a")}

    assert names(f"agency={police.id}") == {"Police SPoC", "Police Worker"}
    assert names("role=spoc") == {"Police SPoC", "Housing SPoC"}
    assert names(f"agency={police.id}&role=spoc") == {"Police SPoC"}


@pytest.mark.parametrize("query", [
    "agency=abc", "agency=99999", "agency=-1", "agency=1e9", "role=superuser", "role=%3Cscript%3E",
    "agency=1%27%20OR%201=1--", "role=&agency=", "agency=" + "9" * 40,
])
def test_user_list_ignores_bad_filters(client, login_as, query):
    admin = login_as("admin")
    factories.create_user(name="Someone Else")
    db.session.commit()
    response = client.get(f"/admin/users?{query}")
    assert response.status_code == 200
    names = {a.get_text(strip=True) for a in page(response).select("#users tbody a")}
    assert {"Someone Else", admin.name} <= names


def test_user_list_runs_the_same_number_of_queries_for_3_or_30_users(client, login_as, count_queries):
    login_as("admin")
    for _ in range(3):
        factories.create_user()
    db.session.commit()
    with count_queries() as few:
        assert client.get("/admin/users").status_code == 200
    for _ in range(27):
        factories.create_user(role=Role.SPOC)
    db.session.commit()
    with count_queries() as many:
        response = client.get("/admin/users")
    assert len(page(response).select("#users tbody tr")) == 31
    assert many.count == few.count, many.statements


# ---- adding a user -------------------------------------------------------------------

def test_admin_adds_a_user_and_sees_the_temporary_password_once(client, login_as):
    admin = login_as("admin")
    agency = factories.create_agency(name="Northshire Housing")
    db.session.commit()
    response = post_form(client, "/admin/users/new",
                         _user_form(agency, email="  Dana.Smith@Example.COM "))
    assert response.status_code == 200
    assert page(response).select_one(".govuk-panel__title").get_text(strip=True) == "User added"
    password = _temporary_password(response)
    user = db.session.execute(sa.select(User).filter_by(email="dana.smith@example.com")).scalar_one()
    assert (user.name, user.role, user.agency_id) == ("Dana Smith", Role.SPOC, agency.id)
    assert user.must_change_password and user.active
    assert verify_password(user.password_hash, password)
    assert len(password) >= 16
    assert response.headers["Cache-Control"] == "no-store"
    # Shown once: not on the user's page, and not in the audit trail.
    assert password not in client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    (event,) = _audit(AuditAction.CREATE, user.id)
    assert event.user_id == admin.id
    assert password not in event.summary
    assert json.loads(event.summary) == {"name": "Dana Smith", "email": "dana.smith@example.com", "role": "spoc",
                                         "agency_id": agency.id, "active": True}


def test_each_new_user_gets_a_different_password(client, login_as):
    login_as("admin")
    agency = factories.create_agency()
    db.session.commit()
    first = _temporary_password(post_form(client, "/admin/users/new", _user_form(agency, email="a@example.com")))
    second = _temporary_password(post_form(client, "/admin/users/new", _user_form(agency, email="b@example.com")))
    assert first != second


def test_the_new_user_must_change_the_temporary_password_first(client, login_as, app):
    login_as("admin")
    agency = factories.create_agency()
    db.session.commit()
    password = _temporary_password(post_form(client, "/admin/users/new", _user_form(agency)))
    newcomer = app.test_client()
    _switch()
    response = post_form(newcomer, "/login", {"email": "dana.smith@example.com", "password": password})
    assert response.status_code == 302
    assert newcomer.get("/").headers["Location"] == "/account/password"


def test_add_user_with_nothing_filled_in_lists_every_problem(client, login_as):
    login_as("admin")
    response = post_form(client, "/admin/users/new", {})
    assert response.status_code == 200
    assert error_summary(response) == ["Enter the user’s name", "Enter an email address", "Select a role",
                                       "Select an agency"]
    assert page(response).title.get_text().startswith("Error: ")


@pytest.mark.parametrize("overrides, message", [
    ({"name": "x" * 121}, "Name must be 120 characters or fewer"),
    ({"name": "   "}, "Enter the user’s name"),
    ({"name": "Dana\tSmith"}, "Name must not include tabs, line breaks or other control characters"),
    ({"name": "Dana\x00Smith"}, "Name must not include tabs, line breaks or other control characters"),
    ({"name": "Dana\u202eSmith"}, "Name must not include tabs, line breaks or other control characters"),
    ({"name": "<b>Dana</b>"}, "Name must not include the characters < or >"),
    ({"email": "a" * 250 + "@example.com"}, "Email address must be 254 characters or fewer"),
    ({"email": "not an email"}, "Enter an email address in the correct format, like name@example.com"),
    ({"email": "dana@"}, "Enter an email address in the correct format, like name@example.com"),
    ({"email": "dana\x00@example.com"}, "Enter an email address in the correct format, like name@example.com"),
    ({"email": "dana@example.com\r\nBcc: x@example.com"},
     "Enter an email address in the correct format, like name@example.com"),
    ({"role": "superuser"}, "Select a role"),
    ({"role": ""}, "Select a role"),
    ({"agency_id": "abc"}, "Select an agency"),
    ({"agency_id": "99999"}, "Select an agency"),
    ({"agency_id": ""}, "Select an agency"),
    ({"agency_id": "1 OR 1=1"}, "Select an agency"),
])
def test_add_user_refuses_bad_input_with_a_message(client, login_as, overrides, message):
    login_as("admin")
    agency = factories.create_agency()
    db.session.commit()
    response = post_form(client, "/admin/users/new", _user_form(agency, **overrides))
    assert response.status_code == 200
    assert error_summary(response) == [message]
    assert db.session.execute(sa.select(User).filter_by(email="dana.smith@example.com")).scalar_one_or_none() is None


def test_add_user_keeps_what_was_typed_and_shows_html_escaped(client, login_as):
    login_as("admin")
    agency = factories.create_agency()
    db.session.commit()
    hostile = "<script>alert('x')</script>"
    response = post_form(client, "/admin/users/new", _user_form(agency, name=hostile, email=hostile))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert" not in html
    soup = page(response)
    assert soup.select_one("input[name=name]")["value"] == hostile
    assert soup.select_one("input[name=email]")["value"] == hostile.lower()
    assert soup.select_one("input[name=role][value=spoc]").has_attr("checked")
    assert soup.select_one(f"select[name=agency_id] option[value='{agency.id}']").has_attr("selected")


def test_add_user_stores_sql_like_names_as_plain_text(client, login_as):
    login_as("admin")
    agency = factories.create_agency()
    db.session.commit()
    name = "Robert'); DROP TABLE users;--"
    response = post_form(client, "/admin/users/new", _user_form(agency, name=name))
    assert response.status_code == 200
    assert db.session.execute(sa.select(User.name).filter_by(email="dana.smith@example.com")).scalar_one() == name


def test_add_user_refuses_an_email_already_in_use_whatever_its_case(client, login_as):
    login_as("admin")
    agency = factories.create_agency()
    factories.create_user(email="dana.smith@example.com", active=False)
    db.session.commit()
    response = post_form(client, "/admin/users/new", _user_form(agency, email="DANA.SMITH@example.com"))
    assert error_summary(response) == ["A user with this email address already exists"]
    assert db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 2


def test_double_submitted_add_user_gives_a_message_not_an_error(client, login_as):
    login_as("admin")
    agency = factories.create_agency()
    db.session.commit()
    assert post_form(client, "/admin/users/new", _user_form(agency)).status_code == 200
    again = post_form(client, "/admin/users/new", _user_form(agency))
    assert again.status_code == 200
    assert error_summary(again) == ["A user with this email address already exists"]


def test_add_user_turns_a_unique_clash_at_commit_into_a_message(client, login_as, monkeypatch):
    """Two requests that both pass the check: the database's unique index has the last word."""
    login_as("admin")
    agency = factories.create_agency()
    factories.create_user(email="dana.smith@example.com")
    db.session.commit()
    monkeypatch.setattr(services, "email_in_use", lambda email: False)
    response = post_form(client, "/admin/users/new", _user_form(agency))
    assert response.status_code == 200
    assert error_summary(response) == ["A user with this email address already exists"]
    assert _audit(AuditAction.CREATE, "") == []


# ---- changing a user -----------------------------------------------------------------

def test_admin_changes_name_role_and_agency(client, login_as):
    admin = login_as("admin")
    target = factories.create_user(name="Old Name", role=Role.PRACTITIONER)
    new_agency = factories.create_agency(name="New Agency")
    db.session.commit()
    old_agency_id = target.agency_id
    response = post_form(client, f"/admin/users/{target.id}",
                         _edit_form(target, name="New Name", role="spoc", agency_id=str(new_agency.id)))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/users/{target.id}"
    db.session.refresh(target)
    assert (target.name, target.role, target.agency_id) == ("New Name", Role.SPOC, new_agency.id)
    (event,) = _audit(AuditAction.UPDATE, target.id)
    assert event.user_id == admin.id
    assert json.loads(event.summary) == {"name": ["Old Name", "New Name"], "role": ["practitioner", "spoc"],
                                         "agency_id": [old_agency_id, new_agency.id]}
    assert "details have been saved" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_saving_without_changes_writes_no_audit_row(client, login_as):
    login_as("admin")
    target = factories.create_user()
    db.session.commit()
    assert post_form(client, f"/admin/users/{target.id}", _edit_form(target)).status_code == 302
    assert _audit(AuditAction.UPDATE, target.id) == []


def test_edit_page_shows_the_current_details(client, login_as):
    login_as("admin")
    target = factories.create_user(name="Pat Example", role=Role.CHAIR)
    db.session.commit()
    soup = page(client.get(f"/admin/users/{target.id}"))
    assert soup.select_one("input[name=name]")["value"] == "Pat Example"
    assert soup.select_one("input[name=role][value=chair]").has_attr("checked")
    assert soup.select_one(f"select[name=agency_id] option[value='{target.agency_id}']").has_attr("selected")
    assert soup.select_one("input[name=status][value=active]").has_attr("checked")


def test_deactivating_a_user_ends_their_session(client, login_as, app):
    login_as("admin")
    target = factories.create_user()
    db.session.commit()
    theirs = app.test_client()
    _sign_in(theirs, target)
    assert theirs.get("/").status_code == 200
    old_token = target.session_token

    _switch()
    response = post_form(client, f"/admin/users/{target.id}", _edit_form(target, status="deactivated"))
    assert response.status_code == 302
    db.session.refresh(target)
    assert not target.active
    assert target.session_token != old_token
    _switch()
    assert theirs.get("/").headers["Location"].startswith("/login")
    _switch()
    (event,) = _audit(AuditAction.UPDATE, target.id)
    assert json.loads(event.summary) == {"active": [True, False]}

    response = post_form(client, f"/admin/users/{target.id}", _edit_form(target, status="active"))
    db.session.refresh(target)
    assert target.active


def test_admin_cannot_deactivate_themselves(client, login_as):
    admin = login_as("admin")
    response = post_form(client, f"/admin/users/{admin.id}", _edit_form(admin, status="deactivated"))
    assert response.status_code == 200
    assert error_summary(response) == ["You cannot deactivate your own account"]
    db.session.refresh(admin)
    assert admin.active


def test_admin_cannot_remove_their_own_admin_role(client, login_as):
    admin = login_as("admin")
    response = post_form(client, f"/admin/users/{admin.id}", _edit_form(admin, role="coordinator"))
    assert error_summary(response) == ["You cannot remove your own administrator role"]
    db.session.refresh(admin)
    assert admin.role == Role.ADMIN


def test_a_spoc_cannot_be_deactivated_moved_or_demoted_while_they_hold_the_post(client, login_as):
    login_as("admin")
    agency = factories.create_agency(name="Northshire Police")
    spoc = factories.create_user(name="Sam Spoc", role=Role.SPOC, agency=agency)
    agency.spoc = spoc
    elsewhere = factories.create_agency()
    db.session.commit()
    message = "Sam Spoc is the SPoC for Northshire Police. Choose someone else on the agency’s page before you "
    for overrides, doing in [({"status": "deactivated"}, "deactivate them"),
                             ({"agency_id": str(elsewhere.id)}, "move them to another agency"),
                             ({"role": "practitioner"}, "change their role")]:
        response = post_form(client, f"/admin/users/{spoc.id}", _edit_form(spoc, **overrides))
        assert error_summary(response) == [message + doing]
    db.session.refresh(spoc)
    assert (spoc.active, spoc.agency_id, spoc.role) == (True, agency.id, Role.SPOC)


@pytest.mark.parametrize("overrides, message", [
    ({"name": ""}, "Enter the user’s name"),
    ({"name": "y" * 121}, "Name must be 120 characters or fewer"),
    ({"role": "root"}, "Select a role"),
    ({"agency_id": "x"}, "Select an agency"),
    ({"status": "maybe"}, "Select whether the account is active"),
    ({"status": ""}, "Select whether the account is active"),
])
def test_edit_user_refuses_bad_input_with_a_message(client, login_as, overrides, message):
    login_as("admin")
    target = factories.create_user(name="Kept Name")
    db.session.commit()
    response = post_form(client, f"/admin/users/{target.id}", _edit_form(target, **overrides))
    assert response.status_code == 200
    assert error_summary(response) == [message]
    db.session.refresh(target)
    assert target.name == "Kept Name"


# ---- resetting a password and unlocking ------------------------------------------------

def test_reset_password_asks_first_then_shows_the_new_password_once(client, login_as, app):
    admin = login_as("admin")
    target = factories.create_user()
    db.session.commit()
    theirs = app.test_client()
    _sign_in(theirs, target)
    assert theirs.get("/").status_code == 200

    _switch()
    confirm = client.get(f"/admin/users/{target.id}/reset-password")
    assert confirm.status_code == 200
    assert page(confirm).select_one("form button").get_text(strip=True) == "Reset password"
    db.session.refresh(target)
    assert not target.must_change_password  # a GET changes nothing

    response = post_form(client, f"/admin/users/{target.id}/reset-password", {})
    assert response.status_code == 200
    password = _temporary_password(response)
    db.session.refresh(target)
    assert target.must_change_password
    assert verify_password(target.password_hash, password)
    _switch()
    assert theirs.get("/").headers["Location"].startswith("/login")  # their sessions have ended
    _switch()
    assert password not in client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    (event,) = _audit(AuditAction.UPDATE, target.id)
    assert event.user_id == admin.id
    assert password not in event.summary


def test_admin_is_sent_to_change_their_own_password_instead_of_resetting_it(client, login_as):
    admin = login_as("admin")
    response = post_form(client, f"/admin/users/{admin.id}/reset-password", {}, token_from="/account/password")
    assert response.headers["Location"] == "/account/password"
    db.session.refresh(admin)
    assert not admin.must_change_password


def test_unlock_clears_the_lock_and_returns_to_the_user_page(client, login_as):
    admin = login_as("admin")
    target = factories.create_user(locked_until=utcnow() + timedelta(minutes=10), failed_logins=2)
    db.session.commit()
    user_page = page(client.get(f"/admin/users/{target.id}"))
    assert user_page.select_one(f"form[action='/admin/users/{target.id}/unlock']") is not None
    response = post_form(client, f"/admin/users/{target.id}/unlock", {}, token_from=f"/admin/users/{target.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/users/{target.id}"
    db.session.refresh(target)
    assert target.locked_until is None and target.failed_logins == 0
    (event,) = _audit(AuditAction.UPDATE, target.id)
    assert event.user_id == admin.id and json.loads(event.summary) == {"unlocked": True}
    assert "has been unlocked" in client.get(f"/admin/users/{target.id}").get_data(as_text=True)


def test_unlocking_an_account_that_is_not_locked_changes_nothing(client, login_as):
    login_as("admin")
    target = factories.create_user()
    db.session.commit()
    response = post_form(client, f"/admin/users/{target.id}/unlock", {}, token_from=f"/admin/users/{target.id}")
    assert response.status_code == 302
    assert _audit(AuditAction.UPDATE, target.id) == []


def test_unlock_without_a_csrf_token_is_refused(client, login_as):
    login_as("admin")
    target = factories.create_user(locked_until=utcnow() + timedelta(minutes=10))
    db.session.commit()
    assert client.post(f"/admin/users/{target.id}/unlock").status_code == 400
    db.session.refresh(target)
    assert target.locked_until is not None


def test_a_long_user_list_comes_a_hundred_a_page_with_the_filters_kept(client, login_as, count_queries):
    """1,500 users are not one page: GOV.UK pagination, a hundred a page, the filters carried."""
    from panel.admin.services import USERS_PAGE

    admin = login_as("admin")
    agency = factories.create_agency(code="big", name="Big Agency")
    for n in range(USERS_PAGE + 20):
        factories.create_user(role=Role.SPOC, agency=agency, name=f"Person {n:03d}")
    db.session.commit()

    first = page(client.get(f"/admin/users?agency={agency.id}&role=spoc"))
    with count_queries() as counter:
        second = page(client.get(f"/admin/users?agency={agency.id}&role=spoc&page=2"))

    assert len(first.select("#users tbody tr")) == USERS_PAGE
    assert len(second.select("#users tbody tr")) == 20
    caption = second.select_one("#users caption").get_text(" ", strip=True)
    assert caption == f"{USERS_PAGE + 20} users matching the filters ({USERS_PAGE + 1} to {USERS_PAGE + 20} shown)"
    previous = second.select_one(".govuk-pagination__prev a")["href"]
    assert f"agency={agency.id}" in previous and "role=spoc" in previous
    assert admin.email not in second.select_one("#users").get_text()  # the admin is not one of the agency's SPoCs
    assert counter.count < 20
