"""Errors of the HTTP API: the right status, a JSON body naming the problem, and nothing else
lost (a real gateway in front of real services)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.web_env import WebVrs, running_web, web_catalog, write_photos

UPLOAD_LIMIT = 200_000


@pytest_asyncio.fixture
async def web(tmp_path: Path, photo_embedder: ImageEmbedder) -> AsyncIterator[WebVrs]:
    products = web_catalog(photo_embedder.model_id, photo_embedder.dimension, tmp_path / "photos")
    write_photos(tmp_path / "photos", products)
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(product_jpeg(seed=99))
    odd = [
        # Photos the gateway must never fetch: outside the file root, or on a host not allowed.
        dataclasses.replace(
            products[0],
            product=dataclasses.replace(
                products[0].product, product_id="escape", image_uri=outside.as_uri()
            ),
        ),
        dataclasses.replace(
            products[0],
            product=dataclasses.replace(
                products[0].product,
                product_id="remote",
                image_uri="http://127.0.0.1:9/secret.jpg",
            ),
        ),
        dataclasses.replace(
            products[0],
            product=dataclasses.replace(products[0].product, product_id="bare", image_uri=""),
        ),
        # Inside the file root, but not an image.
        dataclasses.replace(
            products[0],
            product=dataclasses.replace(
                products[0].product,
                product_id="notes",
                image_uri=(tmp_path / "photos" / "notes.txt").as_uri(),
            ),
        ),
    ]
    (tmp_path / "photos" / "notes.txt").write_text("<html>not a photo</html>")
    async with running_web(
        tmp_path, photo_embedder, [*products, *odd], web={"max_upload_bytes": UPLOAD_LIMIT}
    ) as running:
        yield running


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]


async def test_bytes_that_are_not_an_image_are_a_400_naming_the_problem(web: WebVrs) -> None:
    files = {"image": ("notes.txt", b"certainly not a photo", "text/plain")}
    status, code, message = error_of(await web.http.post("/v1/search/image", files=files))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "image" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [("k", True), ("k", "5"), ("max_price", "12"), ("in_stock", 1), ("categories", "shirt")],
)
async def test_json_fields_of_the_wrong_type_are_a_400_naming_the_field(
    web: WebVrs, field: str, value: object
) -> None:
    photo = base64.b64encode(product_jpeg(seed=1)).decode()
    body = {"image": {"data": photo}, field: value}
    status, code, message = error_of(await web.http.post("/v1/search/image", json=body))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert field in message


@pytest.mark.parametrize("where", ["json", "query"])
async def test_a_filter_listing_too_many_values_is_a_400_naming_it(web: WebVrs, where: str) -> None:
    many = [f"c{i}" for i in range(101)]
    if where == "json":
        photo = base64.b64encode(product_jpeg(seed=1)).decode()
        body = {"image": {"data": photo}, "categories": many}
        response = await web.http.post("/v1/search/image", json=body)
    else:
        response = await web.http.get("/v1/products/p1/similar", params={"category": many})
    status, code, message = error_of(response)
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "categor" in message and "100" in message


async def test_a_k_out_of_range_is_a_400_naming_k(web: WebVrs) -> None:
    status, code, message = error_of(await web.http.get("/v1/products/p1/similar?k=0"))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "k must be between 1 and 100, got 0" in message


async def test_a_k_that_is_not_a_number_is_a_400_naming_k(web: WebVrs) -> None:
    status, code, message = error_of(await web.http.get("/v1/products/p1/similar?k=many"))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert message.startswith("k:")


async def test_an_uploaded_k_that_is_not_a_number_is_a_400(web: WebVrs) -> None:
    files = {"image": ("shirt.jpg", product_jpeg(), "image/jpeg")}
    response = await web.http.post("/v1/search/image", files=files, data={"k": "ten"})
    status, code, message = error_of(response)
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "k: 'ten' is not an integer" in message


async def test_a_price_range_upside_down_is_a_400(web: WebVrs) -> None:
    response = await web.http.get("/v1/products/p1/similar?min_price=10&max_price=5")
    status, code, message = error_of(response)
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "min_price 10.0 is above max_price 5.0" in message


async def test_base64_that_does_not_decode_is_a_400(web: WebVrs) -> None:
    response = await web.http.post("/v1/search/image", json={"image": {"data": "***"}})
    assert error_of(response) == (400, "INVALID_ARGUMENT", "image.data is not valid base64")


async def test_json_without_an_image_is_a_400_naming_it(web: WebVrs) -> None:
    status, code, message = error_of(await web.http.post("/v1/search/image", json={"k": 3}))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "image" in message


async def test_a_uri_outside_the_file_root_is_a_400(web: WebVrs, tmp_path: Path) -> None:
    uri = (tmp_path / "outside.jpg").as_uri()
    response = await web.http.post("/v1/search/image", json={"image": {"uri": uri}})
    status, code, message = error_of(response)
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "outside" in message


async def test_an_unknown_product_is_a_404_on_every_product_endpoint(web: WebVrs) -> None:
    for path in ("/v1/products/nope", "/v1/products/nope/similar", "/v1/products/nope/image"):
        status, code, message = error_of(await web.http.get(path))
        assert (status, code) == (404, "NOT_FOUND"), path
        assert "'nope' is not in the catalog" in message


async def test_a_product_without_a_photo_has_no_image(web: WebVrs) -> None:
    status, code, message = error_of(await web.http.get("/v1/products/bare/image"))
    assert (status, code) == (404, "NOT_FOUND")
    assert "'bare' has no photo" in message


async def test_a_photo_outside_the_file_root_is_never_served(web: WebVrs, tmp_path: Path) -> None:
    response = await web.http.get("/v1/products/escape/image")
    status, code, message = error_of(response)
    assert (status, code) == (404, "NOT_FOUND")
    assert "'escape' has no photo" in message
    assert response.headers["content-type"] == "application/json"
    assert str(tmp_path) not in response.text, "the server's paths stay in its log"


async def test_a_file_in_the_root_that_is_not_an_image_is_not_served(web: WebVrs) -> None:
    response = await web.http.get("/v1/products/notes/image")
    status, code, message = error_of(response)
    assert (status, code) == (404, "NOT_FOUND")
    assert "'notes' has no photo" in message
    assert "not a photo" not in response.text


async def test_a_photo_on_a_host_not_allowed_is_never_fetched(
    web: WebVrs, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="services.web.routes_catalog"):
        status, code, message = error_of(await web.http.get("/v1/products/remote/image"))
    assert (status, code) == (404, "NOT_FOUND")
    assert "VRS_IMAGE_HTTP_ALLOWED_HOSTS" not in message
    why = [getattr(r, "why", "") for r in caplog.records if r.msg == "product photo not served"]
    assert any("VRS_IMAGE_HTTP_ALLOWED_HOSTS" in w for w in why), "the reason is logged"


async def test_an_upload_declared_above_the_limit_is_a_413(web: WebVrs) -> None:
    files = {"image": ("big.jpg", b"\xff" * (UPLOAD_LIMIT + 1), "image/jpeg")}
    status, code, message = error_of(await web.http.post("/v1/search/image", files=files))
    assert (status, code) == (413, "PAYLOAD_TOO_LARGE")
    assert "VRS_WEB_MAX_UPLOAD_BYTES" in message


async def test_a_streamed_upload_passing_the_limit_is_a_413(web: WebVrs) -> None:
    """No Content-Length (chunked): the bytes are counted as they arrive."""

    async def chunks() -> AsyncIterator[bytes]:
        payload = base64.b64encode(b"\xff" * UPLOAD_LIMIT)
        yield b'{"image": {"data": "'
        for i in range(0, len(payload), 16_384):
            yield payload[i : i + 16_384]
        yield b'"}}'

    response = await web.http.post(
        "/v1/search/image", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert error_of(response)[:2] == (413, "PAYLOAD_TOO_LARGE")


async def test_a_streamed_form_passing_the_limit_is_a_413(web: WebVrs) -> None:
    """The framework parses the form: the limit still answers, not a parsing error."""
    boundary = "vrs-test-boundary"

    async def chunks() -> AsyncIterator[bytes]:
        yield (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="image"; filename="big.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        for _ in range(UPLOAD_LIMIT // 16_384 + 1):
            yield b"\xff" * 16_384
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await web.http.post(
        "/v1/search/image",
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert error_of(response)[:2] == (413, "PAYLOAD_TOO_LARGE")


async def test_an_unknown_path_is_a_json_404(web: WebVrs) -> None:
    status, code, _ = error_of(await web.http.get("/v1/nothing-here"))
    assert (status, code) == (404, "NOT_FOUND")


async def test_a_bad_request_loses_nothing_for_the_others(web: WebVrs) -> None:
    files = {"image": ("shirt.jpg", product_jpeg(seed=3), "image/jpeg")}
    good = web.http.post("/v1/search/image", files=files, data={"k": "3"})
    bad = web.http.post("/v1/search/image", files={"image": ("x", b"junk", "image/jpeg")})
    good_answer, bad_answer = await asyncio.gather(good, bad)
    assert good_answer.status_code == 200
    assert len(good_answer.json()["matches"]) == 3
    assert bad_answer.status_code == 400


async def test_a_huge_declared_upload_is_refused_before_any_of_it_is_sent(web: WebVrs) -> None:
    port = httpx.URL(web.url).port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /v1/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10.0)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413")


async def test_a_photo_file_gone_missing_is_a_404(web: WebVrs, tmp_path: Path) -> None:
    (tmp_path / "photos" / "p4.jpg").unlink()
    status, code, message = error_of(await web.http.get("/v1/products/p4/image"))
    assert (status, code) == (404, "NOT_FOUND")
    assert "'p4' has no photo" in message


@pytest.mark.parametrize(
    ("region", "named"),
    [
        ("0.1,0.2,0.3", "not four numbers"),
        ("0.1,0.2,nan,0.4", "not four finite numbers"),
        ("0.5,0.5,0,0.2", "is empty"),
        ("0.8,0.1,0.5,0.5", "ends outside the photo"),
    ],
)
async def test_an_uploaded_region_that_is_not_a_box_in_the_photo_is_a_400(
    web: WebVrs, region: str, named: str
) -> None:
    files = {"image": ("shirt.jpg", product_jpeg(seed=7), "image/jpeg")}
    response = await web.http.post("/v1/search/image", files=files, data={"region": region})
    status, code, message = error_of(response)
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "region" in message and named in message


@pytest.mark.parametrize(
    ("region", "named"),
    [
        ({"x": -0.1, "y": 0, "width": 0.5, "height": 0.5}, "starts outside the photo"),
        ({"x": 0, "y": 0, "width": 0.5}, "region.height"),
        ({"x": 0, "y": 0, "width": "half", "height": 0.5}, "region.width"),
        ({"x": 0, "y": 0, "width": 0.5, "height": 0.5, "depth": 1}, "region.depth"),
    ],
)
async def test_a_json_region_that_is_not_a_box_in_the_photo_is_a_400(
    web: WebVrs, region: dict[str, object], named: str
) -> None:
    data = base64.b64encode(product_jpeg(seed=7)).decode()
    response = await web.http.post(
        "/v1/search/image", json={"image": {"data": data}, "region": region}
    )
    status, code, message = error_of(response)
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert named in message
