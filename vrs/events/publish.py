"""Publishing catalog events: the helper producers call, and the events it builds."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from vrs.catalog.products import Product, ProductPatch
from vrs.events.schema import Kind, encode
from vrs.images.source import ImageInput
from vrs.rpc.convert import image_to_proto, patch_to_proto, product_to_proto
from vrs.v1 import events_pb2


def upsert_event(
    product: Product,
    image: ImageInput | Sequence[ImageInput],
    event_id: str = "",
    image_uris: Sequence[str] = (),
) -> events_pb2.CatalogEvent:
    """An UPSERT of the product with one photo (`image`) or several (in order), and where
    photos sent as bytes are shown from (`image_uris`, optional)."""
    event = events_pb2.CatalogEvent(
        kind=Kind.UPSERT,
        product_id=product.product_id,
        product=product_to_proto(product),
        event_id=event_id,
        image_uris=list(image_uris),
    )
    if isinstance(image, ImageInput):
        event.image.CopyFrom(image_to_proto(image))
    else:
        event.images.extend(image_to_proto(i) for i in image)
    return event


def update_event(patch: ProductPatch, event_id: str = "") -> events_pb2.CatalogEvent:
    return events_pb2.CatalogEvent(
        kind=Kind.UPDATE,
        product_id=patch.product_id,
        patch=patch_to_proto(patch),
        event_id=event_id,
    )


def delete_event(product_id: str, event_id: str = "") -> events_pb2.CatalogEvent:
    return events_pb2.CatalogEvent(kind=Kind.DELETE, product_id=product_id, event_id=event_id)


def publish(client: redis.Redis, stream: str, event: events_pb2.CatalogEvent) -> str:
    """Validate and append one event; returns its stream entry id. Blocks (a sync client)."""
    entry_id = client.xadd(stream, encode(event))  # type: ignore[arg-type]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
