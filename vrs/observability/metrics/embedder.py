"""What the embedder's model and decode pool are doing."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from vrs.observability.metrics.values import count

# Seconds a stage takes; a forward pass on CPU may take seconds.
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class EmbedderMetrics:
    """Queues, batches, stage times and totals of one embedder (the model's owner)."""

    def __init__(self) -> None:
        self.queue_depth = Gauge(
            "vrs_embedder_queue_depth", "Decoded images waiting for a forward pass.", registry=None
        )
        self.decode_queue_depth = Gauge(
            "vrs_embedder_decode_queue_depth",
            "Images being decoded or waiting for a decode thread.",
            registry=None,
        )
        self.queue_wait = Histogram(
            "vrs_embedder_queue_wait_seconds",
            "Time a decoded image waited for its forward pass to start.",
            buckets=STAGE_BUCKETS,
            registry=None,
        )
        self.batch_size = Histogram(
            "vrs_embedder_batch_size",
            "Images per forward pass.",
            buckets=BATCH_BUCKETS,
            registry=None,
        )
        self.decode = Histogram(
            "vrs_embedder_decode_seconds",
            "Time to decode and resize one image (in its decode thread).",
            buckets=STAGE_BUCKETS,
            registry=None,
        )
        self.forward = Histogram(
            "vrs_embedder_forward_seconds",
            "Time of one forward pass.",
            buckets=STAGE_BUCKETS,
            registry=None,
        )
        self.images_embedded = Counter(
            "vrs_embedder_images_embedded_total",
            "Images embedded by forward passes (warm-up excluded).",
            registry=None,
        )
        self.forward_passes = Counter(
            "vrs_embedder_forward_passes_total",
            "Forward passes run on real images (warm-up excluded).",
            registry=None,
        )
        self.photos_located = Counter(
            "vrs_embedder_photos_located_total",
            "Query photos whose main item a forward pass looked for (no region given).",
            registry=None,
        )
        self.device = Gauge(
            "vrs_embedder_device_info",
            "The device and model this embedder runs (value 1).",
            ("device", "model_id"),
            registry=None,
        )

    def forward_pass(self, images: int, seconds: float, *, located: bool = False) -> None:
        """A pass over `images`: vectors made, or (`located`) query photos searched for their
        main item."""
        self.forward_passes.inc()
        (self.photos_located if located else self.images_embedded).inc(images)
        self.batch_size.observe(images)
        self.forward.observe(seconds)

    def totals(self) -> tuple[int, int]:
        """(forward passes, images embedded): what `GetStats` reports."""
        return (
            count(self.forward_passes, "vrs_embedder_forward_passes_total"),
            count(self.images_embedded, "vrs_embedder_images_embedded_total"),
        )

    def collectors(self) -> list[Collector]:
        return [
            self.queue_depth,
            self.decode_queue_depth,
            self.queue_wait,
            self.batch_size,
            self.decode,
            self.forward,
            self.images_embedded,
            self.forward_passes,
            self.photos_located,
            self.device,
        ]
