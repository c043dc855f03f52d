"""Qdrant Edge adapter: the Qdrant engine in-process, in a data directory this process owns."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import qdrant_edge as qe

from vrs.catalog.products import StoredProduct, aggregated
from vrs.catalog.vectors import Vector
from vrs.errors import ConfigurationError
from vrs.evaluation.calibration import Calibration
from vrs.limits import MAX_PHOTOS
from vrs.settings import StoreSettings
from vrs.store.base import StoreInfo, checked_points, collection_name
from vrs.store.distinct import distinct_nearest
from vrs.store.filters import INDEXED_FIELDS, ProductFilter
from vrs.store.query import Hit, SearchRequest

log = logging.getLogger(__name__)

_DIALECT = SimpleNamespace(
    Filter=qe.Filter,
    FieldCondition=qe.FieldCondition,
    Range=qe.RangeFloat,
    MatchAny=qe.MatchAny,
    in_stock=lambda: qe.FieldCondition(key=_IN_STOCK_FLAG, match=qe.MatchValue(1)),
)
# qdrant-edge-py 0.9.0 turns MatchValue(True) into the integer 1, which never matches a bool
# payload. Edge points also carry in_stock as 0/1 under this key, and in-stock filters use it.
_IN_STOCK_FLAG = "in_stock_flag"
# Qdrant's default: below this many KB of vectors a segment is scanned, not walked.
_FULL_SCAN_THRESHOLD_KB = 10_000
CALIBRATION_FILE = "vrs-calibration.json"
# ISO 4217 has fewer than 200 active codes.
_MAX_CURRENCIES = 1000
_SCHEMA = {
    "float": qe.PayloadSchemaType.Float,
    "keyword": qe.PayloadSchemaType.Keyword,
    "bool": qe.PayloadSchemaType.Bool,
    "integer": qe.PayloadSchemaType.Integer,
}


class QdrantEdgeStore:
    """The vector store embedded in this process (Qdrant Edge): the default single-host store."""

    kind = "qdrant-edge"

    def __init__(
        self,
        shard: qe.EdgeShard,
        collection: str,
        model_id: str,
        dimension: int,
        settings: StoreSettings,
    ) -> None:
        self._shard = shard
        self.collection = collection
        self._model_id = model_id
        self._dimension = dimension
        self._settings = settings
        # Writes and index builds are serialised: the write counter that triggers optimize()
        # must stay exact, and an index build should not interleave with a batch write.
        self._write_lock = threading.Lock()
        self._writes_since_optimize = 0
        self._closed = False

    @classmethod
    def open(cls, settings: StoreSettings, model_id: str, dimension: int) -> QdrantEdgeStore:
        """Open (or create, idempotently) the shard of this model under settings.data_dir."""
        name = collection_name(settings.collection_prefix, model_id)
        path = Path(settings.data_dir) / name
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(
                size=dimension, distance=qe.Distance.Euclid, on_disk=settings.on_disk_vectors
            ),
            hnsw_config=qe.HnswIndexConfig(
                m=settings.hnsw_m,
                ef_construct=settings.hnsw_ef_construct,
                full_scan_threshold=_FULL_SCAN_THRESHOLD_KB,
            ),
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=settings.indexing_threshold_kb),
            quantization_config=qe.ScalarQuantizationConfig(
                type=qe.ScalarType.Int8, always_ram=True
            )
            if settings.scalar_quantization
            else None,
        )
        try:
            if (path / "wal").exists() or (path / "segments").exists():
                shard = qe.EdgeShard.load(str(path), config)
            else:
                path.mkdir(parents=True, exist_ok=True)
                shard = qe.EdgeShard.create(str(path), config)
        except Exception as exc:
            raise ConfigurationError(
                f"cannot open Qdrant Edge data directory {path} (one process may own it): {exc}"
            ) from exc
        existing = set(shard.info().payload_schema)
        for field, kind in {**INDEXED_FIELDS, _IN_STOCK_FLAG: "integer"}.items():
            if field not in existing:
                shard.update(qe.UpdateOperation.create_field_index(field, _SCHEMA[kind]))
        log.info("qdrant edge store open", extra={"path": str(path), "dimension": dimension})
        return cls(shard, name, model_id, dimension, settings)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    def upsert(self, items: Sequence[StoredProduct]) -> None:
        points = [
            qe.Point(point, vector.tolist(), _with_flag(payload))
            for item in items
            for point, vector, payload in checked_points(self, item)
        ]
        if not points:
            return
        with self._write_lock:
            self._shard.update(qe.UpdateOperation.upsert_points(points))
            self._writes_since_optimize += len(points)
            threshold = self._settings.optimize_after_writes
            if threshold and self._writes_since_optimize >= threshold:
                self._optimize_locked()

    def delete_points(self, point_ids: Sequence[str]) -> None:
        if point_ids:
            with self._write_lock:
                self._shard.update(qe.UpdateOperation.delete_points(list(point_ids)))

    def set_attributes(self, items: Sequence[StoredProduct]) -> None:
        with self._write_lock:
            for item in items:
                # Merged into each photo's payload: the photo's own fields stay.
                self._shard.update(
                    qe.UpdateOperation.set_payload_by_filter(
                        _of_products([item.product.product_id]),
                        _with_flag(item.attributes_payload()),
                    )
                )

    def get(
        self, product_ids: Sequence[str], with_vectors: bool = False
    ) -> dict[str, StoredProduct]:
        if not product_ids:
            return {}
        points: dict[str, list[StoredProduct]] = {}
        offset = None
        while True:
            records, offset = self._shard.scroll(
                qe.ScrollRequest(
                    offset=offset,
                    limit=len(product_ids) * MAX_PHOTOS + 1,
                    filter=_of_products(product_ids),
                    with_payload=True,
                    with_vector=with_vectors,
                )
            )
            for record in records:
                vector = _as_vector(record.vector) if with_vectors else None
                stored = StoredProduct.from_payload(record.payload or {}, vector, str(record.id))
                points.setdefault(stored.product.product_id, []).append(stored)
            if offset is None:
                return {pid: aggregated(photos) for pid, photos in points.items()}

    def delete(self, product_ids: Sequence[str]) -> None:
        if product_ids:
            with self._write_lock:
                self._shard.update(
                    qe.UpdateOperation.delete_points_by_filter(_of_products(product_ids))
                )

    def search(self, request: SearchRequest) -> list[Hit]:
        flt = request.filter.to_qdrant(_DIALECT)

        def nearest(limit: int) -> list[list[Hit]]:
            batch = qe.QueryBatchRequest(
                [self._query(vector, limit, flt, request) for vector in request.vectors]
            )
            return [_hits(points) for points in self._shard.query_batch(batch)]

        return distinct_nearest(nearest, request.k, request.collapse)

    def variants(
        self, near: Vector, group_keys: Sequence[str], flt: ProductFilter, per_group: int
    ) -> dict[str, list[Hit]]:
        # One query per group: Qdrant Edge has no grouping call, and a group's own query keeps
        # a large group from crowding out the others.
        batch = qe.QueryBatchRequest(
            [
                qe.QueryRequest(
                    limit=per_group,
                    query=qe.Query.Nearest(np.asarray(near, dtype=np.float32).tolist()),
                    filter=replace(flt, group_keys=(key,), first_photos=True).to_qdrant(_DIALECT),
                    with_payload=True,
                    params=qe.SearchParams(exact=True),
                )
                for key in group_keys
            ]
        )
        answers = self._shard.query_batch(batch) if group_keys else []
        return {key: _hits(points) for key, points in zip(group_keys, answers, strict=True)}

    def _query(
        self, vector: Vector, limit: int, flt: qe.Filter | None, request: SearchRequest
    ) -> qe.QueryRequest:
        return qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(np.asarray(vector, dtype=np.float32).tolist()),
            filter=flt,
            score_threshold=request.max_distance,
            with_payload=True,
            params=qe.SearchParams(
                hnsw_ef=request.hnsw_ef,
                exact=bool(request.exact),
                quantization=_quantization_params(self._settings),
            ),
        )

    def count(self, flt: ProductFilter) -> int:
        return int(self._shard.count(qe.CountRequest(filter=flt.to_qdrant(_DIALECT), exact=True)))

    def currencies(self) -> tuple[str, ...]:
        answer = self._shard.facet(qe.FacetRequest("currency", limit=_MAX_CURRENCIES, exact=True))
        return tuple(sorted(str(hit.value) for hit in answer.hits if hit.value))

    def calibration(self) -> Calibration | None:
        path = self._calibration_path()
        try:
            return Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            # A damaged file means no calibration (labels are never invented), said loudly.
            log.warning("calibration unreadable", extra={"path": str(path), "error": str(exc)})
            return None

    def set_calibration(self, calibration: Calibration) -> None:
        path = self._calibration_path()
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(calibration.to_json()), encoding="utf-8")
        partial.replace(path)  # atomic: a reader sees the old one or the new one

    def _calibration_path(self) -> Path:
        # Beside the shard's own files: it goes where the collection goes.
        return Path(self._settings.data_dir) / self.collection / CALIBRATION_FILE

    def info(self) -> StoreInfo:
        info = self._shard.info()
        return StoreInfo(
            kind=self.kind,
            collection=self.collection,
            model_id=self._model_id,
            dimension=self._dimension,
            points=int(info.points_count),
            indexed_vectors=int(info.indexed_vectors_count),
        )

    def optimize(self) -> bool:
        with self._write_lock:
            return self._optimize_locked()

    def _optimize_locked(self) -> bool:
        rebuilt = bool(self._shard.optimize())
        self._writes_since_optimize = 0
        log.info("qdrant edge index optimized", extra={"rebuilt": rebuilt})
        return rebuilt

    def close(self) -> None:
        # Idempotent: the shard refuses a second close, and owners may both close (a facade
        # and whoever opened the store).
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self._shard.flush()
            self._shard.close()


def existing_dimension(settings: StoreSettings, model_id: str) -> int | None:
    """The vector size of this model's shard under settings.data_dir; None when there is none."""
    config = Path(settings.data_dir) / collection_name(settings.collection_prefix, model_id)
    try:
        vectors = json.loads((config / "edge_config.json").read_text(encoding="utf-8"))["vectors"]
        return int(vectors[""]["size"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the Qdrant Edge config in {config}: {exc}") from exc


def _quantization_params(settings: StoreSettings) -> qe.QuantizationSearchParams | None:
    if not settings.scalar_quantization:
        return None
    return qe.QuantizationSearchParams(
        rescore=settings.quantization_rescore, oversampling=settings.quantization_oversampling
    )


def _with_flag(payload: dict[str, object]) -> dict[str, object]:
    return {**payload, _IN_STOCK_FLAG: int(bool(payload.get("in_stock", True)))}


def _of_products(product_ids: Sequence[str]) -> qe.Filter:
    """Every photo of these products."""
    return qe.Filter(
        must=[qe.FieldCondition(key="product_id", match=qe.MatchAny(any=list(product_ids)))]
    )


def _hits(points: Sequence[qe.ScoredPoint]) -> list[Hit]:
    return [
        Hit(StoredProduct.from_payload(p.payload or {}, point_id=str(p.id)), float(p.score))
        for p in points
    ]


def _as_vector(raw: object) -> Vector | None:
    if isinstance(raw, dict):
        raw = raw.get("")
    return None if raw is None else np.asarray(raw, dtype=np.float32)
