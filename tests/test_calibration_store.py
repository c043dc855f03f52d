"""A calibration is kept with the collection, on both engines: read back, replaced by a later
one, seen by another reader of the collection, and still there after a restart (Edge)."""

from __future__ import annotations

from pathlib import Path

from qdrant_client import QdrantClient

from tests.support.stores import StoreFactory
from vrs.evaluation.calibration import Calibration
from vrs.settings import StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.qdrant_server_store import QdrantServerStore

MODEL_ID = "calibrated@00000000"
FIRST = Calibration(1.5, 4.0, 0.95, 0.9, 0.8, 200, "2026-12-07T10:00:00.000+00:00")
LATER = Calibration(2.5, 5.0, 0.91, 0.92, 0.7, 400, "2026-12-07T11:00:00.000+00:00")


def test_a_collection_has_no_calibration_until_one_is_kept(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL_ID, 8)
    assert store.calibration() is None
    store.set_calibration(FIRST)
    assert store.calibration() == FIRST


def test_a_later_calibration_replaces_the_earlier(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL_ID, 8)
    store.set_calibration(FIRST)
    store.set_calibration(LATER)
    assert store.calibration() == LATER


def test_an_edge_calibration_survives_a_restart(tmp_path: Path) -> None:
    settings = StoreSettings(data_dir=tmp_path)
    store = QdrantEdgeStore.open(settings, MODEL_ID, 8)
    store.set_calibration(FIRST)
    store.close()
    reopened = QdrantEdgeStore.open(settings, MODEL_ID, 8)
    try:
        assert reopened.calibration() == FIRST
        other = QdrantEdgeStore.open(StoreSettings(data_dir=tmp_path), "other@11111111", 8)
        assert other.calibration() is None, "per model: another collection has its own"
        other.close()
    finally:
        reopened.close()


def test_a_damaged_edge_calibration_is_no_calibration(tmp_path: Path) -> None:
    settings = StoreSettings(data_dir=tmp_path)
    store = QdrantEdgeStore.open(settings, MODEL_ID, 8)
    try:
        store.set_calibration(FIRST)
        path = next(tmp_path.rglob("vrs-calibration.json"))
        path.write_text("{not json")
        assert store.calibration() is None
    finally:
        store.close()


def test_a_server_calibration_is_seen_by_every_reader_of_the_collection(tmp_path: Path) -> None:
    client = QdrantClient(":memory:")
    settings = StoreSettings(data_dir=tmp_path)
    writer = QdrantServerStore.open_for_writing(client, settings, MODEL_ID, 8)
    writer.set_calibration(FIRST)
    reader = QdrantServerStore.open_for_reading(client, settings, MODEL_ID, owns_client=False)
    assert reader.calibration() == FIRST
    writer.close()
