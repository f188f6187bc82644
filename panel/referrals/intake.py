"""Referrals that arrive through the API: built as a draft, then submitted by services.submit(),
so the same validation and the same cap rules apply as to the form. Flushes, never commits."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from panel import audit, pathway
from panel.extensions import db
from panel.models import Agency, ApiToken, AuditAction, Person, Referral, ReferralStatus
from panel.referrals import services


def find_by_idempotency_key(token: ApiToken, key: str | None) -> Referral | None:
    if not key:
        return None
    return db.session.execute(
        sa.select(Referral).where(Referral.api_token_id == token.id, Referral.idempotency_key == key)
    ).scalar_one_or_none()


def status_when_submitted(referral: Referral) -> str:
    """The status the referral was given when it arrived (submitted or waiting), whatever it is now."""
    for decision in referral.decisions:
        if decision.outcome == "submitted":
            return decision.to_status
    return str(referral.status)


def create_from_api(*, token: ApiToken, person: dict[str, Any], answers: dict[str, Any], agency_codes: list[str],
                    idempotency_key: str | None = None, body_hash: str | None = None,
                    today: date | None = None) -> tuple[Referral, bool]:
    """Create and submit a referral for the token's agency. Returns (referral, created).

    Takes the pathway lock first, as promote() and accept() do, so locks are always taken in the
    same order (pathway row, then the audit chain). Under the lock a repeated Idempotency-Key is
    looked up again, so a retry racing the original returns the original (created False).
    Raises services.SubmissionProblems when the answers break the rules.
    """
    pathway.lock()
    existing = find_by_idempotency_key(token, idempotency_key)
    if existing is not None:
        return existing, False
    referral = Referral(
        status=ReferralStatus.DRAFT,
        source="api",
        person=Person(),
        referring_agency_id=token.agency_id,
        created_by=None,
        api_token_id=token.id,
        idempotency_key=idempotency_key,
        idempotency_body_hash=body_hash,
        needs=[],
        desired_outcomes=[],
    )
    db.session.add(referral)
    db.session.flush()
    audit.record(AuditAction.CREATE, "referral", referral.id, summary={"status": "draft", "source": "api"})
    agencies = dict(db.session.execute(
        sa.select(Agency.code, Agency.id).where(Agency.code.in_(agency_codes))).all()) if agency_codes else {}
    involvements = [{"agency_id": agencies[code]} for code in agency_codes if code in agencies]
    services.update_answers(referral, by=None, person=person, answers=answers, involvements=involvements)
    services.submit(referral, by=None, today=today)
    return referral, True
