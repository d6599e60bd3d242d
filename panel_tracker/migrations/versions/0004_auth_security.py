"""auth security: membership invitations, race-free throttling, server-side sessions, TOTP

Revision ID: 0004_auth_security
Revises: 0003
Create Date: 2026-12-01 22:32:39

- membership.accepted_at: a membership an admin creates is in force only once the user
  accepts it. Existing memberships of accounts that have a password count as accepted;
  those still waiting for their invite link stay pending.
- invite.membership_id: an invitation is to one membership (existing links point at the
  account's first membership, the one they were made for).
- login_attempt: kind (password / totp) and outcome (pending / failed / succeeded /
  throttled) replace the success flag.
- user_session, recovery_code; user_account.totp_*.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_auth_security'
down_revision = '0003'
branch_labels = None
depends_on = None

INVITE_FK = 'fk_invite_membership_id_membership'


def upgrade() -> None:
    op.create_table('recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_code_code_hash'), ['code_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_recovery_code_user_id'), ['user_id'], unique=False)

    op.create_table('user_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_secret_hash'), ['secret_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_user_session_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE membership SET accepted_at = created_at WHERE user_id IN "
               "(SELECT id FROM user_account WHERE password_hash IS NOT NULL)")

    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('membership_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_invite_membership_id'), ['membership_id'], unique=False)
        batch_op.create_foreign_key(INVITE_FK, 'membership', ['membership_id'], ['id'])
    op.execute("UPDATE invite SET membership_id = (SELECT min(m.id) FROM membership m "
               "WHERE m.user_id = invite.user_id)")

    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('password', 'totp', name='attemptkind', native_enum=False),
                                      nullable=False, server_default='password'))
        batch_op.add_column(sa.Column('outcome', sa.Enum('pending', 'failed', 'succeeded', 'throttled',
                                                         name='attemptoutcome', native_enum=False),
                                      nullable=False, server_default='failed'))
    op.execute("UPDATE login_attempt SET outcome = 'succeeded' WHERE success")
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_column('success')

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): copying user_account, which other
    # tables reference, would break their foreign keys.
    with op.batch_alter_table('user_account', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')

    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('success', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE login_attempt SET success = (outcome = 'succeeded')")
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_column('outcome')
        batch_op.drop_column('kind')

    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_constraint(INVITE_FK, type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_invite_membership_id'))
        batch_op.drop_column('membership_id')

    # Before this revision a membership was in force without being accepted.
    with op.batch_alter_table('membership', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('accepted_at')

    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_id'))
        batch_op.drop_index(batch_op.f('ix_user_session_secret_hash'))
    op.drop_table('user_session')

    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_code_user_id'))
        batch_op.drop_index(batch_op.f('ix_recovery_code_code_hash'))
    op.drop_table('recovery_code')
