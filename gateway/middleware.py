"""Pure ASGI middleware: request id, security headers, body limit, metrics, access log."""
from __future__ import annotations

import json
import re
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram

from services.kernel.logging import get_logger
from services.kernel.metrics import child

log = get_logger("gateway.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

HTTP_REQUESTS = Counter("gateway_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("gateway_request_seconds", "HTTP request latency", ["method", "route"],
                         buckets=(.0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))


def security_headers(hsts_seconds: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        (b"cache-control", b"no-store"),
    ]


# The Swagger UI page loads its script and styles from a CDN; every other response is
# JSON and gets the strictest policy.
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_CSP = (b"content-security-policy",
             b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
             b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
             b"frame-ancestors 'none'")


# The web pages (gateway/web/): their own script and styles only, no inline script or style,
# forms post back to the gateway only; the QR code of TOTP enrolment is a data: image.
_WEB_CSP = (b"content-security-policy",
            b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def _csp_for(path: str) -> tuple[bytes, bytes]:
    if path == "/docs":
        return _DOCS_CSP
    if path == "/web" or path.startswith("/web/"):
        return _WEB_CSP
    return _API_CSP


# the web import page's multipart upload is spooled to disk by the form parser, then streamed on
UPLOAD_PATHS = frozenset({"/v1/registry/imports", "/v1/school-import", "/web/registry/imports"})


class GatewayMiddleware:
    def __init__(self, app, *, hsts_seconds: int, max_body_bytes: int, max_upload_bytes: int | None = None):
        self.app = app
        self.headers = security_headers(hsts_seconds)
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes or max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=request_id)
        status_holder = {"status": 500}
        extra = self.headers + [(b"x-request-id", request_id.encode()), _csp_for(scope["path"])]
        state = scope["state"]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                # cookies a web page scheduled (a refreshed session), whatever answers the request
                cookies = [(b"set-cookie", c.encode("latin-1")) for c in state.get("set_cookies", ())]
                message["headers"] = list(message.get("headers", [])) + extra + cookies
            await send(message)

        length = headers.get(b"content-length")
        # uploads (registry imports) are streamed on by their route, chunk by chunk
        limit = self.max_upload_bytes if scope["path"] in UPLOAD_PATHS else self.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._reject(send_with_headers, 413, "payload_too_large",
                               f"request body larger than {limit} bytes")
        else:
            await self.app(scope, receive, send_with_headers)
        route = scope.get("route")
        template = getattr(route, "path_format", "unmatched")
        elapsed = time.perf_counter() - started
        child(HTTP_REQUESTS, scope["method"], template, str(status_holder["status"])).inc()
        child(HTTP_LATENCY, scope["method"], template).observe(elapsed)
        log.info("http.request", method=scope["method"], route=template, status=status_holder["status"],
                 ms=round(elapsed * 1000, 2))

    @staticmethod
    async def _reject(send, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": code, "message": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
