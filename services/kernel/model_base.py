"""Column helpers shared by every service's models."""
from __future__ import annotations

import os
import time
import uuid

from sqlalchemy import Float, MetaData, String
from sqlalchemy.orm import DeclarativeBase, mapped_column

from .outbox import add_kernel_tables

NAMING = {
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def new_ids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as text, like `new_id()`, from one read of the OS's
    random source: for bulk paths (an import batch), where `uuid.uuid4()` per row costs more
    than the row's validation."""
    raw = bytearray(os.urandom(16 * count))
    out = []
    for i in range(0, 16 * count, 16):
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40  # version 4
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw[i:i + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def make_base() -> type[DeclarativeBase]:
    """A declarative base whose metadata already holds the outbox and inbox tables."""
    shared_metadata = MetaData(naming_convention=NAMING)
    add_kernel_tables(shared_metadata)

    class Base(DeclarativeBase):
        metadata = shared_metadata

    return Base


def id_column():
    return mapped_column(String(36), primary_key=True, default=new_id)


def tenant_column():
    return mapped_column(String(36), nullable=False, index=True)


def created_column():
    return mapped_column(Float, nullable=False, default=time.time)
