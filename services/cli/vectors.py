"""`vrs import-vectors`: vectors computed elsewhere into the index, without re-embedding."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.npyio import NpzFile

from services.cli.catalog_files import read_catalog
from services.cli.client import CliError, VrsClient
from vrs.catalog.ids import normalize_product_id
from vrs.catalog.products import Product
from vrs.errors import InvalidProduct, ModelMismatch
from vrs.modelinfo.dimensions import check_dimension
from vrs.rpc.convert import product_to_proto
from vrs.v1 import common_pb2, embedder_pb2


@dataclass(frozen=True)
class VectorRecord:
    """One vector of an import file, with its product id and category."""

    product_id: str
    vector: np.ndarray
    category: str = ""


def read_vectors(path: Path) -> list[VectorRecord]:
    """.npz with `ids` and `vectors` (optional `categories`); .npy with a sibling
    `<name>.ids.txt` (one id per line); or a folder tree of text files of comma-separated
    floats (file stem = product id, parent folder = category)."""
    if path.is_dir():
        return _text_tree(path)
    if not path.is_file():
        raise CliError(f"no such file or folder: {path}")
    if path.suffix == ".npz":
        ids, vectors, categories = _npz(path)
    elif path.suffix == ".npy":
        _check_format(path, "npy")
        vectors = _array(path, "vectors", lambda: np.load(path, allow_pickle=False))
        ids_file = path.with_suffix(".ids.txt")
        if not ids_file.is_file():
            raise CliError(f"{path}: the ids go in {ids_file.name}, one per line")
        try:
            lines = ids_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{ids_file}: cannot read the ids ({exc})") from exc
        ids = np.array([line.strip() for line in lines if line.strip()], dtype=str)
        categories = None
    else:
        raise CliError(f"{path}: vectors come as .npz, .npy or a folder of text files")
    _check_shapes(path, ids, vectors, categories)
    return [
        VectorRecord(
            _text(path, "ids", pid),
            np.asarray(vec, dtype=np.float32),
            "" if categories is None else _text(path, "categories", categories[i]),
        )
        for i, (pid, vec) in enumerate(zip(ids, vectors, strict=True))
    ]


# What numpy raises on a corrupt, truncated or pickled .npz/.npy (allow_pickle stays False:
# a pickle runs code of the file's author).
_ZIP_MAGIC = b"PK"
_NPY_MAGIC = b"\x93NUMPY"
_NUMPY_READ_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    _check_format(path, "npz")
    archive = _array(path, "the archive", lambda: np.load(path, allow_pickle=False))
    if not isinstance(archive, NpzFile):
        raise CliError(f"{path}: not an .npz archive")
    with archive as data:
        missing = {"ids", "vectors"} - set(data.files)
        if missing:
            raise CliError(f"{path}: needs arrays 'ids' and 'vectors', lacks {sorted(missing)}")
        ids = _array(path, "ids", lambda: data["ids"])
        vectors = _array(path, "vectors", lambda: data["vectors"])
        categories = (
            _array(path, "categories", lambda: data["categories"])
            if "categories" in data.files
            else None
        )
    return ids, vectors, categories


def _check_format(path: Path, expected: str) -> None:
    """Refuses a file that is not what its name says before numpy sees it: numpy takes any
    unknown content for a pickle, and its error would blame Python objects."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc})") from exc
    found = "npz" if head.startswith(_ZIP_MAGIC) else "npy" if head == _NPY_MAGIC else None
    if found != expected:
        actually = f"it is a .{found} file" if found else "neither a zip archive nor a .npy array"
        raise CliError(f"{path}: not a .{expected} file ({actually})")


def _array(path: Path, name: str, load: Callable[[], Any]) -> Any:
    try:
        return load()
    except _NUMPY_READ_ERRORS as exc:
        if "allow_pickle" in str(exc):
            raise CliError(
                f"{path}: {name} holds Python objects (a pickle), which vrs never loads: save "
                "ids and categories as strings and vectors as numbers"
            ) from exc
        raise CliError(f"{path}: cannot read {name} ({type(exc).__name__}: {exc})") from exc


def _check_shapes(
    path: Path, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray | None
) -> None:
    if vectors.dtype.kind not in "fiu":
        raise CliError(f"{path}: 'vectors' holds {vectors.dtype} values, not numbers")
    if ids.dtype.kind not in "USiu":
        raise CliError(f"{path}: 'ids' holds {ids.dtype} values, not strings or integers")
    if categories is not None and categories.dtype.kind not in "US":
        raise CliError(f"{path}: 'categories' holds {categories.dtype} values, not strings")
    if ids.ndim != 1:
        raise CliError(f"{path}: 'ids' must be one-dimensional, has shape {ids.shape}")
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise CliError(f"{path}: {len(ids)} ids for vectors of shape {vectors.shape}")
    if categories is not None and categories.shape != ids.shape:
        raise CliError(f"{path}: {len(ids)} ids but categories of shape {categories.shape}")


def _text(path: Path, name: str, value: object) -> str:
    """An id or category as text; bytes arrays (dtype S) must be UTF-8."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CliError(f"{path}: {name} holds bytes that are not UTF-8 ({exc})") from exc
    return str(value)


def _text_tree(root: Path) -> list[VectorRecord]:
    records = []
    for file in sorted(root.rglob("*.txt")):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{file}: cannot read ({exc})") from exc
        try:
            values = [float(v) for v in text.replace("\n", ",").split(",") if v.strip()]
        except ValueError as exc:
            raise CliError(f"{file}: not comma-separated numbers ({exc})") from exc
        category = file.parent.name if file.parent != root else ""
        records.append(VectorRecord(file.stem, np.asarray(values, dtype=np.float32), category))
    if not records:
        raise CliError(f"no .txt vector files under {root}")
    return records


def import_vectors(
    client: VrsClient,
    path: Path,
    model_id: str,
    batch_size: int = 256,
    catalog: Path | None = None,
) -> int:
    """Vectors of `model_id` into its collection: the server's own, or one of its own (made
    when missing) for any other model. Attributes come from `catalog` when given, joined by
    product id; those an item leaves empty keep their stored values on the server."""
    records, bad_ids = _with_normalized_ids(read_vectors(path))
    model_id = model_id.strip()
    if not model_id:
        raise CliError("--model-id is empty: name the model the vectors come from")
    attributes = _catalog_attributes(catalog) if catalog is not None else {}
    index = client.embedder_stats().index
    # The server's collection has a known dimension; another model's is set by its first
    # import, so the file must at least agree with itself.
    dimension = index.dimension if model_id == index.model_id else _file_dimension(records)
    where = (
        f"the collection holds {dimension}-d vectors of model {model_id!r}"
        if model_id == index.model_id
        else f"the file's vectors are {dimension}-d"
    )
    if model_id != index.model_id:
        try:
            check_dimension(model_id, dimension, "the file's vectors")
        except ModelMismatch as exc:
            raise CliError(str(exc)) from exc
    for record in records:
        if record.vector.shape != (dimension,):
            raise CliError(
                f"vector of {record.product_id!r} has dimension {record.vector.shape[0]}, {where}"
            )

    def product(record: VectorRecord) -> common_pb2.ProductAttributes:
        joined = attributes.get(record.product_id)
        if joined is None:
            return common_pb2.ProductAttributes(
                product_id=record.product_id, category=record.category
            )
        if record.category and not joined.category:
            joined.category = record.category
        return joined

    # A product id repeated: the vectors of that product's photos, in the file's order.
    products: dict[str, list[VectorRecord]] = {}
    for record in records:
        products.setdefault(record.product_id, []).append(record)
    grouped = list(products.values())

    def item(photos: list[VectorRecord]) -> embedder_pb2.ProductUpsert:
        vectors = [
            common_pb2.Embedding(values=r.vector.tolist(), model_id=model_id) for r in photos
        ]
        if len(vectors) == 1:
            return embedder_pb2.ProductUpsert(product=product(photos[0]), vector=vectors[0])
        return embedder_pb2.ProductUpsert(product=product(photos[0]), vectors=vectors)

    def batches() -> Iterator[embedder_pb2.UpsertProductsRequest]:
        for start in range(0, len(grouped), batch_size):
            yield embedder_pb2.UpsertProductsRequest(
                items=[item(photos) for photos in grouped[start : start + batch_size]]
            )

    summary = client.stream(client.embedder.StreamUpsertProducts, batches())
    print(
        f"imported {summary.upserted + summary.updated}, unchanged {summary.unchanged}, "
        f"failed {summary.failed + len(bad_ids)}"
    )
    if len(grouped) < len(records):
        print(f"{len(records)} vectors of {len(grouped)} products (several photos each)")
    if catalog is not None:
        joined = sum(1 for pid in products if pid in attributes)
        print(f"attributes from {catalog.name}: {joined} of {len(products)} products")
    for reason in bad_ids:
        print(f"  failed: {reason}")
    for failure in summary.failures:
        print(f"  failed {failure.product_id or '(no id)'}: {failure.error.message}")
    return 1 if summary.failed or bad_ids else 0


def _file_dimension(records: list[VectorRecord]) -> int:
    if not records:
        raise CliError("no vectors to import")
    first = records[0].vector
    if first.ndim != 1 or first.shape[0] == 0:
        raise CliError(f"vector of {records[0].product_id!r} is empty or not one-dimensional")
    return int(first.shape[0])


def _catalog_attributes(catalog: Path) -> dict[str, common_pb2.ProductAttributes]:
    """The catalog's attributes by normalised product id; rows with a bad id are skipped
    (their vectors, if any, still go in, without attributes)."""
    attributes: dict[str, common_pb2.ProductAttributes] = {}
    for entry in read_catalog(catalog):
        try:
            product_id = normalize_product_id(entry.product_id)
        except InvalidProduct:
            continue
        attributes[product_id] = product_to_proto(
            Product(
                product_id=product_id,
                title=entry.title,
                category=entry.category,
                brand=entry.brand,
                price=entry.price,
                currency=entry.currency,
                image_uri=entry.image.resolve().as_uri(),
                group_id=entry.group_id,
            )
        )
    return attributes


def _with_normalized_ids(records: list[VectorRecord]) -> tuple[list[VectorRecord], list[str]]:
    """Records with the ids the server will use, and why the others were left out: a bad id
    (one the server would refuse, or not even encodable) fails its own record only."""
    kept: list[VectorRecord] = []
    refused: list[str] = []
    for record in records:
        try:
            kept.append(replace(record, product_id=normalize_product_id(record.product_id)))
        except InvalidProduct as exc:
            refused.append(str(exc))
    return kept, refused
