"""person links, action reasons and the referral API's idempotency

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:45:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    pass  # placeholder: no schema change yet


def downgrade():
    pass
