"""`make web`: the web page and JSON API on http://127.0.0.1:8080, the sample catalog indexed.

Starts `vrs serve` (embedder, search and the HTTP gateway in one process) the way `make demo`
does, indexes the same sample catalog, prints the URL and serves until Ctrl-C or SIGTERM.
VRS_WEB_PORT (default 8080) and VRS_WEB_HOST (default 127.0.0.1) choose where.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from services.demos.demo import ROOT, free_port, indexed_sample_server

WORKDIR = ROOT / "var" / "web"
DEFAULT_PORT = 8080
READY_LIMIT_S = 120.0


def web_address() -> tuple[str, int]:
    host = os.environ.get("VRS_WEB_HOST", "127.0.0.1")
    raw = os.environ.get("VRS_WEB_PORT", str(DEFAULT_PORT))
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"make web: VRS_WEB_PORT must be a port number, not {raw!r}") from None
    # The URL is printed for a person to open: "any free port" must become a known one.
    return host, port or free_port()


def refuse_busy_port(host: str, port: int) -> None:
    """Says so before loading the model when something already listens on the web port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        # As the gateway binds: connections of a server stopped a moment ago do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise SystemExit(
                f"make web: cannot listen on {host}:{port} ({exc.strerror}); "
                f"choose another port: VRS_WEB_PORT={port + 1} make web"
            ) from None


def gateway_ready(url: str, limit_s: float = READY_LIMIT_S) -> bool:
    """Whether the gateway at `url` answers /readyz with 200 within limit_s."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def wait_until_ready(url: str, log: Path) -> None:
    if not gateway_ready(url):
        raise SystemExit(f"make web: the page did not come up at {url}; see {log}")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so the server subprocess is stopped on the way out.
    raise KeyboardInterrupt


def main() -> int:
    host, port = web_address()
    refuse_busy_port(host, port)
    signal.signal(signal.SIGTERM, _interrupt)
    url = f"http://[{host.strip('[]')}]:{port}" if ":" in host else f"http://{host}:{port}"

    def web_env(catalog_folder: Path) -> dict[str, str]:
        return {
            "VRS_WEB_HOST": host,
            "VRS_WEB_PORT": str(port),
            # Product photos are served from the catalog's own folder, and only from there.
            "VRS_IMAGE_FILE_ROOT": str(catalog_folder.resolve()),
        }

    failed = 0
    try:
        with indexed_sample_server(WORKDIR, web_env) as server:
            failed = server.failed
            wait_until_ready(url, WORKDIR / "serve.log")
            print(f"\nopen {url}   (Ctrl-C stops)", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print()
    return failed


if __name__ == "__main__":
    sys.exit(main())
