"""retraining: decisions of the monitoring pipeline, knowledge-base hashes on exports and model versions, pair counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('retraining_decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('triggered', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('knowledge_sha256', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('run_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retraining_decisions'))
    )
    with op.batch_alter_table('retraining_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_retraining_decisions_triggered', ['triggered', 'created_at'], unique=False)
    with op.batch_alter_table('export_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('knowledge_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pairs', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stale_rows', sa.Integer(), nullable=True))
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('knowledge_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_column('knowledge_sha256')
    with op.batch_alter_table('export_runs', schema=None) as batch_op:
        batch_op.drop_column('stale_rows')
        batch_op.drop_column('pairs')
        batch_op.drop_column('knowledge_sha256')
    with op.batch_alter_table('retraining_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_retraining_decisions_triggered')
    op.drop_table('retraining_decisions')
