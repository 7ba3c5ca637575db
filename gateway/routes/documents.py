"""Routes of the documents area (see docs/architecture.md)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
