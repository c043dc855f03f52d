"""Whether an int8 model may serve: judged by what the shopper gets, not by per-photo cosine
alone. Recall@1 and recall@5 of shop photos and of items in scenes stay within half a point of
fp32's, with queries and catalog embedded by int8 alike and mixed (catalog in fp32, queries in
int8, and the reverse: a catalog embedded on another machine), and no photo's vector falls
below cosine 0.98 of its fp32 one (a broken quantisation)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAX_RECALL_DROP = 0.005
MIN_COSINE = 0.98
RECALL_KS = (1, 5)
# (catalog runtime, query runtime) of each situation judged against fp32/fp32.
SITUATIONS = (("int8", "int8"), ("fp32", "int8"), ("int8", "fp32"))


@dataclass(frozen=True)
class GateSet:
    """Catalog photos and two query sets of them (shop photos, items in scenes), each query
    with the index of its catalog photo."""

    catalog: Sequence[Any]
    queries: Mapping[str, Sequence[Any]]
    expected: dict[str, np.ndarray]


@dataclass(frozen=True)
class Verdict:
    """Whether int8 passed the gate, why not when it did not, and the figures measured."""

    passed: bool
    reason: str
    figures: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def read(cls, path: Path) -> Verdict | None:
        """The verdict saved at `path`; None when there is none or it cannot be read."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(bool(data["passed"]), str(data["reason"]), dict(data["figures"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


Embed = Callable[[Sequence[Any]], np.ndarray]


def judge(fp32: Embed, int8: Embed, gate: GateSet) -> Verdict:
    """Embeds the gate set with both runtimes and applies the rules."""
    vectors = {
        name: {"catalog": embed(gate.catalog), **{k: embed(q) for k, q in gate.queries.items()}}
        for name, embed in (("fp32", fp32), ("int8", int8))
    }
    return verdict_of(vectors, gate.expected)


def verdict_of(
    vectors: dict[str, dict[str, np.ndarray]], expected: dict[str, np.ndarray]
) -> Verdict:
    """The rules over both runtimes' vectors (runtime -> "catalog" or a query set -> N x d)."""
    figures: dict[str, float] = {}
    failures: list[str] = []
    cos = np.concatenate(
        [_cosines(vectors["fp32"][part], vectors["int8"][part]) for part in vectors["fp32"]]
    )
    figures["cosine_mean"], figures["cosine_min"] = float(cos.mean()), float(cos.min())
    if cos.min() < MIN_COSINE:
        failures.append(f"a photo's int8 vector is at cosine {cos.min():.3f} of fp32's (< 0.98)")
    for kind, truth in expected.items():
        for k in RECALL_KS:
            base = _recall(vectors["fp32"]["catalog"], vectors["fp32"][kind], truth, k)
            figures[f"{kind}_fp32_r{k}"] = base
            for catalog_runtime, query_runtime in SITUATIONS:
                got = _recall(
                    vectors[catalog_runtime]["catalog"], vectors[query_runtime][kind], truth, k
                )
                figures[f"{kind}_{catalog_runtime}_catalog_{query_runtime}_queries_r{k}"] = got
                if got < base - MAX_RECALL_DROP:
                    failures.append(
                        f"{kind} recall@{k} with the catalog in {catalog_runtime} and queries in "
                        f"{query_runtime}: {got:.3f} against fp32's {base:.3f} "
                        f"({100 * (got - base):+.1f} points, at most -0.5 allowed)"
                    )
    if failures:
        return Verdict(False, "; ".join(failures[:3]), figures)
    return Verdict(True, "recall within half a point of fp32's everywhere", figures)


def _recall(catalog: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int) -> float:
    norms = (catalog.astype(np.float64) ** 2).sum(1)
    scores = norms[None, :] - 2 * queries.astype(np.float64) @ catalog.astype(np.float64).T
    top = np.argsort(scores, axis=1)[:, :k]
    return float(np.mean([truth[i] in top[i] for i in range(len(queries))]))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    result: np.ndarray = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return result
