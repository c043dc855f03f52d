"""`vrs delete` and `vrs stats`."""

from __future__ import annotations

from collections.abc import Sequence

from services.cli.client import CliError, VrsClient
from vrs.catalog.ids import normalize_product_ids
from vrs.errors import InvalidProduct
from vrs.v1 import embedder_pb2


def delete(client: VrsClient, product_ids: Sequence[str]) -> int:
    try:
        ids = normalize_product_ids(product_ids)
    except InvalidProduct as exc:
        raise CliError(str(exc)) from exc
    response = client.call(
        client.embedder.DeleteProducts, embedder_pb2.DeleteProductsRequest(product_ids=ids)
    )
    print(
        f"deleted {len(response.deleted)}"
        + (f"; not in the catalog: {', '.join(response.not_found)}" if response.not_found else "")
    )
    return 0


def _calibration(stats: embedder_pb2.EmbedderStats) -> str:
    if not stats.HasField("calibration"):
        return "none (matches carry no label: run vrs calibrate)"
    c = stats.calibration
    return (
        f"close <= {c.close_max_distance:.3f} (precision {c.close_precision:.2f}), similar <= "
        f"{c.similar_max_distance:.3f} (precision {c.similar_precision:.2f}), on {c.queries} "
        f"queries, {c.calibrated_at}"
    )


def stats(client: VrsClient) -> int:
    lines: list[tuple[str, str]] = []
    reached = False
    try:
        embedder = client.embedder_stats()
        reached = True
        index = embedder.index
        lines += [
            ("collection", index.collection),
            ("model id", f"{index.model_id} ({index.dimension}-d)"),
            ("points", str(index.points)),
            ("index", index.index_state),
            ("store", index.store),
            ("device", embedder.device),
            ("images embedded", f"{embedder.images_embedded} in {embedder.forward_passes} passes"),
            ("calibration", _calibration(embedder)),
        ]
        if embedder.events.enabled:
            ev = embedder.events
            lines += [
                ("events", f"stream {ev.stream}, group {ev.group}"),
                ("events lag", f"{ev.lag} (pending {ev.pending})"),
                (
                    "events done",
                    f"processed {ev.processed}, retried {ev.retried}, "
                    f"dead-lettered {ev.dead_lettered}",
                ),
                (
                    "events recovery",
                    f"group re-created {ev.group_recreated}, "
                    f"idle consumers removed {ev.consumers_removed}",
                ),
            ]
    except CliError as exc:
        if "does not run that service" not in str(exc):
            raise
    try:
        search = client.search_stats()
        reached = True
        if not lines:
            lines += [
                ("collection", search.collection),
                ("model id", search.model_id),
                ("points", str(search.points)),
            ]
        cache = search.cache
        lines.append(
            (
                "cache",
                f"hit rate {cache.hit_rate:.0%} ({cache.hits} hits, "
                f"{cache.misses} misses, {cache.errors} redis errors)"
                if cache.enabled
                else "off",
            )
        )
    except CliError as exc:
        if "does not run that service" not in str(exc):
            raise
    if not reached:
        raise CliError(f"{client.address} runs neither the embedder nor the search service")
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name.ljust(width)}  {value}")
    return 0
