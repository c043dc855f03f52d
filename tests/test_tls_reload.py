"""Certificates re-read from their files while serving (cert-manager, Secret rotation): new
connections get the new certificate, calls already in flight finish, nothing restarts."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.tls_env import (
    Gate,
    address,
    bare_server,
    client_tls,
    fingerprint_of,
    gate_call,
    health_check,
    make_pki,
    served_fingerprint,
    server_tls,
)
from vrs.rpc.client import open_channel
from vrs.rpc.reloading_channel import ReloadingChannel

LIVENESS_S = 10.0
RELOAD_S = 0.2


async def _served_becomes(port: int, ca_file: Path, expected: str) -> bool:
    deadline = time.monotonic() + LIVENESS_S
    while time.monotonic() < deadline:
        if await asyncio.to_thread(served_fingerprint, port, ca_file) == expected:
            return True
        await asyncio.sleep(RELOAD_S / 2)
    return False


async def test_a_rotated_server_certificate_reaches_new_connections_while_open_calls_finish(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    rotated = pki.ca.issue_server("rotated")
    gate = Gate()
    fields = server_tls(pki, tls_reload_s=RELOAD_S)
    async with bare_server([gate.binding()], **fields) as server:
        assert served_fingerprint(server.port, pki.ca.cert_file) == fingerprint_of(pki.server)
        async with open_channel(address(server), client_tls(pki.ca), aio=True) as channel:
            in_flight = asyncio.ensure_future(gate_call(channel, b"started before", LIVENESS_S * 3))
            while gate.waiting == 0:
                await asyncio.sleep(0.01)

            rotated.copy_to(pki.server.cert_file, pki.server.key_file)

            assert await _served_becomes(server.port, pki.ca.cert_file, fingerprint_of(rotated))
            assert await health_check(server, client_tls(pki.ca)) == "SERVING"
            gate.opened.set()
            assert await in_flight == b"started before"


async def test_unusable_rotated_files_keep_the_previous_certificate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = make_pki(tmp_path)
    rotated = pki.ca.issue_server("rotated")
    # The test checks the files itself (no background check racing it).
    async with bare_server(**server_tls(pki, tls_reload_s=3600)) as server:
        assert server.tls is not None
        previous = fingerprint_of(pki.server)
        # Half a rotation: the new certificate, the old key still in place.
        pki.server.cert_file.write_bytes(rotated.cert_pem)
        with caplog.at_level(logging.WARNING, logger="vrs.tls.server"):
            assert await asyncio.to_thread(server.tls.reload_if_changed) is False
        [warning] = [r for r in caplog.records if "cannot be used" in r.getMessage()]
        assert "VRS_GRPC_TLS_CERT_FILE" in warning.__dict__["error"]
        served = await asyncio.to_thread(served_fingerprint, server.port, pki.ca.cert_file)
        assert served == previous
        assert await health_check(server, client_tls(pki.ca)) == "SERVING"


async def test_a_rotated_client_certificate_is_used_without_a_restart(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    expired = pki.ca.issue_client("search-svc", expired=True)
    cert_file, key_file = tmp_path / "client.crt", tmp_path / "client.key"
    expired.copy_to(cert_file, key_file)
    settings = client_tls(pki.ca, tls_cert_file=cert_file, tls_key_file=key_file)
    async with bare_server(**server_tls(pki, mutual=True)) as server:
        channels = ReloadingChannel(address(server), settings, check_every_s=RELOAD_S)
        try:
            check = health_pb2_grpc.HealthStub(channels.channel).Check
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await check(health_pb2.HealthCheckRequest(), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

            pki.client.copy_to(cert_file, key_file)

            deadline = time.monotonic() + LIVENESS_S
            while True:
                stub = health_pb2_grpc.HealthStub(channels.channel)
                try:
                    answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    break
                except grpc.aio.AioRpcError:
                    assert time.monotonic() < deadline, "the rotated certificate was not used"
                    await asyncio.sleep(RELOAD_S)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        finally:
            await channels.close()


async def test_a_client_certificate_rotation_lets_open_calls_finish(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    renewed = pki.ca.issue_client("search-svc-renewed")
    cert_file, key_file = tmp_path / "client.crt", tmp_path / "client.key"
    pki.client.copy_to(cert_file, key_file)
    settings = client_tls(pki.ca, tls_cert_file=cert_file, tls_key_file=key_file)
    gate = Gate()
    async with bare_server([gate.binding()], **server_tls(pki)) as server:
        channels = ReloadingChannel(address(server), settings, check_every_s=3600)
        try:
            before = channels.channel
            in_flight = asyncio.ensure_future(gate_call(before, b"started before", LIVENESS_S * 3))
            while gate.waiting == 0:
                await asyncio.sleep(0.01)

            renewed.copy_to(cert_file, key_file)
            assert await channels.reload_if_changed() is True

            assert channels.channel is not before
            stub = health_pb2_grpc.HealthStub(channels.channel)
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            gate.opened.set()
            assert await in_flight == b"started before"
        finally:
            await channels.close()
