"""What every benchmark names: the CPU it ran on, and where the seed catalog lies."""

from __future__ import annotations

import platform
from pathlib import Path

# ../shared beside the checkout; read from there, never copied into the project.
SEED_CATALOG = Path(__file__).resolve().parents[2] / "shared" / "catalog" / "seed-products"


def cpu_model() -> str:
    """The CPU's model name, for labelling printed figures."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
