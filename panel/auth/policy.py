"""Who may do what. The access table lists every endpoint; record-level rules are pure functions.

A before_request hook (panel.auth.guard) looks up each request's endpoint here. An endpoint
missing from ACCESS answers 404 and the test suite fails, so no page can be added unguarded.
Signed-in users whose role is not allowed get 404 too, so existence does not leak.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from panel.models import Action, Agency, Referral, Role, User


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


PUBLIC: Final = _Marker("PUBLIC")          # anyone, signed in or not
SIGNED_IN: Final = _Marker("SIGNED_IN")    # any signed-in user, whatever the role
ADMIN = frozenset({Role.ADMIN})
ALL_ROLES = frozenset(Role)
OPERATIONS = frozenset({Role.COORDINATOR, Role.CHAIR})
COORDINATOR = frozenset({Role.COORDINATOR})
REFERRERS = frozenset({Role.COORDINATOR, Role.CHAIR, Role.SPOC, Role.PRACTITIONER})
MEETINGS = frozenset({Role.COORDINATOR, Role.CHAIR, Role.SPOC})  # panels: operations and the SPoCs
BOARD_REPORTS = frozenset({Role.BOARD, Role.CHAIR, Role.COORDINATOR})  # aggregate figures, small counts suppressed

ACCESS: dict[str, object] = {
    "static": PUBLIC,
    "main.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.login_mfa": PUBLIC,       # needs the half-finished sign-in held in the session
    "auth.logout": PUBLIC,
    "main.dashboard": SIGNED_IN,
    "auth.view_account": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.setup_mfa": SIGNED_IN,
    "auth.disable_mfa": SIGNED_IN,
    "auth.switch_on_calendar_feed": SIGNED_IN,
    "auth.revoke_calendar_feed": SIGNED_IN,
    # the timeout warning (static/js/session.mjs): how long is left (answers signed out too, and
    # is not activity), and "Stay signed in" (POST, CSRF-protected)
    "auth.session_status": PUBLIC,
    "auth.stay_signed_in": SIGNED_IN,
    # help, who the coordinator is, the accessibility statement: readable signed out
    "main.help": PUBLIC,
    # a private calendar feed: the token in its address is the credential (panel.meetings.feed)
    "calendar.feed": PUBLIC,
    # calendar invitations: invitations.can_see, or the attendee's own reply, follows in the views
    "meetings.invite_ics": REFERRERS,
    "meetings.send_panel_invitations": COORDINATOR,
    "meetings.record_response": REFERRERS,
    # an invitation's "I can attend" / "I cannot attend": anyone signed in who is on the meeting's
    # list (checked in the view); for people without an account, the reply link's token is the
    # credential, like the calendar feed (panel.meetings.replies)
    "meetings.reply_to_invitation": SIGNED_IN,
    "meetings.reply_by_link": PUBLIC,
    "admin.dashboard": ADMIN,
    "admin.list_users": ADMIN,
    "admin.add_user": ADMIN,
    "admin.edit_user": ADMIN,
    "admin.reset_password": ADMIN,
    "admin.unlock_user": ADMIN,
    "admin.audit_log": ADMIN,
    "admin.export_audit": ADMIN,
    "admin.outbox": ADMIN,
    "admin.retry_message": ADMIN,
    "agencies.list_agencies": ADMIN,
    "agencies.add_agency": ADMIN,
    "agencies.edit_agency": ADMIN,
    "agencies.isa_register": ADMIN,
    # SPoC absence (panel.agencies.absence): the coordinator (or an admin) for any SPoC at /agencies;
    # a SPoC their own on their account page (the view checks they are their agency's SPoC)
    "absences.spoc_cover": frozenset({Role.COORDINATOR, Role.ADMIN}),
    "absences.record_absence": frozenset({Role.COORDINATOR, Role.ADMIN}),
    "absences.end_absence": frozenset({Role.COORDINATOR, Role.ADMIN}),
    "auth.record_own_absence": frozenset({Role.SPOC}),
    "auth.end_own_absence": frozenset({Role.SPOC}),
    # monthly panels: the schedule, the agenda and the printed pack (panel.meetings.views.agenda_views);
    # SPoCs see the agenda restricted to need to know; the printed pack is the chair's (OPERATIONS)
    "meetings.list_meetings": MEETINGS,
    "meetings.create_panels": COORDINATOR,
    "meetings.view_meeting": REFERRERS,  # a panel is MEETINGS only (in the view); an MDT, need to know
    "meetings.print_agenda": OPERATIONS,
    "meetings.agenda_pdf": OPERATIONS,
    "meetings.agency_agenda": frozenset({Role.SPOC}),  # a SPoC's agenda to print, need to know as the meeting page
    "meetings.move_item": COORDINATOR,
    "meetings.add_item": COORDINATOR,
    "meetings.time_box": COORDINATOR,
    "meetings.time_boxes": COORDINATOR,  # every item's time box on one form
    "meetings.publish_agenda": COORDINATOR,
    "meetings.update_agenda": COORDINATOR,
    "meetings.move_panel": COORDINATOR,
    "meetings.panel_place": COORDINATOR,
    "meetings.cancel_panel": COORDINATOR,
    # attendance and minutes (panel.meetings.views.minutes_views): a SPoC sends their own agency's
    # apologies and reads finalised minutes, restricted to need to know; record-level checks follow
    "meetings.attendance": MEETINGS,
    "meetings.record_attendance": COORDINATOR,
    "meetings.save_attendance": COORDINATOR,  # every expected agency's attendance, one post
    "meetings.send_apologies": frozenset({Role.SPOC}),
    "meetings.attendance_history": OPERATIONS,
    "meetings.minutes": MEETINGS,
    "meetings.minutes_item": OPERATIONS,
    "meetings.run_panel": OPERATIONS,  # run mode: one page per item, saved by one post
    "meetings.run_item": OPERATIONS,
    "meetings.add_minutes_action": COORDINATOR,
    "meetings.last_actions": COORDINATOR,
    "meetings.finalise_minutes": frozenset({Role.CHAIR}),
    "meetings.amend_minutes": OPERATIONS,
    "meetings.minutes_pdf": OPERATIONS,
    # referrals: record-level checks (can_view_referral, can_edit_referral) follow in the views
    "referrals.list_referrals": REFERRERS,
    "referrals.list_drafts": REFERRERS,
    "referrals.add_referral": REFERRERS,
    "referrals.edit_section": REFERRERS,
    "referrals.check_answers": REFERRERS,
    "referrals.submitted": REFERRERS,
    "referrals.delete_draft": REFERRERS,
    "referrals.view_referral": REFERRERS,
    "referrals.withdraw_referral": REFERRERS,
    "referrals.triage": OPERATIONS,
    "referrals.triage_referral": COORDINATOR,
    "referrals.decide_referral": OPERATIONS,
    "referrals.link_person": COORDINATOR,
    "referrals.list_waiting": OPERATIONS,
    "referrals.promote_referral": COORDINATOR,
    # cases: need to know (full, restricted or 404) is checked per record by panel.cases.access
    "cases.list_cases": REFERRERS,
    "cases.view_case": REFERRERS,
    "cases.edit_risk": REFERRERS,
    "cases.manage_agencies": REFERRERS,
    "cases.add_flag": REFERRERS,
    "cases.clear_flag": REFERRERS,
    "cases.insight": REFERRERS,
    "cases.outcomes": REFERRERS,
    "cases.review_outcome": REFERRERS,
    "cases.engagement": REFERRERS,
    "cases.add_attempt": REFERRERS,
    "cases.engagement_patterns": REFERRERS,
    "cases.chronology": REFERRERS,
    "cases.closure": REFERRERS,
    "cases.propose_closure": COORDINATOR,
    "cases.decide_closure": frozenset({Role.CHAIR}),
    "cases.reopen_case": COORDINATOR,
    # the action log: can_view_action / can_update_action / can_acknowledge follow in the views
    "actions.action_log": OPERATIONS,
    "actions.export_actions": OPERATIONS,
    "actions.our_actions": frozenset({Role.SPOC, Role.PRACTITIONER}),
    "actions.view_action": REFERRERS,
    "actions.update_action": REFERRERS,
    "actions.escalate_action": COORDINATOR,
    "actions.chase_action": COORDINATOR,  # "chase now": one overdue action, or all of an agency's
    "actions.chase_agency": COORDINATOR,
    "actions.chase_overdue": COORDINATOR,  # every overdue action the action log shows, one post
    "actions.acknowledge_escalation": REFERRERS,
    "actions.case_actions": REFERRERS,
    "actions.add_action": COORDINATOR,
    # case MDTs: need to know is the case's (load_case, full record only); coordinators change
    "meetings.case_meetings": REFERRERS,
    "meetings.new_mdt": COORDINATOR,
    "meetings.view_mdt": REFERRERS,
    "meetings.reschedule_mdt": COORDINATOR,
    "meetings.mdt_attendees": COORDINATOR,
    "meetings.cancel_mdt": COORDINATOR,
    "meetings.mdt_notes": COORDINATOR,
    "admin.list_api_tokens": ADMIN,
    "admin.revoke_api_token": ADMIN,
    # the API authenticates each call by its bearer token, in the view
    "api.create_referral": PUBLIC,
    "api.openapi": PUBLIC,
    # the Board's reports (panel.reports.views.board_views): aggregate figures only, audited
    "reports.board_reports": BOARD_REPORTS,
    "reports.export_csv": BOARD_REPORTS,
    "reports.report_pack": BOARD_REPORTS,
    # search: need to know is applied in its queries (panel.search.services); board and admin 404
    "search.search": REFERRERS,
    # subject-access requests (panel.reports.views.subject_access_views): coordinators only, and
    # only while their agency's information sharing agreement is current (checked in the views)
    "people.find_person": COORDINATOR,
    "people.subject_access": COORDINATOR,
    "people.view_request": COORDINATOR,
    "people.review_request": COORDINATOR,
    "people.withhold_entry": COORDINATOR,
    "people.reinstate_entry": COORDINATOR,
    "people.create_release": COORDINATOR,
    "people.release_pdf": COORDINATOR,
    "people.release_json": COORDINATOR,
    "people.close_request": COORDINATOR,
    # retention (panel.reports.views.retention_views): what is due for anonymisation, legal holds
    "retention.due_list": COORDINATOR,
    "retention.place_hold": COORDINATOR,
    "retention.lift_hold": COORDINATOR,
}

# Endpoints a user who must change their password or set up two-factor may still reach.
SETUP_ENDPOINTS: Final = frozenset(
    {"static", "main.healthz", "auth.login", "auth.login_mfa", "auth.logout", "auth.change_password", "auth.setup_mfa"}
    | {"auth.session_status", "auth.stay_signed_in", "main.help"}  # the timeout warning works there too
)


def endpoint_allows(endpoint: str | None, user: User | None) -> bool:
    """True when the access table lets this user (None when anonymous) reach the endpoint."""
    rule = ACCESS.get(endpoint or "")
    if rule is None:
        return False
    if rule is PUBLIC:
        return True
    if user is None:
        return False
    if rule is SIGNED_IN:
        return True
    return user.role in rule  # type: ignore[operator]


def can_access_case_records(user: User, today: date) -> bool:
    """Agencies with an unsigned or lapsed information sharing agreement cannot open case records.

    Coordinators, chairs and admins belong to the host authority; their agency's ISA is
    checked all the same, since the rule is about the agency, not the role.
    """
    return user.agency.isa_current(today)


def isa_block_reason(agency: Agency, today: date) -> str | None:
    """The message shown to users of an agency that cannot open case records, or None."""
    if agency.isa_signed_on is None:
        return (f"{agency.name} has not signed the information sharing agreement, so its staff "
                "cannot open case records. Ask your agency's SPoC or the Panel administrator.")
    if agency.isa_review_due is None or agency.isa_review_due < today:
        return (f"{agency.name}'s information sharing agreement is past its review date, so its staff "
                "cannot open case records until it is renewed. Ask your agency's SPoC or the Panel administrator.")
    return None


def requires_mfa(user: User, roles: frozenset[str]) -> bool:
    """REQUIRE_MFA_FOR makes two-factor sign-in compulsory for the roles it names."""
    return str(user.role) in roles


def acts_as_spoc(user: User) -> bool:
    """True for an agency's SPoC, and for its deputy while the SPoC is marked absent."""
    agency = user.agency
    return user.role == Role.SPOC and agency.acting_spoc is not None and agency.acting_spoc.id == user.id


def can_view_referral(user: User, referral: "Referral", today: date) -> bool:
    """Coordinators and chairs see every referral; a SPoC sees their agency's; a practitioner
    their own. Drafts are seen only by the person writing them. Nobody from an agency without a
    current information sharing agreement sees any."""
    if not can_access_case_records(user, today):
        return False
    if referral.status == "draft":
        return referral.created_by_id == user.id
    if user.role in OPERATIONS:
        return True
    if user.role == Role.SPOC:
        return referral.referring_agency_id == user.agency_id
    if user.role == Role.PRACTITIONER:
        return referral.created_by_id == user.id
    return False


def can_edit_referral(user: User, referral: "Referral", today: date) -> bool:
    """Only the person who wrote it changes a draft, or a referral sent back for more information."""
    return (
        referral.status in ("draft", "info_requested")
        and referral.created_by_id == user.id
        and can_access_case_records(user, today)
    )


def can_withdraw_referral(user: User, referral: "Referral", today: date) -> bool:
    """The referrer, their agency's SPoC, or a coordinator may withdraw an open or waiting referral."""
    if referral.status not in ("submitted", "info_requested", "awaiting_panel", "waiting"):
        return False
    if not can_view_referral(user, referral, today):
        return False
    return user.role == Role.COORDINATOR or referral.created_by_id == user.id or (
        user.role == Role.SPOC and referral.referring_agency_id == user.agency_id)


def case_access(user: User, case_agency_ids: set[int], today: date) -> str | None:
    """Need to know for a case record: "full", "restricted", or None (answer 404).

    Coordinators and chairs see everything. A SPoC or practitioner whose agency is involved
    sees the full record. A SPoC whose agency is not involved sees the restricted view
    (reference, initials, risk level, lead agency, involved agencies). Anyone else: nothing.
    Nobody from an agency without a current information sharing agreement sees anything.
    """
    if not can_access_case_records(user, today):
        return None
    if user.role in OPERATIONS:
        return "full"
    if user.role in (Role.SPOC, Role.PRACTITIONER) and user.agency_id in case_agency_ids:
        return "full"
    if user.role == Role.SPOC:
        return "restricted"
    return None


def can_change_case(user: User, case_agency_ids: set[int], today: date) -> bool:
    """Recording on a case (engagement, insight, outcomes, flags): coordinators, and SPoCs and
    practitioners of involved agencies. Chairs read; decisions are theirs at panel."""
    if case_access(user, case_agency_ids, today) != "full":
        return False
    return user.role == Role.COORDINATOR or user.role in (Role.SPOC, Role.PRACTITIONER)


def can_view_action(user: User, case_agency_ids: set[int], today: date) -> bool:
    """An action is case data: whoever sees the full case record sees its actions."""
    return case_access(user, case_agency_ids, today) == "full"


def can_update_action(user: User, action: "Action", case_agency_ids: set[int], today: date) -> bool:
    """Coordinators update any action; the acting SPoC of the owning agency updates its actions;
    a practitioner (or SPoC) updates the actions assigned to them. Nobody else."""
    if not can_view_action(user, case_agency_ids, today):
        return False
    if user.role == Role.COORDINATOR:
        return True
    if user.role in (Role.SPOC, Role.PRACTITIONER) and action.assignee_id == user.id:
        return True
    return user.role == Role.SPOC and user.agency_id == action.agency_id and acts_as_spoc(user)
