"""Callers of the HTTP API: the same bearer tokens, tokens file and roles as the gRPC services
(vrs.auth), checked before a route runs."""

from __future__ import annotations

import logging

from fastapi import Request

from services.web.errors import HttpError
from vrs.auth.credentials import AUTHORIZATION, MalformedAuthorization, bearer_token
from vrs.auth.registry import CallerRegistry
from vrs.auth.roles import Role
from vrs.auth.tokens import Caller
from vrs.rpc.auth_interceptor import ANONYMOUS, UNKNOWN_TOKEN

log = logging.getLogger(__name__)

MISSING = "missing bearer token (Authorization: Bearer <token>)"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class HttpAuth:
    """Admits a request for a caller holding a role; `callers` None: auth off (anonymous)."""

    def __init__(self, callers: CallerRegistry | None) -> None:
        self._callers = callers

    @property
    def enabled(self) -> bool:
        return self._callers is not None

    async def require(self, request: Request, role: Role) -> Caller:
        caller = await self._identify(request)
        if role not in caller.roles:
            where = f"{request.method} {request.url.path}"
            _refused(f"caller {caller.name!r} lacks role {role!r} for {where}", caller.name)
            raise HttpError(
                403, "PERMISSION_DENIED", f"caller {caller.name!r} lacks role {role!r} for {where}"
            )
        return caller

    async def _identify(self, request: Request) -> Caller:
        if self._callers is None:
            return ANONYMOUS
        headers = [(AUTHORIZATION, v) for v in request.headers.getlist(AUTHORIZATION)]
        try:
            token = bearer_token(headers)
        except MalformedAuthorization as exc:
            _refused(str(exc))
            raise HttpError(401, "UNAUTHENTICATED", str(exc), _CHALLENGE) from None
        if token is None:
            _refused(MISSING)
            raise HttpError(401, "UNAUTHENTICATED", MISSING, _CHALLENGE)
        caller = (await self._callers.table()).by_token(token)
        if caller is None:
            _refused(UNKNOWN_TOKEN)
            raise HttpError(401, "UNAUTHENTICATED", UNKNOWN_TOKEN, _CHALLENGE)
        return caller


def _refused(message: str, caller: str = "") -> None:
    # The message names what is missing, never what was sent: safe to log as is.
    log.info("request refused: %s", message, extra={"caller": caller})
