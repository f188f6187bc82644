"""the signed-off record: what finalised minutes show, kept as it was

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:45:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    pass  # placeholder: no schema change yet


def downgrade():
    pass
