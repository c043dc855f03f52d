"""Operations commands: health probe, weights prefetch, alias switch for model upgrades."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.cli.client import CliError
from services.cli.connection import unreachable_hint
from vrs.rpc.client import open_channel
from vrs.settings import ClientSettings


def health(
    address: str,
    service: str = "",
    timeout_s: float = 3.0,
    settings: ClientSettings | None = None,
) -> int:
    """Exit 0 when the server reports SERVING (container HEALTHCHECK); over TLS when
    `settings` say so."""
    settings = settings if settings is not None else ClientSettings.model_construct()
    with open_channel(address, settings, aio=False) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError as exc:
            details = exc.details() or ""
            hint = unreachable_hint(details, settings)
            raise CliError(f"{address}: {exc.code().name}: {details}{hint}") from exc
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    print(status)
    return 0 if answer.status == health_pb2.HealthCheckResponse.SERVING else 1


def fetch_weights(backbone: str) -> int:
    """Resolve (and download, where allowed) a backbone's weights: for image builds."""
    from vrs.errors import WeightsUnavailable
    from vrs.modelinfo.stack import model_stack_needed
    from vrs.settings import ModelSettings

    # The model stack is imported here only: the CLI's other commands run without it.
    with model_stack_needed("fetching model weights"):
        from services.embedder.models.backbones import BACKBONES
        from services.embedder.models.weights import find_weights

    try:
        path, source = find_weights(BACKBONES[backbone], ModelSettings.model_validate({}))
    except WeightsUnavailable as exc:
        raise CliError(str(exc)) from exc
    print(f"{backbone}: {path} ({source})")
    return 0


def switch_alias(model_id: str, alias: str | None) -> int:
    """Point the read alias at a model's collection, atomically (zero-downtime upgrade)."""
    from vrs.errors import VrsError
    from vrs.settings import StoreSettings
    from vrs.store.base import collection_name
    from vrs.store.qdrant_server_store import connect, resolve_alias
    from vrs.store.qdrant_server_store import switch_alias as switch

    settings = StoreSettings()
    name = alias or settings.alias
    if not name:
        raise CliError("no alias: give --alias or set VRS_QDRANT_ALIAS")
    try:
        client = connect(settings)
    except VrsError as exc:
        raise CliError(str(exc)) from exc
    try:
        target = collection_name(settings.collection_prefix, model_id)
        if not client.collection_exists(target):
            raise CliError(f"collection {target!r} does not exist: index the new model first")
        before = resolve_alias(client, name)
        switch(client, name, target)
    finally:
        client.close()
    print(f"alias {name}: {before if before != name else '(none)'} -> {target}")
    return 0
