"""System calls between services carry a signed service credential: only the trusted caller,
for the named callee and scope, unaltered, in time."""
from __future__ import annotations

import jwt
import pytest

from services.kernel import service_credentials as sc
from services.kernel.errors import Forbidden


@pytest.fixture(autouse=True)
def keys(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_KEYS_DIR", str(tmp_path))
    sc._public_keys.clear()
    yield
    sc._public_keys.clear()


def test_backup_may_read_tenant_data_of_grades():
    assert sc.verify(sc.issue("backup", "grades", "tenant_data"), "grades", "tenant_data") == "backup"


@pytest.mark.parametrize("caller, callee, scope, verify_as, verify_scope", [
    ("backup", "grades", "tenant_data", "registry", "tenant_data"),  # meant for another service
    ("grades", "registry", "tenant_data", "registry", "tenant_data"),  # grades is not trusted for it
    ("backup", "grades", "other", "grades", "tenant_data"),  # another scope
])
def test_refused(caller, callee, scope, verify_as, verify_scope):
    token = sc.issue(caller, callee, scope)
    with pytest.raises(Forbidden):
        sc.verify(token, verify_as, verify_scope)


def test_altered_or_forged_or_expired_is_refused(tmp_path):
    token = sc.issue("backup", "grades", "tenant_data")
    head, body, sig = token.split(".")
    with pytest.raises(Forbidden):
        sc.verify(f"{head}.{body}.{sig[:-4]}AAAA", "grades", "tenant_data")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    forged = jwt.encode({"iss": "service:backup", "aud": "service:grades", "scope": "tenant_data", "exp": 2**40},
                        Ed25519PrivateKey.generate(), algorithm="EdDSA")
    with pytest.raises(Forbidden):
        sc.verify(forged, "grades", "tenant_data")
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_private_key(sc.key_paths("backup")[0].read_bytes(), password=None)
    expired = jwt.encode({"iss": "service:backup", "aud": "service:grades", "scope": "tenant_data", "exp": 1000},
                         key, algorithm="EdDSA")
    with pytest.raises(Forbidden):
        sc.verify(expired, "grades", "tenant_data")
    with pytest.raises(Forbidden):
        sc.verify("not a token", "grades", "tenant_data")
