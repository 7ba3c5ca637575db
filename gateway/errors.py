"""Every error leaves the gateway as `{"error": CODE, "message": ...}`; never a traceback."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kernel.errors import ERROR_TABLE, AppError
from services.kernel.logging import get_logger

from .rpc import BrokerUnavailable, RemoteError, RpcTimeout, UnknownService

log = get_logger("gateway.errors")

_HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def error_response(status: int, code: str, message: str, *, retry_after: int | None = None,
                   **extra) -> JSONResponse:
    body = {"error": code, "message": message, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 429:
        headers["Retry-After"] = str(retry_after or 1)
    return JSONResponse(body, status_code=status, headers=headers or None)


def _retry_after(args) -> int | None:
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _field_details(args) -> dict:
    """A service's per-field problems (`InvalidInput(message, [{"field", "message"}, ...])`)."""
    if len(args) > 1 and isinstance(args[1], list) and all(isinstance(d, dict) for d in args[1]):
        return {"details": args[1]}
    return {}


def _describe(err: dict) -> str:
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
    return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "request body is not valid JSON")
    details = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "problem": e.get("msg")}
               for e in errors]
    return error_response(422, "invalid_input", "; ".join(_describe(e) for e in errors[:5]), details=details)


async def _app_error(request: Request, exc: AppError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, retry_after=_retry_after(exc.args),
                          **_field_details(exc.args))


async def _remote(request: Request, exc: RemoteError) -> JSONResponse:
    mapped = ERROR_TABLE.get(exc.exc_type)
    if mapped is None:
        log.error("rpc.remote_failure", error_type=exc.exc_type)
        return error_response(500, "internal", "internal error; quote the request id to support")
    status, code = mapped
    return error_response(status, code, str(exc), retry_after=_retry_after(exc.exc_args),
                          **_field_details(exc.exc_args))


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("rpc.unavailable", error_type=type(exc).__name__)
    message = {
        BrokerUnavailable: "the message broker is unreachable; try again shortly",
        RpcTimeout: "a service did not answer in time; try again shortly",
        UnknownService: "a service is not running; try again shortly",
    }[type(exc)]
    return JSONResponse({"error": "service_unavailable", "message": message}, status_code=503,
                        headers={"Retry-After": "5"})


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("request.failed", error_type=type(exc).__name__, exc_info=exc)
    return error_response(500, "internal", "internal error; quote the request id to support")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RemoteError, _remote)
    for exc_type in (BrokerUnavailable, RpcTimeout, UnknownService):
        app.add_exception_handler(exc_type, _unavailable)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
