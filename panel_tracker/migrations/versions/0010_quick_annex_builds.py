"""quick annex builds: a build of a case's item sheets, asked for from the case page

Revision ID: 0010_quick_annex_builds
Revises: 0008_user_timezone
Create Date: 2026-12-02 08:30:00

- annex_build.case_id: the case of a quick annex (no report); empty for a report's builds.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_quick_annex_builds'
down_revision = '0008_user_timezone'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('annex_build', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_annex_build_case_id'), ['case_id'], unique=False)
        batch_op.create_foreign_key('fk_annex_build_case_id_case_file', 'case_file', ['case_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('annex_build', schema=None) as batch_op:
        batch_op.drop_constraint('fk_annex_build_case_id_case_file', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_annex_build_case_id'))
        batch_op.drop_column('case_id')
