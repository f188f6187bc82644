"""kept form text across a session timeout

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    # What was typed into a form sent after its session had expired, encrypted, for a day at most
    # (panel.auth.kept). A new table: nothing else changes.
    op.create_table('kept_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('claim_hash', sa.String(length=64), nullable=True),
    sa.Column('endpoint', sa.String(length=120), nullable=False),
    sa.Column('return_path', sa.String(length=500), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_kept_forms_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kept_forms')),
    sa.UniqueConstraint('claim_hash', name=op.f('uq_kept_forms_claim_hash'))
    )
    op.create_index(op.f('ix_kept_forms_user_id'), 'kept_forms', ['user_id'], unique=False)
    op.create_index(op.f('ix_kept_forms_created_at'), 'kept_forms', ['created_at'], unique=False)


def downgrade():
    # Drops the table: any text still kept (a day's at most) is lost, as it would be a day later.
    op.drop_index(op.f('ix_kept_forms_created_at'), table_name='kept_forms')
    op.drop_index(op.f('ix_kept_forms_user_id'), table_name='kept_forms')
    op.drop_table('kept_forms')
