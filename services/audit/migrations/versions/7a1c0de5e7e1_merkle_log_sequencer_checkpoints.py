"""merkle log: leaf index and hash per entry, tree nodes, log state, signed checkpoints

Existing entries keep NULL leaf indexes; the sequencer gives them theirs (in id order) when
the service starts, before any new entry.

Revision ID: 7a1c0de5e7e1
Revises: 2f17eef35c67
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '7a1c0de5e7e1'
down_revision: Union[str, None] = '2f17eef35c67'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaf_index', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entries_leaf_index'), ['leaf_index'])
        batch_op.create_index('ix_audit_tenant_leaf', ['tenant_id', 'leaf_index'], unique=False)
        batch_op.create_index('ix_audit_actor_leaf', ['actor_id', 'leaf_index'], unique=False)
        batch_op.create_index('ix_audit_type_leaf', ['type', 'leaf_index'], unique=False)
        batch_op.create_index('ix_audit_correlation', ['correlation_id'], unique=False)
    op.create_table(
        'merkle_nodes',
        sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_merkle_nodes')))
    op.create_table(
        'log_state',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('compact_range', sa.LargeBinary(), nullable=False),
        sa.Column('checkpoint_size', sa.BigInteger(), nullable=False),
        sa.Column('checkpoint_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_log_state')))
    op.create_table(
        'checkpoints',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('root', sa.LargeBinary(length=32), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('issued_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoints')),
        sa.UniqueConstraint('size', name=op.f('uq_checkpoints_size')))


def downgrade() -> None:
    op.drop_table('checkpoints')
    op.drop_table('log_state')
    op.drop_table('merkle_nodes')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_correlation')
        batch_op.drop_index('ix_audit_type_leaf')
        batch_op.drop_index('ix_audit_actor_leaf')
        batch_op.drop_index('ix_audit_tenant_leaf')
        batch_op.drop_constraint(batch_op.f('uq_audit_entries_leaf_index'), type_='unique')
        batch_op.drop_column('leaf_hash')
        batch_op.drop_column('leaf_index')
