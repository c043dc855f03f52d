"""Catalog photos are embedded with a blurred copy averaged in (the default `cblur3`), so the
sharp studio photo meets the softer photos shoppers send; query photos are embedded as they
are, in one pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from services.embedder.decoding.cpu_decode import prepare
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.models.descriptors import blurred
from services.embedder.models.pooling import pool
from tests.support.catalog import read_catalog


async def test_a_catalog_photos_vector_is_the_mean_of_its_sharp_and_blurred_views(
    effnet: ImageEmbedder, sample_catalog: Path
) -> None:
    engine = effnet.engine
    assert engine.features.catalog_blur == 3.0
    data = read_catalog(sample_catalog)[0].image.read_bytes()
    catalog = await effnet.embed(data)
    query = await effnet.embed(data, catalog=False)
    pixels = (
        torch.from_numpy(np.array(prepare(data, 10**8, engine.crop))).permute(2, 0, 1)[None] / 255.0
    )
    mean, std = (
        torch.tensor(v).view(1, 3, 1, 1) for v in (engine.backbone.mean, engine.backbone.std)
    )
    with torch.inference_mode():
        x = (pixels - mean) / std
        soft = pool(engine.runner(blurred(x, 3.0)).float(), engine.features).numpy()[0]
    np.testing.assert_allclose(catalog, (query + soft) / 2, rtol=1e-3, atol=1e-3)
    assert np.linalg.norm(catalog - query) > 0.05 * np.linalg.norm(query)


async def test_a_query_costs_one_forward_pass_and_a_catalog_photo_two(
    effnet: ImageEmbedder, sample_catalog: Path
) -> None:
    data = read_catalog(sample_catalog)[1].image.read_bytes()
    calls = 0
    runner = effnet.engine.runner

    def counted(x: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return runner(x)

    effnet.engine.runner = counted  # type: ignore[assignment]
    try:
        await effnet.embed(data, catalog=False)
        assert calls == 1
        await effnet.embed(data)
        assert calls == 3
    finally:
        effnet.engine.runner = runner
