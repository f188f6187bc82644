"""audit trail found by object: an index on (object_type, object_id), for "who viewed this case"

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    # An index only: the trail's rows are append-only (triggers refuse UPDATE and DELETE), and
    # creating an index changes none of them.
    op.create_index('ix_audit_events_object', 'audit_events', ['object_type', 'object_id'], unique=False)


def downgrade():
    op.drop_index('ix_audit_events_object', table_name='audit_events')
