"""HTTP/2 keepalive, one policy for vrs clients and servers: clients ping idle connections so a
dead peer (a killed pod, a dropped NAT entry) is noticed in seconds, and servers accept those
pings instead of closing the connection for "too many pings"."""

from __future__ import annotations

from typing import Any

# A client pings after this long without traffic on a connection ...
CLIENT_PING_EVERY_MS = 20_000
# ... and gives the connection up when the ping is not answered within this.
CLIENT_PING_TIMEOUT_MS = 10_000
# Servers refuse pings closer than this; half the client's interval leaves room for jitter.
SERVER_MIN_PING_INTERVAL_MS = CLIENT_PING_EVERY_MS // 2
# Connections are renewed this often, so clients resolving a headless Service's DNS name find
# replicas added since they connected; calls in flight finish on the old connection.
SERVER_MAX_CONNECTION_AGE_MS = 300_000

CLIENT_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", CLIENT_PING_EVERY_MS),
    ("grpc.keepalive_timeout_ms", CLIENT_PING_TIMEOUT_MS),
    ("grpc.keepalive_permit_without_calls", 1),
    # Without it a client stops pinging after two pings with no data in between.
    ("grpc.http2.max_pings_without_data", 0),
]

SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", SERVER_MIN_PING_INTERVAL_MS),
    ("grpc.http2.min_ping_interval_without_data_ms", SERVER_MIN_PING_INTERVAL_MS),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_connection_age_ms", SERVER_MAX_CONNECTION_AGE_MS),
]
