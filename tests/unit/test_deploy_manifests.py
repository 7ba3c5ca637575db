"""Static checks of deploy/: Dockerfile, Docker Compose, Kubernetes manifests, operator README.

No network, no Docker engine. Each check is a function returning a list of problems (empty =
fine). `test_deploy_is_consistent` runs every check on the real files; `test_check_detects`
runs checks on deliberately broken copies, so each assertion is shown to be able to fail.
"""
from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / "platform.env.example"
DOTENV_EXAMPLE = COMPOSE_DIR / ".env.example"
INITDB_SQL = COMPOSE_DIR / "initdb" / "01-databases.sql"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCKERIGNORE = DEPLOY / "docker" / "Dockerfile.dockerignore"
README = DEPLOY / "README.md"
KUSTOMIZATION = "kustomization.yaml"
SECRET_EXAMPLE = "secret.example.yaml"

SERVICES = ("auth", "grades", "registry", "audit", "backup")
PROCESSES = (*SERVICES, "gateway")
METRICS_PORTS = {"auth": 9101, "grades": 9102, "registry": 9103, "audit": 9104, "backup": 9105}
K8S_REPLICAS = {"auth": 2, "grades": 2, "audit": 2, "registry": 1, "backup": 1}
GATEWAY_PORT = 8443
DATA_DIR = "/var/lib/catalog"
IMAGE = "catalog-platform"
BASE_IMAGE = "python:3.11-slim"
MONITORING_NAMESPACE = "monitoring"

# The documented environment contract (deploy/README.md has one table row per variable).
DOCUMENTED_ENV = frozenset({
    "PLATFORM_ENV", "AMQP_URI",
    "AUTH_DATABASE_URL", "GRADES_DATABASE_URL", "REGISTRY_DATABASE_URL", "AUDIT_DATABASE_URL",
    "BACKUP_DATABASE_URL",
    "PLATFORM_DATA_DIR", "METRICS_HOST", "METRICS_PORT", "SERVICE_MAX_WORKERS", "RPC_TIMEOUT_SECONDS", "LOG_LEVEL",
    "AUTH_SIGNING_KEY_FILE", "AUTH_PUBLIC_KEY_FILE",
    "PLATFORM_OPERATOR_EMAIL", "PLATFORM_OPERATOR_PASSWORD",
    "GATEWAY_HOST", "GATEWAY_PORT", "GATEWAY_TLS_CERT_FILE", "GATEWAY_TLS_KEY_FILE", "GATEWAY_SESSION_KEY",
    "TOTP_ENCRYPTION_KEY", "AUTH_CODE_PEPPER", "REGISTRY_ENCRYPTION_KEY",
    # the audit log's checkpoint key (required in production), its name and its witnesses
    "AUDIT_KEY_FILE", "AUDIT_PUBLIC_KEY_FILE", "AUDIT_ORIGIN", "AUDIT_WITNESS_DIR", "AUDIT_WITNESS_URL",
    # service-to-service credentials (services/kernel/service_credentials.py)
    "SERVICE_KEYS_DIR",
    # the site's public addresses, quoted in e-mails and printed on documents
    "PUBLIC_BASE_URL", "DOCUMENTS_VERIFY_URL",
    # senders (auth), set from the Secret when present
    "SMTP_URL", "SMS_PROVIDER_URL", "SMS_PROVIDER_TOKEN",
    # per-tenant backups (services/backup/tenant/)
    "BACKUP_TARGETS", "BACKUP_AGE_RECIPIENT", "BACKUP_AGE_RECIPIENT_FILE", "BACKUP_AGE_IDENTITY_FILE",
    "BACKUP_MANIFEST_KEY_FILE", "BACKUP_MANIFEST_PUBLIC_KEY_FILE", "BACKUP_ARCHIVE_DIR",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
})
# Optional settings with working defaults: documented in the README's second table.
OPTIONAL_ENV = frozenset({
    "MAIL_FROM", "TOTP_ISSUER", "TOTP_OLD_ENCRYPTION_KEYS", "REGISTRY_OLD_ENCRYPTION_KEYS",
    "REFRESH_TOKEN_DAYS", "PARTIAL_TOKEN_MINUTES", "ACCESS_TOKEN_MINUTES", "LOGIN_ADDRESS_FREE_FAILURES",
    "GATEWAY_CLIENT_RATE_PER_SECOND", "GATEWAY_CLIENT_BURST",
})
# per-tenant backups (services/backup/tenant/): documented in the README's third table
OPTIONAL_ENV |= frozenset({
    "BACKUP_INCREMENTAL_CRON", "BACKUP_FULL_CRON", "BACKUP_DRILL_CRON", "BACKUP_RETENTION_CRON",
    "BACKUP_TENANT_SERVICES", "BACKUP_DRILL_DATABASE_URL_TEMPLATE",
})
# Settings only one process may see (besides its own database URL): keys, credentials, and
# site settings no other process reads.
OWNED_ENV: dict[str, frozenset[str]] = {
    "auth": frozenset({"AUTH_SIGNING_KEY_FILE", "TOTP_ENCRYPTION_KEY", "AUTH_CODE_PEPPER",
                       "PLATFORM_OPERATOR_EMAIL", "PLATFORM_OPERATOR_PASSWORD",
                       "SMTP_URL", "SMS_PROVIDER_URL", "SMS_PROVIDER_TOKEN", "PUBLIC_BASE_URL"}),
    "registry": frozenset({"REGISTRY_ENCRYPTION_KEY"}),
    "grades": frozenset({"DOCUMENTS_VERIFY_URL"}),
    "audit": frozenset({"AUDIT_KEY_FILE", "AUDIT_PUBLIC_KEY_FILE", "AUDIT_ORIGIN", "AUDIT_WITNESS_DIR",
                        "AUDIT_WITNESS_URL"}),
    "backup": frozenset({"BACKUP_TARGETS", "BACKUP_AGE_RECIPIENT", "BACKUP_AGE_RECIPIENT_FILE",
                         "BACKUP_AGE_IDENTITY_FILE", "BACKUP_MANIFEST_KEY_FILE", "BACKUP_MANIFEST_PUBLIC_KEY_FILE",
                         "BACKUP_ARCHIVE_DIR", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}),
    "gateway": frozenset({"GATEWAY_TLS_KEY_FILE", "GATEWAY_SESSION_KEY"}),
}
AUTH_ONLY_ENV = OWNED_ENV["auth"]
# Values that carry credentials: never in a committed env file with a real value.
SECRET_ENV = frozenset({"AMQP_URI", "TOTP_ENCRYPTION_KEY", "AUTH_CODE_PEPPER", "PLATFORM_OPERATOR_PASSWORD",
                        "REGISTRY_ENCRYPTION_KEY", "GATEWAY_SESSION_KEY", "BACKUP_TARGETS", "AWS_SECRET_ACCESS_KEY",
                        "SMTP_URL", "SMS_PROVIDER_TOKEN",
                        *(f"{s.upper()}_DATABASE_URL" for s in SERVICES)})
# Private key files (Secret keys in k8s, compose secret file names) -> the one process that
# signs or decrypts with it. Public halves may go wherever they are verified.
PRIVATE_KEYS: dict[str, str] = {
    "auth_ed25519.pem": "auth", "service_auth_ed25519.pem": "auth",
    "audit_log_ed25519.pem": "audit",
    "backup_manifest_ed25519.pem": "backup", "service_backup_ed25519.pem": "backup",
    "backup_age_identity.txt": "backup",
    "tls.key": "gateway", "gateway.key": "gateway",
}
SECRET_FILE_MODE = 0o440
COMPILERS = re.compile(r"\b(gcc|g\+\+|cc|clang|build-essential|make|cpp)\b")


# --------------------------------------------------------------------------------------------
# Loading


def load_yaml_docs(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def parse_env_file(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        env[key.strip()] = value.strip() if sep else ""
    return env


@dataclass
class Bundle:
    """Everything under deploy/ that the checks read, parsed (mutable, for the negative tests)."""
    root: Path
    k8s: dict[str, list[dict]]          # file name in deploy/k8s -> its documents
    compose: dict
    compose_text: str
    env_example: dict[str, str]
    dotenv_example: dict[str, str]
    initdb_sql: str
    dockerfile: str
    dockerignore: str
    readme: str

    # -- Kubernetes helpers --
    def manifests(self) -> Iterator[dict]:
        for name, docs in self.k8s.items():
            if name not in (KUSTOMIZATION, SECRET_EXAMPLE):
                yield from docs

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.manifests() if d.get("kind") == kind]

    def deployments(self) -> dict[str, dict]:
        return {d["metadata"]["name"]: d for d in self.of_kind("Deployment")}

    def deployment(self, name: str) -> dict:
        return self.deployments()[name]

    def container(self, name: str) -> dict:
        return self.deployment(name)["spec"]["template"]["spec"]["containers"][0]

    def secret_examples(self) -> dict[str, dict]:
        return {d["metadata"]["name"]: d for d in self.k8s.get(SECRET_EXAMPLE, []) if d.get("kind") == "Secret"}

    # -- Compose helpers --
    def compose_services(self) -> dict[str, dict]:
        return self.compose.get("services") or {}

    def platform_services(self) -> dict[str, dict]:
        """Compose services running our image (built from deploy/docker/Dockerfile)."""
        return {name: svc for name, svc in self.compose_services().items()
                if "build" in svc or str(svc.get("image", "")).split(":")[0] == IMAGE}


def load_bundle() -> Bundle:
    return Bundle(
        root=ROOT,
        k8s={p.name: load_yaml_docs(p) for p in sorted(K8S.glob("*.y*ml"))},
        compose=yaml.safe_load(COMPOSE_FILE.read_text()),
        compose_text=COMPOSE_FILE.read_text(),
        env_example=parse_env_file(ENV_EXAMPLE.read_text()),
        dotenv_example=parse_env_file(DOTENV_EXAMPLE.read_text()),
        initdb_sql=INITDB_SQL.read_text(),
        dockerfile=DOCKERFILE.read_text(),
        dockerignore=DOCKERIGNORE.read_text(),
        readme=README.read_text(),
    )


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return load_bundle()


# --------------------------------------------------------------------------------------------
# Small helpers


def yaml_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml"))


def check_yaml_files(paths: list[Path]) -> list[str]:
    problems = []
    for path in paths:
        try:
            docs = load_yaml_docs(path)
        except yaml.YAMLError as exc:
            problems.append(f"{path}: does not parse: {exc}")
            continue
        if not docs:
            problems.append(f"{path}: no YAML document")
    return problems


def module_of(command: list | None, args: list | None) -> str | None:
    """The module a container runs: `python -m X`, or args[0] with the image's `python -m` entrypoint."""
    argv = [str(a) for a in (command or [])] + [str(a) for a in (args or [])]
    if command:
        if "-m" in argv and argv.index("-m") + 1 < len(argv):
            return argv[argv.index("-m") + 1]
        return None
    return argv[0] if argv else None


def module_exists(root: Path, module: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][\w.]*", module)) and \
        root.joinpath(*module.split("."), "__main__.py").is_file()


def process_of(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def container_env_names(container: dict, configmaps: dict[str, dict], secrets: dict[str, dict]) -> set[str]:
    names = {e["name"] for e in container.get("env") or []}
    for src in container.get("envFrom") or []:
        if "configMapRef" in src:
            names |= set((configmaps.get(src["configMapRef"]["name"]) or {}).get("data") or {})
        if "secretRef" in src:
            secret = secrets.get(src["secretRef"]["name"]) or {}
            names |= set(secret.get("stringData") or {}) | set(secret.get("data") or {})
    return names


def compose_env(svc: dict, bundle: Bundle) -> tuple[dict[str, str], list[str]]:
    """Environment of a compose service: env_file entries, then `environment`. Plus problems."""
    env: dict[str, str] = {}
    problems = []
    for entry in svc.get("env_file") or []:
        path, required = (entry, True) if isinstance(entry, str) else (entry["path"], entry.get("required", True))
        file = (COMPOSE_DIR / path).resolve()
        if file == ENV_EXAMPLE.resolve():
            env.update(bundle.env_example)
        elif file.is_file():
            env.update(parse_env_file(file.read_text()))
        elif required:
            problems.append(f"env_file {path} does not exist")
    environment = svc.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    env.update({k: "" if v is None else str(v) for k, v in environment.items()})
    return env, problems


def compose_container_ports(svc: dict) -> list[int]:
    ports = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            ports.append(int(p["target"]))
        else:
            ports.append(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def secret_volume_files(vol: dict, secrets: dict[str, dict]) -> dict[str, str]:
    """Files of a secret volume: path inside the mount -> the Secret key it holds."""
    items = vol["secret"].get("items")
    if items:
        return {i["path"]: i["key"] for i in items}
    secret = secrets.get(vol["secret"]["secretName"]) or {}
    return {k: k for k in (*(secret.get("stringData") or {}), *(secret.get("data") or {}))}


def compose_secret_files(svc: dict, b: Bundle) -> dict[str, str]:
    """Compose secrets a service mounts: absolute path in the container -> the operator's file."""
    top = b.compose.get("secrets") or {}
    out = {}
    for entry in svc.get("secrets") or []:
        source = entry if isinstance(entry, str) else entry.get("source")
        target = source if isinstance(entry, str) else entry.get("target") or source
        path = target if str(target).startswith("/") else f"/run/secrets/{target}"
        out[path] = str((top.get(source) or {}).get("file", ""))
    return out


def selector_matches(selector: dict | None, labels: dict) -> bool:
    selector = selector or {}
    if selector.get("matchExpressions"):
        return False  # not used in these manifests; keep the check simple and strict
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def pod_labels(deployment: dict) -> dict:
    return deployment["spec"]["template"]["metadata"].get("labels") or {}


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("#") or (not buf and not line.strip()):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        instr, _, rest = buf.strip().partition(" ")
        out.append((instr.upper(), rest.strip()))
        buf = ""
    return out


def dockerfile_stages(text: str) -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Global ARG defaults and the instructions of each stage (FROM first)."""
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for instr, rest in dockerfile_instructions(text):
        if instr == "FROM":
            stages.append([(instr, rest)])
        elif stages:
            stages[-1].append((instr, rest))
        elif instr == "ARG":
            key, _, value = rest.partition("=")
            args[key.strip()] = value.strip().strip('"')
    return args, stages


def env_assignments(rest: str) -> dict[str, str]:
    return dict(re.findall(r"([A-Za-z_]\w*)=(\"[^\"]*\"|\S+)", rest))


# --------------------------------------------------------------------------------------------
# Checks: each returns a list of problems


def check_deployment_modules(b: Bundle) -> list[str]:
    """Every Deployment runs `python -m <module>` of an existing module; one Deployment per process."""
    problems, seen = [], []
    for name, dep in b.deployments().items():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            module = module_of(c.get("command"), c.get("args"))
            if module is None or not module_exists(b.root, module):
                problems.append(f"Deployment {name}: runs {module!r}, not a module with __main__.py")
            else:
                seen.append(process_of(module))
    if sorted(seen) != sorted(PROCESSES):
        problems.append(f"Deployments run {sorted(seen)}, expected one each of {sorted(PROCESSES)}")
    return problems


def check_compose_modules(b: Bundle) -> list[str]:
    problems, seen = [], []
    for name, svc in b.platform_services().items():
        module = module_of(None, svc.get("command")) if not isinstance(svc.get("command"), str) \
            else module_of(None, svc["command"].split())
        if module is None or not module_exists(b.root, module):
            problems.append(f"compose {name}: runs {module!r}, not a module with __main__.py")
        else:
            seen.append(process_of(module))
    if sorted(seen) != sorted(PROCESSES):
        problems.append(f"compose runs {sorted(seen)}, expected one each of {sorted(PROCESSES)}")
    return problems


def check_env_documented(b: Bundle) -> list[str]:
    """Every variable set in manifests, compose or the env example is in the documented list."""
    problems = []
    configmaps = {d["metadata"]["name"]: d for d in b.of_kind("ConfigMap")}
    for name, dep in b.deployments().items():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            for var in sorted(container_env_names(c, configmaps, b.secret_examples()) - DOCUMENTED_ENV):
                problems.append(f"Deployment {name}: undocumented env var {var}")
    for name, svc in b.platform_services().items():
        env, env_problems = compose_env(svc, b)
        problems += [f"compose {name}: {p}" for p in env_problems]
        for var in sorted(set(env) - DOCUMENTED_ENV):
            problems.append(f"compose {name}: undocumented env var {var}")
    for var in sorted(set(b.env_example) - DOCUMENTED_ENV):
        problems.append(f"platform.env.example: undocumented env var {var}")
    for secret in b.secret_examples().values():
        if secret.get("type", "Opaque") == "Opaque" and secret["metadata"]["name"] == "catalog-env":
            for var in sorted(set(secret.get("stringData") or {}) - DOCUMENTED_ENV):
                problems.append(f"secret.example.yaml catalog-env: undocumented key {var}")
    return problems


def check_readme_documents_env(b: Bundle) -> list[str]:
    """Each documented variable appears in deploy/README.md; the README's table lists no others."""
    problems = [f"README does not document {var}" for var in sorted(DOCUMENTED_ENV | OPTIONAL_ENV)
                if f"`{var}`" not in b.readme]
    table = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", b.readme, flags=re.M))
    problems += [f"README table lists unknown variable {var}" for var in sorted(table - DOCUMENTED_ENV - OPTIONAL_ENV)]
    return problems


def check_readme_topics(b: Bundle) -> list[str]:
    text = b.readme
    required = {
        "image build": r"docker build -f deploy/docker/Dockerfile",
        "Ed25519 key generation": r"openssl genpkey -algorithm ed25519",
        "TLS": r"GATEWAY_TLS_CERT_FILE",
        "scaling command": r"kubectl (-n \S+ )?scale deployment/grades --replicas=",
        "competing consumers": r"(?i)competing consumers",
        "per-service database": r"(?i)per-service database",
        "migration lock": r"(?i)migration lock",
        "backup pointer": r"python -m services\.backup\.restore",
        "upgrade order": r"(?i)#+ upgrade",
        "secret template": r"secret\.example\.yaml",
    }
    return [f"README lacks {topic}" for topic, pattern in required.items() if not re.search(pattern, text)]


def check_secret_isolation(b: Bundle) -> list[str]:
    """Each process sees only its own database URL and none of another process's OWNED_ENV;
    a private key file (PRIVATE_KEYS) is mounted only into the process that uses it."""
    problems = []
    configmaps = {d["metadata"]["name"]: d for d in b.of_kind("ConfigMap")}
    envs = {}
    for name, dep in b.deployments().items():
        c = dep["spec"]["template"]["spec"]["containers"][0]
        envs[f"Deployment {name}"] = (name, container_env_names(c, configmaps, b.secret_examples()))
    for name, svc in b.platform_services().items():
        envs[f"compose {name}"] = (name, set(compose_env(svc, b)[0]))
    for where, (process, names) in envs.items():
        own = {f"{process.upper()}_DATABASE_URL"} if process in SERVICES else set()
        if process in SERVICES and not own <= names:
            problems.append(f"{where}: missing {process.upper()}_DATABASE_URL")
        foreign = {n for n in names if n.endswith("_DATABASE_URL")} - own
        if foreign:
            problems.append(f"{where}: sees other databases {sorted(foreign)}")
        for owner, owned in OWNED_ENV.items():
            if process != owner and names & owned:
                problems.append(f"{where}: sees {owner}-only {sorted(names & owned)}")
        if "AMQP_URI" not in names or "AUTH_PUBLIC_KEY_FILE" not in names:
            problems.append(f"{where}: needs AMQP_URI and AUTH_PUBLIC_KEY_FILE")
    # private key files: only in the pod that signs (or decrypts) with them
    for name, dep in b.deployments().items():
        for vol in dep["spec"]["template"]["spec"].get("volumes") or []:
            if "secret" in vol:
                for key in sorted(secret_volume_files(vol, b.secret_examples()).values()):
                    if PRIVATE_KEYS.get(key, name) != name:
                        problems.append(f"Deployment {name}: mounts {key}, the private key of {PRIVATE_KEYS[key]}")
    for name, svc in b.platform_services().items():
        for _target, file in compose_secret_files(svc, b).items():
            key = Path(file).name
            if PRIVATE_KEYS.get(key, name) != name:
                problems.append(f"compose {name}: mounts {key}, the private key of {PRIVATE_KEYS[key]}")
    return problems


# --------------------------------------------------------------------------------------------
# Production settings. What each process must be given in production: the code refuses to start
# without it ("... must be set in production"), or cannot do its work (a key file it signs with,
# a directory that must outlive the pod). "A|B" means either. test_production_table_covers_the_code
# fails when services/ or gateway/ gain a "must be set in production" message this table lacks.

_EVERY_PROCESS = ("PLATFORM_ENV", "AMQP_URI", "AUTH_PUBLIC_KEY_FILE")
PRODUCTION_SETTINGS: dict[str, tuple[str, ...]] = {
    "auth": (*_EVERY_PROCESS, "AUTH_DATABASE_URL", "AUTH_SIGNING_KEY_FILE", "TOTP_ENCRYPTION_KEY",
             "AUTH_CODE_PEPPER", "SERVICE_KEYS_DIR", "PUBLIC_BASE_URL"),
    "grades": (*_EVERY_PROCESS, "GRADES_DATABASE_URL", "SERVICE_KEYS_DIR", "DOCUMENTS_VERIFY_URL"),
    "registry": (*_EVERY_PROCESS, "REGISTRY_DATABASE_URL", "REGISTRY_ENCRYPTION_KEY", "SERVICE_KEYS_DIR"),
    "audit": (*_EVERY_PROCESS, "AUDIT_DATABASE_URL", "AUDIT_KEY_FILE", "AUDIT_PUBLIC_KEY_FILE", "AUDIT_ORIGIN",
              "AUDIT_WITNESS_DIR|AUDIT_WITNESS_URL", "SERVICE_KEYS_DIR"),
    "backup": (*_EVERY_PROCESS, "BACKUP_DATABASE_URL", "BACKUP_AGE_RECIPIENT|BACKUP_AGE_RECIPIENT_FILE",
               "BACKUP_MANIFEST_KEY_FILE", "BACKUP_MANIFEST_PUBLIC_KEY_FILE", "BACKUP_TARGETS",
               "BACKUP_ARCHIVE_DIR", "SERVICE_KEYS_DIR"),
    "gateway": (*_EVERY_PROCESS, "GATEWAY_TLS_CERT_FILE", "GATEWAY_TLS_KEY_FILE", "GATEWAY_SESSION_KEY"),
}
# Kubernetes only: two audit replicas cannot share a ReadWriteOnce witness volume, and a pod's
# emptyDir goes with the pod, so the witness there is the external one.
K8S_PRODUCTION_SETTINGS: dict[str, tuple[str, ...]] = {"audit": ("AUDIT_WITNESS_URL",)}
# Directories that must outlive the container: a PersistentVolumeClaim / a named volume.
PERSISTENT_DIRS = frozenset({"AUDIT_WITNESS_DIR", "BACKUP_ARCHIVE_DIR"})
# System calls with a service credential (services/kernel/service_credentials.py):
# scope -> (the calling service, the services it calls). The caller holds its private key,
# every callee the caller's public key, all in SERVICE_KEYS_DIR.
SERVICE_CALLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tenant_data": ("backup", ("auth", "registry", "grades", "audit")),
    "subject_export": ("auth", ("registry", "grades", "audit")),
}


def service_key_files() -> dict[str, set[str]]:
    """process -> the files its SERVICE_KEYS_DIR must hold, exactly."""
    files: dict[str, set[str]] = {}
    for caller, callees in SERVICE_CALLS.values():
        files.setdefault(caller, set()).add(f"service_{caller}_ed25519.pem")
        for callee in callees:
            files.setdefault(callee, set()).add(f"service_{caller}_ed25519.pub.pem")
    return files


def k8s_env_sources(c: dict, configmap_data: dict[str, dict]) -> dict[str, dict]:
    """name -> {"from": "secret" | "configmap" | "literal", "value": str | None, "optional": bool}."""
    out: dict[str, dict] = {}
    for src in c.get("envFrom") or []:
        if "configMapRef" in src:
            for k, v in (configmap_data.get(src["configMapRef"]["name"]) or {}).items():
                out[k] = {"from": "configmap", "value": str(v), "optional": False}
    for e in c.get("env") or []:
        vf = e.get("valueFrom") or {}
        if "secretKeyRef" in vf:
            ref = vf["secretKeyRef"]
            out[e["name"]] = {"from": "secret", "value": None, "optional": bool(ref.get("optional"))}
        elif "configMapKeyRef" in vf:
            ref = vf["configMapKeyRef"]
            value = (configmap_data.get(ref["name"]) or {}).get(ref["key"])
            out[e["name"]] = {"from": "configmap", "value": None if value is None else str(value),
                              "optional": bool(ref.get("optional"))}
        else:
            out[e["name"]] = {"from": "literal", "value": str(e.get("value", "")), "optional": False}
    return out


def _mount_of(path: str, mounts: list[dict]) -> dict | None:
    inside = [m for m in mounts if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
    return max(inside, key=lambda m: len(m["mountPath"]), default=None)


def _k8s_production_problems(name: str, dep: dict, b: Bundle, configmap_data: dict[str, dict]) -> list[str]:
    problems = []
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    env = k8s_env_sources(c, configmap_data)
    mounts = c.get("volumeMounts") or []
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    where = f"Deployment {name}"

    def secret_file(var: str, path: str) -> None:
        mount = _mount_of(path, mounts)
        vol = vols.get(mount["name"]) if mount else None
        if vol is None or "secret" not in vol:
            problems.append(f"{where}: {var}={path} is not inside a mounted Secret")
            return
        rel = path[len(mount["mountPath"].rstrip("/")) + 1:]
        if rel not in secret_volume_files(vol, b.secret_examples()):
            problems.append(f"{where}: {var}={path}: Secret {vol['secret']['secretName']} mounted there has no {rel}")

    required = (*PRODUCTION_SETTINGS.get(name, ()), *K8S_PRODUCTION_SETTINGS.get(name, ()))
    for setting in required:
        present = [alt for alt in setting.split("|") if alt in env]
        if not present:
            problems.append(f"{where}: missing {setting.replace('|', ' or ')}")
        for var in present:
            src = env[var]
            if src["optional"]:
                problems.append(f"{where}: {var} is required in production, not optional")
            if var in SECRET_ENV and src["from"] != "secret":
                problems.append(f"{where}: {var} must come from a Secret (secretKeyRef)")
            elif src["from"] != "secret" and not src["value"]:
                problems.append(f"{where}: {var} has no value")
    for var, src in env.items():
        value = src["value"] or ""
        if var.endswith("_FILE") and value:
            secret_file(var, value)
        elif var == "SERVICE_KEYS_DIR":
            mount = next((m for m in mounts if m["mountPath"].rstrip("/") == value.rstrip("/")), None)
            vol = vols.get(mount["name"]) if mount else None
            if vol is None or "secret" not in vol:
                problems.append(f"{where}: SERVICE_KEYS_DIR={value} is not a mounted Secret")
                continue
            got = set(secret_volume_files(vol, b.secret_examples()))
            want = service_key_files().get(name, set())
            if got != want:
                problems.append(f"{where}: SERVICE_KEYS_DIR holds {sorted(got)}, needs exactly {sorted(want)}")
            bad_keys = {k for p, k in secret_volume_files(vol, b.secret_examples()).items() if p != k}
            if bad_keys:
                problems.append(f"{where}: service keys mounted under other names: {sorted(bad_keys)}")
        elif var in PERSISTENT_DIRS:
            mount = _mount_of(value, mounts)
            if mount is None or "persistentVolumeClaim" not in vols.get(mount["name"], {}):
                problems.append(f"{where}: {var}={value} must be on a PersistentVolumeClaim")
    for mount in mounts:
        vol = vols.get(mount["name"], {})
        if "secret" in vol:
            if mount.get("readOnly") is not True:
                problems.append(f"{where}: Secret volume {mount['name']} must be mounted readOnly")
            if vol["secret"].get("defaultMode") != SECRET_FILE_MODE:
                problems.append(f"{where}: Secret volume {mount['name']} needs defaultMode 0440")
    return problems


def _compose_production_problems(name: str, svc: dict, b: Bundle) -> list[str]:
    problems = []
    where = f"compose {name}"
    env = compose_env(svc, b)[0]
    files = compose_secret_files(svc, b)
    named_volumes = set(b.compose.get("volumes") or {})
    volume_mounts = {}
    for v in svc.get("volumes") or []:
        source, _, rest = str(v).partition(":")
        volume_mounts[rest.split(":")[0]] = source

    def given(var: str) -> bool:
        value = env.get(var)
        return bool(value) and not re.fullmatch(r"\$\{\w+:?-\}", value)

    for setting in PRODUCTION_SETTINGS.get(name, ()):
        present = [alt for alt in setting.split("|") if given(alt)]
        if not present:
            problems.append(f"{where}: missing {setting.replace('|', ' or ')} (or it may be empty)")
        for var in present:
            if var in SECRET_ENV and "${" not in env[var]:
                problems.append(f"{where}: {var} must be interpolated from .env, not written here")
    for var, value in env.items():
        if var.endswith("_FILE") and value and value not in files:
            problems.append(f"{where}: {var}={value} is not a mounted secret")
        elif var == "SERVICE_KEYS_DIR":
            inside = {p: f for p, f in files.items() if str(Path(p).parent) == value.rstrip("/")}
            got = {Path(p).name for p in inside}
            want = service_key_files().get(name, set())
            if got != want:
                problems.append(f"{where}: SERVICE_KEYS_DIR holds {sorted(got)}, needs exactly {sorted(want)}")
            for p, f in inside.items():
                if Path(f).name != Path(p).name:
                    problems.append(f"{where}: {f} mounted as {p}")
        elif var in PERSISTENT_DIRS:
            mount = _mount_of(value, [{"mountPath": m} for m in volume_mounts])
            if mount is None or volume_mounts[mount["mountPath"]] not in named_volumes:
                problems.append(f"{where}: {var}={value} must be on a named volume")
    return problems


def check_production_settings(b: Bundle) -> list[str]:
    """Every Deployment and compose service gets the settings PRODUCTION_SETTINGS names for its
    process: from a Secret when it is a credential; a key file inside a mounted (read-only, 0440)
    Secret that holds it; SERVICE_KEYS_DIR with exactly the service keys of SERVICE_CALLS; the
    witness and archive directories on persistent volumes."""
    problems = []
    configmap_data = {d["metadata"]["name"]: d.get("data") or {} for d in b.of_kind("ConfigMap")}
    for name, dep in b.deployments().items():
        module = module_of(dep["spec"]["template"]["spec"]["containers"][0].get("command"),
                           dep["spec"]["template"]["spec"]["containers"][0].get("args"))
        problems += _k8s_production_problems(process_of(module or name), dep, b, configmap_data)
    for name, svc in b.platform_services().items():
        problems += _compose_production_problems(name, svc, b)
    return problems


PRODUCTION_MESSAGE = re.compile(
    r"""["']([^"'\n]*\b(?:must be set|is required|are required)\b[^"'\n]*\bin production\b[^"'\n]*)["']""")


def uncovered_production_messages(sources: dict[str, str]) -> list[str]:
    """Settings named by a "... must be set in production" message that PRODUCTION_SETTINGS lacks.

    `sources`: path relative to the repository -> text. A message in services/<service>/ or
    gateway/ must be covered in that process's row; one in services/kernel/ in some row (and a
    `{service.upper()}_X` in every service's)."""
    rows = {p: {alt for s in settings for alt in s.split("|")} for p, settings in PRODUCTION_SETTINGS.items()}
    everywhere = set().union(*rows.values())
    problems = []
    for path, text in sorted(sources.items()):
        parts = Path(path).parts
        owner = "gateway" if parts[0] == "gateway" else parts[1] if len(parts) > 2 and parts[1] in rows else None
        for message in PRODUCTION_MESSAGE.findall(text):
            per_service = re.findall(r"\{\w+\.upper\(\)\}(_[A-Z0-9_]+)", message)
            names = set(re.findall(r"(?<![\w}])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", message))
            if not names and not per_service:
                problems.append(f"{path}: {message!r} names no setting")
            for suffix in per_service:
                problems += [f"{path}: {s.upper()}{suffix} missing from PRODUCTION_SETTINGS[{s!r}]"
                             for s in SERVICES if f"{s.upper()}{suffix}" not in rows[s]]
            for var in sorted(names):
                if owner is not None and var not in rows[owner]:
                    problems.append(f"{path}: {var} missing from PRODUCTION_SETTINGS[{owner!r}]")
                elif var not in everywhere:
                    problems.append(f"{path}: {var} missing from PRODUCTION_SETTINGS")
    return problems


def production_sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
            for base in ("services", "gateway") for p in sorted((ROOT / base).rglob("*.py"))
            if "tests" not in p.relative_to(ROOT).parts}


def check_k8s_references(b: Bundle) -> list[str]:
    """ConfigMaps, Secret keys and secret volumes referenced by Deployments exist (in the template)."""
    problems = []
    configmaps = {d["metadata"]["name"] for d in b.of_kind("ConfigMap")}
    configmap_data = {d["metadata"]["name"]: d.get("data") or {} for d in b.of_kind("ConfigMap")}
    secrets = b.secret_examples()

    def secret_keys(name: str) -> set[str]:
        s = secrets.get(name) or {}
        return set(s.get("stringData") or {}) | set(s.get("data") or {})

    for name, dep in b.deployments().items():
        spec = dep["spec"]["template"]["spec"]
        for c in spec["containers"]:
            for src in c.get("envFrom") or []:
                if "configMapRef" in src and src["configMapRef"]["name"] not in configmaps:
                    problems.append(f"{name}: missing ConfigMap {src['configMapRef']['name']}")
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ref["key"] not in secret_keys(ref["name"]):
                    problems.append(f"{name}: Secret {ref['name']} has no key {ref['key']}")
                cref = (e.get("valueFrom") or {}).get("configMapKeyRef")
                if cref and cref["key"] not in (configmap_data.get(cref["name"]) or {}):
                    problems.append(f"{name}: ConfigMap {cref['name']} has no key {cref['key']}")
        for vol in spec.get("volumes") or []:
            if "secret" in vol:
                sname = vol["secret"]["secretName"]
                if sname not in secrets:
                    problems.append(f"{name}: no Secret {sname} in {SECRET_EXAMPLE}")
                for item in vol["secret"].get("items") or []:
                    if item["key"] not in secret_keys(sname):
                        problems.append(f"{name}: Secret {sname} has no key {item['key']}")
    for sname, secret in secrets.items():
        for key, value in (secret.get("stringData") or {}).items():
            if "CHANGE_ME" not in str(value) and "example." not in str(value):
                problems.append(f"{SECRET_EXAMPLE}: {sname}.{key} is not a placeholder")
    return problems


def check_pod_security(b: Bundle) -> list[str]:
    problems = []
    for name, dep in b.deployments().items():
        spec = dep["spec"]["template"]["spec"]
        pod_sc = spec.get("securityContext") or {}
        if spec.get("enableServiceLinks") is not False:
            problems.append(f"{name}: enableServiceLinks must be false (Service 'gateway' injects GATEWAY_PORT)")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: automountServiceAccountToken must be false")
        for c in spec["containers"]:
            sc = c.get("securityContext") or {}
            where = f"{name}/{c['name']}"
            if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
                problems.append(f"{where}: runAsNonRoot not true")
            uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if uid is not None and int(uid) == 0:
                problems.append(f"{where}: runAsUser 0")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation not false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{where}: capabilities not dropping ALL")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(kind) or {}):
                    problems.append(f"{where}: resources.{kind} needs cpu and memory")
            if not c.get("livenessProbe"):
                problems.append(f"{where}: no livenessProbe")
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
            vols = {v["name"]: v for v in spec.get("volumes") or []}
            for path in ("/tmp", DATA_DIR):
                if path not in mounts or "emptyDir" not in vols.get(mounts[path], {}):
                    problems.append(f"{where}: {path} is not an emptyDir mount")
    return problems


def check_service_probes(b: Bundle) -> list[str]:
    """Services: METRICS_PORT as documented, a `metrics` container port, exec probes fetching it."""
    problems = []
    deps = b.deployments()
    for svc in SERVICES:
        if svc not in deps:
            problems.append(f"no Deployment {svc}")
            continue
        c = b.container(svc)
        env = {e["name"]: str(e.get("value")) for e in c.get("env") or []}
        if env.get("METRICS_PORT") != str(METRICS_PORTS[svc]):
            problems.append(f"{svc}: METRICS_PORT {env.get('METRICS_PORT')} != {METRICS_PORTS[svc]}")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
        if ports.get("metrics") != METRICS_PORTS[svc]:
            problems.append(f"{svc}: container port 'metrics' must be {METRICS_PORTS[svc]}")
        probe = (c.get("livenessProbe") or {}).get("exec") or {}
        line = " ".join(probe.get("command") or [])
        if not all(s in line for s in ("127.0.0.1", "METRICS_PORT", "/metrics")):
            problems.append(f"{svc}: liveness must be an exec probe fetching 127.0.0.1:$METRICS_PORT/metrics")
    return problems


def check_gateway_https(b: Bundle) -> list[str]:
    """Gateway: Service 443 -> 8443, HTTPS probes on /healthz and /readyz, no plaintext port anywhere."""
    problems = []
    deps = b.deployments()
    if "gateway" not in deps:
        return ["no gateway Deployment"]
    gw = deps["gateway"]
    c = b.container("gateway")
    env = {e["name"]: str(e.get("value")) for e in c.get("env") or []}
    if env.get("GATEWAY_PORT") != str(GATEWAY_PORT):
        problems.append(f"gateway: GATEWAY_PORT {env.get('GATEWAY_PORT')} != {GATEWAY_PORT}")
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    if set(ports.values()) != {GATEWAY_PORT}:
        problems.append(f"gateway: container ports {sorted(ports.values())}, expected only {GATEWAY_PORT}")
    if "http" in ports:
        problems.append("gateway: a container port is named 'http'")
    expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe_name, path in expected.items():
        get = (c.get(probe_name) or {}).get("httpGet") or {}
        if get.get("path") != path or get.get("scheme") != "HTTPS":
            problems.append(f"gateway: {probe_name} must be GET {path} with scheme HTTPS")
        port = get.get("port")
        if port != GATEWAY_PORT and ports.get(port) != GATEWAY_PORT:
            problems.append(f"gateway: {probe_name} must probe port {GATEWAY_PORT}")
    for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = (c.get(probe_name) or {}).get("httpGet")
        if get is not None and get.get("scheme") != "HTTPS":
            problems.append(f"gateway: {probe_name} is plaintext HTTP")
    services = [s for s in b.of_kind("Service") if s["spec"].get("selector")
                and selector_matches({"matchLabels": s["spec"]["selector"]}, pod_labels(gw))]
    if not services:
        problems.append("no Service selects the gateway pods")
    for svc in services:
        for p in svc["spec"].get("ports") or []:
            target = p.get("targetPort", p.get("port"))
            if target != GATEWAY_PORT and ports.get(target) != GATEWAY_PORT:
                problems.append(f"Service {svc['metadata']['name']}: targetPort {target} is not {GATEWAY_PORT}")
            if p.get("port") != 443 or p.get("name") == "http":
                problems.append(f"Service {svc['metadata']['name']}: port {p.get('port')} must be 443 (https)")
    compose_gw = b.compose_services().get("gateway") or {}
    if compose_env(compose_gw, b)[0].get("GATEWAY_PORT") != str(GATEWAY_PORT):
        problems.append("compose gateway: GATEWAY_PORT must be 8443")
    if compose_container_ports(compose_gw) != [GATEWAY_PORT]:
        problems.append(f"compose gateway: ports {compose_container_ports(compose_gw)}, expected [{GATEWAY_PORT}]")
    return problems


def check_replicas_and_scaling(b: Bundle) -> list[str]:
    problems = []
    deps = b.deployments()
    for name, want in K8S_REPLICAS.items():
        got = (deps.get(name) or {}).get("spec", {}).get("replicas")
        if got != want:
            problems.append(f"{name}: replicas {got}, expected {want}")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in b.of_kind("HorizontalPodAutoscaler")}
    for target in ("grades", "gateway"):
        hpa = hpas.get(target)
        if hpa is None:
            problems.append(f"no HorizontalPodAutoscaler for {target}")
            continue
        ref = hpa["spec"]["scaleTargetRef"]
        if hpa.get("apiVersion") != "autoscaling/v2" or ref.get("kind") != "Deployment" or target not in deps:
            problems.append(f"HPA {target}: must be autoscaling/v2 targeting an existing Deployment")
        cpu = [m for m in hpa["spec"].get("metrics") or []
               if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"]
        if not cpu:
            problems.append(f"HPA {target}: no CPU metric")
        lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        if not 1 <= lo <= hi:
            problems.append(f"HPA {target}: minReplicas {lo} / maxReplicas {hi}")
        if target in deps and "cpu" not in ((b.container(target).get("resources") or {}).get("requests") or {}):
            problems.append(f"HPA {target}: Deployment has no CPU request to scale on")
    pdbs = [p for p in b.of_kind("PodDisruptionBudget")
            if "gateway" in deps and selector_matches(p["spec"].get("selector"), pod_labels(deps["gateway"]))]
    if not pdbs:
        problems.append("no PodDisruptionBudget selects the gateway pods")
    for pdb in pdbs:
        if pdb.get("apiVersion") != "policy/v1":
            problems.append("gateway PDB must be policy/v1")
        min_avail = pdb["spec"].get("minAvailable")
        if isinstance(min_avail, int) and min_avail >= deps["gateway"]["spec"].get("replicas", 1):
            problems.append("gateway PDB minAvailable >= replicas would block every eviction")
    return problems


def check_network_policies(b: Bundle) -> list[str]:
    """Default-deny ingress; only the gateway on 8443 and the services' metrics from monitoring."""
    problems = []
    deps = b.deployments()
    policies = b.of_kind("NetworkPolicy")
    if not any(p["spec"].get("podSelector") in ({}, None) or p["spec"]["podSelector"] == {"matchLabels": {}}
               for p in policies
               if "Ingress" in (p["spec"].get("policyTypes") or []) and not p["spec"].get("ingress")):
        problems.append("no default-deny ingress NetworkPolicy")
    gateway_open = set()
    monitored = set()
    for pol in policies:
        pname = pol["metadata"]["name"]
        rules = pol["spec"].get("ingress") or []
        if not rules:
            continue
        selected = [n for n, d in deps.items() if selector_matches(pol["spec"].get("podSelector"), pod_labels(d))]
        if not selected:
            problems.append(f"NetworkPolicy {pname}: selects no Deployment")
        for rule in rules:
            ports = rule.get("ports") or []
            if not ports:
                problems.append(f"NetworkPolicy {pname}: a rule opens every port")
            for name in selected:
                if name == "gateway":
                    allowed = {GATEWAY_PORT, "https"}
                else:
                    allowed = {METRICS_PORTS.get(name), "metrics"}
                    peers = rule.get("from") or []
                    if not peers or any(
                            "ipBlock" in peer or "podSelector" in peer
                            or (peer.get("namespaceSelector") or {}).get("matchLabels")
                            != {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
                            for peer in peers):
                        problems.append(f"NetworkPolicy {pname}: {name} accepts ingress from outside "
                                        f"the {MONITORING_NAMESPACE} namespace")
                for port in ports:
                    if port.get("port") not in allowed:
                        problems.append(f"NetworkPolicy {pname}: opens port {port.get('port')} on {name}")
                    elif name == "gateway":
                        gateway_open.add(name)
                    else:
                        monitored.add(name)
    if "gateway" not in gateway_open:
        problems.append(f"no NetworkPolicy admits ingress to the gateway on {GATEWAY_PORT}")
    for svc in sorted(set(SERVICES) - monitored):
        problems.append(f"no NetworkPolicy admits {MONITORING_NAMESPACE} to {svc}'s metrics port")
    return problems


def check_kustomization(b: Bundle) -> list[str]:
    docs = b.k8s.get(KUSTOMIZATION) or [{}]
    kust = docs[0]
    listed = list(kust.get("resources") or [])
    manifests = sorted(set(b.k8s) - {KUSTOMIZATION, SECRET_EXAMPLE})
    problems = [f"kustomization.yaml does not list {f}" for f in manifests if f not in listed]
    problems += [f"kustomization.yaml lists {f}, not a manifest in deploy/k8s" for f in listed
                 if f not in manifests]
    if SECRET_EXAMPLE not in b.k8s:
        problems.append(f"{SECRET_EXAMPLE} is missing")
    if len(listed) != len(set(listed)):
        problems.append("kustomization.yaml lists a file twice")
    images = {i.get("name") for i in kust.get("images") or []}
    for name, dep in b.deployments().items():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            if c["image"].split(":")[0] not in images or c["image"].split(":")[0] != IMAGE:
                problems.append(f"{name}: image {c['image']} is not {IMAGE} (set via kustomization images)")
    for doc in b.manifests():
        if doc.get("kind") != "Namespace" and doc["metadata"].get("namespace") != "catalog":
            problems.append(f"{doc['kind']} {doc['metadata']['name']}: not in namespace catalog")
    if not any(d["metadata"]["name"] == "catalog" for d in b.of_kind("Namespace")):
        problems.append("no Namespace catalog")
    return problems


def check_dockerfile(b: Bundle) -> list[str]:
    problems = []
    args, stages = dockerfile_stages(b.dockerfile)
    if len(stages) < 2:
        return ["Dockerfile must be multi-stage (builder + runtime)"]
    for stage in stages:
        image = stage[0][1].split()[0]
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
        if image != BASE_IMAGE:
            problems.append(f"stage FROM {image}: expected {BASE_IMAGE}")
    runs = [rest for stage in stages for instr, rest in stage if instr == "RUN"]
    pip_runs = [r for r in runs if "pip install" in r]
    if not any(re.search(r"pip install\b.*-c constraints\.txt.*\s\.(\s|$)", r) for r in pip_runs):
        problems.append("no `pip install -c constraints.txt .` in the builder")
    for r in pip_runs:
        for cmd in re.split(r"&&|;", r):
            if "pip install" in cmd and "-c constraints.txt" not in cmd:
                problems.append(f"pip install without -c constraints.txt: {cmd.strip()}")
    final = stages[-1]
    users = [rest for instr, rest in final if instr == "USER"]
    uid = users[-1].split(":")[0] if users else ""
    if not uid.isdigit() or int(uid) == 0:
        problems.append(f"final stage must end with USER <non-zero numeric uid>, has {users!r}")
    for instr, rest in final:
        if instr == "RUN" and re.search(r"(apt-get|apk|yum|dnf)\b.*\binstall\b", rest) and COMPILERS.search(rest):
            problems.append(f"final stage installs a compiler: {rest}")
        if instr in ("COPY", "ADD") and "--from=" not in rest:
            problems.append(f"final stage copies from the build context: {instr} {rest}")
    env = {}
    for instr, rest in final:
        if instr == "ENV":
            env.update(env_assignments(rest))
    for key in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"):
        if env.get(key) != "1":
            problems.append(f"final stage must set {key}=1")
    if env.get("PLATFORM_DATA_DIR") != DATA_DIR:
        problems.append(f"final stage must set PLATFORM_DATA_DIR={DATA_DIR}")
    last = {instr: rest for instr, rest in final}
    for instr, want in (("ENTRYPOINT", ["python", "-m"]), ("CMD", ["gateway"])):
        try:
            got = json.loads(last.get(instr, "null"))
        except json.JSONDecodeError:
            got = last.get(instr)
        if got != want:
            problems.append(f"final stage {instr} is {got!r}, expected {want!r}")
    exposed = {p.split("/")[0] for instr, rest in final if instr == "EXPOSE" for p in rest.split()}
    if exposed != {str(GATEWAY_PORT)}:
        problems.append(f"final stage EXPOSE {sorted(exposed)}, expected only {GATEWAY_PORT}")
    if not any(instr == "VOLUME" and DATA_DIR in rest for instr, rest in final):
        problems.append(f"final stage must declare VOLUME {DATA_DIR}")
    ignored = {line.strip().strip("/") for line in b.dockerignore.splitlines()
               if line.strip() and not line.startswith("#")}
    for entry in (".venv", "var", "tests", ".git", "bench"):
        if entry not in ignored:
            problems.append(f"Dockerfile.dockerignore does not exclude {entry}")
    return problems


def check_compose(b: Bundle) -> list[str]:
    problems = []
    services = b.compose_services()
    platform = b.platform_services()
    for name, svc in services.items():
        if svc.get("ports") and name != "gateway":
            problems.append(f"compose {name}: publishes ports; only the gateway may")
        if svc.get("network_mode") == "host":
            problems.append(f"compose {name}: host networking bypasses port publishing")
    images = {"rabbitmq": "rabbitmq:3-management", "postgres": "postgres:15"}
    for name, image in images.items():
        svc = services.get(name) or {}
        if not str(svc.get("image", "")).startswith(image):
            problems.append(f"compose {name}: image must be {image}")
        if not (svc.get("healthcheck") or {}).get("test"):
            problems.append(f"compose {name}: needs a healthcheck")
    if "./initdb:/docker-entrypoint-initdb.d:ro" not in (services.get("postgres") or {}).get("volumes", []):
        problems.append("compose postgres: must mount ./initdb read-only as docker-entrypoint-initdb.d")
    if sorted(re.findall(r"(?im)^\s*CREATE DATABASE\s+(\w+)", b.initdb_sql)) != sorted(SERVICES):
        problems.append(f"initdb must create exactly the databases {sorted(SERVICES)}")
    if set(platform) != set(PROCESSES):
        problems.append(f"compose platform services {sorted(platform)}, expected {sorted(PROCESSES)}")
    top_secrets = b.compose.get("secrets") or {}
    for name, svc in platform.items():
        build = svc.get("build") or {}
        if (COMPOSE_DIR / str(build.get("context", ""))).resolve() != b.root.resolve() \
                or build.get("dockerfile") != "deploy/docker/Dockerfile":
            problems.append(f"compose {name}: must build deploy/docker/Dockerfile from the repo root")
        env_files = [e if isinstance(e, str) else e.get("path") for e in svc.get("env_file") or []]
        if ENV_EXAMPLE.name not in env_files:
            problems.append(f"compose {name}: env_file must include {ENV_EXAMPLE.name}")
        needs = {"rabbitmq"} | ({"postgres"} if name in SERVICES else set())
        depends = svc.get("depends_on") or {}
        for dep in needs:
            if not isinstance(depends, dict) or (depends.get(dep) or {}).get("condition") != "service_healthy":
                problems.append(f"compose {name}: depends_on {dep} must wait for service_healthy")
        if svc.get("read_only") is not True:
            problems.append(f"compose {name}: read_only must be true")
        tmpfs = [t.split(":")[0] for t in svc.get("tmpfs") or []]
        if "/tmp" not in tmpfs or DATA_DIR not in tmpfs + [v.split(":")[1] for v in svc.get("volumes") or []]:
            problems.append(f"compose {name}: /tmp and {DATA_DIR} must be writable mounts")
        for secret in svc.get("secrets") or []:
            sname = secret if isinstance(secret, str) else secret.get("source")
            if sname not in top_secrets:
                problems.append(f"compose {name}: unknown secret {sname}")
        env = compose_env(svc, b)[0]
        for var, value in env.items():
            if var.endswith("_FILE") and value and not value.startswith("/run/secrets/"):
                problems.append(f"compose {name}: {var} must point into /run/secrets (read-only secrets)")
            if var.endswith("_FILE") and value.startswith("/run/secrets/"):
                sname = value.removeprefix("/run/secrets/")
                mounted = [s if isinstance(s, str) else s.get("source") for s in svc.get("secrets") or []]
                if sname not in mounted:
                    problems.append(f"compose {name}: {var} points at secret {sname}, which is not mounted")
        if name in METRICS_PORTS and env.get("METRICS_PORT") != str(METRICS_PORTS[name]):
            problems.append(f"compose {name}: METRICS_PORT must be {METRICS_PORTS[name]}")
        if name in SERVICES and not (svc.get("healthcheck") or {}).get("test"):
            problems.append(f"compose {name}: needs a healthcheck")
    if ((platform.get("grades") or {}).get("deploy") or {}).get("replicas") != 2:
        problems.append("compose grades: deploy.replicas must be 2 (scaling example)")
    for name, secret in top_secrets.items():
        if not str(secret.get("file", "")).startswith("./secrets/"):
            problems.append(f"compose secret {name}: must be a file under ./secrets/")
    return problems


def check_compose_env_files(b: Bundle) -> list[str]:
    """No secrets in platform.env.example; .env.example matches compose's ${...} interpolation."""
    problems = []
    for var in sorted(SECRET_ENV & set(b.env_example)):
        problems.append(f"platform.env.example: {var} carries credentials; it belongs in .env")
    if b.env_example.get("PLATFORM_ENV") != "production":
        problems.append("platform.env.example: PLATFORM_ENV must be production")
    used = set(re.findall(r"\$\{([A-Za-z_]\w*)", b.compose_text))
    required = set(re.findall(r"\$\{([A-Za-z_]\w*):?\?", b.compose_text))
    problems += [f".env.example lacks {v}, required by docker-compose.yml" for v in sorted(required - set(b.dotenv_example))]
    problems += [f".env.example sets {v}, unused by docker-compose.yml" for v in sorted(set(b.dotenv_example) - used)]
    for var, value in b.dotenv_example.items():
        if value and "CHANGE_ME" not in value:
            problems.append(f".env.example: {var} must be a CHANGE_ME placeholder or empty")
    return problems


CHECKS: list[Callable[[Bundle], list[str]]] = [
    check_deployment_modules, check_compose_modules, check_env_documented, check_readme_documents_env,
    check_readme_topics, check_secret_isolation, check_k8s_references, check_pod_security,
    check_service_probes, check_gateway_https, check_replicas_and_scaling, check_network_policies,
    check_kustomization, check_dockerfile, check_compose, check_compose_env_files, check_production_settings,
]


# --------------------------------------------------------------------------------------------
# Tests on the real files


def test_every_yaml_file_under_deploy_parses():
    paths = yaml_files(DEPLOY)
    assert {COMPOSE_FILE, K8S / KUSTOMIZATION, K8S / SECRET_EXAMPLE} <= set(paths)
    assert check_yaml_files(paths) == []


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_deploy_is_consistent(bundle, check):
    assert check(bundle) == []


def test_production_table_covers_the_code():
    """Every "... must be set in production" message in services/ and gateway/ is in the table."""
    sources = production_sources()
    assert any(PRODUCTION_MESSAGE.search(text) for text in sources.values())
    assert uncovered_production_messages(sources) == []


@pytest.mark.parametrize("path, message, expected", [
    ("services/grades/pdf.py", "DOCUMENTS_SIGNING_KEY_FILE must be set in production",
     "DOCUMENTS_SIGNING_KEY_FILE missing from PRODUCTION_SETTINGS['grades']"),
    ("gateway/web/session.py", "GATEWAY_CSRF_KEY is required in production",
     "GATEWAY_CSRF_KEY missing from PRODUCTION_SETTINGS['gateway']"),
    ("services/kernel/x.py", "KERNEL_THING must be set explicitly in production",
     "KERNEL_THING missing from PRODUCTION_SETTINGS"),
    # known to the table, but in another process's row: the grades row lacks it
    ("services/grades/x.py", "REGISTRY_ENCRYPTION_KEY must be set in production",
     "REGISTRY_ENCRYPTION_KEY missing from PRODUCTION_SETTINGS['grades']"),
    ("services/kernel/x.py", "{service.upper()}_CACHE_URL must be set in production",
     "AUDIT_CACHE_URL missing from PRODUCTION_SETTINGS['audit']"),
    ("services/audit/x.py", "a key must be set in production", "names no setting"),
])
def test_production_table_check_notices_a_new_message(path, message, expected):
    source = f'def f():\n    raise RuntimeError("{message}")\n'
    problems = uncovered_production_messages({**production_sources(), path: source})
    assert any(expected in p for p in problems), problems


def test_service_calls_cover_the_trusted_callers():
    """SERVICE_CALLS names every scope and trusted caller of service_credentials.TRUSTED."""
    from services.kernel.service_credentials import TRUSTED
    for scope, callers in TRUSTED.items():
        assert scope in SERVICE_CALLS, f"scope {scope} (trusted {sorted(callers)}) is not in SERVICE_CALLS"
        assert set(callers) <= {SERVICE_CALLS[scope][0]}, (scope, sorted(callers))


def test_hadolint_if_available():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not on PATH")
    # DL3008/DL3013: versions come from the base image tag and constraints.txt, not inline pins.
    result = subprocess.run([hadolint, "--failure-threshold", "warning", "--ignore", "DL3008",
                             "--ignore", "DL3013", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------------------------
# Every check can fail: break a copy of the real files and expect a complaint.


def test_yaml_check_detects_broken_and_empty_files(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: 1\n---\nb: [unclosed\n")
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing\n")
    good = tmp_path / "good.yaml"
    good.write_text("a: 1\n---\nb: 2\n")
    assert len(check_yaml_files([broken, empty, good])) == 2


def _env(b: Bundle, name: str) -> list[dict]:
    return b.container(name).setdefault("env", [])


def _set_env(b: Bundle, name: str, var: str, value: str) -> None:
    for e in _env(b, name):
        if e["name"] == var:
            e.clear()
            e.update(name=var, value=value)
            return
    _env(b, name).append({"name": var, "value": value})


def _volume(b: Bundle, name: str, volume: str) -> dict:
    return next(v for v in b.deployment(name)["spec"]["template"]["spec"]["volumes"] if v["name"] == volume)


def _mount(b: Bundle, name: str, volume: str) -> dict:
    return next(m for m in b.container(name)["volumeMounts"] if m["name"] == volume)


def _sc(b: Bundle, name: str) -> dict:
    return b.container(name).setdefault("securityContext", {})


def _pop_doc(b: Bundle, kind: str, name: str) -> None:
    for docs in b.k8s.values():
        for d in list(docs):
            if d.get("kind") == kind and d["metadata"]["name"] == name:
                docs.remove(d)


def _policy(b: Bundle, name: str) -> dict:
    return next(p for p in b.of_kind("NetworkPolicy") if p["metadata"]["name"] == name)


def _final_stage_replace(b: Bundle, old: str, new: str) -> None:
    head, sep, tail = b.dockerfile.rpartition("FROM ")
    assert old in tail, old
    b.dockerfile = head + sep + tail.replace(old, new)


MUTATIONS: dict[str, tuple[Callable, Callable[[Bundle], None]]] = {
    "deployment runs a missing module":
        (check_deployment_modules, lambda b: b.container("grades").update(args=["services.nonexistent"])),
    "deployment command without -m":
        (check_deployment_modules, lambda b: b.container("audit").update(command=["python"], args=["x.py"])),
    "two deployments run the same module":
        (check_deployment_modules, lambda b: b.container("backup").update(args=["services.audit"])),
    "compose runs a missing module":
        (check_compose_modules, lambda b: b.compose["services"]["auth"].update(command=["services.nope"])),
    "undocumented env var in a Deployment":
        (check_env_documented, lambda b: _set_env(b, "grades", "DEBUG_BACKDOOR", "1")),
    "undocumented key in the ConfigMap":
        (check_env_documented, lambda b: b.of_kind("ConfigMap")[0]["data"].update(GATEWAY_WORKERS="4")),
    "undocumented env var in compose":
        (check_env_documented, lambda b: b.compose["services"]["audit"]["environment"].update(FOO="1")),
    "undocumented env var in platform.env.example":
        (check_env_documented, lambda b: b.env_example.update(ACCESS_TOKEN_MINUTES="15")),
    "README misses a variable":
        (check_readme_documents_env, lambda b: setattr(b, "readme", b.readme.replace("`TOTP_ENCRYPTION_KEY`", "x"))),
    "README table has an unknown variable":
        (check_readme_documents_env, lambda b: setattr(b, "readme", b.readme + "\n| `MYSTERY_VAR` | ? |\n")),
    "README lacks the scaling command":
        (check_readme_topics, lambda b: setattr(b, "readme", b.readme.replace("scale deployment/grades", "scale"))),
    "README lacks the backup pointer":
        (check_readme_topics, lambda b: setattr(b, "readme", b.readme.replace("services.backup.restore", "later"))),
    "grades sees auth's database":
        (check_secret_isolation, lambda b: _set_env(b, "grades", "AUTH_DATABASE_URL", "postgresql://x")),
    "gateway sees the TOTP key in compose":
        (check_secret_isolation,
         lambda b: b.compose["services"]["gateway"]["environment"].update(TOTP_ENCRYPTION_KEY="x")),
    "registry lacks its database URL":
        (check_secret_isolation, lambda b: b.container("registry").update(
            env=[e for e in b.container("registry")["env"] if e["name"] != "REGISTRY_DATABASE_URL"])),
    "secretKeyRef to a key the Secret lacks":
        (check_k8s_references, lambda b: b.secret_examples()["catalog-env"]["stringData"].pop("AMQP_URI")),
    "secret example holds a real-looking value":
        (check_k8s_references,
         lambda b: b.secret_examples()["catalog-env"]["stringData"].update(TOTP_ENCRYPTION_KEY="c2VjcmV0")),
    "runAsNonRoot false":
        (check_pod_security, lambda b: (_sc(b, "auth").update(runAsNonRoot=False))),
    "runAsNonRoot missing at pod and container level":
        (check_pod_security, lambda b: (_sc(b, "registry").pop("runAsNonRoot"),
                                        b.deployment("registry")["spec"]["template"]["spec"]["securityContext"]
                                        .pop("runAsNonRoot"))),
    "readOnlyRootFilesystem missing":
        (check_pod_security, lambda b: _sc(b, "gateway").pop("readOnlyRootFilesystem")),
    "privilege escalation allowed":
        (check_pod_security, lambda b: _sc(b, "backup").update(allowPrivilegeEscalation=True)),
    "capabilities not dropped":
        (check_pod_security, lambda b: _sc(b, "audit").pop("capabilities")),
    "no resource limits":
        (check_pod_security, lambda b: b.container("grades")["resources"].pop("limits")),
    "/tmp not writable":
        (check_pod_security, lambda b: b.container("auth").update(
            volumeMounts=[m for m in b.container("auth")["volumeMounts"] if m["mountPath"] != "/tmp"])),
    "service links enabled":
        (check_pod_security, lambda b: b.deployment("gateway")["spec"]["template"]["spec"]
         .update(enableServiceLinks=True)),
    "wrong METRICS_PORT":
        (check_service_probes, lambda b: _set_env(b, "registry", "METRICS_PORT", "9999")),
    "service liveness probe not on metrics":
        (check_service_probes, lambda b: b.container("audit").update(
            livenessProbe={"exec": {"command": ["true"]}})),
    "gateway Service targets another port":
        (check_gateway_https, lambda b: b.of_kind("Service")[0]["spec"]["ports"][0].update(targetPort=8080)),
    "gateway Service on port 80":
        (check_gateway_https, lambda b: b.of_kind("Service")[0]["spec"]["ports"].append(
            {"name": "http", "port": 80, "targetPort": 8443})),
    "gateway readiness over HTTP":
        (check_gateway_https, lambda b: b.container("gateway")["readinessProbe"]["httpGet"].update(scheme="HTTP")),
    "gateway liveness probe on /readyz":
        (check_gateway_https, lambda b: b.container("gateway")["livenessProbe"]["httpGet"].update(path="/readyz")),
    "gateway plaintext container port":
        (check_gateway_https, lambda b: b.container("gateway")["ports"].append({"name": "http", "containerPort": 8080})),
    "compose gateway publishes a plaintext port":
        (check_gateway_https, lambda b: b.compose["services"]["gateway"]["ports"].append("80:8080")),
    "wrong replica count":
        (check_replicas_and_scaling, lambda b: b.deployment("audit")["spec"].update(replicas=1)),
    "no HPA for grades":
        (check_replicas_and_scaling, lambda b: _pop_doc(b, "HorizontalPodAutoscaler", "grades")),
    "HPA without CPU metric":
        (check_replicas_and_scaling, lambda b: next(
            h for h in b.of_kind("HorizontalPodAutoscaler") if h["metadata"]["name"] == "gateway")["spec"]
         .update(metrics=[])),
    "no gateway PDB":
        (check_replicas_and_scaling, lambda b: _pop_doc(b, "PodDisruptionBudget", "gateway")),
    "no default deny":
        (check_network_policies, lambda b: _pop_doc(b, "NetworkPolicy", "default-deny-ingress")),
    "gateway policy opens another port":
        (check_network_policies, lambda b: _policy(b, "gateway-https-ingress")["spec"]["ingress"][0]["ports"]
         .append({"protocol": "TCP", "port": 8080})),
    "services open to every namespace":
        (check_network_policies, lambda b: _policy(b, "services-metrics-from-monitoring")["spec"]["ingress"][0]
         .pop("from")),
    "services open on all ports":
        (check_network_policies, lambda b: _policy(b, "services-metrics-from-monitoring")["spec"]["ingress"][0]
         .pop("ports")),
    "kustomization forgets a manifest":
        (check_kustomization, lambda b: b.k8s[KUSTOMIZATION][0]["resources"].remove("hpa.yaml")),
    "kustomization lists the secret example":
        (check_kustomization, lambda b: b.k8s[KUSTOMIZATION][0]["resources"].append(SECRET_EXAMPLE)),
    "unlisted manifest file":
        (check_kustomization, lambda b: b.k8s.update({"ingress.yaml": []})),
    "Dockerfile final stage runs as root":
        (check_dockerfile, lambda b: _final_stage_replace(b, "USER 10001:10001", "USER 0")),
    "Dockerfile final stage has no USER":
        (check_dockerfile, lambda b: _final_stage_replace(b, "USER 10001:10001", "")),
    "Dockerfile pip install without constraints":
        (check_dockerfile, lambda b: setattr(b, "dockerfile", b.dockerfile.replace(
            "pip install --no-build-isolation -c constraints.txt .", "pip install ."))),
    "Dockerfile compiler in the runtime stage":
        (check_dockerfile, lambda b: _final_stage_replace(
            b, "WORKDIR /app", "RUN apt-get update && apt-get install -y gcc\nWORKDIR /app")),
    "Dockerfile other base image":
        (check_dockerfile, lambda b: setattr(b, "dockerfile", b.dockerfile.replace(
            "ARG PYTHON_IMAGE=python:3.11-slim", "ARG PYTHON_IMAGE=python:3.12"))),
    "Dockerfile wrong entrypoint":
        (check_dockerfile, lambda b: _final_stage_replace(b, 'ENTRYPOINT ["python", "-m"]', 'ENTRYPOINT ["sh"]')),
    "Dockerfile bytecode writing allowed":
        (check_dockerfile, lambda b: _final_stage_replace(b, "PYTHONDONTWRITEBYTECODE=1", "PYTHONDONTWRITEBYTECODE=")),
    "dockerignore keeps tests":
        (check_dockerfile, lambda b: setattr(b, "dockerignore", b.dockerignore.replace("\ntests\n", "\n"))),
    "compose publishes the broker":
        (check_compose, lambda b: b.compose["services"]["rabbitmq"].update(ports=["15672:15672"])),
    "compose service publishes metrics":
        (check_compose, lambda b: b.compose["services"]["grades"].update(ports=["9102:9102"])),
    "compose postgres without healthcheck":
        (check_compose, lambda b: b.compose["services"]["postgres"].pop("healthcheck")),
    "compose depends_on without health condition":
        (check_compose, lambda b: b.compose["services"]["audit"].update(depends_on=["rabbitmq", "postgres"])),
    "compose grades not scaled":
        (check_compose, lambda b: b.compose["services"]["grades"].pop("deploy")),
    "compose key file outside secrets":
        (check_compose, lambda b: b.compose["services"]["auth"]["environment"].update(
            AUTH_SIGNING_KEY_FILE="/var/lib/catalog/key.pem")),
    "initdb misses a database":
        (check_compose, lambda b: setattr(b, "initdb_sql", b.initdb_sql.replace("CREATE DATABASE backup;", ""))),
    "platform.env.example carries a password":
        (check_compose_env_files, lambda b: b.env_example.update(AMQP_URI="amqp://u:p@h/")),
    ".env.example real value":
        (check_compose_env_files, lambda b: b.dotenv_example.update(POSTGRES_PASSWORD="hunter2")),
    ".env.example lacks a required variable":
        (check_compose_env_files, lambda b: b.dotenv_example.pop("RABBITMQ_PASSWORD")),
    # -- production settings --
    "k8s audit lacks AUDIT_KEY_FILE":
        (check_production_settings, lambda b: b.container("audit").update(
            env=[e for e in b.container("audit")["env"] if e["name"] != "AUDIT_KEY_FILE"])),
    "compose audit lacks AUDIT_KEY_FILE":
        (check_production_settings, lambda b: b.compose["services"]["audit"]["environment"].pop("AUDIT_KEY_FILE")),
    "k8s audit has no external witness":
        (check_production_settings, lambda b: b.container("audit").update(
            env=[e for e in b.container("audit")["env"] if e["name"] != "AUDIT_WITNESS_URL"])),
    "k8s audit witness dir on the pod's emptyDir":
        (check_production_settings, lambda b: _set_env(b, "audit", "AUDIT_WITNESS_DIR", "/var/lib/catalog/witness")),
    "audit key file outside any mount":
        (check_production_settings, lambda b: _set_env(b, "audit", "AUDIT_KEY_FILE", "/etc/catalog/other/key.pem")),
    "audit key not in its Secret volume":
        (check_production_settings, lambda b: _volume(b, "audit", "audit-keys")["secret"]["items"].pop(0)),
    "secret volume mounted writable":
        (check_production_settings, lambda b: _mount(b, "audit", "audit-keys").update(readOnly=False)),
    "secret volume with mode 0644":
        (check_production_settings, lambda b: _volume(b, "backup", "backup-keys")["secret"].update(defaultMode=0o644)),
    "registry key as a literal value":
        (check_production_settings, lambda b: _set_env(b, "registry", "REGISTRY_ENCRYPTION_KEY", "c2VjcmV0")),
    "required secretKeyRef marked optional":
        (check_production_settings, lambda b: next(e for e in b.container("gateway")["env"]
                                                   if e["name"] == "GATEWAY_SESSION_KEY")["valueFrom"]
         ["secretKeyRef"].update(optional=True)),
    "k8s backup archives on an emptyDir":
        (check_production_settings, lambda b: _volume(b, "backup", "archives").update(
            emptyDir={}) or _volume(b, "backup", "archives").pop("persistentVolumeClaim")),
    "k8s backup lacks its manifest key":
        (check_production_settings, lambda b: b.container("backup").update(
            env=[e for e in b.container("backup")["env"] if e["name"] != "BACKUP_MANIFEST_KEY_FILE"])),
    "grades lacks backup's public service key":
        (check_production_settings, lambda b: _volume(b, "grades", "service-keys")["secret"].update(
            items=[{"key": "service_auth_ed25519.pub.pem", "path": "service_auth_ed25519.pub.pem"}])),
    "k8s service key mounted under another name":
        (check_production_settings, lambda b: _volume(b, "audit", "service-keys")["secret"]["items"][0].update(
            key="service_auth_ed25519.pub.pem")),
    "compose auth lacks auth's service key":
        (check_production_settings, lambda b: b.compose["services"]["auth"].update(secrets=[
            s for s in b.compose["services"]["auth"]["secrets"]
            if not (isinstance(s, dict) and s["source"] == "service_auth_key")])),
    "compose backup archives on the tmpfs":
        (check_production_settings, lambda b: b.compose["services"]["backup"].pop("volumes")),
    "compose required setting may be empty":
        (check_production_settings, lambda b: b.compose["services"]["backup"]["environment"].update(
            BACKUP_TARGETS="${BACKUP_TARGETS:-}")),
    "compose credential written in the file":
        (check_production_settings, lambda b: b.compose["services"]["registry"]["environment"].update(
            REGISTRY_ENCRYPTION_KEY="c2VjcmV0")),
    "compose file setting not a mounted secret":
        (check_production_settings, lambda b: b.compose["services"]["backup"]["environment"].update(
            BACKUP_MANIFEST_KEY_FILE="/run/secrets/audit_log_key")),
    # -- isolation of the new keys --
    "registry mounts backup's private service key":
        (check_secret_isolation, lambda b: _volume(b, "registry", "service-keys")["secret"]["items"].append(
            {"key": "service_backup_ed25519.pem", "path": "service_backup_ed25519.pem"})),
    "compose grades mounts the audit log's private key":
        (check_secret_isolation, lambda b: b.compose["services"]["grades"]["secrets"].append("audit_log_key")),
    "audit sees the backup targets":
        (check_secret_isolation, lambda b: _set_env(b, "audit", "BACKUP_TARGETS", "file:///x")),
    "gateway sees the registry key in compose":
        (check_secret_isolation, lambda b: b.compose["services"]["gateway"]["environment"].update(
            REGISTRY_ENCRYPTION_KEY="${REGISTRY_ENCRYPTION_KEY}")),
    "configMapKeyRef to a key the ConfigMap lacks":
        (check_k8s_references, lambda b: next(c for c in b.of_kind("ConfigMap")
                                              if c["metadata"]["name"] == "catalog-site")["data"].pop("AUDIT_ORIGIN")),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_check_detects(bundle, name):
    check, mutate = MUTATIONS[name]
    broken = copy.deepcopy(bundle)
    mutate(broken)
    assert check(broken), f"{check.__name__} did not notice: {name}"


def test_every_check_has_a_failing_case():
    covered = {check for check, _ in MUTATIONS.values()}
    assert [c.__name__ for c in CHECKS if c not in covered] == []
