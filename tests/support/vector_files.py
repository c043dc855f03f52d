"""Vector files `vrs import-vectors` must refuse cleanly: wrong types, pickles, corruption."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

IDS = np.array(["p1", "p2"])
VECTORS = np.ones((2, 4), dtype=np.float32)


def _npz(path: Path, **arrays: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def string_vectors(path: Path) -> None:
    _npz(path, ids=IDS, vectors=np.array([["0.1", "x"], ["y", "z"]]))


def object_vectors(path: Path) -> None:
    """Saved as a pickle: loading it would run code of the file's author."""
    _npz(path, ids=IDS, vectors=np.array([[1.0], "x"], dtype=object))


def object_ids(path: Path) -> None:
    _npz(path, ids=np.array([{"id": 1}, None], dtype=object), vectors=VECTORS)


def float_ids(path: Path) -> None:
    _npz(path, ids=np.array([1.5, 2.5]), vectors=VECTORS)


def missing_vectors(path: Path) -> None:
    _npz(path, ids=IDS)


def not_a_zip(path: Path) -> None:
    path.write_bytes(b"these are not the vectors you are looking for")


def truncated(path: Path) -> None:
    _npz(path, ids=IDS, vectors=VECTORS)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def npy_named_npz(path: Path) -> None:
    with path.open("wb") as handle:
        np.save(handle, VECTORS)


def non_utf8_ids(path: Path) -> None:
    _npz(path, ids=np.array([b"p1", b"\xff\xfe"]), vectors=VECTORS)


def mismatched_lengths(path: Path) -> None:
    _npz(path, ids=np.array(["p1", "p2", "p3"]), vectors=VECTORS)


def pickled_npy(path: Path) -> None:
    """An object array in .npy form (a pickle), with its sibling ids file."""
    with path.open("wb") as handle:
        np.save(handle, np.array([[1.0], "x"], dtype=object), allow_pickle=True)
    path.with_suffix(".ids.txt").write_text("p1\np2\n")


BAD_NPZ: dict[str, Callable[[Path], None]] = {
    f.__name__: f
    for f in (
        string_vectors,
        object_vectors,
        object_ids,
        float_ids,
        missing_vectors,
        not_a_zip,
        truncated,
        npy_named_npz,
        non_utf8_ids,
        mismatched_lengths,
    )
}
