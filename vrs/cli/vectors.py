"""`vrs import-vectors`: vectors computed elsewhere into the index, without re-embedding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vrs.cli.client import CliError, VrsClient
from vrs.v1 import common_pb2, embedder_pb2


@dataclass(frozen=True)
class VectorRecord:
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
        with np.load(path, allow_pickle=False) as data:
            missing = {"ids", "vectors"} - set(data.files)
            if missing:
                raise CliError(f"{path}: needs arrays 'ids' and 'vectors', lacks {sorted(missing)}")
            ids, vectors = data["ids"], data["vectors"]
            categories = data["categories"] if "categories" in data.files else None
    elif path.suffix == ".npy":
        vectors = np.load(path, allow_pickle=False)
        ids_file = path.with_suffix(".ids.txt")
        if not ids_file.is_file():
            raise CliError(f"{path}: the ids go in {ids_file.name}, one per line")
        ids = np.array([line.strip() for line in ids_file.read_text().splitlines() if line.strip()])
        categories = None
    else:
        raise CliError(f"{path}: vectors come as .npz, .npy or a folder of text files")
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise CliError(f"{path}: {len(ids)} ids for vectors of shape {vectors.shape}")
    return [
        VectorRecord(
            str(pid),
            np.asarray(vec, dtype=np.float32),
            "" if categories is None else str(categories[i]),
        )
        for i, (pid, vec) in enumerate(zip(ids, vectors, strict=True))
    ]


def _text_tree(root: Path) -> list[VectorRecord]:
    records = []
    for file in sorted(root.rglob("*.txt")):
        try:
            values = [float(v) for v in file.read_text().replace("\n", ",").split(",") if v.strip()]
        except ValueError as exc:
            raise CliError(f"{file}: not comma-separated numbers ({exc})") from exc
        category = file.parent.name if file.parent != root else ""
        records.append(VectorRecord(file.stem, np.asarray(values, dtype=np.float32), category))
    if not records:
        raise CliError(f"no .txt vector files under {root}")
    return records


def import_vectors(client: VrsClient, path: Path, model_id: str, batch_size: int = 256) -> int:
    records = read_vectors(path)
    index = client.embedder_stats().index
    if model_id != index.model_id:
        raise CliError(
            f"the vectors belong to model {model_id!r}; the collection {index.collection!r} "
            f"holds model {index.model_id!r}"
        )
    for record in records:
        if record.vector.shape != (index.dimension,):
            raise CliError(
                f"vector of {record.product_id!r} has dimension {record.vector.shape[0]}, the "
                f"collection holds {index.dimension}-d vectors of model {index.model_id!r}"
            )

    def batches() -> Iterator[embedder_pb2.UpsertProductsRequest]:
        for start in range(0, len(records), batch_size):
            yield embedder_pb2.UpsertProductsRequest(
                items=[
                    embedder_pb2.ProductUpsert(
                        product=common_pb2.ProductAttributes(
                            product_id=r.product_id, category=r.category
                        ),
                        vector=common_pb2.Embedding(values=r.vector.tolist(), model_id=model_id),
                    )
                    for r in records[start : start + batch_size]
                ]
            )

    summary = client.stream(client.embedder.StreamUpsertProducts, batches())
    print(
        f"imported {summary.upserted + summary.updated}, unchanged {summary.unchanged}, "
        f"failed {summary.failed}"
    )
    for failure in summary.failures:
        print(f"  failed {failure.product_id or '(no id)'}: {failure.error.message}")
    return 1 if summary.failed else 0
