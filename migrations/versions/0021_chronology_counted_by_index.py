"""chronology counted by index: case_events(case_id, kind, agency_id), for a case's chronology

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    # A case's chronology counts its entries by type and agency on every view (the filters'
    # agencies and every count the page shows); with thousands of entries on a long case, the
    # count read each entry's row. This index holds all it needs. An index only: no row changes.
    op.create_index('ix_case_events_case_kind_agency', 'case_events', ['case_id', 'kind', 'agency_id'], unique=False)


def downgrade():
    op.drop_index('ix_case_events_case_kind_agency', table_name='case_events')
