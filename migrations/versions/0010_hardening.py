"""sign-in throttles and the sealed audit chain

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:45:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # The audit chain's seal (an HMAC under AUDIT_KEY, kept outside the database). Entries written
    # before have none: audit-verify vouches for them through the hash chain and the anchors only.
    op.add_column('audit_events', sa.Column('seal', sa.String(length=64), nullable=True))


def downgrade():
    # Dropping the column loses the seals: audit-verify can then vouch only through the anchors.
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy, so the append-only triggers stay.
    op.drop_column('audit_events', 'seal')
