"""user time zone: the IANA zone each user's pages show times in

Revision ID: 0008_user_timezone
Revises: 0008_annexes
Create Date: 2026-12-02 01:45:00

- user_account.time_zone: an IANA name (``Asia/Aden``), ``UTC`` for every existing user.
  Stored times stay UTC; only the pages convert them.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_user_timezone'
down_revision = '0008_annexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=False, server_default='UTC'))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
