"""Form plumbing shared by the pages: read a form, call a service, turn a refusal into a message."""
from __future__ import annotations

from typing import Any, Awaitable

from fastapi import Request
from pydantic import BaseModel, ValidationError

from services.kernel.errors import ERROR_TABLE, AppError

from ..rpc import RemoteError


class Refusal(Exception):
    """A form the pages refuse before any service is asked (fields named in `fields`)."""

    def __init__(self, code: str, message: str, fields: tuple[str, ...] = ()):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() if isinstance(v, str) else "" for k, v in form.items() if k != "csrf"}


def validated(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """The API's own body model, so a page accepts exactly what the JSON route accepts."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = tuple(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
        raise Refusal("invalid_input", "check the highlighted fields", fields) from exc


def refusal_of(exc: Exception) -> Refusal | None:
    """A 4xx a user can act on, or None (a 5xx goes to the error page)."""
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, AppError) and exc.status < 500:
        return Refusal(exc.code, exc.message)
    if isinstance(exc, RemoteError):
        mapped = ERROR_TABLE.get(exc.exc_type)
        if mapped and mapped[0] < 500:
            return Refusal(mapped[1], str(exc))
    return None


async def attempt(awaitable: Awaitable) -> tuple[Any, Refusal | None]:
    """(answer, None), or (None, the refusal to show); a 5xx is raised (error page)."""
    try:
        return await awaitable, None
    except Exception as exc:  # noqa: BLE001 - re-raised unless the user can act on it
        return None, or_raise(exc)


def flash_args(refusal: Refusal | None) -> dict:
    if refusal is None:
        return {}
    return {"error": refusal, "bad_fields": set(refusal.fields)}


def or_raise(exc: Exception) -> Refusal:
    """Inside `except`: the refusal to show on the form, or the exception again (error page)."""
    refusal = refusal_of(exc)
    if refusal is None:
        raise exc
    return refusal


def status_of(refusal: Refusal) -> int:
    return {"invalid_input": 422, "not_authenticated": 401, "second_factor_required": 401, "forbidden": 403,
            "not_found": 404, "conflict": 409, "rate_limited": 429}.get(refusal.code, 400)


async def page_or_refusal(request: Request, refusal: Refusal, page: Awaitable):
    """The form's page again with the refusal on it; when the reader may not see that page
    either, the refusal alone (the error page), so the answer is the first refusal, not the second."""
    from .render import render
    try:
        return await page
    except Exception as exc:  # noqa: BLE001 - a 5xx is raised (error page)
        or_raise(exc)
        return render(request, "error.html", status_code=status_of(refusal), code=refusal.code,
                      message=refusal.message)
