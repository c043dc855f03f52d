"""Where a vrs process listens, and how it stays up when callers misbehave.

- `descriptors`: the process's file-descriptor budget (soft limit raised to the hard one at
  start), split into a connection cap per listener with a reserve for Redis, Qdrant, images
- `refusals`: refused and timed-out connections counted, logged as one line per interval
- `http_server`: an ASGI app served by uvicorn in the process's event loop behind our own
  accept loop: connections capped, request heads and TLS handshakes on a deadline, idle
  keep-alives closed, HTTPS from the server's certificate files
"""
