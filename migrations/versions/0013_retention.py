"""retention: legal holds, the record of each anonymisation, and the person's age band

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch copy of the table): persons keeps its rows and indexes as they are.
    op.add_column('persons', sa.Column('age_band', sa.String(length=10), server_default='', nullable=False))
    op.add_column('persons', sa.Column('anonymised_at', sa.DateTime(), nullable=True))
    op.create_table('legal_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('safeguarding_adults_review', 'court_case', 'other', name='legalholdkind',
                              native_enum=False, length=40, create_constraint=False), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('placed_at', sa.DateTime(), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_legal_holds_person_id_persons')),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_legal_holds_placed_by_id_users')),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_legal_holds_lifted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    op.create_index(op.f('ix_legal_holds_person_id'), 'legal_holds', ['person_id'], unique=False)
    op.create_table('anonymisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.Enum('case_closed', 'referral_declined', 'referral_withdrawn', name='retentionrule',
                              native_enum=False, length=32, create_constraint=False), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('retention_years', sa.Integer(), nullable=False),
    sa.Column('anonymised_at', sa.DateTime(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('what', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_anonymisations_person_id_persons')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_anonymisations_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anonymisations')),
    sa.UniqueConstraint('person_id', name=op.f('uq_anonymisations_person_id'))
    )


def downgrade():
    # Dropping the tables loses the record of past anonymisations and every legal hold; the
    # anonymised data itself cannot come back (it was erased, by law, not hidden).
    op.drop_table('anonymisations')
    op.drop_index(op.f('ix_legal_holds_person_id'), table_name='legal_holds')
    op.drop_table('legal_holds')
    op.drop_column('persons', 'anonymised_at')
    op.drop_column('persons', 'age_band')
