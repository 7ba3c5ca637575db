"""Query parameters every list shares, with their bounds: a value outside them is a 422."""
from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_OFFSET = 1_000_000

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page (1-200).", examples=[50])]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip (0-{MAX_OFFSET}).",
                              examples=[0])]
