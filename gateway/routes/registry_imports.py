"""Registry imports and reports (filled below)."""
from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["registry"])
