"""the signed-off record: what finalised minutes show, kept as it was

minutes_snapshots holds, for each panel whose minutes the chair finalised, the record the
minutes page and their PDF are shown from (panel.meetings.record, one JSON document). Minutes
finalised before this revision are snapshotted here from the data as it stands, with the same
builder the app uses (facts as at the panel where the history allows: risk levels, agencies,
due dates and action outcomes), so they are frozen from now on; their source is "upgrade".

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:45:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
from sqlalchemy.orm import Session

from panel.meetings.record import build_minutes_record  # the app's builder: one definition of the record


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('minutes_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=False),
    sa.Column('taken_by_id', sa.Integer(), nullable=True),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_minutes_snapshots_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['taken_by_id'], ['users.id'], name=op.f('fk_minutes_snapshots_taken_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_snapshots')),
    sa.UniqueConstraint('meeting_id', name=op.f('uq_minutes_snapshots_meeting_id'))
    )
    snapshot_finalised_minutes(op.get_bind())


def snapshot_finalised_minutes(connection) -> int:
    """Snapshot every finalised panel's minutes that has none, on the migration's connection.
    Returns how many were taken."""
    meetings = sa.table('meetings', sa.column('id'), sa.column('kind'), sa.column('minutes_finalised_at'))
    snapshots = sa.table('minutes_snapshots', sa.column('meeting_id'), sa.column('version'), sa.column('source'),
                         sa.column('taken_at', sa.DateTime()), sa.column('taken_by_id'),
                         sa.column('document', sa.JSON()))
    done = set(connection.execute(sa.select(snapshots.c.meeting_id)).scalars())
    ids = [i for i in connection.execute(
        sa.select(meetings.c.id).where(meetings.c.kind == 'panel', meetings.c.minutes_finalised_at.is_not(None))
        .order_by(meetings.c.id)).scalars() if i not in done]
    now = datetime.now(timezone.utc)
    session = Session(bind=connection)
    try:
        for meeting_id in ids:
            record = build_minutes_record(meeting_id, session=session, now=now)
            connection.execute(snapshots.insert().values(
                meeting_id=meeting_id, version=record.version, source='upgrade',
                taken_at=now.replace(tzinfo=None), taken_by_id=None, document=record.to_json()))
    finally:
        session.close()
    return len(ids)


def downgrade():
    op.drop_table('minutes_snapshots')
