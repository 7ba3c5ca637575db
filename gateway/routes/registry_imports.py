"""Registry imports and reports (filled below)."""
from fastapi import APIRouter

router = APIRouter()
