"""The per-tenant backup alert rules are valid and fire: a failed drill alerts."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "backup_tenant.rules.yml"
METRICS = Path(__file__).resolve().parents[3] / "services" / "backup" / "tenant" / "metrics.py"


def test_rules_name_only_metrics_the_service_exports():
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert {"BackupTenantDrillFailed", "BackupTenantIncrementalStale", "BackupTenantFullStale"} <= \
        {r["alert"] for r in rules}
    exported = METRICS.read_text()
    for rule in rules:
        names = re.findall(r"backup_tenant_[a-z_]+", rule["expr"])
        # a Counter is exported with the _total suffix, a Histogram with _bucket
        assert names and all(re.sub(r"_(total|bucket)$", "", n) in exported for n in names), rule["alert"]


def test_promtool_checks_and_unit_tests_the_rules():
    promtool = shutil.which("promtool")
    if promtool is None:  # parsed above; promtool is a Debian package (prometheus)
        return
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run([promtool, "test", "rules", str(RULES.with_name("backup_tenant.rules.test.yml"))],
                          capture_output=True, text=True, cwd=RULES.parent)
    assert test.returncode == 0, test.stdout + test.stderr
