"""Token buckets per API client, in this gateway process (each replica limits on its own)."""
from __future__ import annotations

import time


class TokenBuckets:
    def __init__(self, rate_per_second: float, burst: int, max_keys: int = 10_000):
        self.rate, self.burst, self.max_keys = rate_per_second, burst, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory; a reset only ever lets clients through sooner
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True
