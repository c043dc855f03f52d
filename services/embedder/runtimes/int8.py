"""int8 on CPUs without native bf16: the converted model quantised by NNCF (post-training,
calibrated on catalog photos), served only when it passes the accuracy gate (int8_gate), else
fp32, saying why. The quantised model and the verdict are cached beside the converted model,
so the work (tens of seconds to a few minutes) is done at the first start only."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from services.embedder.decoding.cpu_decode import CropSpec, Pixels, prepare
from services.embedder.models.descriptors import describe
from services.embedder.models.features import Features
from services.embedder.runtimes.int8_gate import GateSet, Verdict, judge
from services.embedder.runtimes.openvino_runner import OpenVinoRunner, save_model

log = logging.getLogger(__name__)

# Photos the gate and the calibration use, at most: 200 queries of each kind make one query
# half a recall point, the gate's tolerance.
GATE_PHOTOS = 200
CALIBRATION_PHOTOS = 100
_BATCH = 8
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
_SEED = 3
# Bumped when quantise() changes: a model quantised another way is judged anew.
RECIPE = "2"
# CPU flags of int8 dot products that do not saturate (VNNI, AMX); without them int8 weights
# are kept to 7 bits (NNCF's overflow fix), or AVX2's pairwise sums overflow.
_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@dataclass(frozen=True)
class Int8Inputs:
    """What quantising and judging need besides the model: how a photo becomes the model's
    input, the features variant, and where the photos are (None: a sample drawn on the fly)."""

    crop: CropSpec
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    features: Features
    photos: Path | None = None


def int8_or_fp32(
    model: Any, core: Any, streams: int, inputs: Int8Inputs, cache_file: Path
) -> OpenVinoRunner:
    """The int8 runner when its quantisation passes the gate (cached verdict, or judged now),
    else the fp32 one; the choice and its reason are logged."""
    try:
        import nncf  # noqa: F401  (the embedder extra installs it)
    except ImportError as exc:
        log.warning("int8 needs nncf; the model runs fp32", extra={"error": str(exc)})
        return OpenVinoRunner(model, "f32", core, streams)
    # Compiled only where it is needed (judging, or serving): a start that reads a passing
    # verdict compiles the int8 model alone.
    fp32: OpenVinoRunner | None = None
    candidate: OpenVinoRunner | None = None
    vnni = cpu_has_vnni()  # read once: the cache key and the quantisation both follow it
    stem = _stem(cache_file, inputs, vnni)
    verdict_file = stem.with_name(stem.name + "-gate.json")
    int8_file = stem.with_name(stem.name + ".xml")
    verdict = Verdict.read(verdict_file)
    quantised = None
    if verdict is not None and verdict.passed:
        try:
            quantised = core.read_model(str(int8_file))
        except Exception:
            log.warning("cached int8 model unreadable; quantising again", exc_info=True)
            verdict = None
    if verdict is None:
        with tempfile.TemporaryDirectory(prefix="vrs-int8-") as work:
            gate = gate_set(inputs, Path(work))
            calibration = [normalised(inputs, [p]) for p in _calibration(gate)]
            quantised = quantise(model, calibration, overflow_fix=not vnni)
            candidate = OpenVinoRunner(quantised, "int8", core, streams)
            fp32 = OpenVinoRunner(model, "f32", core, streams)
            verdict = judge(_embedder(fp32, inputs), _embedder(candidate, inputs), gate)
        _save(verdict, verdict_file, quantised if verdict.passed else None, int8_file)
    figures = {k: round(v, 4) for k, v in verdict.figures.items()}
    if not verdict.passed or quantised is None:
        log.warning(
            "int8 failed the accuracy gate; the model runs fp32",
            extra={"reason": verdict.reason, **figures},
        )
        return fp32 or OpenVinoRunner(model, "f32", core, streams)
    log.info("int8 passed the accuracy gate", extra={"reason": verdict.reason, **figures})
    return candidate or OpenVinoRunner(quantised, "int8", core, streams)


def quantise(model: Any, calibration: Sequence[np.ndarray], overflow_fix: bool) -> Any:
    """NNCF post-training quantisation of the OpenVINO model, calibrated on `calibration`
    (normalised N x 3 x H x W inputs), with the full bias correction and, where the CPU's int8
    products saturate, 7-bit weights in every layer. On an AVX2-only EPYC, efficientnet_lite0's
    descriptors came out at cosine >= 0.95 of fp32's (mean 0.983) this way, against >= 0.83
    (mean 0.970) with the fast bias correction and the fix on the first layer only."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    fix = OverflowFix.ENABLE if overflow_fix else OverflowFix.FIRST_LAYER
    return nncf.quantize(
        model,
        nncf.Dataset(list(calibration)),
        subset_size=len(calibration),
        fast_bias_correction=False,
        advanced_parameters=AdvancedQuantizationParameters(overflow_fix=fix),
    )


def cpu_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU's int8 dot products are VNNI's or AMX's (no saturation); False when it
    cannot be told, so the fix errs on the safe side."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "").split()
    return any(flag in flags for flag in _VNNI_FLAGS)


def gate_set(inputs: Int8Inputs, work: Path) -> GateSet:
    """The catalog photos (prepared for the model) and their shop photos and scenes."""
    from vrs.evaluation.queryset import SCENE, SHOP, SourcePhoto, make_query_set

    photos = [SourcePhoto(p.stem, p) for p in _photos(inputs.photos, work)]
    catalog = [prepare(p.image.read_bytes(), 10**8, inputs.crop) for p in photos]
    index = {p.product_id: i for i, p in enumerate(photos)}
    queries: dict[str, Sequence[Pixels]] = {}
    expected: dict[str, np.ndarray] = {}
    for kind in (SHOP, SCENE):
        rows, _ = make_query_set(photos, work / kind, seed=_SEED, per_product=1, kind=kind)
        queries[kind] = [
            prepare((work / kind / r.image).read_bytes(), 10**8, inputs.crop) for r in rows
        ]
        expected[kind] = np.array([index[r.product_id] for r in rows])
    return GateSet(catalog, queries, expected)


def _photos(folder: Path | None, work: Path) -> list[Path]:
    """The first GATE_PHOTOS images under `folder` (distinct names), else a drawn sample."""
    if folder is not None:
        found: dict[str, Path] = {}
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in _IMAGE_SUFFIXES and path.is_file():
                found.setdefault(path.stem, path)
        if len(found) >= 20:
            return list(found.values())[:GATE_PHOTOS]
        log.warning(
            "too few photos for the int8 gate; using a drawn sample", extra={"folder": str(folder)}
        )
    from vrs.catalog.sample import CATEGORIES, generate

    csv_path = generate(work / "sample", per_category=GATE_PHOTOS // len(CATEGORIES), seed=_SEED)
    return sorted((csv_path.parent / "images").rglob("*.jpg"))


def _calibration(gate: GateSet) -> list[Pixels]:
    step = max(1, len(gate.catalog) // CALIBRATION_PHOTOS)
    return list(gate.catalog[::step])


def normalised(inputs: Int8Inputs, batch: Sequence[Pixels]) -> np.ndarray:
    """Prepared pixels (N x H x W x 3 uint8) as the model's normalised N x 3 x H x W input."""
    x = np.stack([np.asarray(p) for p in batch]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    mean = np.array(inputs.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array(inputs.std, dtype=np.float32).reshape(1, 3, 1, 1)
    result: np.ndarray = (x - mean) / std
    return result


def _embedder(runner: OpenVinoRunner, inputs: Int8Inputs) -> Any:
    def embed(pixels: Sequence[Pixels]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for i in range(0, len(pixels), _BATCH):
                x = torch.from_numpy(normalised(inputs, pixels[i : i + _BATCH]))
                out.append(describe(runner, x, inputs.features).numpy())
        return np.concatenate(out)

    return embed


def _stem(cache_file: Path, inputs: Int8Inputs, vnni: bool) -> Path:
    """Per converted model, NNCF version, recipe and photo source: a new one is judged anew."""
    import nncf

    source = str(inputs.photos.resolve()) if inputs.photos else "drawn"
    key = f"{source}|{nncf.__version__}|{GATE_PHOTOS}|{RECIPE}|vnni={vnni}"
    tag = hashlib.sha256(key.encode()).hexdigest()[:10]
    return cache_file.with_name(f"{cache_file.stem}-int8-{tag}")


def _save(verdict: Verdict, verdict_file: Path, model: Any, model_file: Path) -> None:
    try:
        if model is not None:
            save_model(model, model_file)
        verdict_file.parent.mkdir(parents=True, exist_ok=True)
        partial = verdict_file.with_suffix(".partial")
        partial.write_text(verdict.to_json(), encoding="utf-8")
        partial.replace(verdict_file)
    except OSError:
        log.warning("could not cache the int8 model and its verdict", exc_info=True)
