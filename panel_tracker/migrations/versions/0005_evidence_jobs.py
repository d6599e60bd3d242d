"""evidence jobs: a heartbeat on each bulk import, so a dead one is seen and retried

Revision ID: 0004_evidence_jobs
Revises: 0004_auth_security
Create Date: 2026-12-01 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_evidence_jobs'
down_revision = '0004_auth_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bulk_import') as batch:
        batch.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bulk_import') as batch:
        batch.drop_column('heartbeat_at')
