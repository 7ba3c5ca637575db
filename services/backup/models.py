from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.model_base import make_base

Base = make_base()


class EventCount(Base):
    __tablename__ = "event_counts"
    type: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_seen_at: Mapped[float] = mapped_column(Float, nullable=False)
