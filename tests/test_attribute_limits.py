"""Bounded attributes keep every search answer under the gRPC message limit: oversized
attributes are refused (over real gRPC, each failing alone), the limits add up to answers far
below the limit, settings that could break that refuse to start, and products stored before
the limits are cut to fit instead of failing the searches that meet them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from services.composition import create_server
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.factories import settings_for
from tests.support.products import WIDE, largest_product, unit_vector, vector_upsert
from tests.support.search_env import Vrs, VrsStarter
from vrs.catalog.products import Product, StoredProduct
from vrs.errors import ConfigurationError
from vrs.limits import (
    MAX_CATEGORY_BYTES,
    MAX_MATCH_BYTES,
    MAX_PHOTOS,
    MAX_TITLE_BYTES,
    MAX_VARIANTS,
    RESPONSE_OVERHEAD_BYTES,
    check_response_fits,
)
from vrs.rpc.convert import stored_product_to_proto, variant_to_proto
from vrs.settings import Settings
from vrs.store.base import VectorStore
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

OUT = embedder_pb2
MODEL_ID = "efficientnet_lite0@0123abcd"


def largest_response(k: int) -> search_pb2.SearchResponse:
    """What the search service sends for k matches, each at every attribute's limit."""
    products = [largest_product(n).validated() for n in range(k)]
    return search_pb2.SearchResponse(
        matches=[
            search_pb2.Match(
                product_id=p.product_id,
                distance=1.0,
                product=stored_product_to_proto(p),
                photo_index=MAX_PHOTOS - 1,
                variants=[
                    variant_to_proto(replace(largest_product(v), in_stock=True))
                    for v in range(MAX_VARIANTS)
                ],
                over_by=1e300,
                match=search_pb2.MATCH_LABEL_WEAK,
            )
            for p in products
        ],
        model_id=MODEL_ID,
        from_cache=True,
    )


def test_max_match_bytes_is_the_size_of_a_match_at_every_limit() -> None:
    one, none = largest_response(1), largest_response(0)
    assert one.ByteSize() - none.ByteSize() == MAX_MATCH_BYTES


def test_a_response_of_max_k_largest_matches_is_far_below_the_message_limit() -> None:
    settings = Settings()
    response = largest_response(settings.search.max_k)
    assert response.ByteSize() <= settings.search.max_k * MAX_MATCH_BYTES + RESPONSE_OVERHEAD_BYTES
    assert response.ByteSize() < settings.server.max_message_mb * 1024 * 1024 / 50


def test_a_batch_of_max_queries_of_max_k_largest_matches_fits_the_message_limit() -> None:
    settings = Settings()
    one = largest_response(settings.search.max_k)
    batch = search_pb2.BatchSearchResponse()
    for _ in range(settings.search.max_batch_queries):
        batch.results.add(response=one)
    assert batch.ByteSize() < settings.server.max_message_mb * 1024 * 1024


def test_settings_that_allow_answers_above_the_message_limit_are_refused() -> None:
    check_response_fits(max_k=100, max_batch_queries=64, max_message_mb=64)
    with pytest.raises(ConfigurationError, match="VRS_SEARCH_MAX_K=5000") as refused:
        check_response_fits(max_k=5000, max_batch_queries=64, max_message_mb=64)
    assert "VRS_GRPC_MAX_MESSAGE_MB=64" in str(refused.value)


async def test_the_search_service_refuses_to_start_with_such_settings(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, search={"max_k": 5000})
    with pytest.raises(ConfigurationError, match="VRS_SEARCH_MAX_K=5000"):
        await create_server(settings, "search")


@pytest_asyncio.fixture
async def vrs(start_vrs: VrsStarter, store: VectorStore) -> Vrs:
    # A 1 MB message limit (answers of 10 x 10 matches still fit) makes oversized rows cheap.
    limits = {"max_k": 10, "max_batch_queries": 10}
    return await start_vrs(store, server={"max_message_mb": 1}, search=limits)


async def test_oversized_attributes_fail_their_item_alone_naming_the_attribute(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    def item(pid: str, **attributes: object) -> OUT.ProductUpsert:
        return vector_upsert(pid, unit_vector(effnet.dimension, 1), effnet.model_id, **attributes)

    bad = {
        "title": (item("title", title="t" * 900_000), "title is 900000 bytes in UTF-8"),
        "wide": (item("wide", title=WIDE * 251), "title is 1004 bytes in UTF-8, at most 1000"),
        "category": (item("category", category="c" * 201), "category is 201 bytes"),
        "brand": (item("brand", brand="b" * 201), "brand is 201 bytes"),
        "uri": (item("uri", image_uri="https://x/" + "u" * 5000), "image_uri is 5010 bytes"),
        "currency": (item("currency", currency="EURO"), "currency 'EURO' is not a 3-letter"),
        # The image's URI becomes the product's image_uri: refused before anything is fetched.
        "image-source": (
            OUT.ProductUpsert(
                product=common_pb2.ProductAttributes(product_id="image-source"),
                image=common_pb2.ImageSource(uri="https://img.example.com/" + "u" * 5000),
            ),
            "the URI of photo 0 is 5024 bytes",
        ),
    }
    response = await vrs.embedder.UpsertProducts(
        OUT.UpsertProductsRequest(items=[*(b for b, _ in bad.values()), item("good")])
    )
    *refused, good = response.results
    assert good.outcome == OUT.UPSERT_OUTCOME_UPSERTED
    for result, (name, (_, reason)) in zip(refused, bad.items(), strict=True):
        assert result.error.code == common_pb2.INVALID_ARGUMENT, name
        assert reason in result.error.message, (name, result.error.message)


async def test_a_patch_with_an_oversized_attribute_fails_alone(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    await vrs.embedder.UpsertProducts(
        OUT.UpsertProductsRequest(
            items=[vector_upsert("p", unit_vector(effnet.dimension, 1), effnet.model_id)]
        )
    )
    response = await vrs.embedder.UpdateProducts(
        OUT.UpdateProductsRequest(
            patches=[
                OUT.ProductPatch(product_id="p", title="t" * (MAX_TITLE_BYTES + 1)),
                OUT.ProductPatch(product_id="p", price=3.0),
            ]
        )
    )
    bad, good = response.results
    assert bad.error.code == common_pb2.INVALID_ARGUMENT
    assert "title is 1001 bytes" in bad.error.message
    assert good.outcome == OUT.UPDATE_OUTCOME_UPDATED


async def test_a_search_meeting_the_largest_valid_products_answers(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    products = [largest_product(n) for n in range(11)]
    response = await vrs.embedder.UpsertProducts(
        OUT.UpsertProductsRequest(
            items=[
                OUT.ProductUpsert(
                    product=stored_product_to_proto(p),
                    vector=common_pb2.Embedding(
                        values=unit_vector(effnet.dimension, n).tolist(), model_id=effnet.model_id
                    ),
                )
                for n, p in enumerate(products)
            ]
        )
    )
    assert {r.outcome for r in response.results} == {OUT.UPSERT_OUTCOME_UPSERTED}
    found = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id=products[0].product_id, k=10)
    )
    assert len(found.matches) == 10
    assert found.matches[0].product.title == products[0].title


async def test_products_stored_before_the_limits_are_cut_in_answers(
    vrs: Vrs, effnet: ImageEmbedder, store: VectorStore
) -> None:
    # Rows with 300 KB titles and URIs, written straight into the store as an older release
    # did: seven of them uncut would be ~4 MB, above the 1 MB message limit (RESOURCE_EXHAUSTED).
    store.upsert(
        [
            StoredProduct(
                Product(
                    f"old-{n}",
                    title=f"Old {n} " + "t" * 300_000,
                    category="c" * 1000,
                    image_uri="https://img.example.com/" + "u" * 300_000,
                ),
                effnet.model_id,
                vector=unit_vector(effnet.dimension, n),
            )
            for n in range(8)
        ]
    )
    found = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="old-0", k=10)
    )
    assert len(found.matches) == 7
    for match in found.matches:
        assert match.product.title.startswith(f"Old {match.product_id[4:]} ")
        assert len(match.product.title) == MAX_TITLE_BYTES
        assert match.product.category == "c" * MAX_CATEGORY_BYTES
        assert match.product.image_uri == ""
    got = await vrs.embedder.GetProducts(OUT.GetProductsRequest(product_ids=["old-1"]))
    assert len(got.products[0].title) == MAX_TITLE_BYTES
