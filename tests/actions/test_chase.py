""""Chase now" (issue 17): the coordinator chases one overdue action, or all of an agency's, in
one post; one link-only email per SPoC listing the actions by reference; not twice for a double
submission; only overdue open actions; only the coordinator."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from panel.actions import services
from panel.extensions import db as _db
from panel.forms.errors import ServiceError
from panel.models import ActionStatus, OutboxMessage
from tests.actions import pages_world
from tests.actions.pages_world import add_actions
from tests.conftest import page, post_form


@pytest.fixture
def world(db):
    w = pages_world.build()
    db.session.commit()
    return w


def _outbox() -> list[OutboxMessage]:
    _db.session.rollback()
    return list(_db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def _banner(response) -> str:
    box = page(response).select_one(".govuk-notification-banner")
    return box.get_text(" ", strip=True) if box else ""


def test_chasing_emails_each_agencys_spoc_once_listing_the_actions_by_reference(world):
    a_late = add_actions(world, 2, overdue=True)
    b_late = add_actions(world, 1, overdue=True, agency=world.agencies["b"])
    not_due = add_actions(world, 1)

    emails, chased = services.chase([*a_late, *b_late, *not_due, world.action], by=world.user("coordinator"))

    assert (emails, chased) == (2, 3)
    messages = {m.to_addr: m for m in _db.session.scalars(sa.select(OutboxMessage))}
    assert set(messages) == {"spoc.a@test.invalid", "spoc.b@test.invalid"}
    body = messages["spoc.a@test.invalid"].body_text
    assert re.findall(r"https?://\S+", body) == [f"http://localhost/actions/{a.id}" for a in a_late]
    for secret in ("Action number", "Zebedee", "Quaintly", world.case.reference, "Agency A"):
        assert secret not in body and secret not in messages["spoc.a@test.invalid"].subject, secret


def test_chasing_again_at_once_sends_nothing_more(world):
    late = add_actions(world, 2, overdue=True)
    services.chase(late, by=world.user("coordinator"))

    assert services.chase(late, by=world.user("coordinator")) == (0, 0)
    assert len(list(_db.session.scalars(sa.select(OutboxMessage)))) == 1


def test_only_overdue_open_actions_are_chased_and_only_by_the_coordinator(world):
    (late,) = add_actions(world, 1, overdue=True)
    with pytest.raises(ServiceError, match="Only the coordinator"):
        services.chase([late], by=world.user("chair"))
    late.status = ActionStatus.DONE
    with pytest.raises(ServiceError, match="no overdue actions"):
        services.chase([late, world.action], by=world.user("coordinator"))


def test_the_coordinator_chases_one_action_from_its_page(client, login_as, world):
    late, other = add_actions(world, 2, overdue=True)
    _db.session.commit()
    login_as(world.user("coordinator"))
    url = f"/actions/{late.id}"
    forms = [f["action"] for f in page(client.get(url)).select("main form")]
    assert forms == [f"/actions/{late.id}/chase", f"/actions/chase/agency/{world.agencies['a'].id}"]

    response = post_form(client, f"{url}/chase", {}, token_from=url, follow_redirects=True)

    assert "1 overdue action chased: 1 email sent to the SPoC." in _banner(response)
    (email,) = _outbox()
    assert email.to_addr == "spoc.a@test.invalid"
    assert f"/actions/{late.id}" in email.body_text and f"/actions/{other.id}" not in email.body_text
    again = post_form(client, f"{url}/chase", {}, token_from=url, follow_redirects=True)
    assert "chased a few minutes ago" in _banner(again)
    assert len(_outbox()) == 1


def test_the_coordinator_chases_all_of_an_agencys_overdue_actions_in_one_post(client, login_as, world):
    late = add_actions(world, 3, overdue=True)
    add_actions(world, 1, overdue=True, agency=world.agencies["b"])
    _db.session.commit()
    login_as(world.user("coordinator"))
    url = f"/actions/{late[0].id}"

    response = post_form(client, f"/actions/chase/agency/{world.agencies['a'].id}", {"back": url},
                         token_from=url)

    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    (email,) = _outbox()
    assert email.to_addr == "spoc.a@test.invalid"
    assert sorted(re.findall(r"/actions/(\d+)", email.body_text)) == sorted(str(a.id) for a in late)


def test_the_coordinator_chases_every_overdue_action_the_log_shows_in_one_post(client, login_as, world):
    late_a = add_actions(world, 2, overdue=True)
    late_b = add_actions(world, 1, overdue=True, agency=world.agencies["b"])
    add_actions(world, 1)  # not due: not chased
    _db.session.commit()
    login_as(world.user("coordinator"))
    log = "/actions?overdue=y"
    button = page(client.get(log)).select_one("#chase-overdue")
    assert button.get_text(strip=True) == "Chase these 3 overdue actions now"
    assert page(client.get("/actions")).select_one("#chase-overdue") is None  # only with the overdue filter

    response = post_form(client, "/actions/chase/overdue?overdue=y", {}, token_from=log, follow_redirects=True)

    assert "3 overdue actions chased: 2 emails sent to the SPoCs." in _banner(response)
    emails = {m.to_addr: m.body_text for m in _outbox()}
    assert sorted(re.findall(r"/actions/(\d+)", emails["spoc.a@test.invalid"])) == sorted(str(a.id) for a in late_a)
    assert re.findall(r"/actions/(\d+)", emails["spoc.b@test.invalid"]) == [str(late_b[0].id)]


def test_chasing_the_log_keeps_its_agency_filter(client, login_as, world):
    add_actions(world, 1, overdue=True)
    (late_b,) = add_actions(world, 1, overdue=True, agency=world.agencies["b"])
    _db.session.commit()
    login_as(world.user("coordinator"))
    agency = world.agencies["b"].id

    response = post_form(client, f"/actions/chase/overdue?agency={agency}", {}, token_from="/account/password")

    assert response.status_code == 302
    assert f"agency={agency}" in response.headers["Location"] and "overdue=y" in response.headers["Location"]
    (email,) = _outbox()
    assert email.to_addr == "spoc.b@test.invalid" and f"/actions/{late_b.id}" in email.body_text


def test_a_bad_back_address_is_not_followed(client, login_as, world):
    add_actions(world, 1, overdue=True)
    _db.session.commit()
    login_as(world.user("coordinator"))

    response = post_form(client, f"/actions/chase/agency/{world.agencies['a'].id}",
                         {"back": "https://evil.example/actions/"}, token_from="/account/password")

    assert response.headers["Location"].endswith("/actions")


def test_nothing_overdue_is_said_not_a_500(client, login_as, world):
    login_as(world.user("coordinator"))

    response = post_form(client, f"/actions/{world.action.id}/chase", {}, token_from="/account/password",
                         follow_redirects=True)

    assert response.status_code == 200 and "There are no overdue actions to chase" in _banner(response)
    assert _outbox() == []


@pytest.mark.parametrize("who", ["chair", "spoc", "assignee", "board", "admin"])
def test_only_the_coordinator_chases(client, login_as, world, who):
    (late,) = add_actions(world, 1, overdue=True)
    _db.session.commit()
    login_as(world.user(who))

    for url in (f"/actions/{late.id}/chase", f"/actions/chase/agency/{world.agencies['a'].id}",
                "/actions/chase/overdue?overdue=y"):
        assert post_form(client, url, {}, token_from="/account/password").status_code == 404, url
    assert _outbox() == []
