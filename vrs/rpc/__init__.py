"""gRPC plumbing shared by every vrs server and client, and the protobuf edge.

- `server`: `create_grpc_server` (TLS, health, reflection, interceptors, graceful stop)
- `client`: channels from vrs clients to vrs servers (TLS, tokens, tracing, keepalive);
  `reloading_channel`: one that follows rotated certificate files
- `status`: domain errors to gRPC status codes and item error codes
- `auth_interceptor`, `metrics_interceptor`, `wrapping`, `handler_types`: server interceptors,
  each wrapping a method's handler once
- `keepalive`: one HTTP/2 keepalive policy for clients and servers
- `convert`: protobuf messages to domain objects and back (domain code never sees protobuf)
"""
