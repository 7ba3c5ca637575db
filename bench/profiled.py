"""Run a module under cProfile: `python -m bench.profiled <stats file> <module> [args…]`.

Unlike `python -m cProfile -o … -m …` this also writes the stats when the process is ended by
SIGTERM: uvicorn, after its graceful shutdown, restores the previous SIGTERM handler and
re-raises the signal, which with the default handler kills the process before cProfile writes
anything. Here the previous handler is ours, and it turns the signal into a normal exit.
nameko services install their own handler and return normally; both paths end in `finally`.
Only the main thread is profiled (for the gateway: the event loop, not the threadpool).
"""
from __future__ import annotations

import cProfile
import runpy
import signal
import sys


def main() -> None:
    out, module = sys.argv[1], sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]

    def _exit(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _exit)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
