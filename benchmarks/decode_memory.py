"""Resident memory of decoding huge images: a burst of 36-megapixel RGBA PNGs (~160 KB each
on disk) through ImageEmbedder, next to the baseline.

    make bench        (or: python -m benchmarks.decode_memory [--images 20])
Prints numbers; asserts nothing. Run it as its own process: RSS is per process.
"""

from __future__ import annotations

import argparse
import asyncio

from tests.support.big_png import SIDE_36MP
from tests.support.memory_probe import MemoryReport, measure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--side", type=int, default=SIDE_36MP)
    args = parser.parse_args()
    report = asyncio.run(measure(args.images, args.side))
    print(
        f"{report.images} RGBA PNGs of {args.side}x{args.side} "
        f"({args.side * args.side / 1e6:.0f} MP, {report.png_bytes // 1024} KB each), "
        "embedded at once through ImageEmbedder"
    )
    print(f"{'RSS baseline':14} {report.baseline_mb:8.0f} MB")
    if report.peak_mb is None:
        print(f"{'RSS peak':14}      n/a (this platform cannot reset VmHWM)")
    else:
        print(f"{'RSS peak':14} {report.peak_mb:8.0f} MB  {_delta(report.peak_mb, report)}")
    print(f"{'RSS after':14} {report.after_mb:8.0f} MB  {_delta(report.after_mb, report)}")


def _delta(mb: float, report: MemoryReport) -> str:
    return f"({mb - report.baseline_mb:+.0f} MB)"


if __name__ == "__main__":
    main()
