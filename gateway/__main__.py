"""Serve the gateway over HTTPS only: there is no plaintext listener (CAT-4)."""
from __future__ import annotations

import uvicorn

from services.kernel.identity import ensure_dev_keypair
from services.kernel.logging import configure_logging
from services.kernel.settings import get_settings

from .settings import GatewaySettings
from .tls import ensure_self_signed


def main() -> None:
    platform = get_settings()
    gateway = GatewaySettings()
    configure_logging("gateway", platform.log_level)
    cert, key = gateway.tls_cert_file, gateway.tls_key_file
    if cert is None or key is None:
        if platform.is_production:
            raise SystemExit("GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE are required in production")
        cert, key = platform.data_dir / "tls" / "gateway.crt", platform.data_dir / "tls" / "gateway.key"
        ensure_self_signed(cert, key)
    if not platform.is_production:
        ensure_dev_keypair(platform.private_key_path(), platform.public_key_path())
    uvicorn.run("gateway.app:create_app", factory=True, host=gateway.host, port=gateway.port,
                ssl_certfile=str(cert), ssl_keyfile=str(key), workers=gateway.workers,
                log_config=None, access_log=False, server_header=False, proxy_headers=False)


if __name__ == "__main__":
    main()
