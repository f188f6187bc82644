"""The admin dashboard: ISAs due soon or lapsed, locked accounts, and failed emails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from panel.extensions import db
from panel.models import OutboxMessage, OutboxStatus, utcnow
from tests import factories
from tests.conftest import page, post_form


def _names(soup, table_id: str) -> list[str]:
    table = soup.select_one(f"table[aria-labelledby={table_id}]")
    return [] if table is None else [r.select_one("td").get_text(strip=True) for r in table.select("tbody tr")]


def test_dashboard_renders_for_an_admin(client, login_as):
    login_as("admin")
    response = client.get("/admin/")
    assert response.status_code == 200
    assert page(response).h1.get_text(strip=True) == "Administration"


def test_dashboard_is_404_for_a_coordinator(client, login_as):
    login_as("coordinator")
    assert client.get("/admin/").status_code == 404


def test_dashboard_sends_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_dashboard_lists_agencies_due_soon_and_those_that_cannot_open_case_records(client, login_as):
    login_as("admin")
    factories.create_agency(name="Fine Agency", isa="current")
    factories.create_agency(name="Soon Agency", isa="due_soon")
    factories.create_agency(name="Lapsed Agency", isa="lapsed")
    factories.create_agency(name="Unsigned Agency", isa="unsigned")
    edge = factories.create_agency(name="Edge Agency", isa="current")
    edge.isa_review_due = edge.isa_signed_on + timedelta(days=100 + 30)  # exactly 30 days from today
    db.session.commit()
    soup = page(client.get("/admin/"))
    assert _names(soup, "due-soon") == ["Soon Agency", "Edge Agency"]
    assert _names(soup, "blocked") == ["Unsigned Agency", "Lapsed Agency"]
    blocked = {r.select("td")[0].get_text(strip=True): r.select("td")[1].get_text(strip=True)
               for r in soup.select("table[aria-labelledby=blocked] tbody tr")}
    assert blocked == {"Unsigned Agency": "Not signed", "Lapsed Agency": "Past review"}


@pytest.mark.parametrize("app_config", [{"ISA_DUE_SOON_DAYS": 5}])
def test_due_soon_follows_the_setting(client, login_as, app_config):
    login_as("admin")
    factories.create_agency(name="Soon Agency", isa="due_soon")  # review in 10 days
    db.session.commit()
    soup = page(client.get("/admin/"))
    assert _names(soup, "due-soon") == []
    assert "No reviews are due in the next 5 days." in soup.get_text()


def test_dashboard_says_when_all_is_well(client, login_as):
    login_as("admin")
    text = page(client.get("/admin/")).get_text(" ", strip=True)
    assert "Every agency has a current information sharing agreement." in text
    assert "No accounts are locked." in text
    assert "No emails have failed." in text


def test_dashboard_lists_locked_accounts_with_an_unlock_button(client, login_as):
    login_as("admin")
    now = utcnow()
    locked = factories.create_user(name="Locked Person", locked_until=now + timedelta(minutes=10))
    factories.create_user(name="Lock Expired", locked_until=now - timedelta(minutes=1))
    factories.create_user(name="Never Locked")
    db.session.commit()
    soup = page(client.get("/admin/"))
    assert _names(soup, "locked") == ["Locked Person"]
    form = soup.select_one("table[aria-labelledby=locked] form")
    assert form["action"] == f"/admin/users/{locked.id}/unlock"
    assert form.select_one("input[name=csrf_token]") is not None

    response = post_form(client, form["action"], {}, token_from="/admin/")
    assert response.headers["Location"] == f"/admin/users/{locked.id}"
    db.session.refresh(locked)
    assert locked.locked_until is None
    assert _names(page(client.get("/admin/")), "locked") == []


def test_dashboard_counts_failed_emails_and_links_to_the_outbox(client, login_as):
    login_as("admin")
    for status in (OutboxStatus.FAILED, OutboxStatus.FAILED, OutboxStatus.SENT, OutboxStatus.PENDING):
        db.session.add(OutboxMessage(to_addr="x@example.com", subject="s", body_text="b", status=status))
    db.session.commit()
    para = page(client.get("/admin/")).select_one("#failed-emails")
    assert "2 emails could not be sent" in para.get_text(" ", strip=True)
    assert para.select_one("a")["href"] == "/admin/outbox"


def test_dashboard_query_count_does_not_grow_with_locked_users(client, login_as, count_queries):
    login_as("admin")
    factories.create_user(locked_until=utcnow() + timedelta(minutes=10))
    db.session.commit()
    with count_queries() as few:
        client.get("/admin/")
    for _ in range(10):
        factories.create_user(locked_until=utcnow() + timedelta(minutes=10))
    db.session.commit()
    with count_queries() as many:
        client.get("/admin/")
    assert many.count == few.count


def _trail(soup) -> dict[str, str]:
    rows = soup.select("#trail-status .govuk-summary-list__row")
    return {r.select_one("dt").get_text(strip=True): r.select_one("dd").get_text(" ", strip=True) for r in rows}


def test_the_audit_trail_section_counts_entries_seals_and_the_last_anchor(app, client, login_as, tmp_path):
    from panel.admin.jobs import write_anchor
    from panel.models import AuditEvent

    app.config["AUDIT_ANCHOR_PATH"] = str(tmp_path / "anchors.jsonl")
    login_as("admin")
    soup = page(client.get("/admin/"))
    shown = _trail(soup)
    assert shown["Last anchored"] == "Never"
    assert "has not been anchored for two days" in soup.get_text(" ")

    write_anchor()
    soup = page(client.get("/admin/"))
    entries = db.session.query(AuditEvent).count()
    shown = _trail(soup)
    assert shown["Entries"] == f"{entries:,}"
    assert shown["Sealed with the audit key"] == "Every entry"
    assert shown["Last anchored"].endswith("entries") and "Never" not in shown["Last anchored"]
    assert "has not been anchored for two days" not in soup.get_text(" ")

    app.config["AUDIT_KEY"] = ""
    assert _trail(page(client.get("/admin/")))["Sealed with the audit key"].startswith("No: AUDIT_KEY is not set")


def test_the_dashboard_runs_a_fixed_number_of_queries(app, client, login_as, count_queries):
    login_as("admin")
    client.get("/admin/")
    with count_queries() as few:
        client.get("/admin/")
    for _ in range(30):
        factories.create_user(role="practitioner")
    db.session.commit()
    with count_queries() as many:
        client.get("/admin/")
    assert few.count == many.count > 0


def test_unsealed_entries_are_counted_from_their_own_index(app, db, tmp_path):
    """A trail of millions sealed entries: the few without a seal are counted from the partial
    index ix_audit_events_unsealed (migration 0020), not by reading the trail."""
    import sqlalchemy as sa

    from panel import audit
    from panel.admin.services import trail_status
    from panel.models import AuditAction, AuditEvent

    audit.record(AuditAction.UPDATE, "user", 1, summary={"n": 1})
    app.config["AUDIT_KEY"] = ""
    audit.record(AuditAction.UPDATE, "user", 2, summary={"n": 2})
    db.session.commit()

    status = trail_status(key_set=False, anchor_path=str(tmp_path / "none.jsonl"))

    assert status.entries == db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    assert status.unsealed == db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.seal.is_(None))) >= 1
    if db.engine.dialect.name == "sqlite":
        statement = sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.seal.is_(None))
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(r[-1] for r in db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
        assert "ix_audit_events_unsealed" in plan, plan


def _entries() -> int:
    import sqlalchemy as sa

    from panel.models import AuditEvent

    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def _append(path, line: dict) -> None:
    import json

    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def test_the_entries_are_counted_from_the_last_anchor_when_the_trail_still_ends_there(app, tmp_path):
    """Ten years of trail is millions of entries: those up to the last anchor are its count (the
    entry it ends at is checked to be there with its hash), and only those since are counted. A
    forged anchor with the right entry and hash but a wrong count shows the count is the anchor's,
    so the trail before it was not read."""
    from panel import audit
    from panel.admin.jobs import write_anchor
    from panel.admin.services import trail_status
    from panel.models import AuditAction

    path = tmp_path / "anchors.jsonl"
    app.config["AUDIT_ANCHOR_PATH"] = str(path)
    for n in range(6):
        audit.record(AuditAction.UPDATE, "user", n, summary={"n": n})
        if n == 2:
            db.session.commit()
            write_anchor()  # three entries anchored, three after
    db.session.commit()

    assert trail_status(key_set=True, anchor_path=str(path)).entries == _entries()
    head = audit.read_anchors(path)[0][-1]

    _append(path, {**head, "count": head["count"] + 1000, "at": utcnow().isoformat()})
    assert trail_status(key_set=True, anchor_path=str(path)).entries == _entries() + 1000


@pytest.mark.parametrize("wrong", [{"hash": "0" * 64}, {"last_id": 10**9}, {"last_id": 0}])
def test_an_anchor_the_trail_does_not_match_means_every_entry_is_counted(app, tmp_path, wrong):
    """Another database's anchor, a restored backup (the anchored entry gone), or nonsense: the
    count reads the trail."""
    from panel import audit
    from panel.admin.jobs import write_anchor
    from panel.admin.services import trail_status
    from panel.models import AuditAction

    path = tmp_path / "anchors.jsonl"
    app.config["AUDIT_ANCHOR_PATH"] = str(path)
    for n in range(3):
        audit.record(AuditAction.UPDATE, "user", n, summary={"n": n})
    db.session.commit()
    write_anchor()
    head = audit.read_anchors(path)[0][-1]
    _append(path, {**head, "count": 5000, **wrong})

    assert trail_status(key_set=True, anchor_path=str(path)).entries == _entries()


def test_the_anchor_file_is_read_again_only_when_it_changes(app, tmp_path, monkeypatch):
    """A line a day for ten years: the admin home parses the file once, and again after the job
    appends to it."""
    from panel import audit
    from panel.admin import services
    from panel.admin.jobs import write_anchor
    from panel.models import AuditAction

    path = tmp_path / "anchors.jsonl"
    app.config["AUDIT_ANCHOR_PATH"] = str(path)
    write_anchor()
    reads = []
    real = audit.read_anchors
    monkeypatch.setattr(audit, "read_anchors", lambda p: reads.append(str(p)) or real(p))

    first = [services.trail_status(key_set=True, anchor_path=str(path)) for _ in range(3)]
    audit.record(AuditAction.UPDATE, "user", 1, summary={"n": 1})
    db.session.commit()
    write_anchor()  # reads the file itself, then appends
    after = services.trail_status(key_set=True, anchor_path=str(path))

    assert reads == [str(path), str(path), str(path)]  # the page once, the job once, the page once
    assert [s.last_anchor_count for s in first] == [first[0].last_anchor_count] * 3
    assert after.last_anchor_count == _entries() and after.entries == _entries()
    assert services.trail_status(key_set=True, anchor_path=str(tmp_path / "none.jsonl")).last_anchor_at is None
