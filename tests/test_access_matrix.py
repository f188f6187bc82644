"""Every route is in the access table, and every role gets what the table says on every route.

The matrix is generated from app.url_map and panel.auth.policy.ACCESS when the tests are
collected, so a new route is covered (and must be listed in ACCESS) without touching this file.

A refused signed-in user gets 404, the same as for a record that does not exist; what tells
them apart is the AuditAction.DENIED entry the guard writes for a refusal, so the matrix
checks for it. Routes with a record in the URL get a real record where the argument name is
known (user_id, agency_id, ...), so allowed roles must not get 404 there either.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter, PathConverter, UUIDConverter

from panel.auth.policy import ACCESS, PUBLIC, SIGNED_IN
from panel.models import AuditAction, AuditEvent, OutboxMessage, Role

from tests import factories
from tests.conftest import _make_app

_URL_MAP_APP = _make_app("sqlite://", Path(tempfile.mkdtemp(prefix="panel-url-map-")))
RULES = sorted(_URL_MAP_APP.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule))
WHO = [None, *Role]


def _outbox_message() -> int:
    from panel.extensions import db

    message = OutboxMessage(to_addr="someone@test.invalid", subject="Subject", body_text="Body")
    db.session.add(message)
    db.session.flush()
    return message.id


def _panel() -> int:
    """An upcoming monthly panel (the meeting pages are for panels)."""
    from datetime import timedelta

    from panel.extensions import db
    from panel.models import Meeting, MeetingKind, utcnow

    starts = utcnow() + timedelta(days=30)
    meeting = Meeting(kind=MeetingKind.PANEL, starts_at=starts, ends_at=starts + timedelta(hours=2, minutes=30),
                      cutoff_on=starts.date() - timedelta(days=7))
    db.session.add(meeting)
    db.session.flush()
    return meeting.id


def _agenda_item() -> int:
    """An item on the agenda of the meeting just built for the same URL (meeting_id comes first)."""
    from panel.extensions import db
    from panel.models import AgendaItem, AgendaItemKind, Meeting

    meeting_id = db.session.execute(sa.select(sa.func.max(Meeting.id))).scalar_one()
    item = AgendaItem(meeting_id=meeting_id, kind=AgendaItemKind.OTHER, title="An item", position=1, minutes=10)
    db.session.add(item)
    db.session.flush()
    return item.id


def _calendar_feed_token() -> str:
    from panel.meetings import feed as calendar_feed

    return calendar_feed.switch_on(factories.create_user())


def _panel_i_am_invited_to() -> int:
    """For the invitation download (record-level: people on the list): a panel the signed-in
    user, the newest user in the test's database, is invited to."""
    from panel.extensions import db
    from panel.models import MeetingAttendee, User

    meeting_id = _panel()
    user = db.session.scalar(sa.select(User).order_by(User.id.desc()).limit(1))
    if user is not None:
        db.session.add(MeetingAttendee(meeting_id=meeting_id, user_id=user.id, name=user.name, email=user.email))
        db.session.flush()
    return meeting_id


def _meeting_for_the_signed_in_user() -> int:
    """For the meeting page (/meetings/<id>, the stable address in every invitation): a panel,
    except for a practitioner, who reaches only case MDTs there: an MDT of a case their agency leads."""
    from datetime import timedelta

    from panel.extensions import db
    from panel.models import Meeting, MeetingKind, Role, User, utcnow
    from tests.cases.helpers import create_case

    user = db.session.scalar(sa.select(User).order_by(User.id.desc()).limit(1))
    if user is None or user.role != Role.PRACTITIONER:
        return _panel()
    case = create_case(lead=user.agency)
    starts = utcnow() + timedelta(days=3)
    meeting = Meeting(kind=MeetingKind.MDT, case_id=case.id, starts_at=starts, ends_at=starts + timedelta(hours=1))
    db.session.add(meeting)
    db.session.flush()
    return meeting.id


def _subject_access_request() -> int:
    """A subject-access request for the person just built for the same URL (person_id comes first)."""
    from datetime import date

    from panel.extensions import db
    from panel.models import Person, SubjectAccessRequest

    person_id = db.session.execute(sa.select(sa.func.max(Person.id))).scalar_one()
    request = SubjectAccessRequest(person_id=person_id, received_on=date(2027, 1, 14), due_on=date(2027, 2, 15))
    db.session.add(request)
    db.session.flush()
    return request.id


def _reply_link_token() -> str:
    """An invitation's reply link for someone without an account, invited to an upcoming panel."""
    from panel.extensions import db
    from panel.meetings import replies
    from panel.models import MeetingAttendee

    attendee = MeetingAttendee(meeting_id=_panel(), name="A GP", email="gp@surgery.invalid")
    db.session.add(attendee)
    db.session.flush()
    return replies.issue_link(attendee)


# URL arguments we can point at a real record. Others get a dummy value; the DENIED entry
# still shows whether the refusal came from the access table.
RECORD_BUILDERS = {
    "user_id": lambda: factories.create_user().id,
    "agency_id": lambda: factories.create_agency().id,
    "message_id": _outbox_message,
    "outbox_id": _outbox_message,
    "filename": lambda: "favicon.svg",
    "token": _calendar_feed_token,
    "meeting_id": _panel,
    "item_id": _agenda_item,
    "person_id": lambda: factories.create_referral().person_id,  # a person with a record (subject access)
    "request_id": _subject_access_request,
    "reply_token": _reply_link_token,
}
# The same, for one endpoint's argument where the record must also involve the signed-in user.
ENDPOINT_RECORD_BUILDERS = {
    ("meetings.invite_ics", "meeting_id"): _panel_i_am_invited_to,
    ("meetings.reply_to_invitation", "meeting_id"): _panel_i_am_invited_to,
    ("meetings.view_meeting", "meeting_id"): _meeting_for_the_signed_in_user,
}


def _url_for_rule(rule) -> tuple[str, bool]:
    """A URL for the rule and whether every argument points at a real record."""
    values, all_real = {}, True
    for name, converter in rule._converters.items():
        if (rule.endpoint, name) in ENDPOINT_RECORD_BUILDERS:
            values[name] = ENDPOINT_RECORD_BUILDERS[rule.endpoint, name]()
        elif name in RECORD_BUILDERS:
            values[name] = RECORD_BUILDERS[name]()
        elif isinstance(converter, IntegerConverter):
            values[name], all_real = 1, False
        elif isinstance(converter, UUIDConverter):
            values[name], all_real = uuid.uuid4(), False
        elif isinstance(converter, PathConverter):
            values[name], all_real = "x/y", False
        else:
            values[name], all_real = "x", False
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"could not build a URL for {rule.rule}"
    return built[1], all_real


def _method(rule) -> str:
    return "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]


def _sent_to_sign_in(response) -> bool:
    """The guard's answer to an anonymous request: a redirect to /login?next=..."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return False
    location = urlsplit(response.headers["Location"])
    return location.path == "/login" and "next" in parse_qs(location.query)


def _denials(db, endpoint: str) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == AuditAction.DENIED, AuditEvent.object_id == endpoint)
    ).scalar_one()


def _allowed(rule_access, role: Role) -> bool:
    return rule_access in (PUBLIC, SIGNED_IN) or role in rule_access


def test_every_route_is_in_the_access_table(app):
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(ACCESS))
    assert missing == [], f"add these endpoints to panel.auth.policy.ACCESS: {missing}"


def test_the_matrix_sees_the_same_routes_as_the_app(app):
    assert {(r.endpoint, r.rule) for r in app.url_map.iter_rules()} == {(r.endpoint, r.rule) for r in RULES}


def test_access_table_values_are_markers_or_role_sets():
    for endpoint, rule_access in ACCESS.items():
        assert rule_access in (PUBLIC, SIGNED_IN) or (
            isinstance(rule_access, frozenset) and rule_access and rule_access <= set(Role)
        ), endpoint


@pytest.fixture
def app_config():
    # The matrix is about the access table: a missing CSRF token must not answer first.
    return {"WTF_CSRF_ENABLED": False}


@pytest.mark.parametrize("who", WHO, ids=lambda w: "anonymous" if w is None else str(w))
@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.endpoint}:{r.rule}")
def test_access_matrix(app, db, client, login_as, rule, who):
    rule_access = ACCESS.get(rule.endpoint)
    assert rule_access is not None, f"{rule.endpoint} is missing from ACCESS"
    if who is not None:
        login_as(who)
    url, real_records = _url_for_rule(rule)
    db.session.commit()

    response = client.open(url, method=_method(rule))
    response.close()  # static files are sent from an open file

    assert response.status_code != 500, f"{rule.endpoint} failed for {who}"
    if who is None:
        if rule_access is PUBLIC:
            assert not _sent_to_sign_in(response), f"{rule.endpoint} is public"
        else:
            assert _sent_to_sign_in(response), f"{rule.endpoint} must send anonymous visitors to sign in"
        assert _denials(db, rule.endpoint) == 0
    elif _allowed(rule_access, who):
        assert not _sent_to_sign_in(response)
        assert _denials(db, rule.endpoint) == 0, f"{who} must be allowed {rule.endpoint}"
        if real_records:
            assert response.status_code != 404, f"{who} must be allowed {rule.endpoint}"
    else:
        assert response.status_code == 404, f"{who} must get 404 from {rule.endpoint}"
        assert _denials(db, rule.endpoint) == 1


def test_a_refused_request_is_audited(client, db, login_as):
    user = login_as("practitioner")

    response = client.get("/admin/audit?user=x")

    assert response.status_code == 404
    db.session.rollback()
    denied = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.DENIED)).scalar_one()
    assert denied.user_id == user.id
    assert denied.user_email == user.email
    assert denied.object_type == "endpoint"
    assert denied.object_id == "admin.audit_log"
    assert '"path": "/admin/audit"' in denied.summary
    assert denied.ip == "127.0.0.1"


def test_a_refusal_looks_like_a_missing_page(client, login_as):
    login_as("board")

    refused = client.get("/admin/audit")
    missing = client.get("/no-such-page")

    assert refused.status_code == missing.status_code == 404
    assert refused.get_data() == missing.get_data()


def test_anonymous_requests_are_not_audited_as_refusals(client, db):
    response = client.get("/admin/audit")

    assert _sent_to_sign_in(response)
    assert _denials(db, "admin.audit_log") == 0
