"""pgBackRest, PostgreSQL's own backup engine, driven as a command (`pgbackrest`).

Repository 1 is local (the "backup database" of Art. 7(1)): daily incrementals on top of the
monthly full. Repository 2 is off-site (S3-compatible storage, encrypted with
`repo2-cipher-type=aes-256-cbc`): the monthly full (Art. 7(2)). The configuration file is
the operator's (`deploy/pgbackrest/`); this module only adds per-run options (backup type,
repository, retention) on the command line. Parsing `info --output=json` is pure.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path


class PgBackRestError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupInfo:
    label: str
    type: str  # full | diff | incr
    repo: int
    started: float
    stopped: float
    size: int  # database size
    delta: int  # bytes this backup copied
    repo_size: int  # bytes stored in the repository (compressed)
    repo_delta: int

    @property
    def day(self) -> date:
        return datetime.fromtimestamp(self.started, timezone.utc).date()


def parse_info(raw: str, stanza: str) -> tuple[list[BackupInfo], dict]:
    """The backups of `stanza` in `pgbackrest info --output=json`, oldest first, and its status
    (with pgBackRest's progress of a running backup: `lock.backup.size-cplt` of `size`)."""
    for entry in json.loads(raw or "[]"):
        if entry.get("name") != stanza:
            continue
        backups = []
        for b in entry.get("backup", []):
            info, repo = b.get("info", {}), b.get("info", {}).get("repository", {})
            backups.append(BackupInfo(
                label=b["label"], type=b["type"], repo=int(b.get("database", {}).get("repo-key", 1)),
                started=float(b["timestamp"]["start"]), stopped=float(b["timestamp"]["stop"]),
                size=int(info.get("size", 0)), delta=int(info.get("delta", 0)),
                repo_size=int(repo.get("size", 0)), repo_delta=int(repo.get("delta", 0))))
        return sorted(backups, key=lambda b: (b.started, b.label)), entry.get("status", {})
    return [], {}


def progress_of(status: dict) -> float | None:
    """Fraction done of the backup running now, if pgBackRest reports one."""
    lock = status.get("lock", {}).get("backup", {})
    if not lock.get("held"):
        return None
    size, done = lock.get("size"), lock.get("size-cplt")
    return round(done / size, 4) if size and done is not None else 0.0


def new_backup(before: list[BackupInfo], after: list[BackupInfo], repo: int) -> BackupInfo | None:
    known = {(b.label, b.repo) for b in before}
    fresh = [b for b in after if b.repo == repo and (b.label, b.repo) not in known]
    return fresh[-1] if fresh else None


@dataclass
class PgBackRest:
    """Runs `pgbackrest` for one stanza (as `run_as`, the database's OS user, if set)."""
    stanza: str
    config: Path | None = None
    run_as: str | None = None
    binary: str = "pgbackrest"
    extra: list[str] = field(default_factory=list)  # e.g. --pg1-user=...
    timeout: float = 6 * 3600

    def argv(self, command: str, *options: str) -> list[str]:
        argv = [self.binary]
        if self.config:
            argv.append(f"--config={self.config}")
        argv += [f"--stanza={self.stanza}", *self.extra, *options, command]
        if self.run_as:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        return argv

    def run(self, command: str, *options: str, timeout: float | None = None) -> str:
        argv = self.argv(command, *options)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout or self.timeout,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise PgBackRestError(f"pgbackrest is not installed ({exc.filename})") from exc
        except subprocess.TimeoutExpired as exc:
            raise PgBackRestError(f"pgbackrest {command} timed out after {exc.timeout:.0f}s") from exc
        if done.returncode != 0:
            # pgBackRest's own messages ("ERROR: [xxx]: ...") never contain secrets: it redacts them
            lines = [line for line in (done.stderr + done.stdout).splitlines() if "ERROR" in line]
            message = (lines[-1] if lines else (done.stderr or done.stdout).strip()[-500:]) or "no output"
            raise PgBackRestError(f"pgbackrest {command} exited {done.returncode}: {message}"[:1000])
        return done.stdout

    def info(self) -> tuple[list[BackupInfo], dict]:
        return parse_info(self.run("info", "--output=json", timeout=120), self.stanza)

    def stanza_create(self) -> None:
        self.run("stanza-create", timeout=600)

    def check(self) -> None:
        self.run("check", timeout=600)

    def backup(self, kind: str, repo: int, *retention: str) -> BackupInfo:
        """One backup into `repo`; pgBackRest expires old backups after it (per `retention`)."""
        before, _ = self.info()
        started = time.time()
        self.run("backup", f"--type={kind}", f"--repo={repo}", *retention)
        after, _ = self.info()
        made = new_backup(before, after, repo)
        if made is None:
            raise PgBackRestError(f"pgbackrest backup finished but no new backup is listed in repo {repo}")
        if made.started < started - 5:
            raise PgBackRestError("pgbackrest listed an older backup as the new one")
        return made

    def expire(self, repo: int, *retention: str) -> None:
        self.run("expire", f"--repo={repo}", *retention)

    def describe(self, command: str) -> str:
        return shlex.join(self.argv(command))


def time_retention(repo: int, days: int) -> list[str]:
    return [f"--repo{repo}-retention-full-type=time", f"--repo{repo}-retention-full={days}"]


def count_retention(repo: int, fulls: int) -> list[str]:
    return [f"--repo{repo}-retention-full-type=count", f"--repo{repo}-retention-full={fulls}"]
