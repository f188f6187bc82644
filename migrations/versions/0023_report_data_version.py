"""report data version: a token the database changes whenever a table the Board's reports
count is written, so that the reports' figures can be remembered for one state of the records

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 22:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

# Every table panel/reports/figures.py reads (tests/reports/test_board_remembered.py checks that
# the list stays complete). Kept here, not imported: a migration is fixed once written.
TABLES = ("agencies", "persons", "referrals", "referral_decisions", "cases", "actions", "escalations",
          "personal_outcomes", "meetings", "minutes_snapshots")
OPERATIONS = ("insert", "update", "delete")

# PostgreSQL: a deferred constraint trigger, so the version row is locked only at COMMIT, as the
# last lock a transaction takes (no deadlock with the pathway's lock), and changed once per
# transaction: after the first change the row's xmin is this transaction's, and the other rows'
# events find nothing to update (many updates of one row in one transaction would each walk the
# row's whole chain of versions). Inside a savepoint the xmin is the subtransaction's, so each
# write changes it again: what the test suite sees, running each test in one rolled-back
# transaction with this trigger made immediate.
POSTGRES_FUNCTION = """
CREATE FUNCTION panel_report_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE report_data_version SET token = replace(gen_random_uuid()::text, '-', '')
    WHERE id = 1 AND xmin::text <> (txid_current() % 4294967296)::text;
    RETURN NULL;
END
$$
"""


def upgrade():
    op.create_table(
        'report_data_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_data_version')),
    )
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("INSERT INTO report_data_version (id, token) VALUES (1, replace(gen_random_uuid()::text, '-', ''))")
        op.execute(POSTGRES_FUNCTION)
        for table in TABLES:
            op.execute(f"CREATE CONSTRAINT TRIGGER report_data_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION panel_report_data_changed()")
    else:
        op.execute("INSERT INTO report_data_version (id, token) VALUES (1, lower(hex(randomblob(16))))")
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"CREATE TRIGGER report_data_changed_{table}_{operation} AFTER {operation.upper()} "
                           f"ON {table} BEGIN UPDATE report_data_version SET token = lower(hex(randomblob(16))) "
                           "WHERE id = 1; END")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f"DROP TRIGGER report_data_changed ON {table}")
        op.execute("DROP FUNCTION panel_report_data_changed()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER report_data_changed_{table}_{operation}")
    op.drop_table('report_data_version')
