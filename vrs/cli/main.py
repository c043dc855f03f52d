"""`vrs`: serve the services, and talk to them over gRPC."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vrs", description="Visual product recommender.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the services (settings from VRS_* environment variables)"
    )
    serve.add_argument(
        "--service",
        choices=["all", "embedder", "search"],
        default="all",
        help="all: embedder and search in one process on one port (default)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from services.app import run

        return run(args.service)
    return 2


if __name__ == "__main__":
    sys.exit(main())
