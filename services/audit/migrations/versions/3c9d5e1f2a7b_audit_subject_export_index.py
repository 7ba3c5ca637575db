"""an index for a person's export: entries by tenant and entity id in log order

Revision ID: 3c9d5e1f2a7b
Revises: 7a1c0de5e7e1
Create Date: 2026-12-02 00:05:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '3c9d5e1f2a7b'
down_revision: Union[str, None] = '7a1c0de5e7e1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # a plain CREATE INDEX (no batch copy of the table: the trail is append-only)
    op.create_index('ix_audit_tenant_entity_leaf', 'audit_entries', ['tenant_id', 'entity_id', 'leaf_index'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_tenant_entity_leaf', table_name='audit_entries')
