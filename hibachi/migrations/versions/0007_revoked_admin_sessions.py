"""revoked admin sessions: admin browser sessions ended by logout, refused by every gateway replica until the
signed cookie would have expired anyway

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 04:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('revoked_admin_sessions',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_revoked_admin_sessions'))
    )


def downgrade() -> None:
    op.drop_table('revoked_admin_sessions')
