"""subject-access requests: the requests, their deadlines and releases, and what was withheld

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 13:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('subject_access_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='subjectaccessstatus', native_enum=False, length=32,
                                create_constraint=False), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('release_document', sa.JSON(), nullable=True),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('sent_on', sa.Date(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_subject_access_requests_person_id_persons')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'],
                            name=op.f('fk_subject_access_requests_opened_by_id_users')),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id'],
                            name=op.f('fk_subject_access_requests_released_by_id_users')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'],
                            name=op.f('fk_subject_access_requests_closed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subject_access_requests'))
    )
    op.create_index(op.f('ix_subject_access_requests_person_id'), 'subject_access_requests', ['person_id'])
    op.create_index(op.f('ix_subject_access_requests_status'), 'subject_access_requests', ['status'])
    op.create_table('subject_access_withholdings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('entry', sa.String(length=80), nullable=False),
    sa.Column('passage', sa.Text(), nullable=False),
    sa.Column('reason', sa.Enum('third_party', 'serious_harm', name='withholdingreason', native_enum=False,
                                length=32, create_constraint=False), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('reinstated_at', sa.DateTime(), nullable=True),
    sa.Column('reinstated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['subject_access_requests.id'],
                            name=op.f('fk_subject_access_withholdings_request_id_subject_access_requests')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_subject_access_withholdings_by_id_users')),
    sa.ForeignKeyConstraint(['reinstated_by_id'], ['users.id'],
                            name=op.f('fk_subject_access_withholdings_reinstated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subject_access_withholdings'))
    )
    op.create_index(op.f('ix_subject_access_withholdings_request_id'), 'subject_access_withholdings', ['request_id'])


def downgrade():
    op.drop_index(op.f('ix_subject_access_withholdings_request_id'), table_name='subject_access_withholdings')
    op.drop_table('subject_access_withholdings')
    op.drop_index(op.f('ix_subject_access_requests_status'), table_name='subject_access_requests')
    op.drop_index(op.f('ix_subject_access_requests_person_id'), table_name='subject_access_requests')
    op.drop_table('subject_access_requests')
