"""Checkpoints leave the audit database: a witness directory, or a C2SP tlog-witness URL.

`DirectoryWitness` keeps the latest checkpoint as `<dir>/checkpoint` (written atomically,
never replaced by a smaller tree). `HttpWitness` speaks `add-checkpoint`
(https://c2sp.org/tlog-witness): POST `<url>/add-checkpoint` with `old <size>`, the
consistency proof from that size, an empty line and the note; a 409 answer tells the size
the witness holds, and the call is repeated from there.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Callable, Sequence

import httpx

from . import notes

LATEST = "checkpoint"
ProofFor = Callable[[int, int], Sequence[bytes]]


class WitnessError(RuntimeError):
    pass


class DirectoryWitness:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.location = str(self.directory / LATEST)

    def latest(self) -> str | None:
        path = self.directory / LATEST
        return path.read_text(encoding="utf-8") if path.exists() else None

    def add(self, note: str, size: int, proof_for: ProofFor, parse: Callable[[str], notes.Checkpoint]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        current = self.latest()
        if current is not None and parse(current).size >= size:
            return  # never go back (an older checkpoint arriving late)
        tmp = self.directory / f".{LATEST}.{os.getpid()}.tmp"
        tmp.write_text(note, encoding="utf-8")
        with open(tmp, "rb") as fh:
            _fsync(fh.fileno())
        tmp.replace(self.directory / LATEST)


def _fsync(fd: int) -> None:
    """fsync, in a real OS thread when running under eventlet (the audit service): a plain
    fsync blocks the whole process, the event consumer too, for as long as the disk takes.
    The caller still waits for it to finish before the note replaces the previous one."""
    import eventlet.patcher
    if eventlet.patcher.is_monkey_patched("thread"):
        from eventlet import tpool
        tpool.execute(os.fsync, fd)
    else:
        os.fsync(fd)


class HttpWitness:
    def __init__(self, url: str, *, timeout: float = 5.0, verify: str | bool = True):
        self.url = url.rstrip("/")
        self.location = self.url
        self._client = httpx.Client(timeout=timeout, verify=verify)
        self._known_size: int | None = None
        self._latest: str | None = None

    def latest(self) -> str | None:
        return self._latest

    def add(self, note: str, size: int, proof_for: ProofFor, parse: Callable[[str], notes.Checkpoint]) -> None:
        old = self._known_size or 0
        for _attempt in range(3):
            proof = proof_for(old, size) if 0 < old < size else []
            body = f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n" + note
            r = self._client.post(f"{self.url}/add-checkpoint", content=body.encode("utf-8"),
                                  headers={"Content-Type": "text/plain; charset=utf-8"})
            if r.status_code == 200:
                self._known_size, self._latest = size, note
                return
            if r.status_code == 409 and r.text.strip().isdigit():
                old = int(r.text.strip())
                if old > size:
                    raise WitnessError(f"the witness holds a larger tree ({old}) than this log ({size})")
                if old == size:
                    self._known_size = size
                    return
                continue
            raise WitnessError(f"witness answered {r.status_code}: {r.text[:200]}")
        raise WitnessError("the witness kept refusing the checkpoint")


def make_witnesses(directory: Path | None, url: str | None) -> list:
    out: list = []
    if directory is not None:
        out.append(DirectoryWitness(directory))
    if url:
        out.append(HttpWitness(url))
    return out
