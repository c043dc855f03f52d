"""The `vrs` CLI as a user runs it: subprocesses against a real `vrs serve`."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from services.cli.contact_sheet import layout, tile_box
from tests.support.images import product_jpeg
from tests.support.redis_server import free_port

pytestmark = pytest.mark.slow
CATEGORIES = ["shirt", "shoes", "bag", "hat"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("vrs-serve")
    port = free_port()
    env = {
        **os.environ,
        "VRS_MODEL_BACKBONE": "efficientnet_lite0",
        "VRS_GRPC_HOST": "127.0.0.1",
        "VRS_GRPC_PORT": str(port),
        "VRS_QDRANT_DATA_DIR": str(workdir / "qdrant"),
        "VRS_QDRANT_INDEXING_THRESHOLD_KB": "10",
    }
    log = (workdir / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = f"127.0.0.1:{port}"
    # The first start of a model on a CPU without bf16 judges its int8 (a minute or two).
    deadline = time.monotonic() + 280
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                break
            except grpc.RpcError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "serve.log").read_text()) from None
                time.sleep(0.3)
    yield address
    process.terminate()
    assert process.wait(30) == 0, "vrs serve shuts down cleanly on SIGTERM"
    log.close()


@pytest.fixture(scope="module")
def folder_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("folder-catalog")
    for c, category in enumerate(CATEGORIES):
        (root / category).mkdir()
        for i in range(5):
            image = product_jpeg(category, 10 * c + i)
            (root / category / f"{category}-{i}.jpg").write_bytes(image)
    (root / "shirt" / "corrupt-1.jpg").write_bytes(b"\xff\xd8\xff this is not a jpeg")
    return root


def vrs(address: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", "--address", address, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def table_rows(out: str) -> list[list[str]]:
    """The result table's rows (after the header), cells split on the column gaps."""
    lines = out.splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:] if re.match(r"^\d+\s", line)]


def stat(address: str, name: str) -> str:
    out = vrs(address, "stats").stdout
    match = re.search(rf"^{name}\s+(.+)$", out, re.MULTILINE)
    assert match, out
    return match.group(1)


def test_index_folder_reports_the_corrupt_image_and_indexes_the_rest(
    server: str, folder_catalog: Path
) -> None:
    result = vrs(server, "index", folder_catalog)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "indexed 20 (new or changed), unchanged 0, failed 1" in result.stdout
    assert re.search(r"failed corrupt-1: .*(not an image|corrupt)", result.stdout)
    assert "img/s" in result.stderr or "it/s" in result.stderr, "progress bar with a rate"
    assert stat(server, "points") == "20"


def test_reindex_skips_unchanged_without_the_model(server: str, folder_catalog: Path) -> None:
    before = stat(server, "images embedded")
    (folder_catalog / "shirt" / "corrupt-1.jpg").unlink()
    result = vrs(server, "index", folder_catalog)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "indexed 0 (new or changed), unchanged 20, failed 0" in result.stdout
    assert stat(server, "images embedded") == before


def test_index_csv_then_similar_within_budget(server: str, tmp_path: Path) -> None:
    rows = []
    for i in range(12):
        category = CATEGORIES[i % 4]
        path = tmp_path / f"c{i}.jpg"
        path.write_bytes(product_jpeg(category, 500 + i))
        rows.append(
            {
                "product_id": f"csv-{i}",
                "title": f"CSV {i}",
                "category": category,
                "brand": "Contoso",
                "price": str(10 + 5 * i),
                "currency": "EUR",
                "image": path.name,
            }
        )
    catalog = tmp_path / "catalog.csv"
    with catalog.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert vrs(server, "index", catalog).returncode == 0

    sheet = tmp_path / "sheet.png"
    result = vrs(
        server,
        "similar",
        tmp_path / "c1.jpg",
        "-k",
        "4",
        "--max-price",
        "50",
        "--brand",
        "Contoso",
        "--out",
        sheet,
    )
    assert result.returncode == 0, result.stderr
    results = table_rows(result.stdout)
    assert [int(cols[0]) for cols in results] == [1, 2, 3, 4]
    assert results[0][1] == "csv-1"
    assert all(float(cols[3].split()[0]) <= 50 for cols in results)
    assert f"contact sheet: {sheet}" in result.stdout

    image = Image.open(sheet)
    assert image.format == "PNG"
    columns, _ = layout(5)
    expected_width = tile_box(columns - 1, columns)[2] + 10
    assert image.size[0] == expected_width
    for i in range(5):
        tile = image.crop(tile_box(i, columns)).convert("L")
        assert np.asarray(tile).std() > 5, f"tile {i} shows a picture"

    by_category = vrs(server, "similar", tmp_path / "c1.jpg", "--category", "shoes", "-k", "3")
    assert [cols[4] for cols in table_rows(by_category.stdout)] == ["shoes"] * 3


def test_similar_on_a_region_names_the_region_it_searched(
    server: str, folder_catalog: Path, tmp_path: Path
) -> None:
    assert vrs(server, "index", folder_catalog).returncode in (0, 1)  # one corrupt photo
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(product_jpeg("shirt", 77))
    boxed = vrs(server, "similar", photo, "-k", "3", "--region", "0.25,0,0.5,1")
    assert boxed.returncode == 0, boxed.stderr
    assert "searched on the given region x=0.250 y=0.000 width=0.500 height=1.000" in boxed.stdout
    found = vrs(server, "similar", photo, "-k", "3")
    assert found.returncode == 0, found.stderr
    assert re.search(r"searched on the (found|whole) region", found.stdout)
    bad = vrs(server, "similar", photo, "--region", "0.8,0,0.5,1")
    assert bad.returncode != 0 and "ends outside the photo" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_similar_by_product_excludes_it(server: str, folder_catalog: Path) -> None:
    result = vrs(server, "similar", "--product", "shoes-1", "-k", "5")
    assert result.returncode == 0, result.stderr
    ids = [cols[1] for cols in table_rows(result.stdout)]
    assert len(ids) == 5
    assert "shoes-1" not in ids
    assert sum(i.startswith("shoes-") for i in ids) >= 3


def test_import_vectors_from_text_tree_and_npz(server: str, tmp_path: Path) -> None:
    model_id = stat(server, "model id").split()[0]
    tree = tmp_path / "vectors"
    (tree / "legacy").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        (tree / "legacy" / f"old-{i}.txt").write_text(",".join(map(str, rng.normal(size=1280))))
    result = vrs(server, "import-vectors", tree, "--model-id", model_id)
    assert result.returncode == 0, result.stderr
    assert "imported 3" in result.stdout
    npz = tmp_path / "vectors.npz"
    np.savez(npz, ids=np.array(["npz-1", "npz-2"]), vectors=rng.normal(size=(2, 1280)))
    assert "imported 2" in vrs(server, "import-vectors", npz, "--model-id", model_id).stdout
    near = vrs(server, "similar", "--product", "old-0", "--category", "legacy", "-k", "5")
    assert {cols[1] for cols in table_rows(near.stdout)} == {"old-1", "old-2"}


def test_index_photos_and_variants_then_one_card_per_group(server: str, tmp_path: Path) -> None:
    for name, seed in (("front", 900), ("back", 901), ("red", 902), ("skirt", 903)):
        (tmp_path / f"{name}.jpg").write_bytes(product_jpeg("shirt", seed))
    catalog = tmp_path / "variants.csv"
    catalog.write_text(
        "product_id,image,group_id,price,category\n"
        "var-dress-blue,front.jpg|back.jpg,var-dress,30,variants\n"
        "var-dress-red,red.jpg,var-dress,90,variants\n"
        "var-skirt,skirt.jpg,,20,variants\n"
    )
    indexed = vrs(server, "index", catalog)
    assert indexed.returncode == 0, indexed.stderr
    assert "indexed 3" in indexed.stdout
    cards = vrs(
        server, "similar", tmp_path / "back.jpg", "--category", "variants", "--collapse", "group"
    )
    assert cards.returncode == 0, cards.stderr
    rows = table_rows(cards.stdout)
    assert [cols[1] for cols in rows] == ["var-dress-blue", "var-skirt"]
    assert "also in" in cards.stdout and "var-dress-red" in cards.stdout
    own = vrs(server, "similar", "--product", "var-dress-blue", "--category", "variants")
    assert [cols[1] for cols in table_rows(own.stdout)] == ["var-skirt"]


def test_import_vectors_with_a_repeated_id_makes_one_product_of_them(
    server: str, tmp_path: Path
) -> None:
    model_id = stat(server, "model id").split()[0]
    npz = tmp_path / "photos.npz"
    rng = np.random.default_rng(4)
    ids = np.array(["rep-multi", "rep-multi", "rep-single"])
    np.savez(npz, ids=ids, vectors=rng.normal(size=(3, 1280)), categories=np.array(["rep"] * 3))
    result = vrs(server, "import-vectors", npz, "--model-id", model_id)
    assert result.returncode == 0, result.stderr
    assert "3 vectors of 2 products" in result.stdout and "imported 2" in result.stdout
    near = vrs(server, "similar", "--product", "rep-single", "--category", "rep", "-k", "5")
    assert [cols[1] for cols in table_rows(near.stdout)] == ["rep-multi"]


def test_import_vectors_refuses_wrong_dimension_and_model(server: str, tmp_path: Path) -> None:
    model_id = stat(server, "model id").split()[0]
    npz = tmp_path / "small.npz"
    np.savez(npz, ids=np.array(["x"]), vectors=np.ones((1, 512)))
    wrong_dim = vrs(server, "import-vectors", npz, "--model-id", model_id)
    assert wrong_dim.returncode == 1
    assert "dimension 512" in wrong_dim.stderr and "1280" in wrong_dim.stderr
    assert "Traceback" not in wrong_dim.stderr
    wrong_model = vrs(server, "import-vectors", npz, "--model-id", "inception_v3@0cc3c7bd")
    assert wrong_model.returncode == 1
    assert "inception_v3@0cc3c7bd" in wrong_model.stderr


def test_delete_and_stats(server: str, folder_catalog: Path) -> None:
    before = int(stat(server, "points"))
    result = vrs(server, "delete", "hat-0", "hat-1", "ghost")
    assert result.returncode == 0
    assert "deleted 2; not in the catalog: ghost" in result.stdout
    assert int(stat(server, "points")) == before - 2
    out = vrs(server, "stats").stdout
    for name in ("collection", "model id", "points", "index", "cache"):
        assert re.search(rf"^{name}\s", out, re.MULTILINE), out


def test_errors_are_one_line(server: str, tmp_path: Path) -> None:
    dead = vrs(f"127.0.0.1:{free_port()}", "stats")
    assert dead.returncode == 1
    assert dead.stderr.strip().startswith("vrs stats: cannot reach vrs at")
    assert len(dead.stderr.strip().splitlines()) == 1
    missing = vrs(server, "similar", tmp_path / "nope.jpg")
    assert missing.returncode == 1 and "cannot read image" in missing.stderr
    bad_k = vrs(server, "similar", "--product", "shoes-2", "-k", "0")
    assert bad_k.returncode == 1 and "k must be between 1 and 100" in bad_k.stderr
    for result in (dead, missing, bad_k):
        assert "Traceback" not in result.stderr


def test_similar_lists_products_a_little_over_budget_apart_and_cheaper_ones(
    server: str, tmp_path: Path
) -> None:
    lines = ["product_id,image,price,currency,category"]
    for i, price in enumerate((10, 20, 30, 44, 48, 90)):
        (tmp_path / f"b{i}.jpg").write_bytes(product_jpeg("shoes", 950 + i))
        lines.append(f"budget-{i},b{i}.jpg,{price},EUR,budget")
    catalog = tmp_path / "budget.csv"
    catalog.write_text("\n".join(lines) + "\n")
    assert vrs(server, "index", catalog).returncode == 0
    photo = tmp_path / "b0.jpg"
    args = ("similar", photo, "--category", "budget", "-k", "5", "--max-price", "40")
    shown = vrs(server, *args, "--currency", "EUR")
    assert shown.returncode == 0, shown.stderr
    within, _, over = shown.stdout.partition("a little over your budget")
    assert {cols[1] for cols in table_rows(within)} == {"budget-0", "budget-1", "budget-2"}
    assert "over by" in over
    assert {cols[1]: cols[-1] for cols in table_rows(over)} == {
        "budget-3": "4.00",
        "budget-4": "8.00",
    }
    off = vrs(server, *args, "--no-over-budget")
    assert "a little over your budget" not in off.stdout
    cheaper = vrs(server, "similar", "--product", "budget-4", "--category", "budget", "--cheaper")
    assert cheaper.returncode == 0, cheaper.stderr
    assert {cols[1] for cols in table_rows(cheaper.stdout)} == {f"budget-{i}" for i in range(4)}
    refused = vrs(server, "similar", photo, "--cheaper")
    assert refused.returncode != 0 and "--cheaper compares with a product" in refused.stderr
