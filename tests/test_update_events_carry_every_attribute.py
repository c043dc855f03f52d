"""An update event carries every patchable attribute it sets, falsy values included: the
publisher and the embedder convert patches with the same converter and attribute list."""

from __future__ import annotations

from typing import Any

import pytest

from vrs.catalog.products import PATCHABLE, ProductPatch
from vrs.events.publish import update_event
from vrs.events.schema import Update, decode, encode, to_change

# One value per patchable attribute; falsy ones where the type has them (0.0, False), since
# those are the ones a careless "if value" would drop.
SAMPLE: dict[str, Any] = {
    "title": "New title",
    "category": "bag",
    "brand": "Contoso",
    "price": 0.0,
    "currency": "EUR",
    "in_stock": False,
    "group_id": "",
}


@pytest.mark.parametrize("name", PATCHABLE)
def test_an_update_event_carries_the_attribute_it_sets(name: str) -> None:
    patch = ProductPatch("p-1", **{name: SAMPLE[name]})
    assert to_change(decode(encode(update_event(patch)))) == Update(patch)


def test_an_update_event_carries_every_attribute_it_sets_together() -> None:
    patch = ProductPatch("p-1", **{name: SAMPLE[name] for name in PATCHABLE})
    assert to_change(decode(encode(update_event(patch)))) == Update(patch)
