"""bulk photo import: progress and report of each import

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bulk_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='bulkimportstatus', native_enum=False), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('is_original', sa.Boolean(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.JSON(), nullable=False),
    sa.Column('assignments', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('clock_offsets', sa.JSON(), nullable=False),
    sa.Column('sequence', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bulk_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulk_import_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulk_import_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulk_import_panel_id'), ['panel_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bulk_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulk_import_panel_id'))
        batch_op.drop_index(batch_op.f('ix_bulk_import_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_bulk_import_case_id'))

    op.drop_table('bulk_import')
