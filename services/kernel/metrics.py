"""Prometheus metrics shared by every service process (each exposes its own port)."""
from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_CALLS = Counter("rpc_calls_total", "RPC calls handled", ["service", "method", "outcome"])
RPC_LATENCY = Histogram("rpc_latency_seconds", "RPC handling time", ["service", "method"],
                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
EVENTS_PUBLISHED = Counter("events_published_total", "Outbox events confirmed by the broker",
                           ["service", "type"])
EVENTS_CONSUMED = Counter("events_consumed_total", "Events consumed", ["service", "type", "outcome"])
EVENTS_DEAD_LETTERED = Counter("events_dead_lettered_total",
                               "Events a consumer sent to its dead-letter queue", ["queue", "reason"])
DEAD_LETTER_DEPTH = Gauge("dead_letter_queue_messages", "Messages waiting in a dead-letter queue", ["queue"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet confirmed by the broker", ["service"])

_started_ports: set[int] = set()


@functools.lru_cache(maxsize=4096)
def child(metric, *labels: str):
    """The labelled child of `metric`, looked up once: `labels()` validates and takes a lock
    on every call, on every request. Label values must come from bounded sets (route
    templates, method names, outcomes), as they must for Prometheus anyway."""
    return metric.labels(*labels)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Loopback by default; a container sets METRICS_HOST=0.0.0.0 so the scraper can reach it."""
    if port and port not in _started_ports:
        start_http_server(port, addr=host)
        _started_ports.add(port)
