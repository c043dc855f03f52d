"""Phase bad-inputs: malformed input on every gRPC method of vrs.v1 (SearchService and
EmbedderService) and every HTTP endpoint the gateway's /openapi.json lists: missing fields,
corrupt and truncated images, huge k, NaN and infinite prices, bad and unknown product ids,
oversized filter and id lists, wrong JSON types, unknown fields, an oversized body. Expected:
client errors only (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION...; HTTP 4xx), for the whole
call or for the bad items of a batch, never INTERNAL, UNKNOWN or HTTP 5xx; bad input is never
accepted as good; and the server is healthy afterwards."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.drill_catalog import CALL_TIMEOUT_S, DrillContext, drawn_catalog, seed
from benchmarks.drill_procs import VrsProcess, hostport, running, summary
from benchmarks.drill_report import PhaseResult, is_client_error
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc, search_pb2, search_pb2_grpc

if TYPE_CHECKING:
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub
    from vrs.v1.search_pb2_grpc import SearchServiceAsyncStub

NAME = "bad-inputs"
FAULT = "Bad inputs on every gRPC and HTTP API"
UPLOAD_LIMIT = 1024 * 1024  # the phase's VRS_WEB_MAX_UPLOAD_BYTES
NAN, INF = float("nan"), float("inf")
# What a batch item's error, or a lookup's refused or unknown id, may be.
ITEM_CLIENT_CODES = frozenset(
    {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "INVALID_ID"}
)
SERVICES = (
    search_pb2.DESCRIPTOR.services_by_name["SearchService"],
    embedder_pb2.DESCRIPTOR.services_by_name["EmbedderService"],
)

# error: the call must fail with a client code; items: OK with a client error for the bad
# items (or a client code for the whole call); any: OK or a client code.
Expect = Literal["error", "items", "any"]


@dataclass(frozen=True)
class Stubs:
    """The aio stubs of one server."""

    search: SearchServiceAsyncStub
    embedder: EmbedderServiceAsyncStub


@dataclass(frozen=True)
class GrpcCase:
    """One malformed call: its method (`vrs.v1.Service/Method`), its request (the stream's
    messages for a client-streaming method) and what may answer it."""

    method: str
    name: str
    request: Any
    expect: Expect = "error"

    async def send(self, stubs: Stubs) -> Any:
        service, rpc = self.method.rsplit("/", 1)
        stub = stubs.search if service.endswith("SearchService") else stubs.embedder
        request = iter(self.request) if isinstance(self.request, list) else self.request
        return await getattr(stub, rpc)(request, timeout=CALL_TIMEOUT_S)


@dataclass(frozen=True)
class Inputs:
    """A valid photo and product id, and the broken things made from them."""

    jpeg: bytes
    known_id: str

    @property
    def truncated(self) -> bytes:
        return self.jpeg[: len(self.jpeg) // 3]


def _image(data: bytes) -> common_pb2.ImageSource:
    return common_pb2.ImageSource(data=data)


def _by_image(inputs: Inputs, **fields: Any) -> search_pb2.SearchByImageRequest:
    return search_pb2.SearchByImageRequest(image=_image(inputs.jpeg), **fields)


def _filter(**fields: Any) -> search_pb2.SearchFilter:
    return search_pb2.SearchFilter(**fields)


def _upsert(
    product_id: str = "bi-new", image: bytes | None = None, **attributes: Any
) -> embedder_pb2.UpsertProductsRequest:
    product = common_pb2.ProductAttributes(product_id=product_id, **attributes)
    item = (
        embedder_pb2.ProductUpsert(product=product, image=_image(image))
        if image is not None
        else embedder_pb2.ProductUpsert(product=product)
    )
    return embedder_pb2.UpsertProductsRequest(items=[item])


def _vector_upsert(
    values: list[float], model_id: str, product_id: str = "bi-vec"
) -> embedder_pb2.UpsertProductsRequest:
    item = embedder_pb2.ProductUpsert(
        product=common_pb2.ProductAttributes(product_id=product_id),
        vector=common_pb2.Embedding(values=values, model_id=model_id),
    )
    return embedder_pb2.UpsertProductsRequest(items=[item])


def _photos_upsert(
    photos: list[bytes], also_image: bytes | None = None
) -> embedder_pb2.UpsertProductsRequest:
    item = embedder_pb2.ProductUpsert(
        product=common_pb2.ProductAttributes(product_id="bi-photos"),
        images=[_image(p) for p in photos],
    )
    if also_image is not None:
        item.image.CopyFrom(_image(also_image))
    return embedder_pb2.UpsertProductsRequest(items=[item])


LONG_ID = "p" * 300
CONTROL_ID = "bad\x00id\x07"


def grpc_cases(inputs: Inputs, model_id: str) -> list[GrpcCase]:
    """Every malformed call the phase makes, by method."""
    jpeg, known = inputs.jpeg, inputs.known_id
    uri = common_pb2.ImageSource
    by_image = search_pb2.SearchByImageRequest
    by_product = search_pb2.SearchByProductRequest
    image_requests: list[tuple[str, search_pb2.SearchByImageRequest]] = [
        ("no image", by_image(k=5)),
        ("empty image source", by_image(image=common_pb2.ImageSource())),
        ("empty bytes", by_image(image=_image(b""))),
        ("corrupt image", by_image(image=_image(b"not an image"))),
        ("truncated JPEG", by_image(image=_image(inputs.truncated))),
        ("k=0", _by_image(inputs, k=0)),
        ("huge k", _by_image(inputs, k=4_000_000_000)),
        ("NaN min_price", _by_image(inputs, filter=_filter(min_price=NAN))),
        ("infinite max_price", _by_image(inputs, filter=_filter(max_price=INF))),
        ("negative min_price", _by_image(inputs, filter=_filter(min_price=-5))),
        ("min above max", _by_image(inputs, filter=_filter(min_price=50, max_price=10))),
        ("NaN max_distance", _by_image(inputs, max_distance=NAN)),
        ("negative max_distance", _by_image(inputs, max_distance=-1)),
        ("101 categories", _by_image(inputs, filter=_filter(categories=_values("c", 101)))),
        ("200000 brands", _by_image(inputs, filter=_filter(brands=_values("b", 200_000)))),
        ("ftp URI", by_image(image=uri(uri="ftp://host/x.jpg"))),
        ("file URI outside any root", by_image(image=uri(uri="file:///etc/passwd"))),
        ("URI of a host not allowed", by_image(image=uri(uri="http://169.254.169.254/x.jpg"))),
        ("malformed URI", by_image(image=uri(uri="http://[::1"))),
        ("unknown model", _by_image(inputs, model_id="no-such-model@x")),
        ("model id with a path", _by_image(inputs, model_id="../../etc/passwd")),
        ("region past the edge", _by_image(inputs, region=common_pb2.Region(x=0.8, width=0.5))),
        ("NaN region", _by_image(inputs, region=common_pb2.Region(x=NAN, width=0.5, height=1))),
        ("unknown collapse", _by_image(inputs, collapse=7)),
    ]
    product_requests: list[tuple[str, search_pb2.SearchByProductRequest]] = [
        ("no product id", by_product()),
        ("unknown product", by_product(product_id="no-such-product")),
        ("300-byte id", by_product(product_id=LONG_ID)),
        ("control characters", by_product(product_id=CONTROL_ID)),
        ("huge k", by_product(product_id=known, k=1_000_000)),
        ("NaN price", by_product(product_id=known, filter=_filter(max_price=NAN))),
        ("101 brands", by_product(product_id=known, filter=_filter(brands=_values("b", 101)))),
        ("unknown model", by_product(product_id=known, model_id="no-such-model@x")),
        ("model id with a path", by_product(product_id=known, model_id="../../etc/passwd")),
    ]
    query = search_pb2.SearchQuery
    bad_queries = search_pb2.BatchSearchRequest(
        queries=[
            query(),
            query(by_image=by_image(image=_image(b"not an image"))),
            query(by_product=by_product(product_id="no-such-product")),
            query(by_product=by_product(product_id=known, k=0)),
        ]
    )
    too_many = search_pb2.BatchSearchRequest(
        queries=[query(by_product=by_product(product_id=known))] * 1000
    )
    upserts: list[tuple[str, embedder_pb2.UpsertProductsRequest]] = [
        ("no product id", _upsert("", jpeg)),
        ("NaN price", _upsert(image=jpeg, price=NAN)),
        ("infinite price", _upsert(image=jpeg, price=INF)),
        ("negative price", _upsert(image=jpeg, price=-1)),
        ("2000-byte title", _upsert(image=jpeg, title="t" * 2000)),
        ("currency DOLLARS", _upsert(image=jpeg, currency="DOLLARS")),
        ("corrupt image", _upsert(image=b"not an image")),
        ("no image nor vector", _upsert()),
        ("300-byte id", _upsert(LONG_ID, jpeg)),
        ("control characters in id", _upsert(CONTROL_ID, jpeg)),
        ("vector of the wrong size", _vector_upsert([0.5] * 7, model_id)),
        ("NaN in the vector", _vector_upsert([NAN] * 1280, model_id)),
        ("vector of a malformed model id", _vector_upsert([1.0], "bad model id!")),
        ("17 photos", _photos_upsert([jpeg] * 17)),
        ("photos, one corrupt", _photos_upsert([jpeg, b"not an image"])),
        ("image and images", _photos_upsert([jpeg], also_image=jpeg)),
    ]
    patch = embedder_pb2.ProductPatch
    patches: list[tuple[str, embedder_pb2.ProductPatch]] = [
        ("unknown product", patch(product_id="no-such-product", price=3)),
        ("NaN price", patch(product_id=known, price=NAN)),
        ("negative price", patch(product_id=known, price=-2)),
        ("no product id", patch(price=2)),
        ("300-byte id", patch(product_id=LONG_ID, price=2)),
        ("currency with digits", patch(product_id=known, currency="U5D")),
    ]
    search, embedder = "vrs.v1.SearchService/", "vrs.v1.EmbedderService/"
    embed = embedder_pb2.EmbedRequest
    cases = [GrpcCase(f"{search}SearchByImage", n, r) for n, r in image_requests]
    cases += [GrpcCase(f"{search}SearchByProduct", n, r) for n, r in product_requests]
    cases += [
        GrpcCase(f"{search}BatchSearch", "no queries", search_pb2.BatchSearchRequest(), "any"),
        GrpcCase(f"{search}BatchSearch", "1000 queries", too_many),
        GrpcCase(f"{search}BatchSearch", "bad queries", bad_queries, "items"),
        GrpcCase(
            f"{search}GetStats", "nothing to break", search_pb2.GetSearchStatsRequest(), "any"
        ),
        GrpcCase(f"{embedder}Embed", "no images", embed()),
        GrpcCase(f"{embedder}Embed", "corrupt image", embed(images=[_image(b"\x89PNG junk")])),
        GrpcCase(
            f"{embedder}Embed", "empty image source", embed(images=[common_pb2.ImageSource()])
        ),
        GrpcCase(
            f"{embedder}Embed",
            "one good, one truncated",
            embed(images=[_image(jpeg), _image(inputs.truncated)]),
            "items",
        ),
        GrpcCase(
            f"{embedder}UpsertProducts", "no items", embedder_pb2.UpsertProductsRequest(), "any"
        ),
        GrpcCase(f"{embedder}EmbedQuery", "no image", embedder_pb2.EmbedQueryRequest()),
        GrpcCase(
            f"{embedder}SetCalibration", "no calibration", embedder_pb2.SetCalibrationRequest()
        ),
        GrpcCase(
            f"{embedder}SetCalibration",
            "thresholds out of order",
            embedder_pb2.SetCalibrationRequest(
                calibration=embedder_pb2.Calibration(close_max_distance=5, similar_max_distance=1)
            ),
        ),
        GrpcCase(
            f"{embedder}SetCalibration",
            "negative threshold",
            embedder_pb2.SetCalibrationRequest(
                calibration=embedder_pb2.Calibration(close_max_distance=-1, similar_max_distance=1)
            ),
        ),
        GrpcCase(
            f"{embedder}EmbedQuery",
            "corrupt image",
            embedder_pb2.EmbedQueryRequest(image=_image(b"not an image")),
        ),
        GrpcCase(
            f"{embedder}EmbedQuery",
            "empty region",
            embedder_pb2.EmbedQueryRequest(
                image=_image(jpeg), region=common_pb2.Region(x=0.1, width=0, height=0.5)
            ),
        ),
    ]
    cases += [GrpcCase(f"{embedder}UpsertProducts", n, r, "items") for n, r in upserts]
    cases += [
        GrpcCase(
            f"{embedder}StreamUpsertProducts", "bad items", [r for _, r in upserts[:8]], "items"
        ),
        GrpcCase(f"{embedder}StreamUpsertProducts", "no batches", [], "any"),
    ]
    cases += [
        GrpcCase(
            f"{embedder}UpdateProducts",
            n,
            embedder_pb2.UpdateProductsRequest(patches=[p]),
            "items",
        )
        for n, p in patches
    ]
    cases.append(
        GrpcCase(
            f"{embedder}UpdateProducts", "no patches", embedder_pb2.UpdateProductsRequest(), "any"
        )
    )
    many_ids, bad_ids = _values("id-", 1001), ["", LONG_ID, CONTROL_ID]
    for method, request_type in (
        ("DeleteProducts", embedder_pb2.DeleteProductsRequest),
        ("GetProducts", embedder_pb2.GetProductsRequest),
    ):
        cases += [
            GrpcCase(f"{embedder}{method}", "1001 ids", request_type(product_ids=many_ids)),
            GrpcCase(
                f"{embedder}{method}", "malformed ids", request_type(product_ids=bad_ids), "items"
            ),
            GrpcCase(
                f"{embedder}{method}",
                "unknown ids",
                request_type(product_ids=["no-such-product", "nor-this"]),
                "items",
            ),
            GrpcCase(f"{embedder}{method}", "no ids", request_type(), "any"),
        ]
    cases.append(
        GrpcCase(
            f"{embedder}GetStats", "nothing to break", embedder_pb2.GetEmbedderStatsRequest(), "any"
        )
    )
    return cases


def _values(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def item_codes(response: Any) -> list[str]:
    """The per-item errors of an OK answer: batch items' codes, refused and unknown ids."""
    codes = []
    items = [*getattr(response, "results", []), *getattr(response, "failures", [])]
    for item in items:
        if item.HasField("error") and item.error.code != common_pb2.OK:
            try:
                codes.append(common_pb2.Code.Name(item.error.code))
            except ValueError:
                codes.append(f"code {item.error.code}")
    codes += ["INVALID_ID"] * len(getattr(response, "invalid", []))
    codes += ["NOT_FOUND"] * len(getattr(response, "not_found", []))
    return codes


def all_methods() -> list[str]:
    return [
        f"{service.full_name}/{method.name}" for service in SERVICES for method in service.methods
    ]


@dataclass
class Tally:
    """What the phase saw beyond the result's errors: per-item codes, calls per method."""

    items: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)


async def run_grpc(address: str, cases: list[GrpcCase], result: PhaseResult, tally: Tally) -> None:
    async with grpc.aio.insecure_channel(
        address, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:
        stubs = Stubs(
            search_pb2_grpc.SearchServiceStub(channel),
            embedder_pb2_grpc.EmbedderServiceStub(channel),
        )
        for case in cases:
            tally.methods[case.method] += 1
            what = f"{case.method.rsplit('/', 1)[1]} {case.name}"
            result.requests += 1
            started = time.perf_counter()
            try:
                response = await case.send(stubs)
            except grpc.aio.AioRpcError as exc:
                result.latencies_s.append(time.perf_counter() - started)
                code = exc.code().name
                result.errors[code] += 1
                if not is_client_error(code):
                    details = " ".join((exc.details() or "").split())[:160]
                    result.problems.append(f"{what}: {code} ({details})")
                continue
            result.latencies_s.append(time.perf_counter() - started)
            codes = item_codes(response)
            tally.items.update(codes)
            wrong = [code for code in codes if code not in ITEM_CLIENT_CODES]
            if wrong:
                result.problems.append(f"{what}: item errors {wrong}")
            if case.expect == "error":
                result.problems.append(f"{what}: accepted (OK)")
            elif case.expect == "items" and not codes:
                result.problems.append(f"{what}: OK without an item error")


@dataclass(frozen=True)
class HttpCase:
    """One malformed HTTP request: the endpoint (as /openapi.json names it) and what is sent."""

    method: str
    endpoint: str
    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    client_error: bool = True  # False: any answer below 500 is right


def http_cases(inputs: Inputs) -> list[HttpCase]:
    known = inputs.known_id
    good = base64.b64encode(inputs.jpeg).decode()
    similar = "/v1/products/{product_id}/similar"
    product = "/v1/products/{product_id}"
    image = "/v1/products/{product_id}/image"
    search = "/v1/search/image"
    cases = [
        HttpCase("GET", similar, "unknown product", "/v1/products/no-such-product/similar"),
        HttpCase("GET", similar, "300-char id", f"/v1/products/{LONG_ID}/similar"),
        HttpCase("GET", similar, "control characters", "/v1/products/bad%00id%07/similar"),
    ]
    for query in (
        "k=abc",
        "k=0",
        "k=100000",
        "k=1.5",
        "min_price=NaN",
        "min_price=inf",
        "max_price=-1e400",
        "min_price=50&max_price=10",
        "max_distance=-1",
        "max_distance=nan",
        "in_stock=maybe",
        "&".join(f"category=c{i}" for i in range(101)),
    ):
        cases.append(HttpCase("GET", similar, query[:40], f"/v1/products/{known}/similar?{query}"))
    cases += [
        HttpCase("GET", product, "unknown product", "/v1/products/no-such-product"),
        HttpCase("GET", product, "300-char id", f"/v1/products/{LONG_ID}"),
        HttpCase("GET", product, "control characters", "/v1/products/bad%00id%07"),
        HttpCase("GET", image, "unknown product", "/v1/products/no-such-product/image"),
        HttpCase("GET", image, "product without a photo", f"/v1/products/{known}/image"),
        HttpCase("GET", image, "control characters", "/v1/products/bad%01/image"),
    ]
    as_json = {"headers": {"content-type": "application/json"}}
    bodies: list[tuple[str, str]] = [
        ("empty JSON body", ""),
        ("malformed JSON", "{"),
        ("JSON array", "[]"),
        ("no image", "{}"),
        ("empty image", '{"image": {}}'),
        ("data not base64", '{"image": {"data": "!!not base64!!"}}'),
        ("data not an image", json.dumps({"image": {"data": base64.b64encode(b"nope").decode()}})),
        (
            "truncated JPEG",
            json.dumps({"image": {"data": base64.b64encode(inputs.truncated).decode()}}),
        ),
        ("both data and uri", json.dumps({"image": {"data": good, "uri": "file:///x.jpg"}})),
        ("k as a string", json.dumps({"image": {"data": good}, "k": "5"})),
        ("k as a boolean", json.dumps({"image": {"data": good}, "k": True})),
        ("huge k", json.dumps({"image": {"data": good}, "k": 10**9})),
        ("NaN min_price", '{"image": {"data": "%s"}, "min_price": NaN}' % good),  # noqa: UP031
        ("1e999 max_price", '{"image": {"data": "%s"}, "max_price": 1e999}' % good),  # noqa: UP031
        ("unknown field", json.dumps({"image": {"data": good}, "surprise": 1})),
        ("categories a string", json.dumps({"image": {"data": good}, "categories": "shirt"})),
        (
            "101 categories",
            json.dumps({"image": {"data": good}, "categories": [str(i) for i in range(101)]}),
        ),
        ("ftp URI", json.dumps({"image": {"uri": "ftp://host/x.jpg"}})),
        ("file URI outside any root", json.dumps({"image": {"uri": "file:///etc/passwd"}})),
        ("image a number", json.dumps({"image": 5})),
    ]
    cases += [
        HttpCase("POST", search, name, search, {"content": body.encode(), **as_json})
        for name, body in bodies
    ]
    cases += [
        HttpCase("POST", search, "no content type", search, {"content": b"{}"}),
        HttpCase(
            "POST",
            search,
            "text/plain",
            search,
            {"content": b"hello", "headers": {"content-type": "text/plain"}},
        ),
        HttpCase(
            "POST",
            search,
            "multipart without the image",
            search,
            {"data": {"k": "3"}, "files": {"other": ("x.txt", b"x")}},
        ),
        HttpCase(
            "POST",
            search,
            "multipart corrupt image",
            search,
            {"files": {"image": ("x.jpg", b"not an image", "image/jpeg")}},
        ),
        HttpCase(
            "POST",
            search,
            "multipart k=abc",
            search,
            {"data": {"k": "abc"}, "files": {"image": ("x.jpg", inputs.jpeg, "image/jpeg")}},
        ),
        HttpCase(
            "POST",
            search,
            "body above the upload limit",
            search,
            {"content": b"{" + b" " * (UPLOAD_LIMIT + UPLOAD_LIMIT // 2) + b"}", **as_json},
        ),
        HttpCase(
            "GET",
            "/v1/catalog",
            "unknown query parameter",
            "/v1/catalog?k=junk",
            client_error=False,
        ),
        HttpCase(
            "GET", "/healthz", "unknown query parameter", "/healthz?x=%00", client_error=False
        ),
        HttpCase("GET", "/readyz", "unknown query parameter", "/readyz?x=1", client_error=False),
        HttpCase("GET", "(none)", "unknown path", "/v1/nope"),
        HttpCase("DELETE", "(none)", "wrong method", "/v1/catalog"),
        HttpCase("POST", "(none)", "wrong method on a product", f"/v1/products/{known}"),
    ]
    return cases


def generic_case(method: str, endpoint: str) -> HttpCase:
    """A probe of an endpoint no case was written for: junk path, query and body."""
    url = endpoint
    for name in ("product_id",):
        url = url.replace("{" + name + "}", "no-such-product")
    while "{" in url:
        start, end = url.index("{"), url.index("}")
        url = url[:start] + "junk" + url[end + 1 :]
    options = {"content": b"{", "headers": {"content-type": "application/json"}}
    return HttpCase(method, endpoint, "generic junk", f"{url}?k=junk", options, client_error=False)


def run_http(base: str, cases: list[HttpCase], result: PhaseResult) -> list[str]:
    """Sends every case and every endpoint of /openapi.json without one; the endpoints probed
    only generically."""
    with httpx.Client(base_url=base, timeout=CALL_TIMEOUT_S) as client:
        listed = client.get("/openapi.json").json()["paths"]
        endpoints = [(m.upper(), path) for path, methods in listed.items() for m in methods]
        covered = {(case.method, case.endpoint) for case in cases}
        generic = [f"{m} {p}" for m, p in endpoints if (m, p) not in covered]
        probes = cases + [generic_case(m, p) for m, p in endpoints if (m, p) not in covered]
        for case in probes:
            result.requests += 1
            started = time.perf_counter()
            try:
                answer = client.request(case.method, case.url, **case.options)
            except httpx.HTTPError as exc:
                result.errors[type(exc).__name__] += 1
                result.problems.append(f"{case.method} {case.url[:60]} ({case.name}): {exc}")
                continue
            result.latencies_s.append(time.perf_counter() - started)
            status = answer.status_code
            if status >= 400:
                result.errors[f"HTTP {status}"] += 1
            what = f"{case.method} {case.endpoint} ({case.name})"
            if status >= 500:
                result.problems.append(f"{what}: HTTP {status} {answer.text[:120]}")
            elif case.client_error and status < 400:
                result.problems.append(f"{what}: accepted (HTTP {status})")
    return generic


def healthy(address: str, base: str, known_id: str, jpeg: bytes) -> list[str]:
    """What does not answer as it should after the phase (empty: healthy)."""
    problems = []
    with grpc.insecure_channel(address) as channel:
        try:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S
            )
            if status.status != health_pb2.HealthCheckResponse.SERVING:
                problems.append("gRPC health is not SERVING")
            stub = search_pb2_grpc.SearchServiceStub(channel)
            stub.SearchByProduct(
                search_pb2.SearchByProductRequest(product_id=known_id), timeout=CALL_TIMEOUT_S
            )
            stub.SearchByImage(
                search_pb2.SearchByImageRequest(image=_image(jpeg)), timeout=CALL_TIMEOUT_S
            )
        except grpc.RpcError as exc:
            problems.append(f"after the phase, a valid call failed: {exc}")
    with httpx.Client(base_url=base, timeout=CALL_TIMEOUT_S) as client:
        for path in ("/healthz", "/readyz", f"/v1/products/{known_id}/similar"):
            try:
                status_code = client.get(path).status_code
            except httpx.HTTPError as exc:
                problems.append(f"after the phase, GET {path}: {exc}")
                continue
            if status_code != 200:
                problems.append(f"after the phase, GET {path}: HTTP {status_code}")
    return problems


def run(ctx: DrillContext) -> PhaseResult:
    result = PhaseResult(NAME, FAULT, client_errors_allowed=True)
    folder = ctx.phase_dir(NAME)
    products = drawn_catalog(4, "bi-")
    inputs = Inputs(products[0].photo, products[0].attributes.product_id)
    web_port = ctx.port()
    serve = VrsProcess(
        "vrs-serve",
        folder,
        ctx.vrs_env(
            VRS_WEB_PORT=web_port,
            VRS_WEB_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT),
            VRS_QDRANT_DATA_DIR=str(folder / "qdrant"),
        ),
    )
    base = f"http://{hostport(ctx.host, int(web_port))}"
    tally = Tally()
    with running(serve):
        seed(serve.address, products)
        with grpc.insecure_channel(serve.address) as channel:
            stats = embedder_pb2_grpc.EmbedderServiceStub(channel).GetStats(
                embedder_pb2.GetEmbedderStatsRequest(), timeout=CALL_TIMEOUT_S
            )
        cases = grpc_cases(inputs, stats.index.model_id)
        asyncio.run(run_grpc(serve.address, cases, result, tally))
        grpc_calls = result.requests
        generic = run_http(base, http_cases(inputs), result)
        result.problems += healthy(serve.address, base, inputs.known_id, inputs.jpeg)
        alive = serve.alive()
    if not alive:
        result.problems.append("vrs serve died")
    untested = [method for method in all_methods() if not tally.methods[method]]
    if untested:
        result.problems.append(f"no bad-input case for {', '.join(untested)}")
    result.notes.append(
        f"{grpc_calls} gRPC calls over {len(tally.methods)} methods, "
        f"{result.requests - grpc_calls} HTTP requests; the server healthy after"
        if not result.problems
        else f"{grpc_calls} gRPC calls, {result.requests - grpc_calls} HTTP requests"
    )
    if tally.items:
        shown = ", ".join(f"{code} x{n}" for code, n in sorted(tally.items.items()))
        result.notes.append(f"per-item answers in OK responses: {shown}")
    if generic:
        result.notes.append(f"endpoints probed generically (no case written): {generic}")
    errors = serve.errors()
    if errors:
        result.notes.append(f"{len(errors)} ERROR lines in the server log ({serve.log_path}):")
        result.notes += [f"  {summary(line)[:300]}" for line in errors[:5]]
    return result
