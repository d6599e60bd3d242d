"""traces: addressees, letters, events, replies, documents, template, digests

Revision ID: 0004_traces
Revises: 0004_evidence_jobs
Create Date: 2026-12-01 22:33:09
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_traces'
down_revision = '0004_evidence_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trace_addressee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('state', 'company', 'organisation', 'individual', name='addresseekind', native_enum=False), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('country', sa.String(length=3), nullable=True),
    sa.Column('role', sa.Enum('government', 'manufacturer', 'exporter', 'broker', 'freight_forwarder', 'supplier', 'other', name='addresseerole', native_enum=False), nullable=False),
    sa.Column('channel', sa.String(length=300), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('trace_addressee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_addressee_country'), ['country'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_addressee_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_addressee_panel_id'), ['panel_id'], unique=False)

    op.create_table('trace_digest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('panel_id', 'user_id', 'sent_on')
    )
    with op.batch_alter_table('trace_digest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_digest_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_digest_user_id'), ['user_id'], unique=False)

    op.create_table('trace_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('panel_id')
    )
    op.create_table('trace_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.Enum('trace_request', 'information_request', 'access_request', 'right_of_reply', name='letterkind', native_enum=False), nullable=False),
    sa.Column('addressee_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'sent', 'acknowledged', 'partially_answered', 'answered', 'closed', 'withdrawn', name='letterstatus', native_enum=False), nullable=False),
    sa.Column('outcome', sa.Enum('traced', 'inconclusive', 'untraceable', 'refused', name='outcome', native_enum=False), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('reply_by', sa.Date(), nullable=True),
    sa.Column('sent_on', sa.Date(), nullable=True),
    sa.Column('sent_reference', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.String(length=120), nullable=False),
    sa.Column('follow_up_of_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['addressee_id'], ['trace_addressee.id'], ),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['follow_up_of_id'], ['trace_letter.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('panel_id', 'ref')
    )
    with op.batch_alter_table('trace_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_letter_addressee_id'), ['addressee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_follow_up_of_id'), ['follow_up_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_ref'), ['ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_sent_on'), ['sent_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_status'), ['status'], unique=False)

    op.create_table('trace_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('sent', 'acknowledged', 'partially_answered', 'answered', 'closed', 'withdrawn', 'reminder', name='eventkind', native_enum=False), nullable=False),
    sa.Column('happened_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('void_reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['letter_id'], ['trace_letter.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('trace_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_event_happened_on'), ['happened_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_event_letter_id'), ['letter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_event_panel_id'), ['panel_id'], unique=False)

    op.create_table('trace_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['letter_id'], ['trace_letter.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('trace_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_reply_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_reply_letter_id'), ['letter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_reply_panel_id'), ['panel_id'], unique=False)

    op.create_table('trace_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('mime', sa.String(length=60), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('classification', sa.Enum('public', 'committee', 'panel', name='classification', native_enum=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['reply_id'], ['trace_reply.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('trace_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_document_classification'), ['classification'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_document_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_document_reply_id'), ['reply_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_document_sha256'), ['sha256'], unique=False)

    op.create_table('trace_letter_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
    sa.ForeignKeyConstraint(['letter_id'], ['trace_letter.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('letter_id', 'item_id')
    )
    with op.batch_alter_table('trace_letter_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_letter_item_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_item_letter_id'), ['letter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_letter_item_panel_id'), ['panel_id'], unique=False)

    op.create_table('trace_item_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.Column('letter_item_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('transferred', 'no_records', 'disputes_authenticity', 'refers_to', 'refused', name='itemoutcome', native_enum=False), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=True),
    sa.Column('transferred_on', sa.String(length=10), nullable=False),
    sa.Column('licence', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('follow_up_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['follow_up_id'], ['trace_letter.id'], ),
    sa.ForeignKeyConstraint(['letter_item_id'], ['trace_letter_item.id'], ),
    sa.ForeignKeyConstraint(['panel_id'], ['panel.id'], ),
    sa.ForeignKeyConstraint(['party_id'], ['trace_addressee.id'], ),
    sa.ForeignKeyConstraint(['reply_id'], ['trace_reply.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reply_id', 'letter_item_id')
    )
    with op.batch_alter_table('trace_item_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_item_reply_letter_item_id'), ['letter_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_item_reply_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_item_reply_party_id'), ['party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_item_reply_reply_id'), ['reply_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('trace_item_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_item_reply_reply_id'))
        batch_op.drop_index(batch_op.f('ix_trace_item_reply_party_id'))
        batch_op.drop_index(batch_op.f('ix_trace_item_reply_panel_id'))
        batch_op.drop_index(batch_op.f('ix_trace_item_reply_letter_item_id'))

    op.drop_table('trace_item_reply')
    with op.batch_alter_table('trace_letter_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_letter_item_panel_id'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_item_letter_id'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_item_item_id'))

    op.drop_table('trace_letter_item')
    with op.batch_alter_table('trace_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_document_sha256'))
        batch_op.drop_index(batch_op.f('ix_trace_document_reply_id'))
        batch_op.drop_index(batch_op.f('ix_trace_document_panel_id'))
        batch_op.drop_index(batch_op.f('ix_trace_document_classification'))

    op.drop_table('trace_document')
    with op.batch_alter_table('trace_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_reply_panel_id'))
        batch_op.drop_index(batch_op.f('ix_trace_reply_letter_id'))
        batch_op.drop_index(batch_op.f('ix_trace_reply_classification'))

    op.drop_table('trace_reply')
    with op.batch_alter_table('trace_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_event_panel_id'))
        batch_op.drop_index(batch_op.f('ix_trace_event_letter_id'))
        batch_op.drop_index(batch_op.f('ix_trace_event_happened_on'))

    op.drop_table('trace_event')
    with op.batch_alter_table('trace_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_letter_status'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_sent_on'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_ref'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_panel_id'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_kind'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_follow_up_of_id'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_classification'))
        batch_op.drop_index(batch_op.f('ix_trace_letter_addressee_id'))

    op.drop_table('trace_letter')
    op.drop_table('trace_template')
    with op.batch_alter_table('trace_digest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_digest_user_id'))
        batch_op.drop_index(batch_op.f('ix_trace_digest_panel_id'))

    op.drop_table('trace_digest')
    with op.batch_alter_table('trace_addressee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_addressee_panel_id'))
        batch_op.drop_index(batch_op.f('ix_trace_addressee_kind'))
        batch_op.drop_index(batch_op.f('ix_trace_addressee_country'))

    op.drop_table('trace_addressee')
