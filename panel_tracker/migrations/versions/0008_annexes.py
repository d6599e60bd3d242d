"""annexes: reports, annexes, blocks, snapshots, builds, publications

Revision ID: 0008_annexes
Revises: 0004_search
Create Date: 2026-12-02 01:36:06.338498
"""
from alembic import op
import sqlalchemy as sa



revision = '0008_annexes'
down_revision = '0004_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('midterm', 'final', name='reportkind', native_enum=False), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('symbol', sa.String(length=40), nullable=False),
    sa.Column('cut_off', sa.Date(), nullable=False),
    sa.Column('show_withheld_notes', sa.Boolean(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_panel_id'), ['panel_id'], unique=False)

    op.create_table('report_annex',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('intro', sa.Text(), nullable=False),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_annex', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_annex_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_annex_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_annex_report_id'), ['report_id'], unique=False)

    op.create_table('annex_build',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('annex_id', sa.Integer(), nullable=True),
    sa.Column('edition', sa.Enum('public', 'committee', 'panel', name='edition', native_enum=False), nullable=False),
    sa.Column('format', sa.Enum('pdf', 'docx', name='buildformat', native_enum=False), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='buildstate', native_enum=False), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('inputs_hash', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('reused_from_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['annex_id'], ['report_annex.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['reused_from_id'], ['annex_build.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('annex_build', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annex_build_annex_id'), ['annex_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annex_build_inputs_hash'), ['inputs_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_annex_build_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annex_build_report_id'), ['report_id'], unique=False)

    op.create_table('report_block',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('annex_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=True),
    sa.Column('caption', sa.Text(), nullable=False),
    sa.Column('source_line', sa.String(length=300), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['annex_id'], ['report_annex.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('annex_id', 'key')
    )
    with op.batch_alter_table('report_block', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_block_annex_id'), ['annex_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_block_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_block_panel_id'), ['panel_id'], unique=False)

    op.create_table('report_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('annex_id', sa.Integer(), nullable=False),
    sa.Column('edition', sa.Enum('public', 'committee', 'panel', name='edition', native_enum=False), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annex_id'], ['report_annex.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('annex_id', 'edition')
    )
    with op.batch_alter_table('report_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_snapshot_annex_id'), ['annex_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_snapshot_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_snapshot_report_id'), ['report_id'], unique=False)

    op.create_table('item_publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('annex_id', sa.Integer(), nullable=False),
    sa.Column('annex_number', sa.Integer(), nullable=False),
    sa.Column('edition', sa.Enum('public', 'committee', 'panel', name='edition', native_enum=False), nullable=False),
    sa.Column('symbol', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annex_id'], ['report_annex.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'annex_id', 'item_id')
    )
    with op.batch_alter_table('item_publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_publication_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_publication_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_publication_report_id'), ['report_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('item_publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_publication_report_id'))
        batch_op.drop_index(batch_op.f('ix_item_publication_panel_id'))
        batch_op.drop_index(batch_op.f('ix_item_publication_item_id'))

    op.drop_table('item_publication')
    with op.batch_alter_table('report_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_snapshot_report_id'))
        batch_op.drop_index(batch_op.f('ix_report_snapshot_panel_id'))
        batch_op.drop_index(batch_op.f('ix_report_snapshot_annex_id'))

    op.drop_table('report_snapshot')
    with op.batch_alter_table('report_block', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_block_panel_id'))
        batch_op.drop_index(batch_op.f('ix_report_block_classification'))
        batch_op.drop_index(batch_op.f('ix_report_block_annex_id'))

    op.drop_table('report_block')
    with op.batch_alter_table('annex_build', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annex_build_report_id'))
        batch_op.drop_index(batch_op.f('ix_annex_build_panel_id'))
        batch_op.drop_index(batch_op.f('ix_annex_build_inputs_hash'))
        batch_op.drop_index(batch_op.f('ix_annex_build_annex_id'))

    op.drop_table('annex_build')
    with op.batch_alter_table('report_annex', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_annex_report_id'))
        batch_op.drop_index(batch_op.f('ix_report_annex_panel_id'))
        batch_op.drop_index(batch_op.f('ix_report_annex_classification'))

    op.drop_table('report_annex')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_panel_id'))

    op.drop_table('report')
