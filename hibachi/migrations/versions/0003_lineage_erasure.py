"""lineage and erasure: the signals of each export, each model version's lineage, the erasure log

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 17:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('export_signals',
    sa.Column('dataset_sha256', sa.String(length=64), nullable=False),
    sa.Column('signal_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('dataset_sha256', 'signal_id', name=op.f('pk_export_signals'))
    )
    with op.batch_alter_table('export_signals', schema=None) as batch_op:
        batch_op.create_index('ix_export_signals_signal', ['signal_id'], unique=False)

    op.create_table('model_lineage',
    sa.Column('version_id', sa.String(length=64), nullable=False),
    sa.Column('export_run_id', sa.Integer(), nullable=True),
    sa.Column('export_sha256', sa.String(length=64), nullable=True),
    sa.Column('train_sha256', sa.String(length=64), nullable=False),
    sa.Column('pipeline_run', sa.String(length=256), nullable=True),
    sa.Column('code_version', sa.String(length=128), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('erased_data_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erasure_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['export_run_id'], ['export_runs.id'],
                            name=op.f('fk_model_lineage_export_run_id_export_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'],
                            name=op.f('fk_model_lineage_version_id_model_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_id', name=op.f('pk_model_lineage'))
    )
    with op.batch_alter_table('model_lineage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_lineage_export_sha256'), ['export_sha256'], unique=False)

    op.create_table('erasures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('selector', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('model_versions', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures'))
    )


def downgrade() -> None:
    op.drop_table('erasures')
    with op.batch_alter_table('model_lineage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_lineage_export_sha256'))
    op.drop_table('model_lineage')
    with op.batch_alter_table('export_signals', schema=None) as batch_op:
        batch_op.drop_index('ix_export_signals_signal')
    op.drop_table('export_signals')
