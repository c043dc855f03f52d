"""EmbedderService over gRPC: protobuf in, domain calls, protobuf out. No logic of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, replace

from services.embedder.catalog.items import ItemResult, Outcome, UpsertItem
from services.embedder.catalog.writer import CatalogWriter
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.events.consumer import EventsConsumer
from vrs.catalog.ids import normalize_product_id, split_product_ids
from vrs.catalog.products import ProductPatch
from vrs.errors import InvalidInput
from vrs.images.source import sha256_hex
from vrs.item_failure import as_item_error
from vrs.observability.metrics.events import EventsStatus
from vrs.rpc.convert import (
    calibration_from_proto,
    calibration_to_proto,
    image_from_proto,
    patch_from_proto,
    photos_to_proto,
    product_from_proto,
    region_from_proto,
    stored_product_to_proto,
    used_region_to_proto,
)
from vrs.rpc.handler_types import Context
from vrs.rpc.status import item_error, status_of_item
from vrs.store.async_store import AsyncStore
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc

MAX_REPORTED_FAILURES = 1000

_UPSERT_OUTCOMES = {
    Outcome.UPSERTED: embedder_pb2.UPSERT_OUTCOME_UPSERTED,
    Outcome.UPDATED: embedder_pb2.UPSERT_OUTCOME_UPDATED,
    Outcome.UNCHANGED: embedder_pb2.UPSERT_OUTCOME_UNCHANGED,
    Outcome.FAILED: embedder_pb2.UPSERT_OUTCOME_FAILED,
}
_UPDATE_OUTCOMES = {
    Outcome.UPDATED: embedder_pb2.UPDATE_OUTCOME_UPDATED,
    Outcome.UNCHANGED: embedder_pb2.UPDATE_OUTCOME_UNCHANGED,
    Outcome.FAILED: embedder_pb2.UPDATE_OUTCOME_FAILED,
}


class EmbedderServicer(embedder_pb2_grpc.EmbedderServiceServicer):
    """The EmbedderService RPCs: protobuf in, catalog writer and embedder calls, protobuf out."""

    def __init__(
        self,
        embedder: ImageEmbedder,
        writer: CatalogWriter,
        store: AsyncStore,
        events: EventsConsumer | None = None,
    ) -> None:
        self._embedder = embedder
        self._events = events
        self._writer = writer
        self._store = store

    async def Embed(
        self, request: embedder_pb2.EmbedRequest, context: Context
    ) -> embedder_pb2.EmbedResponse:
        if not request.images:
            raise InvalidInput("no images to embed")
        results = await asyncio.gather(*(self._embed_one(s) for s in request.images))
        failures = [r.error for r in results if r.HasField("error")]
        if len(failures) == len(results):
            # Nothing embedded: fail the call itself, with the first item's reason.
            await context.abort(status_of_item(failures[0]), failures[0].message)
        return embedder_pb2.EmbedResponse(
            results=results, model_id=self._embedder.model_id, dimension=self._embedder.dimension
        )

    async def EmbedQuery(
        self, request: embedder_pb2.EmbedQueryRequest, context: Context
    ) -> embedder_pb2.EmbedQueryResponse:
        if not request.HasField("image"):
            raise InvalidInput("image is missing")
        region = region_from_proto(request.region) if request.HasField("region") else None
        data = await self._embedder.fetcher.load(image_from_proto(request.image))
        query = await self._embedder.embed_query(data, region)
        return embedder_pb2.EmbedQueryResponse(
            embedding=common_pb2.Embedding(
                values=query.vector.tolist(), model_id=self._embedder.model_id
            ),
            region=used_region_to_proto(query.region),
            image_sha256=sha256_hex(data),
        )

    async def _embed_one(self, source: common_pb2.ImageSource) -> embedder_pb2.EmbedResult:
        try:
            embedded = await self._embedder.embed_input(image_from_proto(source))
        except Exception as exc:
            return embedder_pb2.EmbedResult(error=item_error(as_item_error(exc, "an image")))
        return embedder_pb2.EmbedResult(
            embedding=common_pb2.Embedding(
                values=embedded.vector.tolist(), model_id=self._embedder.model_id
            ),
            image_sha256=embedded.image_sha256,
        )

    async def UpsertProducts(
        self, request: embedder_pb2.UpsertProductsRequest, context: Context
    ) -> embedder_pb2.UpsertProductsResponse:
        results = await self._upsert(request.items)
        return embedder_pb2.UpsertProductsResponse(results=[_upsert_result(r) for r in results])

    async def _upsert(self, messages: Sequence[embedder_pb2.ProductUpsert]) -> list[ItemResult]:
        """Items that do not convert fail alone; the others go to the writer together."""
        items: list[UpsertItem] = []
        refused: dict[int, ItemResult] = {}
        for i, message in enumerate(messages):
            try:
                items.append(_upsert_item(message))
            except Exception as exc:
                error = as_item_error(exc, f"item {i} of the batch")
                refused[i] = ItemResult(message.product.product_id, Outcome.FAILED, error)
        written = iter(await self._writer.upsert(items) if items else [])
        return [refused.get(i) or next(written) for i in range(len(messages))]

    async def StreamUpsertProducts(
        self,
        request_iterator: AsyncIterator[embedder_pb2.UpsertProductsRequest],
        context: Context,
    ) -> embedder_pb2.UpsertSummary:
        summary = embedder_pb2.UpsertSummary()
        async for request in request_iterator:
            results = await self._upsert(request.items)
            for result in results:
                summary.received += 1
                if result.outcome is Outcome.UPSERTED:
                    summary.upserted += 1
                elif result.outcome is Outcome.UPDATED:
                    summary.updated += 1
                elif result.outcome is Outcome.UNCHANGED:
                    summary.unchanged += 1
                else:
                    summary.failed += 1
                    if len(summary.failures) < MAX_REPORTED_FAILURES:
                        summary.failures.append(_upsert_result(result))
                    else:
                        summary.failures_truncated = True
        if summary.upserted:
            summary.index_optimized = await self._writer.optimize()
        return summary

    async def UpdateProducts(
        self, request: embedder_pb2.UpdateProductsRequest, context: Context
    ) -> embedder_pb2.UpdateProductsResponse:
        patches, refused = _patches(request.patches)
        applied = iter(await self._writer.update(patches) if patches else [])
        results = [refused.get(i) or next(applied) for i in range(len(request.patches))]
        return embedder_pb2.UpdateProductsResponse(
            results=[
                embedder_pb2.UpdateResult(
                    product_id=r.product_id,
                    outcome=_UPDATE_OUTCOMES[r.outcome],
                    error=item_error(r.error) if r.error else None,
                )
                for r in results
            ]
        )

    async def DeleteProducts(
        self, request: embedder_pb2.DeleteProductsRequest, context: Context
    ) -> embedder_pb2.DeleteProductsResponse:
        ids, invalid = split_product_ids(request.product_ids)
        # No valid id because every one was refused: those refusals are the answer. No id at
        # all: the writer's INVALID_ARGUMENT.
        deleted, not_found = await self._writer.delete(ids) if ids or not invalid else ([], [])
        return embedder_pb2.DeleteProductsResponse(
            deleted=deleted, not_found=not_found, invalid=_invalid_ids(invalid)
        )

    async def GetProducts(
        self, request: embedder_pb2.GetProductsRequest, context: Context
    ) -> embedder_pb2.GetProductsResponse:
        valid, invalid = split_product_ids(request.product_ids)
        ids = list(dict.fromkeys(valid))
        found = await self._store.get(ids)
        return embedder_pb2.GetProductsResponse(
            products=[stored_product_to_proto(found[pid].product) for pid in ids if pid in found],
            photos=[photos_to_proto(found[pid]) for pid in ids if pid in found],
            not_found=[pid for pid in ids if pid not in found],
            invalid=_invalid_ids(invalid),
        )

    async def GetStats(
        self, request: embedder_pb2.GetEmbedderStatsRequest, context: Context
    ) -> embedder_pb2.EmbedderStats:
        info = await self._store.info()
        engine = self._embedder.engine
        # The counters /metrics serves, so `vrs stats` and a scrape never disagree.
        forward_passes, images_embedded = self._embedder.metrics.totals()
        stats = embedder_pb2.EmbedderStats(
            index=embedder_pb2.IndexStats(
                collection=info.collection,
                model_id=info.model_id,
                dimension=info.dimension,
                points=info.points,
                indexed_vectors=info.indexed_vectors,
                store=info.kind,
                index_state=info.index_state,
            ),
            device=engine.device_name,
            forward_passes=forward_passes,
            images_embedded=images_embedded,
        )
        if self._events is not None:
            stats.events.CopyFrom(events_stats_to_proto(await self._events.stats()))
        calibration = await self._store.calibration()
        if calibration is not None:
            stats.calibration.CopyFrom(calibration_to_proto(calibration, info.model_id))
        return stats

    async def SetCalibration(
        self, request: embedder_pb2.SetCalibrationRequest, context: Context
    ) -> embedder_pb2.Calibration:
        if not request.HasField("calibration"):
            raise InvalidInput("no calibration in the request")
        kept = await self._writer.set_calibration(calibration_from_proto(request.calibration))
        return calibration_to_proto(kept, self._writer.model_id)


def events_stats_to_proto(status: EventsStatus) -> embedder_pb2.EventsStats:
    return embedder_pb2.EventsStats(
        enabled=True,
        stream=status.stream,
        group=status.group,
        # The message has no "unknown": when Redis did not say, 0.
        lag=status.lag or 0,
        pending=status.pending or 0,
        **asdict(status.counters),
    )


def _upsert_item(message: embedder_pb2.ProductUpsert) -> UpsertItem:
    product = product_from_proto(message.product)
    content = message.WhichOneof("content")
    if (content == "image" and message.images) or (content == "vector" and message.vectors):
        raise InvalidInput(
            f"product {product.product_id!r}: set image or images (vector or vectors), not both"
        )
    images = ([message.image] if content == "image" else []) + list(message.images)
    vectors = ([message.vector] if content == "vector" else []) + list(message.vectors)
    models = {v.model_id for v in vectors}
    if len(models) > 1:
        raise InvalidInput(
            f"product {product.product_id!r}: its vectors name several models "
            f"({', '.join(sorted(repr(m) for m in models))}); one product's are one model's"
        )
    return UpsertItem(
        product,
        images=tuple(image_from_proto(i) for i in images),
        vectors=tuple(list(v.values) for v in vectors),
        vector_model_id=models.pop() if models else "",
        image_uris=tuple(message.image_uris),
    )


def _invalid_ids(invalid: Sequence[tuple[str, str]]) -> list[common_pb2.InvalidId]:
    return [common_pb2.InvalidId(product_id=pid, message=why) for pid, why in invalid]


def _patches(
    messages: Sequence[embedder_pb2.ProductPatch],
) -> tuple[list[ProductPatch], dict[int, ItemResult]]:
    """The patches with normalised ids, and a failed result for each one whose id is bad
    (by position: a bad id fails its patch alone)."""
    patches: list[ProductPatch] = []
    refused: dict[int, ItemResult] = {}
    for i, message in enumerate(messages):
        try:
            patch = patch_from_proto(message)
            patches.append(replace(patch, product_id=normalize_product_id(patch.product_id)))
        except Exception as exc:
            error = as_item_error(exc, f"patch {i} of the batch")
            refused[i] = ItemResult(message.product_id, Outcome.FAILED, error)
    return patches, refused


def _upsert_result(result: ItemResult) -> embedder_pb2.UpsertResult:
    return embedder_pb2.UpsertResult(
        product_id=result.product_id,
        outcome=_UPSERT_OUTCOMES[result.outcome],
        error=item_error(result.error) if result.error else None,
    )
