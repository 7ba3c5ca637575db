"""A nameko dependency that runs a function in the background, in the service's container
(so the container waits for it, or kills it, when the service stops)."""
from __future__ import annotations

from typing import Callable

from nameko.extensions import DependencyProvider


class BackgroundWork(DependencyProvider):
    def get_dependency(self, worker_ctx) -> Callable[[Callable[[], None]], None]:
        return lambda fn: self.container.spawn_managed_thread(fn, identifier="documents.year_end_set")
