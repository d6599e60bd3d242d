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
    op.add_column('user_account', sa.Column('time_zone', sa.String(length=64), nullable=False, server_default='UTC'))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column in place; a batch "move and copy" of user_account would
        # drop a table that every other table's foreign keys point at, which SQLite refuses.
        op.execute("ALTER TABLE user_account DROP COLUMN time_zone")
    else:
        op.drop_column('user_account', 'time_zone')
