"""Catalogs on disk with several photos per product and variant groups: CSV (`|` in the image
column, a group_id column), JSONL (`images`), folders (CATEGORY/PRODUCT_ID/*.jpg beside
CATEGORY/PRODUCT_ID.jpg), and what `vrs index` sends for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli.catalog_files import read_catalog
from services.cli.client import CliError
from services.cli.index import upsert_request
from vrs.rpc.convert import image_from_proto, product_from_proto


def touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(path.name.encode())


def test_a_csv_image_column_may_list_several_photos(tmp_path: Path) -> None:
    touch(tmp_path / "a.jpg", tmp_path / "b.jpg")
    (tmp_path / "c.csv").write_text(
        "product_id,image,group_id,price\ndress-blue, a.jpg | b.jpg ,dress,30\nhat,a.jpg,,5\n"
    )
    dress, hat = read_catalog(tmp_path / "c.csv")
    assert dress.images == (tmp_path / "a.jpg", tmp_path / "b.jpg")
    assert (dress.group_id, hat.group_id) == ("dress", "")
    assert hat.images == (tmp_path / "a.jpg",)


def test_a_jsonl_product_may_list_its_images(tmp_path: Path) -> None:
    touch(tmp_path / "front.jpg", tmp_path / "back.jpg")
    row = {"product_id": "coat", "images": ["front.jpg", "back.jpg"], "group_id": "coat-style"}
    (tmp_path / "c.jsonl").write_text(json.dumps(row) + "\n")
    [coat] = read_catalog(tmp_path / "c.jsonl")
    assert coat.images == (tmp_path / "front.jpg", tmp_path / "back.jpg")
    assert coat.group_id == "coat-style"


@pytest.mark.parametrize(
    ("row", "named"),
    [
        ({"product_id": "x", "image": "a.jpg", "images": ["a.jpg"]}, "image or images"),
        ({"product_id": "x", "images": "a.jpg"}, "not a list of paths"),
        ({"product_id": "x", "images": []}, "no image"),
    ],
    ids=["both", "not-a-list", "empty"],
)
def test_a_jsonl_row_with_unusable_images_is_refused_naming_it(
    tmp_path: Path, row: dict[str, object], named: str
) -> None:
    (tmp_path / "c.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(CliError, match=named):
        read_catalog(tmp_path / "c.jsonl")


def test_a_folder_of_a_product_holds_its_photos(tmp_path: Path) -> None:
    touch(
        tmp_path / "dress" / "dress-1" / "1-front.jpg",
        tmp_path / "dress" / "dress-1" / "2-back.jpg",
        tmp_path / "dress" / "dress-2.jpg",
        tmp_path / "loose.jpg",
    )
    entries = {e.product_id: e for e in read_catalog(tmp_path)}
    assert set(entries) == {"dress-1", "dress-2", "loose"}
    assert [p.name for p in entries["dress-1"].images] == ["1-front.jpg", "2-back.jpg"]
    assert entries["dress-1"].category == "dress"
    assert entries["dress-2"].images == (tmp_path / "dress" / "dress-2.jpg",)
    assert entries["loose"].category == ""


def test_index_sends_every_photo_with_the_file_it_came_from(tmp_path: Path) -> None:
    touch(tmp_path / "a.jpg", tmp_path / "b.jpg")
    (tmp_path / "c.csv").write_text("product_id,image,group_id\ndress,a.jpg|b.jpg,dress-style\n")
    [entry] = read_catalog(tmp_path / "c.csv")
    request = upsert_request(entry)
    assert [image_from_proto(i).data for i in request.images] == [b"a.jpg", b"b.jpg"]
    assert list(request.image_uris) == [
        (tmp_path / "a.jpg").as_uri(),
        (tmp_path / "b.jpg").as_uri(),
    ]
    product = product_from_proto(request.product)
    assert (product.group_id, product.image_uri) == ("dress-style", (tmp_path / "a.jpg").as_uri())
