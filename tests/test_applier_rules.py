"""The event applier's ordering rules, one rule per case: a few events of one product, each with
its stream position, arriving in the order given, through the real ChangeApplier on a real
Redis and a real Qdrant Edge store. The store must end as applying them once each, in stream
order, would leave it. (The 500-event crash scenario in tests/test_events_crash_recovery.py is
the smoke test above these.)"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.embedder.events.applier import Applied, PendingChange
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.change_events import (
    PRODUCT_ID,
    delete_at,
    photo_sha256,
    update_at,
    upsert_at,
)
from tests.support.events_pipeline import EventsPipeline
from vrs.catalog.products import StoredProduct

APPLIED = Applied.APPLIED
SUPERSEDED = Applied.SUPERSEDED


@dataclass(frozen=True)
class State:
    """What the store holds of the product (the title names the upsert that set it)."""

    title: str
    price: float
    in_stock: bool = True
    photo: int = 0


@dataclass(frozen=True)
class Case:
    """Events in arrival order, what the applier says of each, and the store's final state."""

    rule: str
    arrivals: tuple[PendingChange, ...]
    outcomes: tuple[Applied, ...]
    final: State | None
    images_embedded: int | None = None


CASES = (
    Case(
        "a_late_older_upsert_keeps_the_price_of_a_newer_update",
        (upsert_at(1, price=10), update_at(3, price=30), upsert_at(2, price=20)),
        (APPLIED, APPLIED, APPLIED),
        State("upsert 2", price=30),
    ),
    Case(
        "an_update_older_than_the_upsert_is_ignored",
        (upsert_at(2, price=20), update_at(1, price=10)),
        (APPLIED, SUPERSEDED),
        State("upsert 2", price=20),
    ),
    Case(
        "an_update_newer_than_the_upsert_sets_only_its_attributes",
        (upsert_at(1, price=10), update_at(2, in_stock=False)),
        (APPLIED, APPLIED),
        State("upsert 1", price=10, in_stock=False),
    ),
    Case(
        "a_delete_removes_the_product_when_its_upsert_is_older",
        (upsert_at(1, price=10), delete_at(2)),
        (APPLIED, APPLIED),
        None,
    ),
    Case(
        "a_delete_older_than_the_upsert_leaves_the_product",
        (upsert_at(2, price=20), delete_at(1)),
        (APPLIED, APPLIED),
        State("upsert 2", price=20),
    ),
    Case(
        "the_tombstone_keeps_an_older_redelivered_upsert_from_resurrecting_the_product",
        (upsert_at(1, price=10), delete_at(2), upsert_at(1, price=10)),
        (APPLIED, APPLIED, SUPERSEDED),
        None,
    ),
    Case(
        "the_tombstone_keeps_out_an_older_upsert_arriving_after_the_delete",
        (delete_at(2), upsert_at(1, price=10)),
        (APPLIED, SUPERSEDED),
        None,
    ),
    Case(
        "an_update_older_than_the_delete_is_ignored",
        (delete_at(2), update_at(1, price=10)),
        (APPLIED, SUPERSEDED),
        None,
    ),
    Case(
        "an_upsert_newer_than_the_delete_brings_the_product_back",
        (upsert_at(1, price=10), delete_at(2), upsert_at(3, price=30, photo_seed=1)),
        (APPLIED, APPLIED, APPLIED),
        State("upsert 3", price=30, photo=1),
    ),
    Case(
        "an_update_for_an_absent_product_waits_as_an_orphan_for_an_older_upsert",
        (update_at(2, price=25), upsert_at(1, price=10)),
        (APPLIED, APPLIED),
        State("upsert 1", price=25),
    ),
    Case(
        "a_value_set_after_a_late_delete_survives_it_for_the_upsert_that_follows_the_delete",
        (upsert_at(1, price=10), update_at(4, price=40), delete_at(2), upsert_at(3, price=30)),
        (APPLIED, APPLIED, APPLIED, APPLIED),
        State("upsert 3", price=40),
    ),
    Case(
        "a_redelivered_upsert_is_superseded_and_runs_no_model",
        (upsert_at(1, price=10), upsert_at(1, price=10)),
        (APPLIED, SUPERSEDED),
        State("upsert 1", price=10),
        images_embedded=1,
    ),
    Case(
        "a_redelivered_update_is_superseded",
        (upsert_at(1, price=10), update_at(2, price=25), update_at(2, price=25)),
        (APPLIED, APPLIED, SUPERSEDED),
        State("upsert 1", price=25),
    ),
    Case(
        "a_redelivered_delete_is_superseded",
        (upsert_at(1, price=10), delete_at(2), delete_at(2)),
        (APPLIED, APPLIED, SUPERSEDED),
        None,
    ),
    Case(
        "an_upsert_with_an_unchanged_image_skips_the_model",
        (upsert_at(1, price=10), upsert_at(2, price=20)),
        (APPLIED, APPLIED),
        State("upsert 2", price=20),
        images_embedded=1,
    ),
    Case(
        "an_upsert_with_a_new_image_runs_the_model",
        (upsert_at(1, price=10), upsert_at(2, price=20, photo_seed=1)),
        (APPLIED, APPLIED),
        State("upsert 2", price=20, photo=1),
        images_embedded=2,
    ),
)


def state_of(stored: StoredProduct | None) -> State | None:
    if stored is None:
        return None
    photos = {photo_sha256(seed): seed for seed in (0, 1)}
    product = stored.product
    assert product.price is not None, "every case's product has a price"
    return State(product.title, product.price, product.in_stock, photos[stored.image_sha256])


@pytest.fixture
def embedder_engine(inception_engine: InferenceEngine) -> InferenceEngine:
    """Random weights: these rules are about versions, not about what the vectors mean."""
    return inception_engine


@pytest.mark.parametrize("case", CASES, ids=[case.rule for case in CASES])
async def test_the_store_ends_as_in_stream_order(
    case: Case, pipeline: EventsPipeline, inception_engine: InferenceEngine
) -> None:
    applier = pipeline.applier()
    embedded_before = inception_engine.images_embedded
    outcomes = []
    for change in case.arrivals:
        # One apply per arrival: within one call the applier sorts by version itself.
        answer = await applier.apply([change])
        outcomes.append(answer[change.entry_id])
    assert outcomes == list(case.outcomes)
    assert state_of(pipeline.stored(PRODUCT_ID)) == case.final
    if case.images_embedded is not None:
        assert inception_engine.images_embedded - embedded_before == case.images_embedded
