"""Per-request dependencies: the verified caller and an RPC handle carrying its context."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from services.kernel.errors import RateLimited

from .policy import authorize, rule_for
from .rpc import RpcClient


@dataclass
class Services:
    """Calls services on behalf of this request: correlation id and token travel along."""
    client: RpcClient
    request_id: str
    access_token: str | None
    timeout: float

    async def call(self, service: str, method: str, /, *, raw: bool = False, **kwargs: Any) -> Any:
        context = {"correlation_id": self.request_id, "access_token": self.access_token}
        return await self.client.call(service, method, kwargs=kwargs, context=context, timeout=self.timeout,
                                      raw=raw)

    async def respond(self, service: str, method: str, /, *, status_code: int = 200, **kwargs: Any) -> Response:
        """For hot routes: a service's answer is already the JSON body, so it is forwarded as
        the service wrote it, never decoded and re-encoded (nor through FastAPI's encoder)."""
        body = await self.call(service, method, raw=True, **kwargs)
        return Response(body, status_code=status_code, media_type="application/json")


async def enforce_policy(request: Request) -> None:
    """App-wide dependency: runs for every API route before its handler."""
    state = request.app.state
    rule = rule_for(request)
    session_token = None
    if rule is not None and rule.web:
        # a page: CSRF check on POST, the session cookie opened (and refreshed when due)
        from .web.context import open_session
        session_token = await open_session(request)
    principal = authorize(request, state.verifier, state.revoked, rule, session_token)
    if principal is not None and principal.is_integrator and not state.client_limits.allow(principal.user_id):
        raise RateLimited("this API client is sending too many requests; slow down")


# async, although nothing is awaited: FastAPI runs plain `def` dependencies on a thread.
async def get_services(request: Request) -> Services:
    return Services(client=request.app.state.rpc, request_id=request.state.request_id,
                    access_token=getattr(request.state, "access_token", None),
                    timeout=request.app.state.rpc_timeout)


ServicesDep = Annotated[Services, Depends(get_services)]
