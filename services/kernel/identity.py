"""Who is calling: roles, the verified principal, and access tokens.

The auth service signs short-lived access tokens with an Ed25519 private key; the
gateway and every service verify them locally with the public key, so no RPC is needed
per request and each service can re-check the caller (defence in depth).
"""
from __future__ import annotations

import fcntl
import os

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Iterable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import Forbidden, NotAuthenticated, SecondFactorRequired

ISSUER = "catalog-platform/auth"
AUDIENCE = "catalog-platform"
PLATFORM_TENANT = "platform"


class Role(StrEnum):
    OPERATOR = "operator"
    SCHOOL_ADMIN = "school_admin"
    DIRECTOR = "director"
    TEACHER = "teacher"
    STUDENT = "student"
    PARENT = "parent"
    STATISTICS_VIEWER = "statistics_viewer"
    REGISTRY_CLERK = "registry_clerk"
    CENTRAL_AUTHORITY = "central_authority"
    INTEGRATOR = "integrator"


ADMIN_ROLES = frozenset({Role.OPERATOR, Role.SCHOOL_ADMIN})
# CAT-5: these roles must use a second factor; students and parents may opt in.
SECOND_FACTOR_MANDATORY = frozenset({
    Role.OPERATOR, Role.SCHOOL_ADMIN, Role.DIRECTOR, Role.TEACHER, Role.STATISTICS_VIEWER,
    Role.REGISTRY_CLERK, Role.CENTRAL_AUTHORITY,
})
SECOND_FACTORS = frozenset({"otp", "sms", "recovery"})


@dataclass(frozen=True)
class Principal:
    user_id: str
    tenant_id: str
    roles: frozenset[str]
    factors: frozenset[str] = frozenset({"pwd"})
    session_id: str = ""
    person_id: str | None = None
    # None: fully signed in. "mfa": password done, second factor owed. "enrol": password
    # done, the role needs a second factor and none is enrolled yet.
    stage: str | None = None
    scopes: frozenset[str] = frozenset()
    claims: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def role(self) -> str:
        """The role recorded as the actor of an event: the most privileged one held."""
        for role in Role:
            if role in self.roles:
                return role.value
        return next(iter(self.roles), "unknown")

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & frozenset(roles))

    @property
    def has_second_factor(self) -> bool:
        return bool(self.factors & SECOND_FACTORS)

    @property
    def is_partial(self) -> bool:
        return self.stage is not None

    @property
    def is_integrator(self) -> bool:
        return Role.INTEGRATOR in self.roles

    @property
    def children(self) -> frozenset[str]:
        """Registry person ids of the pupils a parent may follow (from the token)."""
        return frozenset(self.claims.get("kids", ()))


def second_factor_mandatory(roles: Iterable[str]) -> bool:
    return bool(frozenset(roles) & SECOND_FACTOR_MANDATORY)


def require(principal: Principal | None, *roles: str, second_factor: bool = False,
            scope: str | None = None) -> Principal:
    """Service-side check, repeated after the gateway's (defence in depth).

    An integrator passes only where `scope` names a scope its token carries.
    """
    if principal is None:
        raise NotAuthenticated("authentication required")
    if principal.is_partial:
        raise SecondFactorRequired("complete two-factor authentication first")
    if principal.is_integrator:
        if scope is None or scope not in principal.scopes:
            raise Forbidden("this API client's scopes do not allow this")
        return principal
    if second_factor_mandatory(principal.roles) and not principal.has_second_factor:
        raise SecondFactorRequired("your role requires two-factor authentication")
    if roles and not principal.has_any(roles):
        raise Forbidden("your role may not do this")
    if second_factor and not principal.has_second_factor:
        raise SecondFactorRequired("this action requires a second authentication factor")
    return principal


# --- keys ---------------------------------------------------------------------------

def ensure_dev_keypair(private_path: Path, public_path: Path) -> None:
    """Create an Ed25519 key pair for local use if none exists (never in production).

    Every service calls this at start, all at once under `make up`: a file lock makes one
    of them create the pair and the others find it, so the halves always belong together."""
    if private_path.exists() and public_path.exists():
        return
    private_path.parent.mkdir(parents=True, exist_ok=True)
    with open(private_path.parent / ".keypair.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if private_path.exists() and public_path.exists():
            return
        key = Ed25519PrivateKey.generate()
        for path, data, mode in (
                (private_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), 0o600),
                (public_path, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)):
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.chmod(mode)
            tmp.replace(path)


class TokenSigner:
    def __init__(self, private_pem: bytes, ttl_seconds: int):
        self._key = serialization.load_pem_private_key(private_pem, password=None)
        self.ttl_seconds = ttl_seconds

    def issue(self, *, user_id: str, tenant_id: str, roles: Iterable[str], factors: Iterable[str],
              session_id: str, person_id: str | None = None, extra: dict | None = None,
              ttl_seconds: int | None = None) -> tuple[str, int]:
        now = int(time.time())
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        claims = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "tid": tenant_id,
            "roles": sorted(set(roles)), "amr": sorted(set(factors)), "sid": session_id,
            "iat": now, "nbf": now, "exp": now + ttl, "jti": str(uuid.uuid4()),
        }
        if person_id:
            claims["pid"] = person_id
        if extra:
            claims.update(extra)
        return jwt.encode(claims, self._key, algorithm="EdDSA"), ttl


class TokenVerifier:
    """Signature and claims check. A token verified once is remembered until it expires, so
    a session's many requests pay for the Ed25519 check once per process."""

    def __init__(self, public_pem: bytes, leeway_seconds: int = 5, cache_size: int = 10_000):
        self._key = serialization.load_pem_public_key(public_pem)
        self._leeway = leeway_seconds
        self._cache: dict[str, Principal] = {}
        self._cache_size = cache_size

    def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        if cached is not None:
            if cached.claims["exp"] + self._leeway >= time.time():
                return cached
            del self._cache[token]
        principal = self._verify(token)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # bounded; a miss only costs a signature check
        self._cache[token] = principal
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(token, self._key, algorithms=["EdDSA"], audience=AUDIENCE,
                                issuer=ISSUER, leeway=self._leeway,
                                options={"require": ["exp", "sub", "tid", "roles", "amr", "sid"]})
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("access token expired") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthenticated("invalid access token") from exc
        return Principal(user_id=claims["sub"], tenant_id=claims["tid"], roles=frozenset(claims["roles"]),
                         factors=frozenset(claims["amr"]), session_id=claims["sid"],
                         person_id=claims.get("pid"), stage=claims.get("stage"),
                         scopes=frozenset(claims.get("scope", "").split()), claims=claims)


def load_verifier(public_path: Path) -> TokenVerifier:
    return TokenVerifier(public_path.read_bytes())
