"""The catalog-event schema (vrs.v1.CatalogEvent, wire version 1): encoding, decoding and
validation into the changes the embedder applies."""

from __future__ import annotations

from dataclasses import dataclass, replace

from google.protobuf import json_format

from vrs.catalog import Product, ProductPatch
from vrs.errors import InvalidInput
from vrs.image_source import ImageInput
from vrs.proto_convert import image_from_proto, patch_from_proto, product_from_proto
from vrs.v1 import events_pb2

SCHEMA = "vrs.v1.CatalogEvent"
WIRE_VERSION = "1"
Kind = events_pb2.CatalogEvent.Kind


class MalformedEvent(InvalidInput):
    """A stream entry that is not a valid catalog event."""


@dataclass(frozen=True)
class Upsert:
    product: Product
    image: ImageInput


@dataclass(frozen=True)
class Update:
    patch: ProductPatch


@dataclass(frozen=True)
class Delete:
    product_id: str


Change = Upsert | Update | Delete


def encode(event: events_pb2.CatalogEvent) -> dict[str, str]:
    """The stream entry fields for an event (validated first: producers fail early)."""
    to_change(event)
    return {
        "schema": SCHEMA,
        "v": WIRE_VERSION,
        "event": json_format.MessageToJson(event, indent=None, preserving_proto_field_name=True),
    }


def decode(fields: dict[bytes, bytes] | dict[str, str]) -> events_pb2.CatalogEvent:
    text = {_text(k): _text(v) for k, v in fields.items()}
    if text.get("schema") != SCHEMA:
        raise MalformedEvent(f"schema is {text.get('schema')!r}, expected {SCHEMA!r}")
    if text.get("v") != WIRE_VERSION:
        raise MalformedEvent(f"wire version {text.get('v')!r} is not supported (only 1)")
    try:
        return json_format.Parse(text.get("event", ""), events_pb2.CatalogEvent())
    except json_format.ParseError as exc:
        raise MalformedEvent(f"event is not a valid CatalogEvent: {exc}") from exc


def to_change(event: events_pb2.CatalogEvent) -> Change:
    """The validated change an event asks for; MalformedEvent / InvalidInput naming why not."""
    pid = event.product_id.strip()
    if not pid:
        raise MalformedEvent("event has no product_id")
    if event.kind == Kind.UPSERT:
        if event.product.product_id and event.product.product_id != pid:
            raise MalformedEvent(f"product.product_id {event.product.product_id!r} != {pid!r}")
        if not event.HasField("image"):
            raise MalformedEvent(f"upsert of {pid!r} has no image")
        product = replace(product_from_proto(event.product), product_id=pid).validated()
        return Upsert(product, image_from_proto(event.image))
    if event.kind == Kind.UPDATE:
        if event.patch.product_id and event.patch.product_id != pid:
            raise MalformedEvent(f"patch.product_id {event.patch.product_id!r} != {pid!r}")
        patch = replace(patch_from_proto(event.patch), product_id=pid)
        patch.apply(Product(pid))  # validates the new values (e.g. a negative price)
        return Update(patch)
    if event.kind == Kind.DELETE:
        return Delete(pid)
    raise MalformedEvent(f"event kind {event.kind} is not upsert, update or delete")


def stream_version(entry_id: str) -> int:
    """A stream entry id ("<ms>-<seq>") as one integer that orders like the stream."""
    ms, _, seq = entry_id.partition("-")
    return (int(ms) << 20) | int(seq or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
