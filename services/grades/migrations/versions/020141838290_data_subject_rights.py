"""data-subject rights (issue 11): grade disputes, restricted persons, school import staging

Revision ID: 020141838290
Revises: a7d3c9e1f2b4
Create Date: 2026-12-02 00:06:32.262464
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '020141838290'
down_revision: Union[str, None] = 'a7d3c9e1f2b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('restricted_persons',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('occurred_at', sa.Float(), nullable=False),
    sa.Column('source_event_id', sa.String(length=36), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_restricted_persons')),
    sa.UniqueConstraint('tenant_id', 'person_id', name='uq_restricted_person')
    )
    with op.batch_alter_table('restricted_persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_restricted_persons_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('school_imports',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('requested_by', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('finished_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_imports'))
    )
    with op.batch_alter_table('school_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_imports_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('school_import_chunks',
    sa.Column('import_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('section', sa.String(length=30), nullable=False),
    sa.Column('records', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['school_imports.id'], name=op.f('fk_school_import_chunks_import_id')),
    sa.PrimaryKeyConstraint('import_id', 'seq', name=op.f('pk_school_import_chunks'))
    )
    op.create_table('grade_disputes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('grade_id', sa.String(length=36), nullable=False),
    sa.Column('class_id', sa.String(length=36), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('student_id', sa.String(length=36), nullable=False),
    sa.Column('requester_id', sa.String(length=36), nullable=False),
    sa.Column('requester_role', sa.String(length=20), nullable=False),
    sa.Column('disputed_version', sa.Integer(), nullable=False),
    sa.Column('proposed_value', sa.SmallInteger(), nullable=True),
    sa.Column('proposed_qualifier', sa.String(length=2), nullable=True),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('attachment_ref', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('teacher_decided_by', sa.String(length=36), nullable=True),
    sa.Column('teacher_decided_at', sa.Float(), nullable=True),
    sa.Column('teacher_reason', sa.String(length=1000), nullable=True),
    sa.Column('escalated_at', sa.Float(), nullable=True),
    sa.Column('escalation_reason', sa.String(length=1000), nullable=True),
    sa.Column('director_decided_by', sa.String(length=36), nullable=True),
    sa.Column('director_decided_at', sa.Float(), nullable=True),
    sa.Column('director_reason', sa.String(length=1000), nullable=True),
    sa.Column('resulting_version', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['grade_id'], ['grades.id'], name=op.f('fk_grade_disputes_grade_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_disputes'))
    )
    with op.batch_alter_table('grade_disputes', schema=None) as batch_op:
        batch_op.create_index('ix_grade_disputes_grade', ['tenant_id', 'grade_id'], unique=False)
        batch_op.create_index('ix_grade_disputes_student', ['tenant_id', 'student_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grade_disputes_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('grade_disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grade_disputes_tenant_id'))
        batch_op.drop_index('ix_grade_disputes_student')
        batch_op.drop_index('ix_grade_disputes_grade')

    op.drop_table('grade_disputes')
    op.drop_table('school_import_chunks')
    with op.batch_alter_table('school_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_imports_tenant_id'))

    op.drop_table('school_imports')
    with op.batch_alter_table('restricted_persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_restricted_persons_tenant_id'))

    op.drop_table('restricted_persons')
