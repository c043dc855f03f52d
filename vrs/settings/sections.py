"""The settings sections, each read from its own VRS_* environment prefix.

Each section reads its own prefix. `Settings.from_env()` is called once in a `main()` and the
result is passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vrs.settings.host_entries import format_entry, parse_entry

Backbone = Literal["inception_v3", "efficientnet_lite0"]


def _section(prefix: str) -> SettingsConfigDict:
    # An empty variable (VRS_OBS_METRICS_PORT= in a compose file) means unset, not "".
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", frozen=True, env_ignore_empty=True)


class LogSettings(BaseSettings):
    """How the process logs (VRS_LOG_*)."""

    model_config = _section("VRS_LOG_")

    level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line; text: human-readable."
    )


class ServerSettings(BaseSettings):
    """The gRPC server: address, limits, TLS, shutdown (VRS_GRPC_*)."""

    model_config = _section("VRS_GRPC_")

    host: str = Field(
        "127.0.0.1",
        description="Address the gRPC server binds to; a non-loopback one (0.0.0.0 in "
        "containers) needs TLS and auth (VRS_GRPC_TLS_*, VRS_AUTH_TOKENS_FILE) or "
        "VRS_GRPC_INSECURE.",
    )
    port: int = Field(50051, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    shutdown_grace_s: float = Field(
        20.0, gt=0, description="On SIGTERM, how long in-flight calls may take to finish."
    )
    max_message_mb: int = Field(64, gt=0, description="Largest gRPC message accepted or sent.")
    reflection: bool = Field(
        False,
        description="Serve gRPC server reflection (to authenticated callers when auth is on).",
    )
    tls_cert_file: Path | None = Field(
        None,
        description="Server certificate chain (PEM); TLS is on when this and tls_key_file are "
        "set. Re-read when it changes.",
    )
    tls_key_file: Path | None = Field(
        None, description="Private key (PEM) of tls_cert_file. Re-read when it changes."
    )
    tls_client_ca_file: Path | None = Field(
        None,
        description="CA bundle (PEM) for mutual TLS: clients must present a certificate it "
        "signed. Needs TLS; re-read when it changes.",
    )
    tls_reload_s: float = Field(
        10.0,
        gt=0,
        description="How often certificate files (the server's, and the search service's "
        "client ones for the embedder) are checked for changes: new connections get the new "
        "certificate, open ones are kept.",
    )
    insecure: bool = Field(
        False,
        description="Allow listening on a non-loopback address without TLS and auth (logged as a "
        "warning); for trusted networks only.",
    )


class AuthSettings(BaseSettings):
    """Who may call the servers (VRS_AUTH_*)."""

    model_config = _section("VRS_AUTH_")

    tokens_file: Path | None = Field(
        None,
        description="Callers' token hashes and client-certificate subjects with their roles "
        "(search, ingest, admin), one a line; auth is on when this or "
        "VRS_GRPC_TLS_CLIENT_CA_FILE is set.",
    )
    reload_s: float = Field(
        5.0, gt=0, description="How often the tokens file is checked for changes."
    )


class ClientSettings(BaseSettings):
    """How vrs clients reach vrs servers: token and TLS (VRS_CLIENT_*)."""

    model_config = _section("VRS_CLIENT_")

    token: SecretStr | None = Field(
        None, description="Bearer token vrs clients (CLI, search -> embedder) send to servers."
    )
    tls_ca_file: Path | None = Field(
        None,
        description="CA bundle (PEM) that signed the server certificate; set: connect over TLS.",
    )
    tls_cert_file: Path | None = Field(
        None,
        description="Client certificate chain (PEM) for mutual TLS; re-read when it changes.",
    )
    tls_key_file: Path | None = Field(None, description="Private key (PEM) of tls_cert_file.")
    tls_server_name: str | None = Field(
        None,
        description="Name checked in the server certificate instead of the address's host.",
    )


class ModelSettings(BaseSettings):
    """The feature extractor and what runs it (VRS_MODEL_*)."""

    model_config = _section("VRS_MODEL_")

    backbone: Backbone = Field(
        "inception_v3",
        description="Feature extractor: inception_v3 (2048-d) or efficientnet_lite0.",
    )
    features: str = Field(
        "gem2-crop0.8-cblur3",
        pattern=r"^(avg|max|rmac|gem\d+(\.\d+)?)(-l2)?(-ms\d+(\.\d+)?(_\d+(\.\d+)?)*)?"
        r"(-crop\d+(\.\d+)?)?(-flip)?(-cblur\d+(\.\d+)?)?$",
        description="How the image becomes a vector: avg, max, rmac or gem<p> pooling, "
        "then -l2 (unit length), -ms<scale>_<scale> (scales averaged), -crop<fraction> (centre "
        "crop keeps that fraction of the shorter side), -flip (mirror averaged), -cblur<sigma> "
        "(catalog photos only: a blurred copy averaged in, a second pass per photo indexed); "
        "part of the model id (avg alone keeps the plain one). See 'Retrieval quality'.",
    )
    weights: Literal["pretrained", "random"] = Field(
        "pretrained",
        description="pretrained: real ImageNet weights or fail at startup; "
        "random: random init, for tests and benchmarks only.",
    )
    weights_path: Path | None = Field(
        None, description="Explicit weights file; tried before the torch hub cache and download."
    )
    allow_download: bool = Field(
        True, description="Let torchvision download the weights when nothing local has them."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when available (fp16), else CPU."
    )
    cuda_graphs: bool = Field(
        True,
        description="On CUDA: the fp16 model compiled with CUDA graphs (torch.compile, "
        "reduce-overhead) for each batch bucket (1, 2, 4, ... up to the largest batch), all "
        "captured at warm-up; false: eager fp16.",
    )
    runtime: Literal["auto", "openvino", "torch"] = Field(
        "auto",
        description="What runs the model on CPU: openvino (converted from the torch module at "
        "start-up, falls back to torch when conversion fails) or torch eager; auto: openvino "
        "when installed. CUDA always runs torch.",
    )
    cpu_precision: Literal["auto", "bf16", "fp32", "int8"] = Field(
        "auto",
        description="CPU compute precision; auto: bf16 with openvino where the CPU runs bf16 "
        "natively (AVX512-BF16 or AMX), else int8 if it passes the accuracy gate, else fp32 "
        "(torch eager stays fp32 unless bf16 is set); int8: int8 where it passes the gate.",
    )
    int8_photos: Path | None = Field(
        None,
        description="A folder of product photos (the catalog served) that int8 is calibrated "
        "and judged on (its first 200); unset: a sample catalog drawn on the fly.",
    )
    openvino_streams: int = Field(
        0, ge=0, description="OpenVINO CPU streams (parallel passes); 0: its throughput hint's."
    )
    openvino_cache_dir: Path = Field(
        Path("~/.cache/vrs/openvino"),
        description="Where the converted and compiled OpenVINO models are kept, so a restart "
        "skips conversion; unwritable: converted at every start.",
    )
    torch_threads: int = Field(0, ge=0, description="torch intra-op threads; 0: torch's default.")
    auto_region: bool = Field(
        True,
        description="Image searches without a region search on the main item found in the "
        "photo (a second pass on its region) unless the photo already frames it; see "
        "docs/quality.md#regions.",
    )
    region_classes: Literal["apparel", "all"] = Field(
        "apparel",
        description="What the item finder looks for: the ImageNet classes of clothing, "
        "footwear, bags and accessories, or all 1000 classes (docs/quality.md compares them).",
    )
    max_batch_size: int | None = Field(
        None,
        ge=1,
        description="Most images one forward pass takes; unset: 128 on GPU, 8 with OpenVINO "
        "streams, 32 for torch on CPU.",
    )
    max_batch_wait_ms: float = Field(
        5.0, ge=0, description="How long a forward pass waits for more images to share it."
    )
    decode_workers: int = Field(2, ge=1, description="Threads decoding and resizing images.")
    max_decode_queue: int = Field(
        128,
        ge=1,
        description="Most images being decoded or waiting for a decode thread; beyond it, "
        "new images get RESOURCE_EXHAUSTED at once.",
    )
    max_queue: int = Field(
        256,
        ge=1,
        description="Most decoded images waiting for a forward pass; beyond it, new images get "
        "RESOURCE_EXHAUSTED at once.",
    )


class ImageSettings(BaseSettings):
    """Where images may come from, and how large they may be (VRS_IMAGE_*)."""

    model_config = _section("VRS_IMAGE_")

    max_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Largest encoded image accepted.")
    max_pixels: int = Field(
        40_000_000, gt=0, description="Largest decoded image (width x height): bomb guard."
    )
    large_decode_pixels: int = Field(
        4_000_000,
        ge=0,
        description="Decodes of more pixels than this (after JPEG's reduced-scale decoding) are "
        "large: they take a slot of large_decode_concurrency and hand their memory back to "
        "the OS when done.",
    )
    large_decode_concurrency: int = Field(
        1, ge=1, description="Most large decodes holding memory at once (the others wait)."
    )
    file_root: Path | None = Field(
        None,
        description="file:// URIs are served only from inside this folder, regular files "
        "only; unset: refused.",
    )
    file_read_workers: int = Field(
        4, ge=1, description="Threads reading file:// images (a pool of their own)."
    )
    file_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Deadline for reading one file:// image, waiting for a free reader included.",
    )
    http_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host or host:port entries ([::1]:8080 for IPv6) that "
        "http(s):// image URIs may reach; a host without a port allows only port 80 (http) and "
        "443 (https); empty: refused.",
    )
    http_timeout_s: float = Field(10.0, gt=0, description="Deadline for fetching one image URI.")

    @field_validator("http_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value

    @field_validator("http_allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        return [format_entry(*parse_entry(entry)) for entry in value]


class StoreSettings(BaseSettings):
    """The Qdrant vector store (VRS_QDRANT_*)."""

    model_config = _section("VRS_QDRANT_")

    url: str | None = Field(
        None,
        description="Qdrant server URL (http://host:6333, https:// for TLS, REST and gRPC "
        "alike); ':memory:' for qdrant-client local mode; unset: embedded Qdrant Edge in "
        "data_dir.",
    )
    api_key: SecretStr | None = Field(None, description="Qdrant API key (server mode).")
    tls_ca_file: Path | None = Field(
        None,
        description="CA bundle (PEM) that signs the Qdrant server's certificate, for https:// "
        "URLs (REST and gRPC); unset: the system's trusted CAs.",
    )
    allow_plaintext_secrets: bool = Field(
        False,
        description="Allow the API key over http:// to a non-loopback host (logged as a warning "
        "at every start); otherwise such a start is refused: use https://.",
    )
    prefer_grpc: bool = Field(
        True,
        description="Talk to the Qdrant server over gRPC, on grpc_port (the URL's port is then "
        "unused); false: REST on the URL's port.",
    )
    grpc_port: int = Field(
        6334,
        ge=1,
        le=65535,
        description="Qdrant server gRPC port, dialled instead of the URL's port when prefer_grpc "
        "(startup logs and errors name the port used).",
    )
    timeout_s: float = Field(10.0, gt=0, description="Deadline of every Qdrant call.")
    data_dir: Path = Field(
        Path("var/qdrant-edge"), description="Qdrant Edge data directory (one owner process)."
    )
    collection_prefix: str = Field(
        "vrs_products", description="Collections are named <prefix>__<model id>."
    )
    alias: str | None = Field(
        None,
        description="Server mode: read through this alias (search) and point it at the model's "
        "collection (embedder with alias_switch). Model upgrades switch it atomically.",
    )
    alias_switch: bool = Field(
        False, description="Embedder: point the alias at this model's collection at startup."
    )
    alias_refresh_s: float = Field(
        5.0, ge=0, description="How often readers re-check which collection the alias names."
    )
    shard_number: int = Field(1, ge=1, description="Shards of a new server collection.")
    replication_factor: int = Field(1, ge=1, description="Replicas of each shard (server).")
    write_consistency_factor: int = Field(1, ge=1, description="Replicas that must ack a write.")
    on_disk_vectors: bool = Field(False, description="Keep original vectors on disk (mmap).")
    scalar_quantization: bool = Field(
        True,
        description="int8-quantised copy of the vectors in RAM (4x smaller), walked first, "
        "then rescored: at 100k x 2048-d queries 2.5x faster and the index built 1.7x faster "
        "than float32 (benchmarks/ann_scale.py). Server: set at collection creation; Edge: "
        "applied at the next index build.",
    )
    quantization_rescore: bool = Field(
        True,
        description="With scalar_quantization: re-rank the quantised candidates by the "
        "original vectors.",
    )
    quantization_oversampling: float = Field(
        2.0,
        ge=1.0,
        description="With scalar_quantization: fetch this many times k quantised candidates "
        "to rescore (1: recall@10 stops near 0.97; 3 gains nothing over 2).",
    )
    hnsw_m: int = Field(
        24, ge=4, description="HNSW graph degree (16: recall@10 0.992 at 100k, 24: 0.995)."
    )
    hnsw_ef_construct: int = Field(200, ge=4, description="HNSW build-time beam width.")
    indexing_threshold_kb: int = Field(
        10_000, ge=0, description="Segments larger than this get an HNSW index."
    )
    optimize_after_writes: int = Field(
        1000,
        ge=0,
        description="Edge: rebuild the index after this many writes (0: only at "
        "the end of bulk streams).",
    )
    max_open_collections: int = Field(
        8,
        ge=1,
        le=256,
        description="Collections of other models (imported vectors) a process keeps open at "
        "once; the least recently used is closed beyond it.",
    )


class RedisSettings(BaseSettings):
    """The Redis server for the cache and catalog events (VRS_REDIS_*)."""

    model_config = _section("VRS_REDIS_")

    url: str | None = Field(
        None,
        description="redis://host:6379/0, rediss:// for TLS; unset: no cache and no catalog "
        "events.",
    )
    password: SecretStr | None = Field(None, description="Redis password (overrides the URL's).")
    username: str | None = Field(
        None, description="Redis ACL user (overrides the URL's); unset: the default user."
    )
    tls_ca_file: Path | None = Field(
        None,
        description="CA bundle (PEM) that signs the Redis server's certificate (rediss:// URLs); "
        "unset: the system's trusted CAs.",
    )
    tls_cert_file: Path | None = Field(
        None,
        description="Client certificate (PEM) for Redis servers that require one (rediss://).",
    )
    tls_key_file: Path | None = Field(None, description="Private key (PEM) of tls_cert_file.")
    allow_plaintext_secrets: bool = Field(
        False,
        description="Allow a password over redis:// to a non-loopback host (logged as a warning "
        "at every start); otherwise such a start is refused: use rediss://.",
    )
    timeout_ms: float = Field(100.0, gt=0, description="Deadline of every cache call.")
    retry_after_s: float = Field(
        1.0, ge=0, description="After a Redis failure, go uncached this long before retrying."
    )
    key_prefix: str = Field("vrs", description="Prefix of every key vrs writes.")


class CacheSettings(BaseSettings):
    """How long cached results and embeddings live (VRS_CACHE_*)."""

    model_config = _section("VRS_CACHE_")

    result_ttl_s: int = Field(300, ge=1, description="TTL of cached search results.")
    embedding_ttl_s: int = Field(86_400, ge=1, description="TTL of cached query embeddings.")


class SearchSettings(BaseSettings):
    """How searches run, and where the embedder fleet is (VRS_SEARCH_*)."""

    model_config = _section("VRS_SEARCH_")

    default_k: int = Field(10, ge=1, description="Results when a query does not say.")
    max_k: int = Field(100, ge=1, description="Most results one query may ask for.")
    max_batch_queries: int = Field(64, ge=1, description="Most queries in one BatchSearch.")
    exact_threshold: int = Field(
        2_000,
        ge=0,
        description="Filtered sets at most this big are searched exactly (HNSW loses recall "
        "under very selective filters; above it filtered HNSW is faster at the same recall).",
    )
    hnsw_ef: int = Field(
        128,
        ge=1,
        description="HNSW search beam width (with the default index: recall@10 0.995 at 100k "
        "x 2048-d; 64: 0.986).",
    )
    embedder_address: str | None = Field(
        None,
        description="The embedder fleet: host:port, dns:///name:port (every address it "
        "resolves to) or ipv4:h1:p1,h2:p2; calls are balanced over all (round_robin); unset: "
        "embed in-process.",
    )
    embedder_timeout_s: float = Field(10.0, gt=0, description="Deadline of embedder calls.")
    embedder_startup_wait_s: float = Field(
        120.0, ge=0, description="At startup, how long to wait for the embedder to answer."
    )
    over_budget_max_fraction: float = Field(
        0.25,
        ge=0,
        le=10,
        description="When fewer than k products fit a maximum price, the nearest ones at most "
        "this fraction over it are answered apart (over_budget); 0: never.",
    )


class PricingSettings(BaseSettings):
    """Comparing prices across currencies (VRS_FX_*)."""

    model_config = _section("VRS_FX_")

    rates_file: Path | None = Field(
        None,
        description='Exchange rates, JSON {"base": "USD", "rates": {"EUR": 0.92}} (units per '
        "base unit): budgets then reach prices in every listed currency, converted; unset: a "
        "budget is compared only with prices in its own currency.",
    )


class EventsSettings(BaseSettings):
    """Consuming catalog events from the Redis stream (VRS_EVENTS_*)."""

    model_config = _section("VRS_EVENTS_")

    enabled: bool = Field(False, description="Embedder: consume catalog events from Redis.")
    stream: str = Field("vrs:catalog-events", description="Redis stream of catalog events.")
    group: str = Field("vrs-embedder", description="Consumer group the embedders share.")
    consumer: str | None = Field(None, description="This consumer's name; unset: host-pid.")
    dead_letter_stream: str = Field(
        "vrs:catalog-events:dead", description="Where poison events go, with their error."
    )
    batch_size: int = Field(32, ge=1, description="Events read (and embedded) per batch.")
    block_ms: int = Field(1000, ge=1, description="How long one read waits for new events.")
    claim_idle_ms: int = Field(
        30_000, ge=1, description="Pending entries idle this long are claimed from dead consumers."
    )
    max_attempts: int = Field(5, ge=1, description="Deliveries before an event is dead-lettered.")
    retry_backoff_ms: int = Field(500, ge=0, description="Base of the exponential retry backoff.")
    tombstone_ttl_s: int = Field(
        7 * 86_400, ge=1, description="How long a delete keeps older redelivered events out."
    )
    lock_ttl_ms: int = Field(
        30_000,
        ge=100,
        description="Per-product apply lock, extended every third of it while its holder works; "
        "freed after this if its holder died.",
    )
    lock_wait_ms: int = Field(
        10_000,
        ge=0,
        description="Longest wait for a product's apply lock held by another consumer; past it "
        "the event is postponed (no attempt spent). max_attempts x lock_wait_ms must outlast "
        "lock_ttl_ms.",
    )
    consumer_idle_delete_ms: int = Field(
        3_600_000,
        ge=1,
        description="Consumers of the group idle this long and owning no pending entries are "
        "removed from it (dead replicas' names).",
    )

    @model_validator(mode="after")
    def _attempts_outlast_a_lock(self) -> EventsSettings:
        # An event whose every attempt waits on a lock left by a dead holder must still be
        # alive when the lock's TTL frees it, or good events would be dead-lettered.
        waited = self.max_attempts * self.lock_wait_ms
        if waited < self.lock_ttl_ms:
            raise ValueError(
                f"VRS_EVENTS_MAX_ATTEMPTS x VRS_EVENTS_LOCK_WAIT_MS ({self.max_attempts} x "
                f"{self.lock_wait_ms} ms = {waited} ms) cannot outlast VRS_EVENTS_LOCK_TTL_MS "
                f"({self.lock_ttl_ms} ms): an event could spend every attempt waiting on a dead "
                "consumer's lock; raise the attempts or the wait, or lower the TTL"
            )
        return self


class ObservabilitySettings(BaseSettings):
    """Metrics and traces (VRS_OBS_*)."""

    model_config = _section("VRS_OBS_")

    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port of this process's Prometheus /metrics HTTP endpoint; unset: off; "
        "0: any free port.",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address the /metrics endpoint binds to (0.0.0.0 in pods, for the scraper); "
        "beyond loopback it serves HTTPS with VRS_GRPC_TLS_CERT_FILE and _KEY_FILE, or plain "
        "HTTP only with VRS_OBS_METRICS_TLS_OFFLOADED (or VRS_GRPC_INSECURE).",
    )
    metrics_tls_offloaded: bool = Field(
        False,
        description="TLS for /metrics ends in front of it (a proxy, a mesh sidecar): serve plain "
        "HTTP beyond loopback even when certificate files are set.",
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/gRPC endpoint traces are exported to (http://collector:4317); unset: "
        "tracing off.",
    )
    service_name: str | None = Field(
        None,
        description="service.name of this process's traces; unset: vrs-<role> (vrs-search, ...).",
    )
    trace_sample_ratio: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of new traces recorded (parent-based: a caller's decision is kept).",
    )


class ConnectionSettings(BaseSettings):
    """How long connections may idle, and how many each listener holds (VRS_CONN_*)."""

    model_config = _section("VRS_CONN_")

    head_timeout_s: float = Field(
        5.0,
        gt=0,
        description="A connection that has not sent a complete HTTP request head, or finished "
        "its TLS or HTTP/2 handshake, this long after opening (or after starting its next "
        "request) is closed: gateway, /metrics and gRPC.",
    )
    http_keepalive_s: float = Field(
        15.0, gt=0, description="Idle keep-alive HTTP connections are closed after this."
    )
    grpc_idle_s: float = Field(
        300.0,
        gt=0,
        description="gRPC connections without a call for this long are closed (GOAWAY; a "
        "client reconnects when it next calls).",
    )
    grpc_max_age_s: float = Field(
        300.0,
        gt=0,
        description="gRPC connections are renewed this often, so clients of a scaled-out "
        "service spread over replicas added since; calls in flight get grpc_max_age_grace_s.",
    )
    grpc_max_age_grace_s: float = Field(
        30.0, ge=0, description="How long calls in flight may take on a connection being renewed."
    )
    reserved_descriptors: int | None = Field(
        None,
        ge=0,
        description="File descriptors kept out of every listener's connection cap, for Redis, "
        "Qdrant, image fetches and files; unset: a quarter of the limit (ulimit -n, raised "
        "to the hard limit at start), at least 64.",
    )
    refusal_log_every_s: float = Field(
        10.0,
        gt=0,
        description="Refused and timed-out connections are logged as one summary line per "
        "this period, with counts.",
    )


class WebSettings(BaseSettings):
    """The HTTP gateway and the web page (VRS_WEB_*)."""

    model_config = _section("VRS_WEB_")

    host: str = Field(
        "127.0.0.1",
        description="Address the HTTP gateway (web page and JSON API) binds to; a non-loopback "
        "one needs VRS_AUTH_TOKENS_FILE and HTTPS (VRS_GRPC_TLS_CERT_FILE and _KEY_FILE, or "
        "VRS_WEB_TLS_OFFLOADED), or VRS_GRPC_INSECURE, like the gRPC server.",
    )
    tls_offloaded: bool = Field(
        False,
        description="TLS ends in front of the gateway (an Ingress or proxy): serve plain HTTP "
        "beyond loopback; otherwise the gateway serves HTTPS itself from the gRPC server's "
        "certificate files (re-read when they change).",
    )
    port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="HTTP port of the gateway; unset: `vrs serve` runs no gateway (`--service "
        "web` uses 8080); 0: any free port.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to call the JSON API from a browser (CORS); "
        "empty: CORS off.",
    )
    max_upload_bytes: int = Field(
        20 * 1024 * 1024,
        gt=0,
        description="Largest request body the gateway reads (an uploaded photo with its form); "
        "above it: HTTP 413 before the body is read.",
    )
    search_address: str | None = Field(
        None,
        description="`--service web`: host:port of the search service (VRS_CLIENT_* TLS and "
        "token apply).",
    )
    embedder_address: str | None = Field(
        None,
        description="`--service web`: host:port of the embedder service (product lookups).",
    )
    timeout_s: float = Field(
        30.0, gt=0, description="`--service web`: deadline of each call to the gRPC services."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value


class Settings(BaseModel):
    """Everything a vrs process can be told; each service reads the sections it needs."""

    model_config = {"frozen": True}

    log: LogSettings = Field(default_factory=LogSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    client: ClientSettings = Field(default_factory=ClientSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    images: ImageSettings = Field(default_factory=ImageSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    obs: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    web: WebSettings = Field(default_factory=WebSettings)
    connections: ConnectionSettings = Field(default_factory=ConnectionSettings)

    @classmethod
    def from_env(cls) -> Settings:
        return cls()
