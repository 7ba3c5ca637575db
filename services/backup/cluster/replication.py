"""CAT-6 watch: is every saved record in two database sources? (`pg_stat_replication`)

A PostgreSQL primary with `synchronous_commit` = `on` or `remote_apply` and a standby named
in `synchronous_standby_names` whose `sync_state` is `sync` (or `quorum`) acknowledges a
commit only once the standby has flushed (or applied) it: two sources at save. The embedded
SQLite mode has one file, so one source: it never meets CAT-6, and says so.
"""
from __future__ import annotations

from sqlalchemy.engine import make_url

SQLITE_NOTE = ("embedded SQLite mode: one database file, a single source; CAT-6 (every record in at "
               "least two database sources from the moment it is saved) is NOT met. Use PostgreSQL with "
               "a synchronous standby (deploy/postgres-ha/).")
SYNCHRONOUS_COMMIT_OK = ("on", "remote_apply")
SYNC_STATES = ("sync", "quorum")

QUERY_STANDBYS = ("SELECT application_name, state, sync_state, "
                  "EXTRACT(EPOCH FROM COALESCE(replay_lag, interval '0'))::float8 "
                  "FROM pg_stat_replication ORDER BY application_name")


def server_key(url: str) -> str:
    """Databases on one PostgreSQL server share its replication: watched once."""
    u = make_url(url)
    return f"{u.host or 'localhost'}:{u.port or 5432}"


def assess(synchronous_commit: str, standby_names: str, standbys: list[dict]) -> dict:
    """Pure: the CAT-6 verdict from what the primary reports."""
    sync = [s for s in standbys if s["sync_state"] in SYNC_STATES and s["state"] == "streaming"]
    problems = []
    if synchronous_commit not in SYNCHRONOUS_COMMIT_OK:
        problems.append(f"synchronous_commit is {synchronous_commit!r}, not on/remote_apply")
    if not standby_names.strip():
        problems.append("synchronous_standby_names is empty: no standby is waited for")
    if not sync:
        problems.append("no synchronous standby is streaming")
    return {"sync_standbys": len(sync), "cat6_met": not problems, "problems": problems}


def check_postgres(url: str) -> dict:
    import psycopg2  # green under the services' psycogreen patch

    u = make_url(url)
    connection = psycopg2.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                  dbname=u.database, connect_timeout=5,
                                  application_name="backup-replication-watch")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            synchronous_commit = cursor.fetchone()[0]
            cursor.execute("SHOW synchronous_standby_names")
            standby_names = cursor.fetchone()[0]
            cursor.execute("SELECT pg_is_in_recovery()")
            in_recovery = cursor.fetchone()[0]
            cursor.execute(QUERY_STANDBYS)
            standbys = [{"name": r[0], "state": r[1], "sync_state": r[2], "replay_lag_seconds": r[3]}
                        for r in cursor.fetchall()]
    finally:
        connection.close()
    verdict = assess(synchronous_commit, standby_names, standbys)
    if in_recovery:
        verdict["problems"].insert(0, "this server is a standby (in recovery), not the primary")
        verdict["cat6_met"] = False
    return {"backend": "postgresql", "server": server_key(url), "synchronous_commit": synchronous_commit,
            "synchronous_standby_names": standby_names, "standbys": standbys, **verdict}


def watch(databases: dict[str, str]) -> dict[str, dict]:
    """The replication state of each database (an unreachable one says why)."""
    results: dict[str, dict] = {}
    by_server: dict[str, dict] = {}
    for name, url in sorted(databases.items()):
        if url.startswith("sqlite"):
            results[name] = {"backend": "sqlite", "cat6_met": False, "sync_standbys": 0, "problems": [SQLITE_NOTE]}
            continue
        key = server_key(url)
        if key not in by_server:
            try:
                by_server[key] = check_postgres(url)
            except Exception as exc:  # noqa: BLE001 - any failure means "cannot tell": say so
                by_server[key] = {"backend": "postgresql", "server": key, "cat6_met": False, "sync_standbys": 0,
                                  "problems": [f"cannot read pg_stat_replication: {type(exc).__name__}: "
                                               f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"]}
        results[name] = by_server[key]
    return results


def summary(results: dict[str, dict]) -> dict:
    met = all(r["cat6_met"] for r in results.values()) if results else False
    return {"cat6_met": met,
            "statement": ("CAT-6 met: every watched database commits on a primary and a synchronous standby"
                          if met else "CAT-6 NOT met: " + "; ".join(
                              sorted({f"{name}: {p}" for name, r in results.items() for p in r["problems"][:1]}))),
            "databases": results}
