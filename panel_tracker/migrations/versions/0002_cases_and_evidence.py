"""cases, inspections, items, markings, photos

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 03:15:46.353478
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_file',
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.Column('deleted_reason', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'dormant', 'closed', name='casestatus', native_enum=False), nullable=False),
    sa.Column('country_of_seizure', sa.String(length=3), nullable=True),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('panel_id', 'ref')
    )
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_file_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_file_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_file_ref'), ['ref'], unique=False)

    op.create_table('import_mapping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('panel_id', 'name')
    )
    with op.batch_alter_table('import_mapping', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_mapping_panel_id'), ['panel_id'], unique=False)

    op.create_table('inspection',
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.Column('deleted_reason', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('inspected_on', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('custodian', sa.String(length=300), nullable=False),
    sa.Column('access_mode', sa.Enum('physical', 'photos_from_state', 'sample', name='accessmode', native_enum=False), nullable=False),
    sa.Column('inspectors', sa.String(length=500), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_panel_id'), ['panel_id'], unique=False)

    op.create_table('item',
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.Column('deleted_reason', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('item_ref', sa.String(length=40), nullable=False),
    sa.Column('category', sa.Enum('small_arm', 'light_weapon', 'ammunition', 'component', 'uav', 'ied_component', 'packaging', 'document', 'other', name='category', native_enum=False), nullable=False),
    sa.Column('type', sa.String(length=300), nullable=False),
    sa.Column('make_marked', sa.String(length=200), nullable=False),
    sa.Column('make_attributed', sa.String(length=200), nullable=False),
    sa.Column('attribution_basis', sa.Text(), nullable=False),
    sa.Column('attribution_confidence', sa.Enum('confirmed', 'consistent_with', 'possible', name='confidence', native_enum=False), nullable=True),
    sa.Column('model', sa.String(length=120), nullable=False),
    sa.Column('calibre_marked', sa.String(length=60), nullable=False),
    sa.Column('calibre', sa.String(length=60), nullable=False),
    sa.Column('country_marked', sa.String(length=3), nullable=True),
    sa.Column('country_attributed', sa.String(length=3), nullable=True),
    sa.Column('year_marked', sa.String(length=40), nullable=False),
    sa.Column('year_calendar', sa.Enum('gregorian', 'solar_hijri', 'lunar_hijri', name='yearcalendar', native_enum=False), nullable=True),
    sa.Column('year_gregorian', sa.Integer(), nullable=True),
    sa.Column('serial', sa.String(length=120), nullable=False),
    sa.Column('serial_folded', sa.String(length=120), nullable=False),
    sa.Column('serial_key', sa.String(length=120), nullable=False),
    sa.Column('serial_legibility', sa.Enum('intact', 'partial', 'obliterated', 'restored', name='legibility', native_enum=False), nullable=True),
    sa.Column('lot', sa.String(length=120), nullable=False),
    sa.Column('factory_code', sa.String(length=60), nullable=False),
    sa.Column('headstamp', sa.String(length=120), nullable=False),
    sa.Column('import_mark', sa.String(length=200), nullable=False),
    sa.Column('other_marks', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('condition', sa.Enum('new', 'used', 'damaged', 'fragment', 'unknown', name='condition', native_enum=False), nullable=True),
    sa.Column('recovered_on', sa.String(length=10), nullable=False),
    sa.Column('recovered_date', sa.Date(), nullable=True),
    sa.Column('recovered_place', sa.String(length=300), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('suspected_imitation', sa.Boolean(), nullable=False),
    sa.Column('state_ownership_mark', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('sighting_of_id', sa.Integer(), nullable=True),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('source_classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['sighting_of_id'], ['item.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('panel_id', 'item_ref')
    )
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_country_attributed'), ['country_attributed'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_country_marked'), ['country_marked'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_item_ref'), ['item_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_recovered_date'), ['recovered_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_serial_folded'), ['serial_folded'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_serial_key'), ['serial_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_serial_legibility'), ['serial_legibility'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_sighting_of_id'), ['sighting_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_source_classification'), ['source_classification'], unique=False)

    op.create_table('marking',
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.Column('deleted_reason', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('text_folded', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.Enum('serial', 'factory_code', 'lot', 'headstamp', 'import_mark', 'proof_mark', 'state_ownership', 'model_mark', 'year', 'contract', 'packaging', 'other', name='markingkind', native_enum=False), nullable=False),
    sa.Column('location', sa.String(length=120), nullable=False),
    sa.Column('script', sa.Enum('latin', 'cyrillic', 'arabic', 'persian', 'chinese', 'mixed', 'other', name='script', native_enum=False), nullable=True),
    sa.Column('legibility', sa.Enum('intact', 'partial', 'obliterated', 'restored', name='legibility', native_enum=False), nullable=False),
    sa.Column('symbol_shape', sa.Enum('none', 'circle', 'oval', 'triangle', 'double_circle', 'square', 'diamond', 'star', 'other', name='symbolshape', native_enum=False), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('marking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_marking_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_marking_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_marking_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_marking_text_folded'), ['text_folded'], unique=False)

    op.create_table('photo',
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.Column('deleted_reason', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('mime', sa.String(length=40), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('exif', sa.JSON(), nullable=False),
    sa.Column('camera_make', sa.String(length=100), nullable=False),
    sa.Column('camera_model', sa.String(length=100), nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=True),
    sa.Column('taken_at_corrected', sa.DateTime(), nullable=True),
    sa.Column('gps_lat', sa.Float(), nullable=True),
    sa.Column('gps_lon', sa.Float(), nullable=True),
    sa.Column('caption', sa.Text(), nullable=False),
    sa.Column('source_line', sa.String(length=300), nullable=False),
    sa.Column('photographer', sa.String(length=200), nullable=False),
    sa.Column('photo_date', sa.Date(), nullable=True),
    sa.Column('is_label_card', sa.Boolean(), nullable=False),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('panel_id', 'sha256')
    )
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_sha256'), ['sha256'], unique=False)

    op.create_table('marking_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('marking_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('box_x', sa.Float(), nullable=True),
    sa.Column('box_y', sa.Float(), nullable=True),
    sa.Column('box_w', sa.Float(), nullable=True),
    sa.Column('box_h', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['marking_id'], ['marking.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('marking_id', 'photo_id')
    )
    with op.batch_alter_table('marking_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_marking_photo_marking_id'), ['marking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_marking_photo_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_marking_photo_photo_id'), ['photo_id'], unique=False)

    op.create_table('photo_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('channel', sa.Enum('upload', 'bulk_import', 'api', name='channel', native_enum=False), nullable=False),
    sa.Column('is_original', sa.Boolean(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['photo_receipt.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], ),
    sa.ForeignKeyConstraint(['received_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('photo_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_receipt_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_receipt_photo_id'), ['photo_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('photo_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_receipt_photo_id'))
        batch_op.drop_index(batch_op.f('ix_photo_receipt_panel_id'))

    op.drop_table('photo_receipt')
    with op.batch_alter_table('marking_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_marking_photo_photo_id'))
        batch_op.drop_index(batch_op.f('ix_marking_photo_panel_id'))
        batch_op.drop_index(batch_op.f('ix_marking_photo_marking_id'))

    op.drop_table('marking_photo')
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_sha256'))
        batch_op.drop_index(batch_op.f('ix_photo_panel_id'))
        batch_op.drop_index(batch_op.f('ix_photo_item_id'))
        batch_op.drop_index(batch_op.f('ix_photo_classification'))
        batch_op.drop_index(batch_op.f('ix_photo_case_id'))

    op.drop_table('photo')
    with op.batch_alter_table('marking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_marking_text_folded'))
        batch_op.drop_index(batch_op.f('ix_marking_panel_id'))
        batch_op.drop_index(batch_op.f('ix_marking_kind'))
        batch_op.drop_index(batch_op.f('ix_marking_item_id'))

    op.drop_table('marking')
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_source_classification'))
        batch_op.drop_index(batch_op.f('ix_item_sighting_of_id'))
        batch_op.drop_index(batch_op.f('ix_item_serial_legibility'))
        batch_op.drop_index(batch_op.f('ix_item_serial_key'))
        batch_op.drop_index(batch_op.f('ix_item_serial_folded'))
        batch_op.drop_index(batch_op.f('ix_item_recovered_date'))
        batch_op.drop_index(batch_op.f('ix_item_panel_id'))
        batch_op.drop_index(batch_op.f('ix_item_item_ref'))
        batch_op.drop_index(batch_op.f('ix_item_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_item_country_marked'))
        batch_op.drop_index(batch_op.f('ix_item_country_attributed'))
        batch_op.drop_index(batch_op.f('ix_item_classification'))
        batch_op.drop_index(batch_op.f('ix_item_category'))
        batch_op.drop_index(batch_op.f('ix_item_case_id'))

    op.drop_table('item')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_panel_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_classification'))
        batch_op.drop_index(batch_op.f('ix_inspection_case_id'))

    op.drop_table('inspection')
    with op.batch_alter_table('import_mapping', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_mapping_panel_id'))

    op.drop_table('import_mapping')
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_file_ref'))
        batch_op.drop_index(batch_op.f('ix_case_file_panel_id'))
        batch_op.drop_index(batch_op.f('ix_case_file_classification'))

    op.drop_table('case_file')
