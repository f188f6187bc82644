"""self-service absence

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 13:30:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    # A SPoC's absences, each from one date to another (panel.agencies.absence): the deputy acts
    # while one covers now, and the SPoC is back by themselves when it ends.
    op.create_table('spoc_absences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.String(length=200), server_default='', nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_spoc_absences_user_id_users')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_spoc_absences_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spoc_absences'))
    )
    op.create_index('ix_spoc_absences_user_id_starts_at', 'spoc_absences', ['user_id', 'starts_at'], unique=False)
    # A SPoC marked absent by the old tick box is absent from now until further notice (no end
    # date), which is what the tick box meant; the SPoC, the coordinator or an admin ends it.
    # agencies.spoc_absent keeps its values (an upgrade loses none) but nothing reads it now.
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    agencies = sa.table('agencies', sa.column('spoc_id', sa.Integer()), sa.column('spoc_absent', sa.Boolean()))
    absences = sa.table('spoc_absences', sa.column('user_id', sa.Integer()), sa.column('starts_on', sa.Date()),
                        sa.column('starts_at', sa.DateTime()), sa.column('note', sa.String()))
    op.execute(absences.insert().from_select(
        ['user_id', 'starts_on', 'starts_at', 'note'],
        sa.select(agencies.c.spoc_id, sa.literal(now.date(), sa.Date()), sa.literal(now, sa.DateTime()),
                  sa.literal('', sa.String()))
        .where(agencies.c.spoc_absent.is_(sa.true()), agencies.c.spoc_id.is_not(None))))


def downgrade():
    # Back to the tick box: an agency is marked absent when an absence of its SPoC covers now
    # (dated absences to come, and those over, are lost with the table).
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    absences = sa.table('spoc_absences', sa.column('user_id', sa.Integer()), sa.column('starts_at', sa.DateTime()),
                        sa.column('ends_at', sa.DateTime()))
    agencies = sa.table('agencies', sa.column('spoc_id', sa.Integer()), sa.column('spoc_absent', sa.Boolean()))
    away_now = sa.exists().where(absences.c.user_id == agencies.c.spoc_id, absences.c.starts_at <= now,
                                 sa.or_(absences.c.ends_at.is_(None), absences.c.ends_at > now))
    op.execute(agencies.update().values(spoc_absent=away_now))
    op.drop_index('ix_spoc_absences_user_id_starts_at', table_name='spoc_absences')
    op.drop_table('spoc_absences')
