"""How search's channel to the embedder fleet spreads and retries calls: every replica behind
the target (a `dns:///` name of a headless Service, an `ipv4:` list) gets calls in turn
(round_robin), a call refused as UNAVAILABLE (a replica gone, restarting, draining) is retried
on another within the call's own deadline, and keepalive notices dead replicas."""

from __future__ import annotations

import json
from typing import Any

from vrs.rpc import keepalive

# Only the calls search makes, both read-only: a retry never repeats a write.
_RETRIED_METHODS = ("Embed", "EmbedQuery", "GetStats")
_SERVICE = "vrs.v1.EmbedderService"
# Attempts include the first; the backoff keeps a fleet-wide blip from becoming a retry storm.
RETRY_POLICY: dict[str, Any] = {
    "maxAttempts": 4,
    "initialBackoff": "0.05s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def service_config() -> str:
    """gRPC service config: round_robin over every resolved address, UNAVAILABLE retried."""
    return json.dumps(
        {
            "loadBalancingConfig": [{"round_robin": {}}],
            "methodConfig": [
                {
                    "name": [{"service": _SERVICE, "method": m} for m in _RETRIED_METHODS],
                    "retryPolicy": RETRY_POLICY,
                }
            ],
        }
    )


def embedder_channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """Options of the search -> embedder channel."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.service_config", service_config()),
        # A DNS answer's service config must not replace this one.
        ("grpc.service_config_disable_resolution", 1),
        ("grpc.enable_retries", 1),
        # A request larger than the retry buffer is sent once, never retried: make room for
        # the largest one allowed.
        ("grpc.per_rpc_retry_buffer_size", max_message_bytes),
        *keepalive.CLIENT_OPTIONS,
    ]
