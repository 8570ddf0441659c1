"""customer_user: the OpenAI `user` field a client sends for its customer, kept on the chat session for erasure

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_sessions') as batch:
        batch.add_column(sa.Column('customer_user', sa.String(length=256), nullable=True))
        batch.create_index('ix_chat_sessions_customer_user', ['customer_user'])


def downgrade() -> None:
    with op.batch_alter_table('chat_sessions') as batch:
        batch.drop_index('ix_chat_sessions_customer_user')
        batch.drop_column('customer_user')
