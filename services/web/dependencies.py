"""What the routes get injected: the app's gateway, and the caller holding a role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from services.web.gateway import Gateway
from vrs.auth.roles import Role
from vrs.auth.tokens import Caller


def attach_gateway(app: FastAPI, gateway: Gateway) -> None:
    """The gateway `app`'s routes get through GatewayDep."""
    app.state.gateway = gateway


def current_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(current_gateway)]


def require_role(role: Role) -> Callable[[Request, Gateway], Awaitable[Caller]]:
    """A dependency admitting a caller that holds `role`: 401 without a known token, 403
    without the role (auth off: everyone, as the anonymous caller)."""

    async def caller_with_role(request: Request, gateway: GatewayDep) -> Caller:
        return await gateway.auth.require(request, role)

    return caller_with_role


SearchCaller = Annotated[Caller, Depends(require_role("search"))]
