"""signal grounding: the grounding system turn the gateway built, with the knowledge base's hash and the prompt
contract's version it was built under, so export need not rebuild it (NULL for turns stored before)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 23:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('training_signals') as batch:
        batch.add_column(sa.Column('grounding', sa.Text(), nullable=True))
        batch.add_column(sa.Column('grounding_kb_sha256', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('grounding_version', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('training_signals') as batch:
        batch.drop_column('grounding_version')
        batch.drop_column('grounding_kb_sha256')
        batch.drop_column('grounding')
