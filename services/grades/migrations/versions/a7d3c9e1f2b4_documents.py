"""documents: printouts, generated files in chunks, year-end jobs

Revision ID: a7d3c9e1f2b4
Revises: e011beaf5d52
Create Date: 2026-12-01 20:15:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'a7d3c9e1f2b4'
down_revision: Union[str, None] = 'bc2006be41cc'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('document_printouts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('class_id', sa.String(length=36), nullable=False),
    sa.Column('class_name', sa.String(length=50), nullable=False),
    sa.Column('school_year', sa.String(length=20), nullable=False),
    sa.Column('period_id', sa.String(length=36), nullable=True),
    sa.Column('student_id', sa.String(length=36), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('pupil_digests', sa.Text(), nullable=False),
    sa.Column('printed_by', sa.String(length=36), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('printed_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_printouts'))
    )
    with op.batch_alter_table('document_printouts', schema=None) as batch_op:
        batch_op.create_index('ix_document_printouts_fingerprint', ['tenant_id', 'fingerprint'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_printouts_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('document_jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('school_year', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('heartbeat_at', sa.Float(), nullable=False),
    sa.Column('finished_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_jobs'))
    )
    with op.batch_alter_table('document_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_jobs_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('document_files',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('class_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('chunks', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_files'))
    )
    with op.batch_alter_table('document_files', schema=None) as batch_op:
        batch_op.create_index('ix_document_files_job', ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_files_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('document_chunks',
    sa.Column('file_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['document_files.id'], name=op.f('fk_document_chunks_file_id_document_files'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('file_id', 'seq', name=op.f('pk_document_chunks'))
    )


def downgrade() -> None:
    op.drop_table('document_chunks')
    with op.batch_alter_table('document_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_files_tenant_id'))
        batch_op.drop_index('ix_document_files_job')
    op.drop_table('document_files')
    with op.batch_alter_table('document_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_jobs_tenant_id'))
    op.drop_table('document_jobs')
    with op.batch_alter_table('document_printouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_printouts_tenant_id'))
        batch_op.drop_index('ix_document_printouts_fingerprint')
    op.drop_table('document_printouts')
