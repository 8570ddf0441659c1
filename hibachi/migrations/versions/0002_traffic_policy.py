"""traffic policy history: the gateway's shared, durable traffic policy with who/when/why

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 17:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('traffic_policy_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('policy', sa.String(length=16), nullable=False),
    sa.Column('split_percent', sa.Float(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_traffic_policy_changes'))
    )


def downgrade() -> None:
    op.drop_table('traffic_policy_changes')
