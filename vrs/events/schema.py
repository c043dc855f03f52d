"""The catalog-event schema (vrs.v1.CatalogEvent, wire version 1): encoding, decoding and
validation into the changes the embedder applies."""

from __future__ import annotations

from dataclasses import dataclass, replace

from google.protobuf import json_format

from vrs.catalog.ids import normalize_product_id
from vrs.catalog.products import Product, ProductPatch, check_photos
from vrs.errors import InvalidInput
from vrs.images.source import ImageInput
from vrs.rpc.convert import image_from_proto, patch_from_proto, product_from_proto
from vrs.v1 import events_pb2

SCHEMA = "vrs.v1.CatalogEvent"
WIRE_VERSION = "1"
# The entry fields an event is read from; producers may add others.
_EVENT_FIELDS = frozenset({"schema", "v", "event"})
Kind = events_pb2.CatalogEvent.Kind


class MalformedEvent(InvalidInput):
    """A stream entry that is not a valid catalog event."""


@dataclass(frozen=True)
class Upsert:
    """A parsed UPSERT event: the product and its photos, in order."""

    product: Product
    images: tuple[ImageInput, ...]
    # Where each photo sent as bytes is shown from, in order ("" or absent: nowhere).
    image_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class Update:
    """A parsed UPDATE event: the attributes to change."""

    patch: ProductPatch


@dataclass(frozen=True)
class Delete:
    """A parsed DELETE event."""

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
    """The event a stream entry holds; MalformedEvent naming the problem, whatever it is."""
    text = _texts(fields)
    if text.get("schema") != SCHEMA:
        raise MalformedEvent(f"schema is {_shown(text.get('schema'))}, expected {SCHEMA!r}")
    if text.get("v") != WIRE_VERSION:
        raise MalformedEvent(f"wire version {_shown(text.get('v'))} is not supported (only 1)")
    try:
        return json_format.Parse(text.get("event", ""), events_pb2.CatalogEvent())
    except json_format.ParseError as exc:
        raise MalformedEvent(f"event is not a valid CatalogEvent: {_clipped(str(exc))}") from exc
    except Exception as exc:
        # The parser is not documented to raise only ParseError (deep nesting, huge numbers).
        raise MalformedEvent(
            f"event is not a valid CatalogEvent: {type(exc).__name__}: {_clipped(str(exc))}"
        ) from exc


def to_change(event: events_pb2.CatalogEvent) -> Change:
    """The validated change an event asks for; MalformedEvent / InvalidInput naming why not."""
    if not event.product_id:
        raise MalformedEvent("event has no product_id")
    pid = normalize_product_id(event.product_id)
    if event.kind == Kind.UPSERT:
        if event.product.product_id and normalize_product_id(event.product.product_id) != pid:
            raise MalformedEvent(f"product.product_id {event.product.product_id!r} != {pid!r}")
        if event.HasField("image") and event.images:
            raise MalformedEvent(f"upsert of {pid!r} sets both image and images: one of them")
        sources = [event.image] if event.HasField("image") else list(event.images)
        if not sources:
            raise MalformedEvent(f"upsert of {pid!r} has no image")
        product = replace(product_from_proto(event.product), product_id=pid).validated()
        images = tuple(image_from_proto(source) for source in sources)
        shown = [*event.image_uris, *[""] * len(images)]
        uris = [image.uri or shown[n] for n, image in enumerate(images)]
        check_photos(pid, uris, len(images))
        return Upsert(product, images, tuple(event.image_uris))
    if event.kind == Kind.UPDATE:
        if event.patch.product_id and normalize_product_id(event.patch.product_id) != pid:
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


def _texts(fields: dict[bytes, bytes] | dict[str, str]) -> dict[str, str]:
    """The fields an event is read from, as text; other fields are ignored, whatever bytes
    they hold."""
    text: dict[str, str] = {}
    for key, value in fields.items():
        # A name that is not UTF-8 cannot be one of ours; "replace" keeps it from matching.
        name = key.decode(errors="replace") if isinstance(key, bytes) else key
        if name in _EVENT_FIELDS:
            text[name] = _text(value, f"field {name!r}")
    return text


def _text(value: bytes | str, what: str) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise MalformedEvent(
            f"{what} is not UTF-8 text (byte 0x{value[exc.start]:02x} at position "
            f"{exc.start} cannot be decoded)"
        ) from exc


def _shown(value: str | None, limit: int = 60) -> str:
    """A bounded rendering for messages: a producer's garbage can be megabytes."""
    if value is None:
        return "missing"
    return repr(value[:limit]) + ("..." if len(value) > limit else "")


def _clipped(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
