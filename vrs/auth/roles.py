"""Which role each RPC needs: the one table every vrs server enforces."""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal

Role = Literal["search", "ingest", "admin"]
ROLES: Final[tuple[Role, ...]] = ("search", "ingest", "admin")

_SEARCH_RPCS = frozenset(
    f"/vrs.v1.SearchService/{name}" for name in ("SearchByImage", "SearchByProduct", "BatchSearch")
) | {
    # Reading a product's attributes is what a shop front does with search answers.
    "/vrs.v1.EmbedderService/GetProducts"
}
_INGEST_RPCS = frozenset(
    f"/vrs.v1.EmbedderService/{name}"
    for name in (
        "Embed",
        "EmbedQuery",
        "UpsertProducts",
        "StreamUpsertProducts",
        "UpdateProducts",
        "DeleteProducts",
    )
)
# Kubelet probes and load balancers check health without credentials.
_OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
_REFLECTION_PREFIXES = (
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


class Access(Enum):
    """A requirement that is not a role: open to anyone, or to any authenticated caller."""

    OPEN = "open"
    ANY_CALLER = "any authenticated caller"


def required_access(method: str) -> Role | Access:
    """What a call of `method` (a full gRPC method name) needs.

    Stats are admin even on the search service: they describe the deployment, not the
    catalog. Anything this table does not know needs admin, so a new RPC is closed until it
    is placed here.
    """
    if method.startswith(_OPEN_PREFIXES):
        return Access.OPEN
    if method.startswith(_REFLECTION_PREFIXES):
        return Access.ANY_CALLER
    if method in _SEARCH_RPCS:
        return "search"
    if method in _INGEST_RPCS:
        return "ingest"
    return "admin"


def parse_roles(text: str) -> frozenset[Role]:
    """Comma-separated role names; ValueError naming an unknown one."""
    roles: set[Role] = set()
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        role = next((r for r in ROLES if r == name), None)
        if role is None:
            raise ValueError(f"unknown role {name!r} (roles: {', '.join(ROLES)})")
        roles.add(role)
    if not roles:
        raise ValueError(f"no roles given (roles: {', '.join(ROLES)})")
    return frozenset(roles)
