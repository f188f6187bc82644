"""The table of what retention erases is complete: every text (and JSON) column in the models is
either erased for the person or kept for a stated reason, so a column added later must be decided."""

from __future__ import annotations

import sqlalchemy as sa

from panel.extensions import db
from panel.reports import retention


def _text_columns() -> set[str]:
    """table.column for every column that can hold words: strings, JSON and bytes, not kinds (enums)."""
    out = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type
            if isinstance(kind, sa.Enum) or column.primary_key:
                continue
            if isinstance(kind, (sa.String, sa.JSON, sa.LargeBinary)):
                out.add(f"{table.name}.{column.name}")
    return out


def _erased() -> set[str]:
    return {f"{e.table}.{c}" for e in retention.ERASED for c in e.columns}


def test_every_text_column_is_either_erased_or_kept_with_a_reason():
    undecided = _text_columns() - _erased() - set(retention.KEPT)

    assert undecided == set(), f"decide in panel.reports.retention (ERASED or KEPT): {sorted(undecided)}"


def test_nothing_is_both_erased_and_kept_and_every_named_column_exists():
    columns = {f"{t.name}.{c.name}" for t in db.metadata.sorted_tables for c in t.columns}

    assert _erased() & set(retention.KEPT) == set()
    assert _erased() - columns == set()
    assert set(retention.KEPT) - columns == set()
    assert all(reason for reason in retention.KEPT.values())


def test_the_facts_the_board_counts_are_never_erased():
    facts = {"persons.gender", "persons.ethnicity", "persons.first_language", "persons.interpreter_needed",
             "persons.age_band", "cases.closed_on", "cases.accepted_on", "cases.risk_level", "cases.lead_agency_id",
             "referrals.status", "referrals.referring_agency_id", "referrals.decided_at", "referrals.submitted_at",
             "referrals.needs", "referral_decisions.outcome", "personal_outcomes.review", "actions.status",
             "actions.due_on", "engagement_attempts.method", "engagement_attempts.outcome", "attendance.status"}

    assert facts & _erased() == set()


def test_every_erasure_names_a_known_scope():
    assert {e.scope for e in retention.ERASED} <= {"person", "referral", "case", "referral_or_case", "action",
                                                  "agenda_item", "subject_access"}
    empty = retention._Ids()
    for erasure in retention.ERASED:
        assert retention._scope(erasure, empty) is not None
