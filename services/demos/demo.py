"""`make demo`: watch vrs find similar products within a budget, on this machine.

Starts `vrs serve` in the background, indexes a sample catalog, asks for products that look
like a shirt the shopper cannot afford, prints the results, writes a contact sheet, and stops
the server.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.cli.calibrate import run_calibration
from services.cli.catalog_files import read_catalog
from services.cli.client import VrsClient
from services.cli.index import index_catalog
from services.cli.similar import SimilarQuery, contact_sheet, find_similar, table
from vrs.catalog.derived import PHOTO_SEPARATOR, derive_catalog
from vrs.catalog.sample import generate
from vrs.evaluation.queryset import QUERIES_FILE, SourcePhoto, make_query_set

# The repository (services/demos/demo.py is two folders down).
ROOT = Path(__file__).resolve().parents[2]
SEED_CATALOG = ROOT.parent / "shared" / "catalog" / "seed-products"
WORKDIR = ROOT / "var" / "demo"
BUDGET = 40.0
# The calibration's shop photos: a seed of their own, not the one docs/quality.md judges on.
CALIBRATION_SEED = 5


def choose_backbone() -> tuple[str, str]:
    """inception_v3 when its ImageNet weights load here, else efficientnet_lite0; and why."""
    from services.embedder.models.backbones import BACKBONES
    from services.embedder.models.weights import find_weights
    from vrs.errors import WeightsUnavailable
    from vrs.settings import ModelSettings

    try:
        _, source = find_weights(BACKBONES["inception_v3"], ModelSettings.model_validate({}))
        return "inception_v3", f"ImageNet weights found ({source})"
    except WeightsUnavailable:
        return (
            "efficientnet_lite0",
            "inception_v3's ImageNet weights cannot be loaded here "
            "(offline, none cached); efficientnet_lite0's ship in a pip package",
        )


def sample_catalog(workdir: Path = WORKDIR) -> tuple[Path, str]:
    """The seed photos (else a catalog drawn on the fly), with a few products given more
    photos and a few made into colour variant groups, all derived from those photos."""
    if (SEED_CATALOG / "catalog.csv").is_file():
        source, where = SEED_CATALOG / "catalog.csv", f"{SEED_CATALOG} (real product photos)"
    else:
        folder = workdir / "drawn-catalog"
        source = generate(folder)
        where = f"{folder} (drawn on the fly: no product photos on this machine)"
    derived = derive_catalog(source, workdir / "derived-catalog")
    return derived.csv, (
        f"{where}; derived: {len(derived.multi_photo)} products with 3 photos, "
        f"{len(derived.groups)} variant groups of 3 colours ({derived.csv})"
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    backbone: str, workdir: Path = WORKDIR, extra_env: Mapping[str, str] | None = None
) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "VRS_MODEL_BACKBONE": backbone,
        "VRS_GRPC_HOST": "127.0.0.1",
        "VRS_GRPC_PORT": str(port),
        "VRS_QDRANT_DATA_DIR": str(workdir / "qdrant"),
        **(extra_env or {}),
    }
    log_path = workdir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    address = f"127.0.0.1:{port}"
    try:
        _wait_until_serving(address, process, log_path)
        print(f"vrs serve is up on {address} (log: {log_path})")
        yield address
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        print("vrs serve stopped")


def _wait_until_serving(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"vrs serve exited:\n{log.read_text()[-2000:]}")
            try:
                answer = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.5)
    raise SystemExit(f"vrs serve did not become ready; see {log}")


def pick_query(catalog_csv: Path) -> tuple[Path, str, float]:
    """A shirt the shopper loves but cannot afford: the priciest one above the budget."""
    with catalog_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    shirts = [r for r in rows if r["category"] == "shirt" and float(r["price"]) > BUDGET]
    loved = max(shirts or rows, key=lambda r: float(r["price"]))
    image = loved["image"].split(PHOTO_SEPARATOR)[0]
    return catalog_csv.parent / image, loved["product_id"], float(loved["price"])


@dataclass(frozen=True)
class IndexedServer:
    """A running `vrs serve` with the sample catalog indexed, and a client to it."""

    client: VrsClient
    address: str
    catalog: Path
    # index_catalog's exit code: 1 when any product failed.
    failed: int


@contextmanager
def indexed_sample_server(
    workdir: Path = WORKDIR, extra_env: Callable[[Path], Mapping[str, str]] | None = None
) -> Iterator[IndexedServer]:
    """Picks the model and the sample catalog, starts `vrs serve` (with extra_env(catalog
    folder) added to its environment) and indexes the catalog; stops the server afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    backbone, why = choose_backbone()
    print(f"model: {backbone}: {why}")
    catalog, where = sample_catalog(workdir)
    print(f"catalog: {where}")
    env = extra_env(catalog.parent) if extra_env else None
    with running_server(backbone, workdir, env) as address:
        client = VrsClient(address, timeout_s=120)
        try:
            failed = index_catalog(client, catalog)
            calibrate_sample(client, catalog, workdir)
            yield IndexedServer(client, address, catalog, failed)
        finally:
            client.close()


def calibrate_sample(client: VrsClient, catalog: Path, workdir: Path) -> None:
    """`vrs calibrate` on shop photos of the catalog's own products, so that every match
    carries a label (close, similar, weak)."""
    photos = [
        SourcePhoto(e.product_id, e.image, e.category, e.more_images, e.group_id)
        for e in read_catalog(catalog)
    ]
    out = workdir / "calibration-queries"
    make_query_set(photos, out, seed=CALIBRATION_SEED, per_product=1)
    print(f"\nvrs calibrate {out / QUERIES_FILE}")
    run_calibration(client, out / QUERIES_FILE)


def main() -> int:
    with indexed_sample_server() as server:
        client, catalog = server.client, server.catalog
        image, product_id, price = pick_query(catalog)
        print(
            f"\nThe shopper loves {product_id} ({price:.2f}) but has {BUDGET:.2f} to spend."
            f"\nvrs similar {image} --max-price {BUDGET:.0f}\n"
        )
        query = SimilarQuery(image=image, k=8, max_price=BUDGET)
        response = find_similar(client, query)
        print(table(response))
        sheet = contact_sheet(client, query, response, WORKDIR / "similar.png")
        print(f"\ncontact sheet: {sheet}")
        print(
            "\nOne card per style, its other colours in budget beside it:"
            f"\nvrs similar {image} --max-price {BUDGET:.0f} --collapse group\n"
        )
        grouped = SimilarQuery(image=image, k=8, max_price=BUDGET, collapse_groups=True)
        print(table(find_similar(client, grouped)))
    return server.failed


if __name__ == "__main__":
    sys.exit(main())
