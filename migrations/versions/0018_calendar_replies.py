"""calendar replies: reply links for people without an account, REPLYs read from the mailbox

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

SOURCES = ('coordinator', 'attendee', 'link', 'calendar')
RESPONSES = ('needs_action', 'accepted', 'declined', 'tentative')


def upgrade():
    with op.batch_alter_table('meeting_attendees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response_source', sa.Enum(*SOURCES, name='responsesource', native_enum=False,
                                                                 length=32), nullable=True))
        batch_op.add_column(sa.Column('response_sequence', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('response_stamp', sa.DateTime(), nullable=True))

    op.create_table('invitation_reply_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attendee_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['attendee_id'], ['meeting_attendees.id'],
                            name=op.f('fk_invitation_reply_links_attendee_id_meeting_attendees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_reply_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitation_reply_links_token_hash'))
    )
    with op.batch_alter_table('invitation_reply_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_reply_links_attendee_id'), ['attendee_id'], unique=False)

    op.create_table('calendar_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('attendee_id', sa.Integer(), nullable=False),
    sa.Column('response', sa.Enum(*RESPONSES, name='attendeeresponse', native_enum=False, length=32), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('dtstamp', sa.DateTime(), nullable=False),
    sa.Column('message_id', sa.String(length=250), server_default='', nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('outdated', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('applied', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.ForeignKeyConstraint(['attendee_id'], ['meeting_attendees.id'],
                            name=op.f('fk_calendar_replies_attendee_id_meeting_attendees')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_calendar_replies_meeting_id_meetings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_replies')),
    sa.UniqueConstraint('meeting_id', 'attendee_id', 'sequence', 'dtstamp', name='uq_calendar_replies_meeting_id')
    )
    with op.batch_alter_table('calendar_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_replies_attendee_id'), ['attendee_id'], unique=False)


def downgrade():
    with op.batch_alter_table('calendar_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_replies_attendee_id'))
    op.drop_table('calendar_replies')
    with op.batch_alter_table('invitation_reply_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_reply_links_attendee_id'))
    op.drop_table('invitation_reply_links')
    with op.batch_alter_table('meeting_attendees', schema=None) as batch_op:
        batch_op.drop_column('response_stamp')
        batch_op.drop_column('response_sequence')
        batch_op.drop_column('response_source')
