"""Registry enrolments and diplomas (filled below)."""
from fastapi import APIRouter

router = APIRouter()
