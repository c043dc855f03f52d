"""Phase redis-freeze: Redis stopped dead (SIGSTOP) for ~8 s while the events consumer applies
200 price updates, then resumed (SIGCONT). Expected: no dead letter, every product's final
price its last update's; measured: how long the backlog took to drain once Redis was back,
and that drain's rate beside the consumer's normal rate, measured on 200 updates before."""

from __future__ import annotations

import random
import time

import grpc
import redis

from benchmarks.drill_catalog import CALL_TIMEOUT_S, DrillContext, drawn_catalog, seed, stored
from benchmarks.drill_events import DEAD, STREAM, backlog, events_env, settled, wait_until
from benchmarks.drill_procs import VrsProcess, redis_server, running
from benchmarks.drill_report import PhaseResult
from vrs.catalog.products import ProductPatch
from vrs.events.publish import publish, update_event
from vrs.v1 import embedder_pb2, embedder_pb2_grpc

NAME = "redis-freeze"
FAULT = "Redis frozen 8 s under 200 price updates"
PRODUCTS = 20
UPDATES = 200
FREEZE_S = 8.0
DRAIN_LIMIT_S = 90.0
START_LIMIT_S = 30.0
DRAIN_MARKS = (0.5, 0.9, 1.0)


def publish_updates(
    client: redis.Redis,
    product_ids: list[str],
    count: int,
    rng: random.Random,
    last: dict[str, float],
) -> None:
    """count price updates, round-robin over the products, sent in one round trip (so the
    consumer's rate is measured, not the publisher's); `last` keeps each product's last."""
    with client.pipeline(transaction=False) as pipe:
        for n in range(count):
            product_id = product_ids[n % len(product_ids)]
            price = round(rng.uniform(5, 500), 2)
            publish(pipe, STREAM, update_event(ProductPatch(product_id, price=price)))
            last[product_id] = price
        pipe.execute()


def drain_curve(client: redis.Redis, left: int, since: float) -> dict[float, float]:
    """Seconds from `since` until half, 90% and all of `left` events were drained (a fraction
    missing: not within DRAIN_LIMIT_S)."""
    curve: dict[float, float] = {}
    deadline = since + DRAIN_LIMIT_S
    while time.monotonic() < deadline and 1.0 not in curve:
        try:
            state = backlog(client)
        except (redis.RedisError, OSError):
            state = None
        if state is not None:
            done = left - state.left
            for fraction in DRAIN_MARKS:
                if fraction not in curve and (done >= fraction * left or state.settled):
                    curve[fraction] = time.monotonic() - since
        time.sleep(0.02)
    return curve


def rate(events: float, seconds: float) -> str:
    return f"{events / seconds:.0f} events/s" if seconds > 0 else "-"


def _consumer_counts(address: str) -> str:
    with grpc.insecure_channel(address) as channel:
        stats = embedder_pb2_grpc.EmbedderServiceStub(channel).GetStats(
            embedder_pb2.GetEmbedderStatsRequest(), timeout=CALL_TIMEOUT_S
        )
    events = stats.events
    return (
        f"consumer: {events.processed} processed, {events.retried} retried, "
        f"{events.dead_lettered} dead-lettered, group re-created {events.group_recreated}x"
    )


def run(ctx: DrillContext) -> PhaseResult:
    result = PhaseResult(NAME, FAULT)
    folder = ctx.phase_dir(NAME)
    products = drawn_catalog(PRODUCTS, "fz-")
    ids = [p.attributes.product_id for p in products]
    rng = random.Random(17)
    last: dict[str, float] = {}
    with redis_server(folder, ctx.host) as server:
        serve = VrsProcess(
            "vrs-serve",
            folder,
            ctx.vrs_env(**events_env(server.url, VRS_QDRANT_DATA_DIR=str(folder / "qdrant"))),
        )
        with running(serve):
            seed(serve.address, products)
            client = server.client(timeout_s=30)
            try:
                if wait_until(lambda: backlog(client) is not None, START_LIMIT_S) is None:
                    result.problems.append("the events consumer never created its group")
                    return result
                # The normal rate: a burst of updates, published to drained.
                started = time.monotonic()
                publish_updates(client, ids, UPDATES, rng, last)
                normal_s = wait_until(lambda: settled(client), DRAIN_LIMIT_S)
                if normal_s is None:
                    result.problems.append(f"{UPDATES} updates not drained in {DRAIN_LIMIT_S} s")
                    return result
                normal_rate = UPDATES / (time.monotonic() - started)
                # The same again, Redis frozen as soon as the consumer has begun on them.
                before = backlog(client)
                read_before = before.read if before is not None else 0
                publish_updates(client, ids, UPDATES, rng, last)
                wait_until(
                    lambda: (state := backlog(client)) is not None and state.read > read_before,
                    2.0,
                    every_s=0.002,
                )
                server.freeze()
                try:
                    time.sleep(FREEZE_S)
                finally:
                    server.thaw()
                thawed = time.monotonic()
                at_thaw = backlog(client)
                left = at_thaw.left if at_thaw is not None else 0
                curve = drain_curve(client, left, thawed)
                dead = int(client.xlen(DEAD))
            finally:
                client.close()
            found = stored(serve.address, ids)
            counts = _consumer_counts(serve.address)
    result.requests = 2 * UPDATES
    if dead:
        result.errors["DEAD_LETTER"] = dead
    result.acked = len(last)
    result.found = sum(
        1 for pid, price in last.items() if pid in found and found[pid].price == price
    )
    result.notes.append(f"normal rate: {UPDATES} updates drained at {normal_rate:.0f} events/s")
    drain_s = curve.get(1.0)
    if drain_s is None:
        result.problems.append(f"the backlog did not drain within {DRAIN_LIMIT_S:.0f} s of SIGCONT")
    else:
        result.notes.append(
            f"frozen {FREEZE_S:.0f} s: {left} events left when Redis came back, all drained "
            f"{drain_s:.1f} s after SIGCONT ({rate(left, drain_s)}); "
            + ", ".join(
                f"{fraction:.0%} after {seconds:.1f} s ({rate(fraction * left, seconds)})"
                for fraction, seconds in sorted(curve.items())
                if fraction < 1.0
            )
        )
    if left == 0:
        result.problems.append("the freeze caught no event in flight")
    reclaimed = serve.log_path.read_text(errors="replace").count("claimed entries of an idle")
    if reclaimed:
        result.notes.append(
            f"entries of a batch cut off by the freeze stayed pending until XAUTOCLAIM took them "
            f"back ({reclaimed}x), VRS_EVENTS_CLAIM_IDLE_MS after their delivery"
        )
    result.notes.append(counts)
    return result
