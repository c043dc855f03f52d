"""Qdrant server adapter (qdrant-client): production and clusters.

Also runs against `QdrantClient(":memory:")` (qdrant-client local mode, the same client API),
which is how the tests exercise it here.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from vrs.catalog.products import StoredProduct, aggregated
from vrs.catalog.vectors import Vector
from vrs.errors import ConfigurationError, ModelMismatch, VrsError
from vrs.evaluation.calibration import Calibration
from vrs.limits import MAX_PHOTOS
from vrs.settings import StoreSettings
from vrs.store.base import StoreInfo, checked_points, collection_name, model_id_of
from vrs.store.distinct import nearest_distance
from vrs.store.filters import INDEXED_FIELDS, ProductFilter
from vrs.store.qdrant_connection import new_client
from vrs.store.qdrant_errors import endpoint, qdrant_errors
from vrs.store.query import Hit, SearchRequest

log = logging.getLogger(__name__)

_DIALECT = SimpleNamespace(
    Filter=qm.Filter,
    FieldCondition=qm.FieldCondition,
    Range=qm.Range,
    MatchAny=qm.MatchAny,
    in_stock=lambda: qm.FieldCondition(key="in_stock", match=qm.MatchValue(value=True)),
)
# The collection metadata key a calibration is kept under.
CALIBRATION_KEY = "vrs_calibration"
# ISO 4217 has fewer than 200 active codes.
_MAX_CURRENCIES = 1000
_SCHEMA = {
    "float": qm.PayloadSchemaType.FLOAT,
    "keyword": qm.PayloadSchemaType.KEYWORD,
    "bool": qm.PayloadSchemaType.BOOL,
    "integer": qm.PayloadSchemaType.INTEGER,
}
# Local mode has no payload indexes and always searches exactly; it says so on every call.
warnings.filterwarnings(
    "ignore", message=".*(Payload indexes|Local mode).*", module="qdrant_client"
)


def connect(settings: StoreSettings) -> QdrantClient:
    """A client that has answered once; Unavailable/ConfigurationError naming the endpoint."""
    if settings.url == ":memory:":
        # Local mode has no payload indexes and always searches exactly, and says so on
        # every call; once is enough.
        warnings.filterwarnings("once", message="(Payload indexes|Local mode)")
        return QdrantClient(":memory:")
    if not settings.url:
        raise ConfigurationError("VRS_QDRANT_URL is not set")
    log.debug("qdrant: connecting to %s", endpoint(settings))
    client = new_client(settings)
    # The client connects lazily; one cheap call now makes an unreachable server, a wrong
    # port or a refused API key a clear startup refusal instead of a first-request failure.
    try:
        with qdrant_errors(settings):
            client.get_collections()
    except VrsError:
        client.close()
        raise
    return client


class QdrantServerStore:
    """The vector store on a Qdrant server or cluster, for split and multi-replica deployments."""

    kind = "qdrant-server"

    def __init__(
        self,
        client: QdrantClient,
        name: str,
        settings: StoreSettings,
        model_id: str,
        dimension: int,
        *,
        owns_client: bool = True,
    ) -> None:
        self._client = client
        # A collection or, for readers in production, an alias that model upgrades switch.
        self.collection = name
        self._settings = settings
        self._model_id = model_id
        self._dimension = dimension
        self._owns_client = owns_client
        self._timeout = int(max(1, settings.timeout_s))
        self._model_checked_at = time.monotonic()
        self._quantization = (
            qm.QuantizationSearchParams(
                rescore=settings.quantization_rescore,
                oversampling=settings.quantization_oversampling,
            )
            if settings.scalar_quantization
            else None
        )

    @classmethod
    def open_for_writing(
        cls,
        client: QdrantClient,
        settings: StoreSettings,
        model_id: str,
        dimension: int,
        *,
        owns_client: bool = True,
    ) -> QdrantServerStore:
        """The collection of this model, created idempotently; the alias switched if asked."""
        name = collection_name(settings.collection_prefix, model_id)
        if not client.collection_exists(name):
            client.create_collection(name, **collection_params(settings, dimension))
            log.info("qdrant collection created", extra={"collection": name})
        existing_dim = _dimension_of(client, name)
        if existing_dim != dimension:
            raise ModelMismatch(
                f"collection {name!r} holds {existing_dim}-d vectors, model {model_id!r} makes "
                f"{dimension}-d ones"
            )
        schema = client.get_collection(name).payload_schema or {}
        for field, kind in INDEXED_FIELDS.items():
            if field not in schema:
                client.create_payload_index(name, field, _SCHEMA[kind], wait=True)
        if settings.alias and settings.alias_switch:
            switch_alias(client, settings.alias, name)
        return cls(client, name, settings, model_id, dimension, owns_client=owns_client)

    @classmethod
    def open_for_reading(
        cls,
        client: QdrantClient,
        settings: StoreSettings,
        model_id: str,
        *,
        owns_client: bool = True,
    ) -> QdrantServerStore:
        """Read through the alias when one is set, else the collection of `model_id`."""
        name = settings.alias or collection_name(settings.collection_prefix, model_id)
        target = resolve_alias(client, name)
        if not client.collection_exists(target):
            raise ConfigurationError(
                f"Qdrant collection {target!r} does not exist yet: "
                "start the embedder (it creates it) or index a catalog"
            )
        return cls(
            client,
            name,
            settings,
            model_id_of(target),
            _dimension_of(client, target),
            owns_client=owns_client,
        )

    @property
    def model_id(self) -> str:
        # Readers going through an alias follow a model upgrade's alias switch within
        # alias_refresh_s, without a restart.
        now = time.monotonic()
        if (
            self._settings.alias == self.collection
            and now - self._model_checked_at > self._settings.alias_refresh_s
        ):
            self._model_checked_at = now
            target = resolve_alias(self._client, self.collection)
            if model_id_of(target) != self._model_id:
                self._model_id = model_id_of(target)
                self._dimension = _dimension_of(self._client, target)
                log.info(
                    "alias now serves another model",
                    extra={"alias": self.collection, "model_id": self._model_id},
                )
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    def upsert(self, items: Sequence[StoredProduct]) -> None:
        points = [
            qm.PointStruct(id=point, vector=vector.tolist(), payload=payload)
            for item in items
            for point, vector, payload in checked_points(self, item)
        ]
        if points:
            self._client.upsert(self.collection, points, wait=True, timeout=self._timeout)

    def delete_points(self, point_ids: Sequence[str]) -> None:
        if point_ids:
            self._client.delete(
                self.collection,
                points_selector=qm.PointIdsList(points=list(point_ids)),
                wait=True,
                timeout=self._timeout,
            )

    def set_attributes(self, items: Sequence[StoredProduct]) -> None:
        if not items:
            return
        # One request for the batch; merged into each photo's payload (its own fields stay).
        self._client.batch_update_points(
            self.collection,
            update_operations=[
                qm.SetPayloadOperation(
                    set_payload=qm.SetPayload(
                        payload=item.attributes_payload(),
                        filter=_of_products([item.product.product_id]),
                    )
                )
                for item in items
            ],
            wait=True,
        )

    def get(
        self, product_ids: Sequence[str], with_vectors: bool = False
    ) -> dict[str, StoredProduct]:
        if not product_ids:
            return {}
        points: dict[str, list[StoredProduct]] = {}
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                self.collection,
                scroll_filter=_of_products(product_ids),
                limit=len(product_ids) * MAX_PHOTOS + 1,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
                timeout=self._timeout,
            )
            for record in records:
                raw = record.vector if with_vectors else None
                vector = None if raw is None else np.asarray(raw, dtype=np.float32)
                stored = StoredProduct.from_payload(record.payload or {}, vector, str(record.id))
                points.setdefault(stored.product.product_id, []).append(stored)
            if offset is None:
                return {pid: aggregated(photos) for pid, photos in points.items()}

    def delete(self, product_ids: Sequence[str]) -> None:
        if product_ids:
            self._client.delete(
                self.collection,
                points_selector=qm.FilterSelector(filter=_of_products(product_ids)),
                wait=True,
                timeout=self._timeout,
            )

    def search(self, request: SearchRequest) -> list[Hit]:
        vectors = request.vectors
        several = len(vectors) > 1
        query: Any = (
            qm.RecommendQuery(
                recommend=qm.RecommendInput(
                    positive=[_floats(v) for v in vectors],
                    strategy=qm.RecommendStrategy.BEST_SCORE,
                )
            )
            if several
            else _floats(vectors[0])
        )
        # The engine's grouping: one hit per product (or variant group), its best photo.
        groups = self._client.query_points_groups(
            self.collection,
            query=query,
            group_by=request.collapse.key,
            limit=request.k,
            group_size=1,
            query_filter=request.filter.to_qdrant(_DIALECT),
            # A recommendation's scores are not distances: its threshold applies below.
            score_threshold=None if several else request.max_distance,
            search_params=qm.SearchParams(
                hnsw_ef=request.hnsw_ef, exact=bool(request.exact), quantization=self._quantization
            ),
            with_payload=True,
            with_vectors=several,
            timeout=self._timeout,
        ).groups
        best = [group.hits[0] for group in groups if group.hits]
        if not several:
            return [_hit(p, float(p.score)) for p in best]
        # The distance of a product to several photos is to the nearest of them.
        hits = [_hit(p, nearest_distance(_vector(p.vector), vectors)) for p in best]
        limit = request.max_distance
        return sorted(
            (h for h in hits if limit is None or h.distance <= limit), key=lambda h: h.distance
        )

    def variants(
        self, near: Vector, group_keys: Sequence[str], flt: ProductFilter, per_group: int
    ) -> dict[str, list[Hit]]:
        if not group_keys:
            return {}
        groups = self._client.query_points_groups(
            self.collection,
            query=_floats(near),
            group_by="group_key",
            limit=len(group_keys),
            group_size=per_group,
            query_filter=replace(flt, group_keys=tuple(group_keys), first_photos=True).to_qdrant(
                _DIALECT
            ),
            search_params=qm.SearchParams(exact=True),
            with_payload=True,
            timeout=self._timeout,
        ).groups
        return {str(g.id): [_hit(p, float(p.score)) for p in g.hits] for g in groups}

    def currencies(self) -> tuple[str, ...]:
        answer = self._client.facet(self.collection, "currency", limit=_MAX_CURRENCIES, exact=True)
        return tuple(sorted(str(hit.value) for hit in answer.hits if hit.value))

    def count(self, flt: ProductFilter) -> int:
        result = self._client.count(
            self.collection,
            count_filter=flt.to_qdrant(_DIALECT),
            exact=True,
            timeout=self._timeout,
        )
        return int(result.count)

    def calibration(self) -> Calibration | None:
        target = resolve_alias(self._client, self.collection)
        metadata = self._client.get_collection(target).config.metadata or {}
        raw = metadata.get(CALIBRATION_KEY)
        try:
            return Calibration.from_json(raw) if isinstance(raw, dict) else None
        except (TypeError, ValueError) as exc:
            log.warning("calibration unreadable", extra={"collection": target, "error": str(exc)})
            return None

    def set_calibration(self, calibration: Calibration) -> None:
        target = resolve_alias(self._client, self.collection)
        self._client.update_collection(target, metadata={CALIBRATION_KEY: calibration.to_json()})

    def info(self) -> StoreInfo:
        target = resolve_alias(self._client, self.collection)
        info = self._client.get_collection(target)
        return StoreInfo(
            kind=self.kind,
            collection=target,
            model_id=model_id_of(target),
            dimension=self._dimension,
            points=int(info.points_count or 0),
            indexed_vectors=int(info.indexed_vectors_count or 0),
        )

    def optimize(self) -> bool:
        # The server's optimizers index segments past indexing_threshold on their own.
        return False

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def _of_products(product_ids: Sequence[str]) -> qm.Filter:
    """Every photo of these products."""
    return qm.Filter(
        must=[qm.FieldCondition(key="product_id", match=qm.MatchAny(any=list(product_ids)))]
    )


def _floats(vector: Vector) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()  # type: ignore[no-any-return]


def _vector(raw: Any) -> Vector:
    if isinstance(raw, dict):
        raw = raw.get("")
    return np.asarray(raw, dtype=np.float32)


def _hit(point: qm.ScoredPoint, distance: float) -> Hit:
    return Hit(StoredProduct.from_payload(point.payload or {}, point_id=str(point.id)), distance)


def resolve_alias(client: QdrantClient, name: str) -> str:
    for alias in client.get_aliases().aliases:
        if alias.alias_name == name:
            return alias.collection_name
    return name


def switch_alias(client: QdrantClient, alias: str, collection: str) -> None:
    """Point `alias` at `collection` in one atomic operation (zero-downtime model upgrade)."""
    started = time.monotonic()
    operations: list[qm.AliasOperations] = []
    if resolve_alias(client, alias) != alias:
        operations.append(qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=alias)))
    operations.append(
        qm.CreateAliasOperation(
            create_alias=qm.CreateAlias(collection_name=collection, alias_name=alias)
        )
    )
    client.update_collection_aliases(change_aliases_operations=operations)
    log.info(
        "qdrant alias switched",
        extra={
            "alias": alias,
            "collection": collection,
            "ms": round(1000 * (time.monotonic() - started), 1),
        },
    )


def _dimension_of(client: QdrantClient, name: str) -> int:
    vectors = client.get_collection(name).config.params.vectors
    if not isinstance(vectors, qm.VectorParams):
        raise ConfigurationError(f"collection {name!r} does not hold one unnamed dense vector")
    return int(vectors.size)


def collection_params(settings: StoreSettings, dimension: int) -> dict[str, Any]:
    """How a new collection is laid out: Euclidean vectors, sharding and replication across
    the cluster, HNSW and optional quantization, all from the services' settings."""
    return {
        "vectors_config": qm.VectorParams(
            size=dimension, distance=qm.Distance.EUCLID, on_disk=settings.on_disk_vectors
        ),
        "shard_number": settings.shard_number,
        "replication_factor": settings.replication_factor,
        "write_consistency_factor": settings.write_consistency_factor,
        "hnsw_config": qm.HnswConfigDiff(
            m=settings.hnsw_m, ef_construct=settings.hnsw_ef_construct
        ),
        "optimizers_config": qm.OptimizersConfigDiff(
            indexing_threshold=settings.indexing_threshold_kb
        ),
        "quantization_config": qm.ScalarQuantization(
            scalar=qm.ScalarQuantizationConfig(type=qm.ScalarType.INT8, always_ram=True)
        )
        if settings.scalar_quantization
        else None,
        "timeout": int(settings.timeout_s),
    }
