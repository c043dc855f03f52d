"""A real HTTP image host on loopback: one image at one path, 404 for anything else."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit


@contextmanager
def serving_image(path: str, body: bytes) -> Iterator[int]:
    """Serves body at path (any query string) on a free loopback port; yields the port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = urlsplit(self.path).path == path
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "image/jpeg" if found else "text/plain")
            answer = body if found else b"not here"
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass  # the test's logs are the server's, not this host's

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
