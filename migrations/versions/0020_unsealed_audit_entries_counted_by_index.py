"""unsealed audit entries counted by index: a partial index on audit_events(id) where seal is null

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 18:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    # The admin home counts the entries written without a seal; with millions sealed, the count
    # read the whole trail. Only the unsealed (few, or none) are in this index. An index only:
    # the trail's rows are append-only and creating it changes none of them.
    op.create_index('ix_audit_events_unsealed', 'audit_events', ['id'], unique=False,
                    sqlite_where=sa.text('seal IS NULL'), postgresql_where=sa.text('seal IS NULL'))


def downgrade():
    op.drop_index('ix_audit_events_unsealed', table_name='audit_events')
