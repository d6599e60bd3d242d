"""annex build photos: which photos a build's file embeds, so that purging one withdraws it

Revision ID: 0011_annex_build_photos
Revises: 0010_quick_annex_builds
Create Date: 2026-12-02 11:40:00

- annex_build_photo: (build, photo SHA-256) for every photo a build's document prints.
  Builds made before this revision have none: purging a photo cannot find them.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_annex_build_photos'
down_revision = '0010_quick_annex_builds'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'annex_build_photo',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('panel_id', sa.Integer(), nullable=False),
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['build_id'], ['annex_build.id'], ),
        sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('build_id', 'sha256'),
    )
    with op.batch_alter_table('annex_build_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annex_build_photo_build_id'), ['build_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annex_build_photo_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annex_build_photo_sha256'), ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('annex_build_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annex_build_photo_sha256'))
        batch_op.drop_index(batch_op.f('ix_annex_build_photo_panel_id'))
        batch_op.drop_index(batch_op.f('ix_annex_build_photo_build_id'))
    op.drop_table('annex_build_photo')
