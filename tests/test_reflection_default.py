"""Server reflection is off unless VRS_GRPC_REFLECTION turns it on (it maps the whole API for
whoever asks; with auth on it also needs a caller: tests/test_auth_roles.py)."""

from __future__ import annotations

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.tls_env import PLAINTEXT, address, bare_server
from vrs.rpc.client import open_channel
from vrs.rpc.server import GrpcServer
from vrs.settings import ServerSettings


async def listed_services(server: GrpcServer) -> set[str]:
    async with open_channel(address(server), PLAINTEXT, aio=True) as channel:
        calls = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        async for answer in calls:
            return {s.name for s in answer.list_services_response.service}
    return set()


def test_reflection_is_off_by_default() -> None:
    assert ServerSettings.model_fields["reflection"].default is False


async def test_a_server_without_reflection_does_not_describe_itself() -> None:
    async with bare_server() as server:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await listed_services(server)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_when_enabled_lists_the_services() -> None:
    async with bare_server(reflection=True) as server:
        assert "grpc.health.v1.Health" in await listed_services(server)
