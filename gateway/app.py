"""The HTTPS gateway: the only door for browsers, mobile apps and integrators (CAT-1/2/12)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from services.kernel.identity import load_verifier
from services.kernel.logging import get_logger
from services.kernel.settings import PlatformSettings, get_settings

from . import errors, web
from .deps import enforce_policy
from .middleware import GatewayMiddleware
from .routes import (accounts, audit, auth, backup, catalog, catalog_records, catalog_views, documents, me, ops,
                     registry, rights, rights_grades, rights_registry)
from .ratelimit import TokenBuckets
from .revocations import RevocationList, RevocationListener
from .rpc import BrokerUnavailable, RpcClient
from .settings import GatewaySettings
from .web.session import load_keys

log = get_logger("gateway")


def create_app(platform: PlatformSettings | None = None, gateway: GatewaySettings | None = None,
               rpc_client: RpcClient | None = None) -> FastAPI:
    platform = platform or get_settings()
    gateway = gateway or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.verifier = load_verifier(platform.public_key_path())
        web.start(app, load_keys(gateway.session_key_file or platform.keys_dir() / "web_session.key",
                                 gateway.session_key))
        app.state.rpc = rpc_client or RpcClient(platform.amqp_uri, default_timeout=platform.rpc_timeout_seconds)
        # a revoked session is remembered until any access token of it has expired
        app.state.revoked = RevocationList(remember_seconds=platform.access_token_minutes * 60 + 60)
        app.state.client_limits = TokenBuckets(gateway.client_rate_per_second, gateway.client_burst)
        listener = RevocationListener(platform.amqp_uri, app.state.rpc, app.state.revoked)
        app.state.rpc_timeout = platform.rpc_timeout_seconds
        app.state.readiness_timeout = gateway.readiness_timeout_seconds
        try:
            await app.state.rpc.start()
        except BrokerUnavailable:
            # Serve anyway: /healthz answers, data routes answer 503 until the broker is back.
            log.warning("gateway.broker_unreachable_at_start")
        await listener.start()
        yield
        await listener.close()
        await app.state.rpc.close()

    app = FastAPI(title="Catalog platform API", version="1.0",
                  description="Electronic school catalog and student matriculation registry. "
                              "Every error is `{\"error\": CODE, \"message\": ...}`.",
                  lifespan=lifespan, dependencies=[Depends(enforce_policy)])
    errors.install(app)
    # Routes are matched in order, most frequent first: the probes, who-am-I, then the catalog,
    # which carries most of the traffic (every path is distinct, so the order never changes
    # which route answers, only how many are tried).
    for module in (ops, me, catalog, catalog_records, catalog_views, auth, accounts, registry, audit, documents,
                   backup, rights, rights_grades, rights_registry):
        app.include_router(module.router)
    web.install(app)  # the pages, after the API
    app.add_middleware(GatewayMiddleware, hsts_seconds=gateway.hsts_seconds,
                       max_body_bytes=gateway.max_body_bytes,
                       max_upload_bytes=gateway.max_upload_bytes)
    return app
