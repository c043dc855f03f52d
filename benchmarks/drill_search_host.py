"""The search service of a split deployment alone in a process, for the drill's replica-kill
phase: what `vrs serve --service search` assembles (services.composition.create_server, role
"search"; its embedder the fleet at VRS_SEARCH_EMBEDDER_ADDRESS, balanced round_robin), over a
Qdrant Edge store of its own in VRS_QDRANT_DATA_DIR, which must already hold the fleet's
model's collection. (`vrs serve --service search` itself reads a Qdrant server shared with the
embedders, and no Qdrant server runs on a drill's machine.)

    python -m benchmarks.drill_search_host     (settings: VRS_* variables)

Serves until SIGTERM or SIGINT; exit 2 when it cannot start.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from services.composition import create_server
from services.search.query_embedder import GrpcQueryEmbedder
from vrs.errors import VrsError
from vrs.observability.logs import configure_logging
from vrs.settings import Settings
from vrs.store.async_store import AsyncStore
from vrs.store.qdrant_edge_store import QdrantEdgeStore, existing_dimension

log = logging.getLogger("benchmarks.drill_search_host")


async def _fleet_model(settings: Settings) -> str:
    """The model id the embedder fleet runs (waiting for it as search's startup does)."""
    address = settings.search.embedder_address
    if not address:
        raise VrsError("VRS_SEARCH_EMBEDDER_ADDRESS is not set")
    probe = GrpcQueryEmbedder(address, settings.search.embedder_timeout_s)
    deadline = asyncio.get_running_loop().time() + settings.search.embedder_startup_wait_s
    try:
        while True:
            try:
                return await probe.model_id()
            except VrsError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(1.0)
    finally:
        await probe.close()


async def _serve(settings: Settings) -> int:
    try:
        model_id = await _fleet_model(settings)
        dimension = existing_dimension(settings.store, model_id)
        if dimension is None:
            raise VrsError(f"no collection of model {model_id!r} in {settings.store.data_dir}")
        store = AsyncStore(
            QdrantEdgeStore.open(settings.store, model_id, dimension), settings.store.timeout_s
        )
    except VrsError as exc:
        log.error("cannot start: %s", exc)
        return 2
    try:
        server, port = await create_server(settings, "search", store=store)
        log.info("drill search host serving", extra={"port": port, "model_id": model_id})
        await server.serve_until_signalled()
    finally:
        await store.close()
    return 0


def main() -> int:
    settings = Settings.from_env()
    configure_logging(settings.log)
    return asyncio.run(_serve(settings))


if __name__ == "__main__":
    sys.exit(main())
