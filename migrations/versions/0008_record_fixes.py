"""person links, action reasons and the referral API's idempotency

- referrals.referred_person_id: a linked referral's own copy of what its referrer wrote. Filled
  for referrals linked before this revision from the audit trail (each link's entry names the
  person record the referral had before), so they show their referrer's details again.
- referrals.idempotency_body_hash: the SHA-256 of the body first sent with an Idempotency-Key.
- case_events: chronology entries about actions carried dates as 17/12/2026; they read
  "17 December 2026" like every other date.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:45:00

"""
import json
import re
from datetime import date

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_NUMERIC_DATE = re.compile(r"\b(\d{2})/(\d{2})/(\d{4})\b")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def _govuk(match: re.Match) -> str:
    day, month, year = (int(g) for g in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        return match.group(0)  # not a date: leave it as written
    return f"{day} {_MONTHS[month - 1]} {year}"


def upgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referred_person_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('idempotency_body_hash', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_referrals_referred_person_id_persons'), 'persons',
                                    ['referred_person_id'], ['id'])
    connection = op.get_bind()
    _copies_from_the_audit_trail(connection)
    _govuk_dates_in_the_chronology(connection)


def _copies_from_the_audit_trail(connection) -> None:
    links = connection.execute(sa.text(
        "SELECT object_id, summary FROM audit_events WHERE action = 'update' AND object_type = 'referral' "
        "AND summary LIKE '%linked_person%' ORDER BY id")).all()
    persons = set(connection.execute(sa.text("SELECT id FROM persons")).scalars())
    first: dict[int, int] = {}
    for object_id, summary in links:
        try:
            was = int(json.loads(summary)["was"])
            referral_id = int(object_id)
        except (ValueError, KeyError, TypeError):
            continue
        if was in persons:
            first.setdefault(referral_id, was)  # the earliest link names what the referrer wrote
    for referral_id, was in first.items():
        connection.execute(sa.text(
            "UPDATE referrals SET referred_person_id = :was WHERE id = :id AND referred_person_id IS NULL "
            "AND person_id != :was"), {"was": was, "id": referral_id})


def _govuk_dates_in_the_chronology(connection) -> None:
    rows = connection.execute(sa.text(
        "SELECT id, summary FROM case_events WHERE summary LIKE 'Action %/%/%'")).all()
    for event_id, summary in rows:
        new = _NUMERIC_DATE.sub(_govuk, summary)
        if new != summary:
            connection.execute(sa.text("UPDATE case_events SET summary = :s WHERE id = :id"),
                               {"s": new, "id": event_id})


def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referrals_referred_person_id_persons'), type_='foreignkey')
        batch_op.drop_column('idempotency_body_hash')
        batch_op.drop_column('referred_person_id')
