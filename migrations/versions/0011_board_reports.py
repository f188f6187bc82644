"""board reports: equality monitoring at referral

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:10:00

What the Board's reports need kept as kinds, not worked out from personal data or free text at
report time (retention erases dates of birth and free text, and past years' reports must not
change when it does):
- referrals.age_band: the person's age band on the day the referral was submitted, filled in
  here for referrals already submitted (from the date of birth the referrer gave);
- referral_decisions.signposted: whether signposting was given, filled in from the text;
- referral_decisions.reason_kind: the kind of reason a referral was declined (none before);
- persons.disability: disabled or not, where recorded (none before).
"""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

LONDON = ZoneInfo("Europe/London")
# as panel.models.AgeBand: (value, oldest age in the band)
BANDS = (("18_24", 24), ("25_34", 34), ("35_44", 44), ("45_54", 54), ("55_64", 64), ("65_74", 74),
         ("75_84", 84))


def _band(born, day):
    if born is None or day is None:
        return None
    age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    if age < 18:
        return "under_18"
    for value, oldest in BANDS:
        if age <= oldest:
            return value
    return "85_plus"


def _as_date(value):
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def _london_day(value):
    """The London date of a stored (naive UTC) timestamp."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=timezone.utc).astimezone(LONDON).date()


def upgrade():
    op.add_column('referrals', sa.Column('age_band', sa.Enum(
        'under_18', '18_24', '25_34', '35_44', '45_54', '55_64', '65_74', '75_84', '85_plus', name='ageband',
        native_enum=False, length=16, create_constraint=False), nullable=True))
    op.add_column('referral_decisions', sa.Column('signposted', sa.Boolean(), server_default=sa.false(),
                                                  nullable=False))
    op.add_column('referral_decisions', sa.Column('reason_kind', sa.Enum(
        'not_critical', 'single_agency', 'not_eligible', 'other_pathway', 'other', name='declinereason',
        native_enum=False, length=32, create_constraint=False), nullable=True))
    op.add_column('persons', sa.Column('disability', sa.Enum(
        'yes', 'no', 'not_said', name='disability', native_enum=False, length=16, create_constraint=False),
        nullable=True))

    connection = op.get_bind()
    decisions = sa.table('referral_decisions', sa.column('signposting', sa.Text), sa.column('signposted', sa.Boolean))
    connection.execute(sa.update(decisions).where(sa.func.trim(sa.func.coalesce(decisions.c.signposting, '')) != '')
                       .values(signposted=True))

    # The age band as the referrer described the person (their own copy once linked), on the
    # London day it was submitted.
    referrals = sa.table('referrals', sa.column('id', sa.Integer), sa.column('person_id', sa.Integer),
                         sa.column('referred_person_id', sa.Integer), sa.column('submitted_at', sa.DateTime),
                         sa.column('age_band', sa.String))
    persons = sa.table('persons', sa.column('id', sa.Integer), sa.column('date_of_birth', sa.Date))
    as_referred = sa.func.coalesce(referrals.c.referred_person_id, referrals.c.person_id)
    rows = connection.execute(
        sa.select(referrals.c.id, referrals.c.submitted_at, persons.c.date_of_birth)
        .join(persons, persons.c.id == as_referred).where(referrals.c.submitted_at.is_not(None))).all()
    bands = [{'referral_id': row.id, 'band': _band(_as_date(row.date_of_birth), _london_day(row.submitted_at))}
             for row in rows]
    bands = [b for b in bands if b['band'] is not None]
    if bands:
        connection.execute(sa.update(referrals).where(referrals.c.id == sa.bindparam('referral_id'))
                           .values(age_band=sa.bindparam('band')), bands)


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+), as 0010 does.
    op.drop_column('persons', 'disability')
    op.drop_column('referral_decisions', 'reason_kind')
    op.drop_column('referral_decisions', 'signposted')
    op.drop_column('referrals', 'age_band')
