"""action log read by index: the open actions by due date (partial), all by due date, the
closed by agency or assignee and when they closed, and escalations by rung

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 19:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    # The action log shows fifty actions a page, open before closed, each by due date; with ten
    # years of actions every page joined and sorted all of them. A page now reads the open along
    # a partial index of the open ones only (few: the pathway's cases are capped; partial, so the
    # daily sweep's "open and due for a rung" still reads ix_actions_ladder) and the closed along
    # (due_on), stopping at the page. "Our actions" keeps the actions closed in the last four
    # weeks: an agency's (its SPoC) or a person's, found along (agency_id, closed_at) or
    # (assignee_id, closed_at), not among ten years of them. The filters "escalated", "escalated
    # today" and "awaiting the chair" read the escalations of those rungs along (step, at,
    # action_id) (today's by their time), not every reminder and overdue notice the sweep has
    # sent. Indexes only: no row changes.
    op.create_index('ix_actions_open_due_on', 'actions', ['due_on'], unique=False,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.create_index('ix_actions_due_on', 'actions', ['due_on'], unique=False)
    op.create_index('ix_actions_agency_closed_at', 'actions', ['agency_id', 'closed_at'], unique=False)
    op.create_index('ix_actions_assignee_closed_at', 'actions', ['assignee_id', 'closed_at'], unique=False)
    op.create_index('ix_escalations_step_at_action_id', 'escalations', ['step', 'at', 'action_id'], unique=False)


def downgrade():
    op.drop_index('ix_escalations_step_at_action_id', table_name='escalations')
    op.drop_index('ix_actions_assignee_closed_at', table_name='actions')
    op.drop_index('ix_actions_agency_closed_at', table_name='actions')
    op.drop_index('ix_actions_due_on', table_name='actions')
    op.drop_index('ix_actions_open_due_on', table_name='actions')
