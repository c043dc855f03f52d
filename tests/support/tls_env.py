"""TLS test environments: certificates, a bare vrs gRPC server with TLS, and clients of it.

The bare server is the real one (vrs.rpc.server.create_grpc_server, on a loopback port) with
the health service only, plus a "gate" RPC whose calls stay in flight until the test opens
the gate (to show a certificate rotation does not drop them).
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.certs import CertificateAuthority, IssuedCert
from vrs.rpc.client import open_channel
from vrs.rpc.server import GrpcServer, ServiceBinding, create_grpc_server
from vrs.settings import AuthSettings, ClientSettings, ServerSettings

GATE_SERVICE = "vrs.test.Gate"
GATE_METHOD = f"/{GATE_SERVICE}/Pass"
CLIENT_NAME = "search-svc"


@dataclass(frozen=True)
class Pki:
    """A CA, a loopback server certificate and a client certificate (CN=search-svc)."""

    ca: CertificateAuthority
    server: IssuedCert
    client: IssuedCert


def make_pki(directory: Path, name: str = "vrs test CA") -> Pki:
    ca = CertificateAuthority.create(directory, name)
    return Pki(ca, ca.issue_server("server"), ca.issue_client(CLIENT_NAME))


def serving(cert: IssuedCert) -> dict[str, Any]:
    """ServerSettings fields for TLS with `cert`."""
    return {"tls_cert_file": cert.cert_file, "tls_key_file": cert.key_file}


def server_tls(pki: Pki, *, mutual: bool = False, **extra: Any) -> dict[str, Any]:
    """ServerSettings fields for TLS with pki's server certificate (mutual: clients need one
    signed by pki's CA)."""
    fields = serving(pki.server)
    if mutual:
        fields["tls_client_ca_file"] = pki.ca.cert_file
    return {**fields, **extra}


def client_tls(
    ca: CertificateAuthority, cert: IssuedCert | None = None, **extra: Any
) -> ClientSettings:
    """ClientSettings trusting `ca`, presenting `cert` when given (validated as data, not read
    from the environment)."""
    fields: dict[str, Any] = {"tls_ca_file": ca.cert_file}
    if cert is not None:
        fields |= {"tls_cert_file": cert.cert_file, "tls_key_file": cert.key_file}
    return ClientSettings.model_validate({**fields, **extra})


PLAINTEXT = ClientSettings.model_construct()


@dataclass
class Gate:
    """Calls of GATE_METHOD wait until the gate opens, then echo their request."""

    opened: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    async def pass_(self, request: bytes, context: Any) -> bytes:
        self.waiting += 1
        await self.opened.wait()
        return request

    def binding(self) -> ServiceBinding:
        handler = grpc.method_handlers_generic_handler(
            GATE_SERVICE, {"Pass": grpc.unary_unary_rpc_method_handler(self.pass_)}
        )
        return ServiceBinding(
            GATE_SERVICE, lambda server: server.add_generic_rpc_handlers((handler,))
        )


async def gate_call(channel: grpc.aio.Channel, payload: bytes, timeout_s: float) -> bytes:
    """A call of GATE_METHOD: in flight until the server's gate opens."""
    call = channel.unary_unary(GATE_METHOD, None, None)
    answer: bytes = await call(payload, timeout=timeout_s)
    return answer


@asynccontextmanager
async def bare_server(
    bindings: Sequence[ServiceBinding] = (),
    auth: dict[str, Any] | None = None,
    **server_fields: Any,
) -> AsyncIterator[GrpcServer]:
    """A started vrs gRPC server on a free loopback port: health, plus `bindings`."""
    settings = ServerSettings.model_validate(
        {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 1.0, **server_fields}
    )
    server = create_grpc_server(settings, bindings, auth=AuthSettings.model_validate(auth or {}))
    await server.start()
    try:
        yield server
    finally:
        await server.stop(1)


def address(server: GrpcServer) -> str:
    return f"127.0.0.1:{server.port}"


async def health_check(server: GrpcServer, client: ClientSettings, timeout_s: float = 5.0) -> str:
    """The server's health status over a new channel made as `client` says; raises
    grpc.aio.AioRpcError when the call fails (a refused handshake: UNAVAILABLE)."""
    async with open_channel(address(server), client, aio=True) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout_s
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)


async def refused_code(server: GrpcServer, client: ClientSettings) -> grpc.StatusCode:
    """The status code of a health check that must fail."""
    try:
        status = await health_check(server, client)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    raise AssertionError(f"the health check succeeded ({status}) where it must be refused")


def served_fingerprint(port: int, ca_file: Path) -> str:
    """SHA-256 of the certificate a new TLS connection to the port is served (blocking)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def fingerprint_of(cert: IssuedCert) -> str:
    text = cert.cert_pem.decode()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(text)).hexdigest()
