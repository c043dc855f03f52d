"""No password, API key, token or URL userinfo reaches a log line or an error message: a real
`vrs serve` configured with all of them, fed good and bad requests and events, then grepped."""

from __future__ import annotations

import base64
import io
import logging
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import redis

from services.cli.main import main
from tests.support.image_http import serving_image
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from tests.support.serve_process import serve_env, serving
from vrs.catalog.products import Product
from vrs.events.publish import publish, upsert_event
from vrs.images.source import ImageInput
from vrs.observability.logs import JsonFormatter, RedactingFilter, register_settings_secrets
from vrs.settings import Settings
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc, search_pb2, search_pb2_grpc

REDIS_PW = "r3dis-s3cret-pw"
URL_PW = "url-s3cret-pw"  # a stale password in VRS_REDIS_URL: VRS_REDIS_PASSWORD wins
API_KEY = "qdrant-k3y-s3cret"
IMAGE_PW = "img-s3cr3t-pw"
TOKEN = "t0ken-s3cret"
# The Basic auth header httpx derives from the image URL's userinfo, too.
BASIC_AUTH = base64.b64encode(f"img-user:{IMAGE_PW}".encode()).decode()
SECRETS = (REDIS_PW, URL_PW, API_KEY, IMAGE_PW, TOKEN, "img-user:", BASIC_AUTH)


def image_uri(port: int, path: str, host: str = "127.0.0.1") -> str:
    return f"http://img-user:{IMAGE_PW}@{host}:{port}{path}?token={TOKEN}"


def wait_until(check: Callable[[], bool], limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, "not applied within the time limit"
        time.sleep(0.2)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked: ...{text[text.find(secret) - 200 :][:400]}"


def error_details(call: Callable[[], object]) -> str:
    with pytest.raises(grpc.RpcError) as failure:
        call()
    return str(failure.value.details())


@pytest.mark.slow
def test_no_secret_reaches_the_logs_or_the_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_server = RedisServer(tmp_path, password=REDIS_PW)
    redis_server.start()
    log_path = tmp_path / "serve.log"
    seen: list[str] = []
    try:
        with serving_image("/x.jpg", product_jpeg()) as img_port:
            env = serve_env(
                tmp_path,
                VRS_REDIS_URL=f"redis://:{URL_PW}@127.0.0.1:{redis_server.port}/0",
                VRS_REDIS_PASSWORD=REDIS_PW,
                VRS_QDRANT_API_KEY=API_KEY,
                VRS_EVENTS_ENABLED="true",
                VRS_EVENTS_MAX_ATTEMPTS="1",
                # One attempt must still outlast a dead consumer's lock (a settings rule).
                VRS_EVENTS_LOCK_TTL_MS="5000",
                VRS_EVENTS_BLOCK_MS="200",
                VRS_IMAGE_HTTP_ALLOWED_HOSTS=f"127.0.0.1:{img_port}",
                VRS_LOG_LEVEL="DEBUG",
            )
            with serving(env, log_path) as address, grpc.insecure_channel(address) as channel:
                search = search_pb2_grpc.SearchServiceStub(channel)
                embedder = embedder_pb2_grpc.EmbedderServiceStub(channel)

                def by_uri(uri: str) -> search_pb2.SearchResponse:
                    request = search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(uri=uri))
                    return search.SearchByImage(request, timeout=30)

                by_uri(image_uri(img_port, "/x.jpg"))
                seen.append(error_details(lambda: by_uri(image_uri(img_port, "/gone.jpg"))))
                seen.append(
                    error_details(lambda: by_uri(image_uri(img_port, "/x.jpg", "10.255.255.1")))
                )
                upserts = embedder.UpsertProducts(
                    embedder_pb2.UpsertProductsRequest(
                        items=[
                            embedder_pb2.ProductUpsert(
                                product=common_pb2.ProductAttributes(product_id=pid),
                                image=common_pb2.ImageSource(uri=image_uri(img_port, path)),
                            )
                            for pid, path in (("rpc-good", "/x.jpg"), ("rpc-bad", "/gone.jpg"))
                        ]
                    ),
                    timeout=30,
                )
                seen += [r.error.message for r in upserts.results if r.HasField("error")]

                client = redis.Redis(port=redis_server.port, password=REDIS_PW)
                for pid, path in (("ev-good", "/x.jpg"), ("ev-bad", "/gone.jpg")):
                    image = ImageInput(uri=image_uri(img_port, path))
                    publish(client, "vrs:catalog-events", upsert_event(Product(pid), image))
                client.close()
                monkeypatch.setenv("VRS_REDIS_PASSWORD", REDIS_PW)
                published = main(
                    [
                        "publish",
                        "--redis-url",
                        f"redis://127.0.0.1:{redis_server.port}/0",
                        "--update",
                        "ev-good",
                        "--price",
                        "9.5",
                    ]
                )
                assert published == 0

                def applied() -> bool:
                    stats = embedder.GetStats(embedder_pb2.GetEmbedderStatsRequest(), timeout=10)
                    products = embedder.GetProducts(
                        embedder_pb2.GetProductsRequest(product_ids=["ev-good"]), timeout=10
                    ).products
                    return stats.events.dead_lettered >= 1 and any(p.price == 9.5 for p in products)

                wait_until(applied)
    finally:
        redis_server.stop()
    logs = log_path.read_text()
    assert f"***@127.0.0.1:{img_port}" in logs, "the image URLs were logged, redacted"
    assert_no_secret(logs)
    assert len(seen) == 3 and all(seen), seen
    assert_no_secret("\n".join(seen))
    assert_no_secret(str(capsys.readouterr()))


def log_through_the_filter(emit: Callable[[logging.Logger], None]) -> str:
    """What a logger writes through the handler configure_logging installs."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"test-secrets-{id(out)}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_log_filter_masks_userinfo_and_tokens_in_message_args_and_extra_fields() -> None:
    uri = f"http://img-user:{IMAGE_PW}@img.example.com/x.jpg?token={TOKEN}"
    written = log_through_the_filter(
        lambda log: log.warning(
            "fetching %s",
            uri,
            extra={"uri": uri, "detail": {"uris": [uri]}, "error": ValueError(uri)},
        )
    )
    assert "http://***@img.example.com/x.jpg?token=***" in written
    assert_no_secret(written)


def test_log_filter_masks_configured_secrets_even_in_tracebacks() -> None:
    settings = Settings.model_validate(
        {"redis": {"password": "configured-redis-pw"}, "store": {"api_key": "configured-api-key"}}
    )
    register_settings_secrets(settings)

    def fail(log: logging.Logger) -> None:
        try:
            raise RuntimeError("auth failed for configured-redis-pw")
        except RuntimeError:
            log.exception("with key %s", "configured-api-key")

    written = log_through_the_filter(fail)
    assert "Traceback" in written and "RuntimeError: auth failed for ***" in written
    assert "configured-redis-pw" not in written and "configured-api-key" not in written
