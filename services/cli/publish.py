"""`vrs publish`: catalog events onto the Redis stream the embedders consume."""

from __future__ import annotations

from pathlib import Path

import redis

from services.cli.catalog_files import read_catalog
from services.cli.client import CliError
from vrs.catalog.products import Product, ProductPatch
from vrs.errors import VrsError
from vrs.events.publish import delete_event, publish, update_event, upsert_event
from vrs.images.source import ImageInput
from vrs.redis_access.check import as_domain_error
from vrs.redis_access.connection import redis_connection
from vrs.security.redact import redact_text, redact_uri
from vrs.settings import RedisSettings
from vrs.v1 import events_pb2

# A publish blocks the shell, not a request path: generous, but never forever.
_TIMEOUT_S = 10.0


def publish_events(
    redis_url: str,
    stream: str,
    *,
    catalog: Path | None = None,
    image_uris: bool = False,
    update: ProductPatch | None = None,
    deletes: tuple[str, ...] = (),
    settings: RedisSettings,
) -> int:
    """Publish the events to redis_url, connecting as the services do (settings: username,
    password, TLS files and the plaintext rule of VRS_REDIS_*; theirs win over the URL's)."""
    events: list[events_pb2.CatalogEvent] = []
    try:
        if catalog is not None:
            for entry in read_catalog(catalog):
                product = Product(
                    product_id=entry.product_id,
                    title=entry.title,
                    category=entry.category,
                    brand=entry.brand,
                    price=entry.price,
                    currency=entry.currency,
                    image_uri=entry.image.as_uri(),
                    group_id=entry.group_id,
                )
                images = [
                    ImageInput(uri=path.as_uri()) if image_uris else ImageInput(data=_read(path))
                    for path in entry.images
                ]
                shown = [path.as_uri() for path in entry.images] if len(images) > 1 else []
                one = images[0] if len(images) == 1 else images
                events.append(upsert_event(product, one, image_uris=shown))
        if update is not None:
            events.append(update_event(update))
        events += [delete_event(pid) for pid in deletes]
    except VrsError as exc:
        raise CliError(str(exc)) from exc
    if not events:
        raise CliError("nothing to publish: give a catalog, --update ID or --delete ID")
    where = redact_uri(redis_url)
    try:
        url, connection = redis_connection(redis_url, settings)
        client = redis.Redis.from_url(
            url, **connection, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
        )
    except ValueError as exc:  # redis-py's word for a URL it cannot parse
        raise CliError(f"cannot publish to {where}: {redact_text(str(exc))}") from exc
    try:
        for n, event in enumerate(events, 1):
            try:
                publish(client, stream, event)
            except VrsError as exc:
                raise CliError(f"event {n} ({event.product_id}): {exc}") from exc
    except (redis.RedisError, OSError) as exc:
        raise CliError(f"cannot publish: {as_domain_error(exc, where)}") from exc
    finally:
        client.close()
    print(f"published {len(events)} event(s) to {stream}")
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read image {path}: {exc.strerror or exc}") from exc
