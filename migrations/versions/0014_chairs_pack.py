"""the chair's pack: no schema change (the pack reads what is there); kept so revisions run in order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 13:20:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    pass  # the chair's pack needed no schema change


def downgrade():
    pass
