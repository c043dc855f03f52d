"""Health of the gateway: open to every caller, for probes."""

from __future__ import annotations

from fastapi import APIRouter

from services.web.dependencies import GatewayDep
from services.web.models import StatusOut
from services.web.openapi_docs import ERRORS

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> StatusOut:
    """The process is up."""
    return StatusOut(status="ok")


@router.get("/readyz", responses={503: ERRORS[503]})
async def readyz(gateway: GatewayDep) -> StatusOut:
    """The services behind the gateway answer (and the store is reachable)."""
    await gateway.backend.check_ready()
    return StatusOut(status="ready")
