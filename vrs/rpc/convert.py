"""Protobuf messages to domain objects and back, shared by both services and the CLI."""

from __future__ import annotations

from vrs.catalog.products import Product, ProductPatch, StoredProduct, uri_within_limits
from vrs.errors import InvalidImage
from vrs.evaluation.calibration import Calibration, MatchLabel
from vrs.images.region import Region, RegionSource, UsedRegion
from vrs.images.source import ImageInput
from vrs.v1 import common_pb2, embedder_pb2, search_pb2


def image_from_proto(source: common_pb2.ImageSource) -> ImageInput:
    which = source.WhichOneof("source")
    if which == "data":
        return ImageInput(data=source.data)
    if which == "uri":
        return ImageInput(uri=source.uri)
    raise InvalidImage("image is missing: set ImageSource.data or ImageSource.uri")


def image_to_proto(image: ImageInput) -> common_pb2.ImageSource:
    if image.uri is not None:
        return common_pb2.ImageSource(uri=image.uri)
    return common_pb2.ImageSource(data=image.data or b"")


def product_from_proto(message: common_pb2.ProductAttributes) -> Product:
    return Product(
        product_id=message.product_id,
        title=message.title,
        category=message.category,
        brand=message.brand,
        price=message.price if message.HasField("price") else None,
        currency=message.currency,
        in_stock=message.in_stock if message.HasField("in_stock") else True,
        image_uri=message.image_uri,
        group_id=message.group_id,
    )


def product_to_proto(product: Product) -> common_pb2.ProductAttributes:
    message = common_pb2.ProductAttributes(
        product_id=product.product_id,
        title=product.title,
        category=product.category,
        brand=product.brand,
        currency=product.currency,
        in_stock=product.in_stock,
        image_uri=product.image_uri,
        group_id=product.group_id,
    )
    if product.price is not None:
        message.price = product.price
    return message


def stored_product_to_proto(product: Product) -> common_pb2.ProductAttributes:
    """For responses: a stored product, cut to the size limits (rows written before them
    may exceed them, and one oversized row must not push a response past the message limit)."""
    return product_to_proto(product.within_limits())


def variant_to_proto(product: Product) -> search_pb2.Variant:
    """A variant as a match carries it: its id, price and stock (its photo: GetProducts)."""
    message = search_pb2.Variant(
        product_id=product.product_id,
        currency=product.currency,
        in_stock=product.in_stock,
    )
    if product.price is not None:
        message.price = product.price
    return message


def variant_from_proto(message: search_pb2.Variant) -> Product:
    return Product(
        product_id=message.product_id,
        price=message.price if message.HasField("price") else None,
        currency=message.currency,
        in_stock=message.in_stock,
    )


def photos_to_proto(stored: StoredProduct) -> embedder_pb2.ProductPhotos:
    """A stored product's photos, in order (an over-long URI of an old row left out)."""
    return embedder_pb2.ProductPhotos(
        product_id=stored.product.product_id,
        photos=[
            common_pb2.Photo(
                image_uri=uri_within_limits(p.image_uri),
                image_sha256=p.image_sha256,
            )
            for p in stored.photos
        ],
    )


def photos_from_proto(message: embedder_pb2.ProductPhotos) -> list[str]:
    """The photos' URIs, in order ("" for a photo sent as bytes without one)."""
    return [p.image_uri for p in message.photos]


def patch_from_proto(message: embedder_pb2.ProductPatch) -> ProductPatch:
    has = message.HasField
    return ProductPatch(
        product_id=message.product_id,
        title=message.title if has("title") else None,
        category=message.category if has("category") else None,
        brand=message.brand if has("brand") else None,
        price=message.price if has("price") else None,
        currency=message.currency if has("currency") else None,
        in_stock=message.in_stock if has("in_stock") else None,
        group_id=message.group_id if has("group_id") else None,
    )


def patch_to_proto(patch: ProductPatch) -> embedder_pb2.ProductPatch:
    message = embedder_pb2.ProductPatch(product_id=patch.product_id)
    for name, value in patch.changes().items():
        setattr(message, name, value)
    return message


_SOURCES = {
    RegionSource.GIVEN: common_pb2.REGION_GIVEN,
    RegionSource.FOUND: common_pb2.REGION_FOUND,
    RegionSource.WHOLE: common_pb2.REGION_WHOLE,
}
_SOURCE_OF = {value: key for key, value in _SOURCES.items()}


def region_from_proto(message: common_pb2.Region) -> Region:
    """A caller's region, validated (InvalidInput naming the problem)."""
    return Region(message.x, message.y, message.width, message.height).validated()


def region_to_proto(region: Region) -> common_pb2.Region:
    return common_pb2.Region(x=region.x, y=region.y, width=region.width, height=region.height)


def used_region_to_proto(used: UsedRegion) -> common_pb2.UsedRegion:
    return common_pb2.UsedRegion(box=region_to_proto(used.region), source=_SOURCES[used.source])


def used_region_from_proto(message: common_pb2.UsedRegion) -> UsedRegion | None:
    """None when the message says nothing (a product search's answer)."""
    source = _SOURCE_OF.get(message.source)
    if source is None:
        return None
    box = message.box
    return UsedRegion(Region(box.x, box.y, box.width, box.height), source)


def calibration_to_proto(calibration: Calibration, model_id: str) -> embedder_pb2.Calibration:
    return embedder_pb2.Calibration(
        close_max_distance=calibration.close_max_distance,
        similar_max_distance=calibration.similar_max_distance,
        close_precision=calibration.close_precision,
        similar_precision=calibration.similar_precision,
        weak_precision=calibration.weak_precision,
        queries=calibration.queries,
        calibrated_at=calibration.calibrated_at,
        model_id=model_id,
        close_results=calibration.close_results,
        similar_results=calibration.similar_results,
        weak_results=calibration.weak_results,
    )


def calibration_from_proto(message: embedder_pb2.Calibration) -> Calibration:
    return Calibration(
        close_max_distance=message.close_max_distance,
        similar_max_distance=message.similar_max_distance,
        close_precision=message.close_precision,
        similar_precision=message.similar_precision,
        weak_precision=message.weak_precision,
        queries=message.queries,
        calibrated_at=message.calibrated_at,
        close_results=message.close_results,
        similar_results=message.similar_results,
        weak_results=message.weak_results,
    )


_LABELS = {
    MatchLabel.CLOSE: search_pb2.MATCH_LABEL_CLOSE,
    MatchLabel.SIMILAR: search_pb2.MATCH_LABEL_SIMILAR,
    MatchLabel.WEAK: search_pb2.MATCH_LABEL_WEAK,
}
_LABELS_FROM_PROTO = {value: label for label, value in _LABELS.items()}


def label_to_proto(label: MatchLabel) -> search_pb2.MatchLabel.ValueType:
    return _LABELS[label]


def label_from_proto(value: search_pb2.MatchLabel.ValueType) -> MatchLabel | None:
    """None for MATCH_LABEL_UNSPECIFIED: the collection has no calibration."""
    return _LABELS_FROM_PROTO.get(value)


def label_name(value: search_pb2.MatchLabel.ValueType) -> str:
    """The label's word ("close", "similar", "weak"); "" when the match has none."""
    label = label_from_proto(value)
    return "" if label is None else label.value
