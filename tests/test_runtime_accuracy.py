"""The accuracy gate of the default CPU runtime: its vectors are eager fp32's, for retrieval.

Measured with efficientnet_lite0's real ImageNet weights on the catalog's photos (the seed
products when ../shared has them) and shop photos made of them by vrs.evaluation.queryset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from services.cli.catalog_files import read_catalog
from services.embedder.decoding.cpu_decode import prepare
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import build_engine
from vrs.evaluation.queryset import SourcePhoto, make_query_set

MEAN_COSINE = 0.995
# No photo far off: the mean alone could hide a few vectors bf16 moved a lot.
MIN_COSINE = 0.99
MAX_RECALL_DROP = 0.005
BATCH = 32


@dataclass(frozen=True)
class GateSet:
    """Catalog photos and shop-photo queries, as encoded bytes, with each query's product."""

    catalog: list[bytes]
    catalog_ids: list[str]
    queries: list[bytes]
    query_ids: list[str]


@dataclass(frozen=True)
class GateVectors:
    """One engine's vectors of a GateSet."""

    catalog: np.ndarray
    queries: np.ndarray


@pytest.fixture(scope="module")
def gate_set(sample_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> GateSet:
    entries = read_catalog(sample_catalog / "catalog.csv")
    photos = [SourcePhoto(e.product_id, e.image, e.category) for e in entries]
    out = tmp_path_factory.mktemp("gate-queries")
    rows, failures = make_query_set(photos, out, seed=7, per_product=1)
    assert not failures
    return GateSet(
        catalog=[p.image.read_bytes() for p in photos],
        catalog_ids=[p.product_id for p in photos],
        queries=[(out / r.image).read_bytes() for r in rows],
        query_ids=[r.product_id for r in rows],
    )


@pytest.fixture(scope="module")
def eager_fp32() -> InferenceEngine:
    return build_engine("efficientnet_lite0", runtime="torch", cpu_precision="fp32")


def vectors_of(engine: InferenceEngine, gate: GateSet) -> GateVectors:
    return GateVectors(_embed(engine, gate.catalog), _embed(engine, gate.queries))


def _embed(engine: InferenceEngine, images: list[bytes]) -> np.ndarray:
    pixels = [prepare(data, 10**8, engine.crop) for data in images]
    return np.concatenate(
        [engine.embed(pixels[i : i + BATCH]) for i in range(0, len(pixels), BATCH)]
    )


def recall_at_1(vectors: GateVectors, gate: GateSet) -> float:
    distances = np.linalg.norm(vectors.queries[:, None, :] - vectors.catalog[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    hits = [
        gate.catalog_ids[n] == expected for n, expected in zip(nearest, gate.query_ids, strict=True)
    ]
    return sum(hits) / len(hits)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def both(
    compare: Callable[[np.ndarray, np.ndarray], np.ndarray], ours: GateVectors, theirs: GateVectors
) -> np.ndarray:
    """`compare` of catalog and query vectors alike, as one array."""
    return np.concatenate(
        [compare(ours.catalog, theirs.catalog), compare(ours.queries, theirs.queries)]
    )


@pytest.fixture(scope="module")
def reference(eager_fp32: InferenceEngine, gate_set: GateSet) -> GateVectors:
    return vectors_of(eager_fp32, gate_set)


@pytest.fixture(scope="module")
def default_runtime(effnet_engine: InferenceEngine, gate_set: GateSet) -> GateVectors:
    return vectors_of(effnet_engine, gate_set)


def test_the_default_runtime_is_openvino_on_cpu(effnet_engine: InferenceEngine) -> None:
    assert effnet_engine.device_name.startswith("openvino CPU")


def test_default_runtime_vectors_are_eager_fp32_ones_to_mean_cosine_0995(
    reference: GateVectors, default_runtime: GateVectors
) -> None:
    assert both(cosines, default_runtime, reference).mean() >= MEAN_COSINE


def test_default_runtime_moves_no_photo_below_cosine_099(
    reference: GateVectors, default_runtime: GateVectors
) -> None:
    assert both(cosines, default_runtime, reference).min() >= MIN_COSINE


def test_default_runtime_recall_at_1_within_half_a_point_of_eager_fp32(
    reference: GateVectors, default_runtime: GateVectors, gate_set: GateSet
) -> None:
    assert (
        recall_at_1(default_runtime, gate_set) >= recall_at_1(reference, gate_set) - MAX_RECALL_DROP
    )
