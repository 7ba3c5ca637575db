"""Does the outbox relay's cost stay flat as the outbox table ages?

`python -m bench.outbox_age [--old-rows 200000] [--batches 30]`

Baseline: the relay publishing batches of 200 events from a fresh outbox (SQLite); measured:
the same with `--old-rows` published rows already in the table (what 7 days of events leave
before pruning), and the time one prune of them takes. Target ratio ≈ 1 (flat).
"""
from __future__ import annotations

import argparse
import sys
import time

from bench.common import Row, median, print_table, scratch_vhost_and_dir, write_results
from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.model_base import make_base
from services.kernel.outbox import OutboxRelay, record_event


def _fill(sessions, metadata, n: int) -> None:
    with sessions.begin() as s:
        for i in range(n):
            record_event(s, metadata, Envelope(type="grades.grade_recorded", tenant_id="t", actor=Actor("u", "teacher"),
                                               entity=Entity("grade", f"g{i}"), data=change_data({"value": 9}),
                                               correlation_id=f"c{i}"))


def _age(sessions, metadata, n: int) -> None:
    t = metadata.tables["outbox"]
    old = time.time() - 8 * 86400
    rows = [{"event_id": f"00000000-0000-4000-8000-{i:012d}", "type": "grades.grade_recorded", "payload": "{}",
             "created_at": old, "published_at": old, "attempts": 1} for i in range(n)]
    with sessions.begin() as s:
        for start in range(0, n, 20000):
            s.execute(t.insert(), rows[start:start + 20000])


def _per_batch(relay, sessions, metadata, batches: int) -> float:
    times = []
    for _ in range(batches):
        _fill(sessions, metadata, 200)
        t0 = time.perf_counter()
        assert relay.publish_pending() == 200
        times.append(time.perf_counter() - t0)
    return median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.outbox_age", description=__doc__.split("\n")[0])
    p.add_argument("--old-rows", type=int, default=200_000)
    p.add_argument("--batches", type=int, default=30)
    args = p.parse_args(argv)
    with scratch_vhost_and_dir("outbox-age") as (amqp_uri, data_dir):
        results = {}
        for label, aged in (("fresh", False), ("aged", True)):
            base = make_base()
            engine = make_engine(f"sqlite:///{data_dir / f'{label}.db'}")
            base.metadata.create_all(engine)
            sessions = make_sessionmaker(engine)
            if aged:
                _age(sessions, base.metadata, args.old_rows)
            relay = OutboxRelay("grades", sessions, base.metadata, amqp_uri, retention_seconds=7 * 86400.0)
            _per_batch(relay, sessions, base.metadata, 3)  # warm-up
            results[label] = _per_batch(relay, sessions, base.metadata, args.batches)
            if aged:
                t0 = time.perf_counter()
                results["pruned_rows"] = relay.prune()
                results["prune_seconds"] = time.perf_counter() - t0
                results["after_prune"] = _per_batch(relay, sessions, base.metadata, args.batches)
            relay.close()
            engine.dispose()
    rows = [Row(f"relay batch of 200 with {args.old_rows:,} old published rows", results["fresh"] * 1000,
                results["aged"] * 1000, "ms", ratio=results["fresh"] / results["aged"], target="ratio ≈ 1 (flat)",
                met=results["fresh"] / results["aged"] >= 0.8),
            Row("relay batch of 200 after the prune", results["fresh"] * 1000, results["after_prune"] * 1000, "ms",
                ratio=results["fresh"] / results["after_prune"]),
            Row(f"prune of {results['pruned_rows']:,} rows (chunks of 5,000)", float("nan"),
                results["prune_seconds"], "s")]
    table = print_table("outbox relay vs table age", "fresh outbox (SQLite)", "outbox holding old published rows",
                        rows)
    write_results("outbox_age", {"args": vars(args), **results, "table": table, "cpu_text": ""})
    return 0


if __name__ == "__main__":
    sys.exit(main())
