"""data-subject rights: processing restrictions, rectification requests

Revision ID: 5b7e2c9d41aa
Revises: cf62eb42e17d
Create Date: 2026-12-01 23:50:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '5b7e2c9d41aa'
down_revision: Union[str, None] = 'cf62eb42e17d'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('processing_restrictions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('set_by', sa.String(length=64), nullable=False),
    sa.Column('set_at', sa.Float(), nullable=False),
    sa.Column('lift_reason', sa.String(length=500), nullable=True),
    sa.Column('lifted_by', sa.String(length=64), nullable=True),
    sa.Column('lifted_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_processing_restrictions_person_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processing_restrictions'))
    )
    with op.batch_alter_table('processing_restrictions', schema=None) as batch_op:
        batch_op.create_index('ix_processing_restrictions_person', ['tenant_id', 'person_id', 'lifted_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_processing_restrictions_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_processing_restrictions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('rectification_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=80), nullable=False),
    sa.Column('proposed', sa.JSON(), nullable=True),
    sa.Column('proposed_sealed', sa.Text(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('attachment_ref', sa.String(length=200), nullable=True),
    sa.Column('requester_id', sa.String(length=64), nullable=False),
    sa.Column('requester_role', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.Column('decided_at', sa.Float(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_rectification_requests_person_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_requests'))
    )
    with op.batch_alter_table('rectification_requests', schema=None) as batch_op:
        batch_op.create_index('ix_rectification_requests_tenant', ['tenant_id', 'status', 'created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_requests_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_requests_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rectification_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_requests_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_requests_person_id'))
        batch_op.drop_index('ix_rectification_requests_tenant')
    op.drop_table('rectification_requests')
    with op.batch_alter_table('processing_restrictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processing_restrictions_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_processing_restrictions_person_id'))
        batch_op.drop_index('ix_processing_restrictions_person')
    op.drop_table('processing_restrictions')
