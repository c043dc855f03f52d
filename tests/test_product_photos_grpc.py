"""Products with several photos over real gRPC: upserts embed only photos new to the product
and drop the ones it no longer lists, a bad photo fails its product alone, lookups list the
photos, and a dropped photo is never found once the call that dropped it returned."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.photo_catalog import legacy_payload, write_raw
from tests.support.search_env import Vrs
from vrs.catalog.ids import point_id
from vrs.catalog.products import Product
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

OUT = embedder_pb2
PHOTOS = {name: product_jpeg("shirt", seed) for seed, name in enumerate("abcdefg", 40)}


def photo(name: str) -> common_pb2.ImageSource:
    return common_pb2.ImageSource(data=PHOTOS[name])


def upsert(pid: str, names: str, **attrs: object) -> OUT.UpsertProductsRequest:
    product = common_pb2.ProductAttributes(product_id=pid, **attrs)  # type: ignore[arg-type]
    return OUT.UpsertProductsRequest(
        items=[
            OUT.ProductUpsert(
                product=product,
                images=[photo(n) for n in names],
                image_uris=[f"https://shop.example/{pid}/{n}.jpg" for n in names],
            )
        ]
    )


async def outcome(vrs: Vrs, request: OUT.UpsertProductsRequest) -> int:
    response = await vrs.embedder.UpsertProducts(request)
    return response.results[0].outcome


async def photo_uris(vrs: Vrs, pid: str) -> list[str]:
    found = await vrs.embedder.GetProducts(OUT.GetProductsRequest(product_ids=[pid]))
    return [p.image_uri for p in found.photos[0].photos]


async def test_resending_a_product_embeds_only_its_new_photos(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    before = effnet.engine.images_embedded
    assert await outcome(vrs, upsert("dress", "abc")) == OUT.UPSERT_OUTCOME_UPSERTED
    assert effnet.engine.images_embedded - before == 3
    assert await outcome(vrs, upsert("dress", "abc")) == OUT.UPSERT_OUTCOME_UNCHANGED
    assert effnet.engine.images_embedded - before == 3, "the same photos: no model"
    assert await outcome(vrs, upsert("dress", "acd")) == OUT.UPSERT_OUTCOME_UPSERTED
    assert effnet.engine.images_embedded - before == 4, "only d is new"
    assert await photo_uris(vrs, "dress") == [f"https://shop.example/dress/{n}.jpg" for n in "acd"]
    stats = await vrs.embedder.GetStats(OUT.GetEmbedderStatsRequest())
    assert stats.index.points == 3, "b was dropped"


async def test_a_new_price_with_the_same_photos_is_an_update(vrs: Vrs) -> None:
    await outcome(vrs, upsert("dress", "ab", price=10.0))
    assert await outcome(vrs, upsert("dress", "ab", price=12.0)) == OUT.UPSERT_OUTCOME_UPDATED
    found = await vrs.embedder.GetProducts(OUT.GetProductsRequest(product_ids=["dress"]))
    assert found.products[0].price == 12.0


async def test_the_same_photo_twice_is_stored_once(vrs: Vrs) -> None:
    await outcome(vrs, upsert("dress", "aba"))
    assert len(await photo_uris(vrs, "dress")) == 2


async def test_a_photo_that_fails_fails_its_product_alone(vrs: Vrs) -> None:
    broken = upsert("broken", "ab")
    broken.items[0].images.append(common_pb2.ImageSource(data=b"not an image"))
    broken.items.extend(upsert("fine", "c").items)
    response = await vrs.embedder.UpsertProducts(broken)
    failed, fine = response.results
    assert failed.outcome == OUT.UPSERT_OUTCOME_FAILED
    assert failed.error.code == common_pb2.INVALID_ARGUMENT
    assert fine.outcome == OUT.UPSERT_OUTCOME_UPSERTED
    found = await vrs.embedder.GetProducts(OUT.GetProductsRequest(product_ids=["broken"]))
    assert list(found.not_found) == ["broken"], "no product is written in part"


def grown(request: OUT.UpsertProductsRequest, uris: list[str]) -> None:
    """The request's product with these photo URIs, and as many photos."""
    item = request.items[0]
    del item.image_uris[:]
    item.image_uris.extend(uris)
    item.images.extend([photo("b")] * (len(uris) - len(item.images)))


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda r: r.items[0].images.extend([photo("a")] * 16), "17 photos, at most 16"),
        (lambda r: r.items[0].image.CopyFrom(photo("b")), "image or images"),
        (lambda r: r.items[0].image_uris.__setitem__(0, "u" * 9000), "is 9000 bytes"),
        (lambda r: grown(r, [("u" * 4000)] * 5), "photo URIs are 20000 bytes"),
    ],
    ids=["too-many", "image-and-images", "uri-too-long", "uris-too-long"],
)
async def test_a_product_with_photos_out_of_bounds_is_refused(
    vrs: Vrs, build: object, named: str
) -> None:
    request = upsert("dress", "a")
    build(request)  # type: ignore[operator]
    response = await vrs.embedder.UpsertProducts(request)
    result = response.results[0]
    assert result.outcome == OUT.UPSERT_OUTCOME_FAILED
    assert result.error.code == common_pb2.INVALID_ARGUMENT
    assert named in result.error.message


async def test_a_dropped_photo_is_never_found_once_the_call_returned(vrs: Vrs) -> None:
    await outcome(vrs, upsert("dress", "ab"))
    await outcome(vrs, upsert("dress", "ac"))
    # Searched by the dropped photo itself: the product may still come back, through a or c.
    answer = await vrs.search.SearchByImage(
        search_pb2.SearchByImageRequest(image=photo("b"), k=1, exact=True)
    )
    match = answer.matches[0]
    assert match.product.image_uri in {f"https://shop.example/dress/{n}.jpg" for n in "ac"}
    assert match.distance > 0.5


async def test_a_search_names_the_photo_that_matched(vrs: Vrs) -> None:
    await outcome(vrs, upsert("dress", "abc"))
    answer = await vrs.search.SearchByImage(
        search_pb2.SearchByImageRequest(image=photo("c"), k=1, exact=True)
    )
    match = answer.matches[0]
    assert (match.product_id, match.photo_index) == ("dress", 2)
    assert match.product.image_uri == "https://shop.example/dress/c.jpg"


async def test_resending_a_product_stored_before_photos_replaces_its_old_point(vrs: Vrs) -> None:
    store = vrs.store.sync
    dimension = store.dimension
    old = legacy_payload(Product("dress", price=10.0), store.model_id)
    write_raw(store, point_id("dress"), np.ones(dimension, dtype=np.float32), old)
    assert await outcome(vrs, upsert("dress", "ab")) == OUT.UPSERT_OUTCOME_UPSERTED
    stats = await vrs.embedder.GetStats(OUT.GetEmbedderStatsRequest())
    assert stats.index.points == 2
    assert len(await photo_uris(vrs, "dress")) == 2


async def test_a_photo_upload_and_a_single_image_still_work_alike(vrs: Vrs) -> None:
    single = OUT.ProductUpsert(
        product=common_pb2.ProductAttributes(product_id="single"), image=photo("a")
    )
    response = await vrs.embedder.UpsertProducts(OUT.UpsertProductsRequest(items=[single]))
    assert response.results[0].outcome == OUT.UPSERT_OUTCOME_UPSERTED
    assert len(await photo_uris(vrs, "single")) == 1


async def test_vectors_of_several_models_in_one_product_are_refused(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    vectors = [
        common_pb2.Embedding(values=[0.1] * effnet.dimension, model_id=effnet.model_id),
        common_pb2.Embedding(values=[0.2] * effnet.dimension, model_id="other@x"),
    ]
    request = OUT.UpsertProductsRequest(
        items=[
            OUT.ProductUpsert(
                product=common_pb2.ProductAttributes(product_id="mixed"), vectors=vectors
            )
        ]
    )
    result = (await vrs.embedder.UpsertProducts(request)).results[0]
    assert result.error.code == common_pb2.INVALID_ARGUMENT
    assert "several models" in result.error.message


async def test_an_unknown_collapse_is_invalid_argument(vrs: Vrs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await vrs.search.SearchByProduct(
            search_pb2.SearchByProductRequest(product_id="x", collapse=9)  # type: ignore[arg-type]
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "collapse 9" in (failure.value.details() or "")
