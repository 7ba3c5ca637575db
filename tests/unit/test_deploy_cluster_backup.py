"""Static checks of the cluster-level backup deployment (deploy/postgres-ha/, deploy/prometheus/):
synchronous replication in Compose and in the CloudNativePG cluster, pgBackRest's two
repositories (the off-site one S3 and encrypted, no secret in the files), the backup service's
schedules, and the Prometheus alert rules (promtool when installed, else parsed). Each check
returns its problems; a broken copy of the real files shows that each one can fail."""
from __future__ import annotations

import configparser
import copy
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from services.backup.cluster import metrics
from services.backup.cluster.schedule import InvalidSchedule, validate_cron

ROOT = Path(__file__).resolve().parents[2]
HA = ROOT / "deploy" / "postgres-ha"
RULES = ROOT / "deploy" / "prometheus" / "backup-cluster.rules.yml"
SYNC_COMMIT_OK = ("on", "remote_apply")


def read_conf(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            key, value = (p.strip() for p in line.split("=", 1))
            out[key] = value.strip("'")
    return out


def read_ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


@dataclass
class Bundle:
    compose: dict
    primary_conf: dict[str, str]
    standby_script: str
    repo_conf: configparser.ConfigParser
    db_conf: configparser.ConfigParser
    cnpg: dict
    k8s_pgbackrest: dict
    rules: dict


def load() -> Bundle:
    docs = list(yaml.safe_load_all((HA / "k8s" / "pgbackrest-config.yaml").read_text()))
    return Bundle(
        compose=yaml.safe_load((HA / "docker-compose.ha.yml").read_text()),
        primary_conf=read_conf((HA / "postgres" / "primary.conf").read_text()),
        standby_script=(HA / "postgres" / "standby-entrypoint.sh").read_text(),
        repo_conf=read_ini((HA / "pgbackrest" / "pgbackrest.repo.conf").read_text()),
        db_conf=read_ini((HA / "pgbackrest" / "pgbackrest.db.conf").read_text()),
        cnpg=yaml.safe_load((HA / "k8s" / "cnpg-cluster.yaml").read_text()),
        k8s_pgbackrest=docs[0],
        rules=yaml.safe_load(RULES.read_text()))


def standby_names(setting: str) -> set[str]:
    inner = re.sub(r"^\s*(FIRST|ANY)\s+\d+\s*\(", "", setting).rstrip(") ")
    return {n.strip().strip('"') for n in inner.split(",") if n.strip()}


def check_compose_synchronous(b: Bundle) -> list[str]:
    problems = []
    conf = b.primary_conf
    if conf.get("synchronous_commit") not in SYNC_COMMIT_OK:
        problems.append(f"primary synchronous_commit is {conf.get('synchronous_commit')!r}")
    names = standby_names(conf.get("synchronous_standby_names", ""))
    standby = b.compose["services"].get("postgres-standby", {})
    name = standby.get("environment", {}).get("STANDBY_NAME")
    if not names or name not in names:
        problems.append(f"the standby ({name}) is not named in synchronous_standby_names ({names})")
    if "pg_basebackup" not in b.standby_script or "application_name=$STANDBY_NAME" not in b.standby_script:
        problems.append("the standby is not cloned with pg_basebackup under its synchronous name")
    if "-R" not in b.standby_script.split():
        problems.append("pg_basebackup -R (write primary_conninfo, standby.signal) is missing")
    if conf.get("archive_mode") != "on" or "archive-push" not in conf.get("archive_command", ""):
        problems.append("WAL archiving to pgBackRest (archive_command ... archive-push) is off")
    return problems


def _repo_settings(conf: configparser.ConfigParser) -> dict[str, str]:
    return dict(conf["global"])


def check_pgbackrest_repositories(b: Bundle) -> list[str]:
    problems = []
    for where, text in (("compose", b.repo_conf), ("k8s", read_ini(b.k8s_pgbackrest["data"]["pgbackrest.conf"]))):
        g = _repo_settings(text)
        if g.get("repo1-type", "posix") != "posix":
            problems.append(f"{where}: repository 1 must be on site (posix)")
        if g.get("repo2-type") != "s3":
            problems.append(f"{where}: repository 2 (off site) must be S3-compatible storage")
        if g.get("repo2-cipher-type") != "aes-256-cbc":
            problems.append(f"{where}: the off-site repository is not encrypted (repo2-cipher-type)")
        if g.get("repo2-storage-verify-tls", "y") != "y":
            problems.append(f"{where}: TLS to the off-site storage is not verified")
        for secret in ("repo2-cipher-pass", "repo2-s3-key", "repo2-s3-key-secret"):
            if secret in g:
                problems.append(f"{where}: {secret} is written in the file (give it as PGBACKREST_* env)")
        if "catalog" not in text.sections():
            problems.append(f"{where}: no [catalog] stanza")
    return problems


def check_backup_service_schedules(b: Bundle) -> list[str]:
    problems = []
    for where, env in (("compose", b.compose["services"]["backup"]["environment"]),
                       ("k8s", b.k8s_pgbackrest["data"])):
        if env.get("CLUSTER_BACKUP_STANZA") != "catalog":
            problems.append(f"{where}: CLUSTER_BACKUP_STANZA does not name the [catalog] stanza")
        for key in ("CLUSTER_BACKUP_INCREMENTAL_SCHEDULE", "CLUSTER_BACKUP_FULL_SCHEDULE"):
            try:
                validate_cron(env.get(key, ""))
            except InvalidSchedule as exc:
                problems.append(f"{where}: {key}: {exc}")
        if env.get("CLUSTER_BACKUP_OFFSITE_REPO") != "2":
            problems.append(f"{where}: the monthly full must also go to repository 2 (off site)")
    compose_env = b.compose["services"]["backup"]["environment"]
    if "PGBACKREST_REPO2_CIPHER_PASS" not in compose_env or "${" not in compose_env["PGBACKREST_REPO2_CIPHER_PASS"]:
        problems.append("compose: the cipher passphrase must come from .env interpolation")
    return problems


def check_cnpg_synchronous(b: Bundle) -> list[str]:
    c, problems = b.cnpg, []
    if (c.get("apiVersion"), c.get("kind")) != ("postgresql.cnpg.io/v1", "Cluster"):
        problems.append("not a CloudNativePG Cluster")
    spec = c.get("spec", {})
    if spec.get("instances", 0) < 2:
        problems.append("a synchronous standby needs at least 2 instances")
    sync = spec.get("postgresql", {}).get("synchronous", {})
    if sync.get("number", 0) < 1 or sync.get("dataDurability", "required") != "required":
        problems.append("no required synchronous replica (postgresql.synchronous.number/dataDurability)")
    commit = spec.get("postgresql", {}).get("parameters", {}).get("synchronous_commit", "on")
    if commit not in SYNC_COMMIT_OK:
        problems.append(f"synchronous_commit is {commit!r}")
    return problems


def check_alert_rules(b: Bundle) -> list[str]:
    problems = []
    known = {m._name for m in vars(metrics).values() if hasattr(m, "_name")}
    known |= {f"{n}_total" for n in known}
    alerts = {r["alert"]: r for g in b.rules.get("groups", []) for r in g.get("rules", []) if "alert" in r}
    for needed in ("BackupStandbyNotSynchronous", "BackupIncrementalMissing", "BackupFullMissing",
                   "BackupClusterRunFailed", "BackupClusterNotConfigured"):
        if needed not in alerts:
            problems.append(f"alert {needed} is missing")
    for name, rule in alerts.items():
        used = set(re.findall(r"\b(backup_[a-z_]+)\b", rule.get("expr", "")))
        if not used or not used <= known:
            problems.append(f"{name}: unknown metrics {sorted(used - known)}")
        if "severity" not in rule.get("labels", {}) or "summary" not in rule.get("annotations", {}):
            problems.append(f"{name}: needs a severity label and a summary")
    return problems


CHECKS = [check_compose_synchronous, check_pgbackrest_repositories, check_backup_service_schedules,
          check_cnpg_synchronous, check_alert_rules]


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_deploy_is_consistent(check):
    assert check(load()) == []


def test_promtool_checks_the_rules():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; `make system-packages`)")
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # and the alerts fire when they should (a lost standby, a missing daily incremental)
    result = subprocess.run([promtool, "test", "rules", RULES.with_suffix(".test.yml").name], capture_output=True,
                            text=True, timeout=60, cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def _break(mutate):
    b = load()
    b = copy.deepcopy(b)
    mutate(b)
    return b


BROKEN = {
    "async-commit": (check_compose_synchronous, lambda b: b.primary_conf.update(synchronous_commit="local")),
    "standby-unnamed": (check_compose_synchronous,
                        lambda b: b.primary_conf.update(synchronous_standby_names="FIRST 1 (other)")),
    "no-archiving": (check_compose_synchronous, lambda b: b.primary_conf.update(archive_mode="off")),
    "offsite-plain": (check_pgbackrest_repositories, lambda b: b.repo_conf.remove_option("global", "repo2-cipher-type")),
    "secret-in-file": (check_pgbackrest_repositories, lambda b: b.repo_conf.set("global", "repo2-cipher-pass", "x")),
    "offsite-posix": (check_pgbackrest_repositories, lambda b: b.repo_conf.set("global", "repo2-type", "posix")),
    "bad-cron": (check_backup_service_schedules, lambda b: b.compose["services"]["backup"]["environment"].update(
        CLUSTER_BACKUP_FULL_SCHEDULE="monthly")),
    "no-offsite-full": (check_backup_service_schedules, lambda b: b.k8s_pgbackrest["data"].pop(
        "CLUSTER_BACKUP_OFFSITE_REPO")),
    "cnpg-async": (check_cnpg_synchronous, lambda b: b.cnpg["spec"]["postgresql"].pop("synchronous")),
    "cnpg-single": (check_cnpg_synchronous, lambda b: b.cnpg["spec"].update(instances=1)),
    "alert-missing": (check_alert_rules, lambda b: b.rules["groups"][0]["rules"].pop(0)),
    "alert-unknown-metric": (check_alert_rules, lambda b: b.rules["groups"][0]["rules"][1].update(
        expr="backup_no_such_metric > 1")),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_detects(name):
    check, mutate = BROKEN[name]
    assert check(_break(mutate)), f"{check.__name__} did not notice {name}"
