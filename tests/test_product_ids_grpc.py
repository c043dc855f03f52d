"""One product-id rule on every RPC, over real gRPC: an id that normalises to a stored product
finds it, a refused id is INVALID_ARGUMENT naming the character, and fails alone in a batch."""

from __future__ import annotations

import grpc
import pytest

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.products import unit_vector, vector_upsert
from tests.support.search_env import Vrs
from vrs.limits import MAX_IDS_PER_CALL
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

OUT = embedder_pb2


async def upsert(vrs: Vrs, effnet: ImageEmbedder, *ids: str) -> list[OUT.UpsertResult]:
    items = [
        vector_upsert(pid, unit_vector(effnet.dimension, n), effnet.model_id, price=10.0)
        for n, pid in enumerate(ids)
    ]
    response = await vrs.embedder.UpsertProducts(OUT.UpsertProductsRequest(items=items))
    return list(response.results)


async def stored_ids(vrs: Vrs, *ids: str) -> list[str]:
    response = await vrs.embedder.GetProducts(OUT.GetProductsRequest(product_ids=ids))
    return [p.product_id for p in response.products]


async def test_an_id_with_surrounding_spaces_is_stored_trimmed(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    [result] = await upsert(vrs, effnet, " pad-1 ")
    assert (result.outcome, result.product_id) == (OUT.UPSERT_OUTCOME_UPSERTED, "pad-1")
    assert await stored_ids(vrs, "pad-1") == ["pad-1"]


async def test_get_finds_a_product_by_an_id_that_normalises_to_it(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    await upsert(vrs, effnet, "pad-1", "caf\xe9")
    assert await stored_ids(vrs, " pad-1 ", "pad-1", "cafe\u0301") == ["pad-1", "caf\xe9"]


async def test_delete_finds_a_product_by_an_id_that_normalises_to_it(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    await upsert(vrs, effnet, "pad-1")
    response = await vrs.embedder.DeleteProducts(OUT.DeleteProductsRequest(product_ids=[" pad-1 "]))
    assert (list(response.deleted), list(response.not_found)) == (["pad-1"], [])
    assert await stored_ids(vrs, "pad-1") == []


async def test_update_finds_a_product_by_an_id_that_normalises_to_it(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    await upsert(vrs, effnet, "pad-1")
    response = await vrs.embedder.UpdateProducts(
        OUT.UpdateProductsRequest(patches=[OUT.ProductPatch(product_id="\tpad-1 ", price=5.0)])
    )
    assert response.results[0].outcome == OUT.UPDATE_OUTCOME_UPDATED
    found = await vrs.embedder.GetProducts(OUT.GetProductsRequest(product_ids=["pad-1"]))
    assert found.products[0].price == 5.0


async def test_search_by_product_finds_it_by_an_id_that_normalises_to_it(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    await upsert(vrs, effnet, "pad-1", "pad-2", "pad-3")
    response = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id=" pad-1\u3000", k=5)
    )
    assert sorted(m.product_id for m in response.matches) == ["pad-2", "pad-3"]


async def test_upsert_refuses_a_bidi_id_alone_naming_the_code_point(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    results = await upsert(vrs, effnet, "good-1", "invoice\u202efdp.exe", "good-2")
    assert [r.outcome for r in results] == [
        OUT.UPSERT_OUTCOME_UPSERTED,
        OUT.UPSERT_OUTCOME_FAILED,
        OUT.UPSERT_OUTCOME_UPSERTED,
    ]
    assert results[1].error.code == common_pb2.INVALID_ARGUMENT
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in results[1].error.message
    assert await stored_ids(vrs, "good-1", "good-2") == ["good-1", "good-2"]


async def test_update_refuses_a_bad_id_alone(vrs: Vrs, effnet: ImageEmbedder) -> None:
    await upsert(vrs, effnet, "pad-1")
    response = await vrs.embedder.UpdateProducts(
        OUT.UpdateProductsRequest(
            patches=[
                OUT.ProductPatch(product_id="pad\u200b1", price=1.0),
                OUT.ProductPatch(product_id="pad-1", price=2.0),
            ]
        )
    )
    bad, good = response.results
    assert (bad.outcome, bad.error.code) == (OUT.UPDATE_OUTCOME_FAILED, common_pb2.INVALID_ARGUMENT)
    assert "U+200B ZERO WIDTH SPACE" in bad.error.message
    assert good.outcome == OUT.UPDATE_OUTCOME_UPDATED


@pytest.mark.parametrize(
    ("bad_id", "reason"),
    [
        ("pad\u20281", "U+2028 LINE SEPARATOR"),
        ("pad\x001", "U+0000"),
        ("", "product_id is missing"),
        ("x" * 300, "300 bytes in UTF-8, at most 256"),
    ],
    ids=["line-separator", "nul", "empty", "too-long"],
)
async def test_delete_reports_a_bad_id_alone_and_deletes_the_good_ones(
    vrs: Vrs, effnet: ImageEmbedder, bad_id: str, reason: str
) -> None:
    await upsert(vrs, effnet, "pad-1", "pad-2")
    response = await vrs.embedder.DeleteProducts(
        OUT.DeleteProductsRequest(product_ids=["pad-1", bad_id])
    )
    assert list(response.deleted) == ["pad-1"]
    assert [i.product_id for i in response.invalid] == [bad_id]
    assert reason in response.invalid[0].message
    assert await stored_ids(vrs, "pad-1", "pad-2") == ["pad-2"]


async def test_get_reports_a_bad_id_alone_and_finds_the_good_ones(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    await upsert(vrs, effnet, "pad-1")
    response = await vrs.embedder.GetProducts(
        OUT.GetProductsRequest(product_ids=["pad\u200f1", " pad-1 "])
    )
    assert [p.product_id for p in response.products] == ["pad-1"]
    assert [i.product_id for i in response.invalid] == ["pad\u200f1"]
    assert "U+200F RIGHT-TO-LEFT MARK" in response.invalid[0].message


async def test_search_by_a_bad_product_id_is_invalid_argument(vrs: Vrs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await vrs.search.SearchByProduct(search_pb2.SearchByProductRequest(product_id="pad\ue0001"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "U+E000" in (refused.value.details() or "")


async def test_batch_search_with_a_bad_product_id_fails_that_query_alone(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    await upsert(vrs, effnet, "pad-1", "pad-2")
    response = await vrs.search.BatchSearch(
        search_pb2.BatchSearchRequest(
            queries=[
                search_pb2.SearchQuery(
                    by_product=search_pb2.SearchByProductRequest(product_id="pad\u20661")
                ),
                search_pb2.SearchQuery(
                    by_product=search_pb2.SearchByProductRequest(product_id=" pad-1 ")
                ),
            ]
        )
    )
    bad, good = response.results
    assert bad.error.code == common_pb2.INVALID_ARGUMENT
    assert "U+2066 LEFT-TO-RIGHT ISOLATE" in bad.error.message
    assert [m.product_id for m in good.response.matches] == ["pad-2"]


async def test_get_with_more_ids_than_one_call_may_name_is_invalid_argument(vrs: Vrs) -> None:
    too_many = [f"pad-{i}" for i in range(MAX_IDS_PER_CALL + 1)]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await vrs.embedder.GetProducts(OUT.GetProductsRequest(product_ids=too_many))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {MAX_IDS_PER_CALL}" in (refused.value.details() or "")
