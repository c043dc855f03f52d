"""HTTP/2 keepalive, one policy for vrs clients and servers: clients ping idle connections so a
dead peer (a killed pod, a dropped NAT entry) is noticed in seconds, and servers accept those
pings instead of closing the connection for "too many pings"."""

from __future__ import annotations

from typing import Any

from vrs.settings import ConnectionSettings

# A client pings after this long without traffic on a connection ...
CLIENT_PING_EVERY_MS = 20_000
# ... and gives the connection up when the ping is not answered within this.
CLIENT_PING_TIMEOUT_MS = 10_000
# Servers refuse pings closer than this; half the client's interval leaves room for jitter.
SERVER_MIN_PING_INTERVAL_MS = CLIENT_PING_EVERY_MS // 2

CLIENT_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", CLIENT_PING_EVERY_MS),
    ("grpc.keepalive_timeout_ms", CLIENT_PING_TIMEOUT_MS),
    ("grpc.keepalive_permit_without_calls", 1),
    # Without it a client stops pinging after two pings with no data in between.
    ("grpc.http2.max_pings_without_data", 0),
]


def server_options(connections: ConnectionSettings, max_connections: int) -> list[tuple[str, Any]]:
    """A server's connection policy: keepalive pings accepted at the clients' pace and
    enforced (a peer pinging faster is told to go away), connections renewed every
    grpc_max_age_s (clients resolving a headless Service's DNS name find replicas added since)
    and closed after grpc_idle_s without calls, a handshake (TLS and the HTTP/2 preface) that
    must end within head_timeout_s, and at most `max_connections` open at once (beyond it a
    new connection is closed by gRPC as soon as it is accepted)."""
    return [
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", SERVER_MIN_PING_INTERVAL_MS),
        ("grpc.http2.min_ping_interval_without_data_ms", SERVER_MIN_PING_INTERVAL_MS),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.max_connection_age_ms", _ms(connections.grpc_max_age_s)),
        ("grpc.max_connection_age_grace_ms", _ms(connections.grpc_max_age_grace_s)),
        ("grpc.max_connection_idle_ms", _ms(connections.grpc_idle_s)),
        ("grpc.server_handshake_timeout_ms", _ms(connections.head_timeout_s)),
        ("grpc.max_allowed_incoming_connections", max_connections),
    ]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
