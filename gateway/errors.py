"""Every error leaves the gateway as `{"error": CODE, "message": ...}`; never a traceback.

The same table serves the web pages: under `/web/` an error becomes a page in the user's
language (the renderer `install` is given, see `gateway/web/errors.py`), not JSON."""
from __future__ import annotations

from typing import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kernel.errors import ERROR_TABLE, AppError, decode_details
from services.kernel.logging import get_logger

from .rpc import ArgumentOutOfRange, BrokerUnavailable, RemoteError, RpcTimeout, UnknownService

log = get_logger("gateway.errors")

_HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def error_response(status: int, code: str, message: str, *, retry_after: int | None = None,
                   **extra) -> JSONResponse:
    body = {"error": code, "message": message, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 429 or (status == 503 and retry_after):
        headers["Retry-After"] = str(retry_after or 1)
    return JSONResponse(body, status_code=status, headers=headers or None)


PageRenderer = Callable[[Request, int, str, str], Awaitable[Response]]
WEB_PREFIX = "/web/"


async def _answer(request: Request, status: int, code: str, message: str, *, retry_after: int | None = None,
                  **extra) -> Response:
    page = getattr(request.app.state, "error_page", None)
    if page is not None and request.url.path.startswith(WEB_PREFIX):
        return await page(request, status, code, message)
    return error_response(status, code, message, retry_after=retry_after, **extra)


def _retry_after(args) -> int | None:
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _describe(err: dict) -> str:
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
    return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return await _answer(request, 400, "malformed_json", "request body is not valid JSON")
    details = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "problem": e.get("msg")}
               for e in errors]
    return await _answer(request, 422, "invalid_input", "; ".join(_describe(e) for e in errors[:5]), details=details)


def _details(args) -> dict:
    """Extra fields a service attached to its refusal: a dict (`AppError(message, {...})`, e.g. the
    current version on a conflict), or per-field problems (`InvalidInput(message, [{"field",
    "message"}, ...])`), which answer as `details`."""
    extra = {k: v for k, v in decode_details(args).items() if k not in ("error", "message")}
    if len(args) > 1 and isinstance(args[1], list) and all(isinstance(d, dict) for d in args[1]):
        extra["details"] = args[1]
    return extra


async def _app_error(request: Request, exc: AppError) -> JSONResponse:
    return await _answer(request, exc.status, exc.code, exc.message, retry_after=_retry_after(exc.args),
                         **_details(exc.args))


async def _remote(request: Request, exc: RemoteError) -> JSONResponse:
    mapped = ERROR_TABLE.get(exc.exc_type)
    if mapped is None:
        log.error("rpc.remote_failure", error_type=exc.exc_type)
        return await _answer(request, 500, "internal", "internal error; quote the request id to support")
    status, code = mapped
    return await _answer(request, status, code, str(exc), retry_after=_retry_after(exc.exc_args),
                         **_details(exc.exc_args))


async def _out_of_range(request: Request, exc: ArgumentOutOfRange) -> JSONResponse:
    return await _answer(request, 422, "invalid_input", f"{exc}: whole numbers must lie between "
                                                        f"-{_LARGEST_SAFE_INTEGER} and {_LARGEST_SAFE_INTEGER}")


_LARGEST_SAFE_INTEGER = 2 ** 53 - 1


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("rpc.unavailable", error_type=type(exc).__name__)
    message = {
        BrokerUnavailable: "the message broker is unreachable; try again shortly",
        RpcTimeout: "a service did not answer in time; try again shortly",
        UnknownService: "a service is not running; try again shortly",
    }[type(exc)]
    return await _answer(request, 503, "service_unavailable", message, retry_after=5)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return await _answer(request, exc.status_code, code, message)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("request.failed", error_type=type(exc).__name__, exc_info=exc)
    return await _answer(request, 500, "internal", "internal error; quote the request id to support")


def install(app: FastAPI, page: PageRenderer | None = None) -> None:
    """`page(request, status, code, message)` renders the errors of web routes (`/web/...`)."""
    app.state.error_page = page
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RemoteError, _remote)
    app.add_exception_handler(ArgumentOutOfRange, _out_of_range)
    for exc_type in (BrokerUnavailable, RpcTimeout, UnknownService):
        app.add_exception_handler(exc_type, _unavailable)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
