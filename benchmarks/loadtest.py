"""`make loadtest`: a bounded load on a vrs server on this machine.

    make loadtest      (or: python -m benchmarks.loadtest [--address 127.0.0.1:50051] ...)

Without --address it starts `vrs serve` itself (efficientnet_lite0, a throwaway Redis for the
cache when redis-server is installed) on a free loopback port. It indexes a sample catalog
(the photos of ../shared/catalog/seed-products when present, read in place, else one drawn on
the fly), then at each concurrency level sends at most --requests calls for at most
--time-limit seconds: cached and uncached SearchByProduct and SearchByImage, and upserts, and
prints throughput, p50/p95/p99 and errors per RPC, and the server's RSS before and after.
Loopback targets only. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.load_mix import LevelResult, LoadClient, Workload, run_level
from benchmarks.load_report import level_table, rss_mib
from benchmarks.load_server import own_server
from benchmarks.machine import SEED_CATALOG, cpu_model
from services.cli.catalog_files import read_catalog
from services.cli.client import VrsClient
from services.cli.index import index_catalog
from vrs.catalog.sample import generate
from vrs.rpc.client import open_channel, target_host
from vrs.security.bind_policy import is_loopback
from vrs.settings import ClientSettings

SEED_CATALOG_CSV = SEED_CATALOG / "catalog.csv"


class NotLoopback(ValueError):
    """A load test target another machine could be behind."""


def require_loopback(address: str) -> None:
    """Refuses any target whose hosts are not loopback (checked on the string: no lookup)."""
    scheme, sep, rest = address.partition(":")
    hosts = [address]
    if sep and scheme in ("ipv4", "ipv6"):
        hosts = [f"{scheme}:{part}" for part in rest.split(",")]
    for host in hosts:
        if address.startswith(("unix:", "unix-abstract:")) or not is_loopback(target_host(host)):
            raise NotLoopback(f"refusing to load {address}: only loopback addresses are allowed")


def catalog_csv(workdir: Path) -> Path:
    """The seed photos where they are, else a catalog drawn into workdir."""
    if SEED_CATALOG_CSV.is_file():
        return SEED_CATALOG_CSV
    return generate(workdir / "drawn-catalog")


def index(address: str, catalog: Path) -> None:
    client = VrsClient(address, ClientSettings(), timeout_s=300)
    try:
        if index_catalog(client, catalog):
            print("some products failed to index (see above); the load runs on the others")
    finally:
        client.close()


async def run_load(
    search_address: str,
    embedder_address: str,
    workload: Workload,
    concurrency: Sequence[int],
    requests: int,
    time_limit_s: float,
) -> list[LevelResult]:
    """Each concurrency level in turn; the products the upserts added are deleted after."""
    settings = ClientSettings()
    search = open_channel(search_address, settings, aio=True)
    embedder = (
        search
        if embedder_address == search_address
        else open_channel(embedder_address, settings, aio=True)
    )
    client = LoadClient(search, embedder)
    try:
        results = []
        for seed, level in enumerate(concurrency):
            results.append(await run_level(client, workload, level, requests, time_limit_s, seed))
        return results
    finally:
        try:
            await client.delete_created(workload)
        finally:
            await search.close(None)
            if embedder is not search:
                await embedder.close(None)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtest", description=__doc__)
    parser.add_argument("--address", help="search service (loopback); unset: start vrs serve")
    parser.add_argument("--embedder-address", help="embedder, when split (default: --address)")
    parser.add_argument("--server-pid", type=int, help="pid of the server, for its RSS")
    parser.add_argument("--catalog", type=Path, help="catalog to index (.csv, .jsonl, folder)")
    parser.add_argument("--requests", type=int, default=300, help="calls per level at most")
    parser.add_argument("--time-limit", type=float, default=40.0, help="seconds per level")
    parser.add_argument("--concurrency", default="1,4,16", help="levels, comma-separated")
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.concurrency.split(",")]
    if not 1 <= args.requests <= 100_000 or not 0 < args.time_limit <= 600:
        parser.error("--requests must be 1..100000 and --time-limit 0..600 s")
    if not all(1 <= c <= 256 for c in args.levels):
        parser.error("each --concurrency level must be 1..256")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        for address in (args.address, args.embedder_address):
            if address is not None:
                require_loopback(address)
    except NotLoopback as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
    print(f"cpu: {cpu_model()}")
    with tempfile.TemporaryDirectory(prefix="vrs-loadtest-") as folder:
        workdir = Path(folder)
        if args.address is not None:
            measure(
                args, workdir, args.address, args.embedder_address or args.address, args.server_pid
            )
            return 0
        with own_server(workdir) as server:
            print(f"vrs serve on {server.address} (pid {server.pid}), cache on: {server.cache}")
            measure(args, workdir, server.address, server.address, server.pid)
    return 0


def measure(
    args: argparse.Namespace, workdir: Path, search: str, embedder: str, pid: int | None
) -> None:
    catalog = args.catalog or catalog_csv(workdir)
    print(f"catalog: {catalog}")
    index(embedder, catalog)
    workload = Workload.from_catalog(read_catalog(catalog))
    before = rss_mib(pid)
    results = asyncio.run(
        run_load(search, embedder, workload, args.levels, args.requests, args.time_limit)
    )
    for result in results:
        print()
        print(level_table(result))
    print(f"\nserver RSS: {before} before the load, {rss_mib(pid)} after")


if __name__ == "__main__":
    sys.exit(main())
