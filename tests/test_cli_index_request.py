"""`vrs index` sends each catalog entry as the server reads it back: the product it describes
(id normalised, the photo's file URI) and the photo's bytes."""

from __future__ import annotations

from pathlib import Path

from services.cli.catalog_files import CatalogEntry
from services.cli.index import upsert_request
from tests.support.images import product_jpeg
from vrs.catalog.products import Product
from vrs.images.source import ImageInput
from vrs.rpc.convert import image_from_proto, product_from_proto


def photo_file(tmp_path: Path) -> Path:
    path = tmp_path / "shirt-1.jpg"
    path.write_bytes(product_jpeg("shirt", 1))
    return path


def test_a_catalog_entry_reaches_the_server_as_the_product_it_describes(tmp_path: Path) -> None:
    photo = photo_file(tmp_path)
    entry = CatalogEntry(
        " shirt-1 ",
        photo,
        title="Blue shirt",
        category="shirt",
        brand="B",
        price=0.0,
        currency="EUR",
    )
    request = upsert_request(entry)
    assert product_from_proto(request.product) == Product(
        "shirt-1",
        title="Blue shirt",
        category="shirt",
        brand="B",
        price=0.0,
        currency="EUR",
        image_uri=photo.resolve().as_uri(),
    )
    assert image_from_proto(request.image) == ImageInput(data=photo.read_bytes())


def test_a_catalog_entry_without_a_price_reaches_the_server_without_one(tmp_path: Path) -> None:
    request = upsert_request(CatalogEntry("shirt-1", photo_file(tmp_path)))
    assert product_from_proto(request.product).price is None
