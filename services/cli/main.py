"""`vrs`: serve the services, and talk to them over gRPC."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from services.cli.client import DEFAULT_ADDRESS, CliError, VrsClient
from services.cli.connection import add_connection_flags, client_settings
from vrs.errors import VrsError
from vrs.observability.logs import redact, register_secrets, register_settings_secrets
from vrs.settings.problems import settings_problems


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vrs", description="Visual product recommender.")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="print the traceback of unexpected errors (also with VRS_LOG_LEVEL=DEBUG)",
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("VRS_ADDRESS", DEFAULT_ADDRESS),
        help=f"host:port of the vrs server (default: $VRS_ADDRESS or {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--token",
        help="bearer token of the caller, for servers with auth on (default: $VRS_CLIENT_TOKEN; "
        "prefer the variable: flags show in the process list)",
    )
    add_connection_flags(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the services (settings: VRS_* variables)")
    serve.add_argument(
        "--service",
        choices=["all", "embedder", "search", "web"],
        default="all",
        help="all: embedder and search in one process, one port (default; plus the web "
        "gateway when VRS_WEB_PORT is set); web: the HTTP/JSON gateway and page alone",
    )

    index = commands.add_parser("index", help="index a catalog: image folder, CSV or JSONL")
    index.add_argument("catalog", type=Path)
    index.add_argument("--batch-size", type=int, default=32)

    similar = commands.add_parser("similar", help="visually similar products")
    similar.add_argument("image", type=Path, nargs="?", help="photo to match")
    similar.add_argument("--product", help="match a catalog product instead of a photo")
    similar.add_argument("-k", type=int, default=10, help="how many results (1-100)")
    similar.add_argument("--min-price", type=float)
    similar.add_argument("--max-price", type=float)
    similar.add_argument("--category", action="append", default=[], help="repeatable")
    similar.add_argument("--brand", action="append", default=[], help="repeatable")
    similar.add_argument("--in-stock", action="store_true")
    similar.add_argument("--max-distance", type=float)
    similar.add_argument("--out", type=Path, help="write a contact sheet PNG here")
    similar.add_argument(
        "--model-id", default="", help="search this model's collection (default: the server's)"
    )
    similar.add_argument(
        "--region",
        metavar="X,Y,W,H",
        help="search on this part of the photo (fractions of its width and height); "
        "default: the main item, found in the photo",
    )
    similar.add_argument(
        "--collapse",
        choices=("product", "group"),
        default="product",
        help="one result per product (default) or per variant group, with its other variants",
    )
    similar.add_argument(
        "--include-variants",
        action="store_true",
        help="with --product: its own variants (same group) may come back too",
    )
    similar.add_argument(
        "--cheaper", action="store_true", help="with --product: only products priced below it"
    )
    similar.add_argument(
        "--currency", default="", help="currency of --min-price/--max-price (ISO 4217)"
    )
    similar.add_argument(
        "--no-over-budget",
        action="store_true",
        help="never list the nearest products a little over --max-price",
    )

    vectors = commands.add_parser("import-vectors", help="import precomputed vectors")
    vectors.add_argument("path", type=Path, help=".npz, .npy (+ .ids.txt) or a folder of .txt")
    vectors.add_argument(
        "--model-id",
        required=True,
        help="the model the vectors come from; its own collection (created when missing)",
    )
    vectors.add_argument(
        "--catalog", type=Path, help="CSV/JSONL catalog whose attributes join by product id"
    )

    evaluate = commands.add_parser(
        "eval", help="retrieval quality of a running server on a query set (vrs make-queries)"
    )
    evaluate.add_argument("queries", type=Path, help="queries.csv: image,product_id[,category]")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument(
        "--min-recall-at-1", type=float, help="exit 1 when recall@1 is under this (CI, canaries)"
    )
    evaluate.add_argument(
        "--region",
        action="store_true",
        help="search each query with a box (scene sets) on that box, as a shopper pointing at "
        "the item would; default: the server finds the item",
    )
    evaluate.add_argument(
        "--ann-check",
        action="store_true",
        help="also compare the HNSW index's answers with exact search (recall@10)",
    )

    calibration = commands.add_parser(
        "calibrate",
        help="measure the distances of close, similar and weak matches on a query set and "
        "keep them with the collection (every match then carries a label)",
    )
    calibration.add_argument("queries", type=Path, help="queries.csv, as vrs eval reads it")
    calibration.add_argument(
        "--target-precision",
        type=float,
        default=0.9,
        help="each threshold is the largest distance up to which results reach it (0.9)",
    )
    calibration.add_argument(
        "--dry-run", action="store_true", help="measure and print, keep nothing"
    )
    calibration.add_argument("--json", action="store_true", help="print the result as JSON")

    make_queries = commands.add_parser(
        "make-queries", help="a query set (shop photos or scenes) of a catalog, for vrs eval"
    )
    make_queries.add_argument("catalog", type=Path, help="folder, .csv or .jsonl")
    make_queries.add_argument("out_dir", type=Path)
    make_queries.add_argument("--seed", type=int, default=0)
    make_queries.add_argument("--per-product", type=int, default=2)
    make_queries.add_argument(
        "--kind",
        choices=["shop", "scene"],
        default="shop",
        help="shop: the product's photo as a shopper's camera sees it (default); scene: the "
        "product small in a cluttered scene, other products behind it, its box recorded",
    )
    make_queries.add_argument(
        "--distortions",
        metavar="KINDS",
        help="comma-separated distortion kinds, or none (default: the kind's mix; "
        "see docs/quality.md#query-sets)",
    )
    make_queries.add_argument(
        "--hold-out",
        metavar="KINDS",
        help="comma-separated kinds taken out of the mix (a held-out set)",
    )

    delete = commands.add_parser("delete", help="delete products")
    delete.add_argument("product_ids", nargs="+")

    commands.add_parser("stats", help="collection, model, index, cache and events state")

    health = commands.add_parser("health", help="gRPC health check (exit 0 when SERVING)")
    health.add_argument("--service", default="", help="service name; default: the server")

    weights = commands.add_parser("fetch-weights", help="resolve/download model weights")
    weights.add_argument(
        "--backbone", default="inception_v3", choices=["inception_v3", "efficientnet_lite0"]
    )

    alias = commands.add_parser(
        "switch-alias",
        help="point the Qdrant alias at a model's "
        "collection (model upgrade; settings: VRS_QDRANT_*)",
    )
    alias.add_argument("--model-id", required=True)
    alias.add_argument("--alias", help="default: $VRS_QDRANT_ALIAS")

    publish = commands.add_parser("publish", help="publish catalog events to the Redis stream")
    publish.add_argument(
        "catalog",
        type=Path,
        nargs="?",
        help="upsert every product of a catalog (folder, .csv, .jsonl)",
    )
    publish.add_argument(
        "--image-uris", action="store_true", help="send file:// URIs instead of the image bytes"
    )
    publish.add_argument("--update", metavar="ID", help="attribute update of one product")
    publish.add_argument("--title")
    publish.add_argument("--category")
    publish.add_argument("--brand")
    publish.add_argument("--price", type=float)
    publish.add_argument("--currency")
    publish.add_argument("--in-stock", action=argparse.BooleanOptionalAction, default=None)
    publish.add_argument("--delete", metavar="ID", action="append", default=[])
    publish.add_argument(
        "--redis-url", default=os.environ.get("VRS_REDIS_URL"), help="default: $VRS_REDIS_URL"
    )
    publish.add_argument("--stream", help="default: $VRS_EVENTS_STREAM or vrs:catalog-events")

    token = commands.add_parser("token", help="caller tokens for servers with auth on")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_commands.add_parser(
        "create", help="a new token (printed once) and the line to add to the tokens file"
    )
    create.add_argument("name", help="the caller's name, shown in audit and error messages")
    create.add_argument("--roles", required=True, help="comma-separated: search, ingest, admin")
    return parser


def run_command(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from services.composition import run

        return run(args.service)
    if args.command == "publish":
        return _publish(args)
    if args.command == "token":
        from services.cli.token import create

        return create(args.name, args.roles)
    if args.command == "make-queries":
        from services.cli.make_queries import make_queries

        return make_queries(
            args.catalog,
            args.out_dir,
            args.seed,
            args.per_product,
            kind=args.kind,
            distortions=args.distortions,
            hold_out=args.hold_out,
        )
    if args.command in ("health", "fetch-weights", "switch-alias"):
        from services.cli import ops

        if args.command == "health":
            return ops.health(args.address, args.service, settings=client_settings(args))
        if args.command == "fetch-weights":
            return ops.fetch_weights(args.backbone)
        return ops.switch_alias(args.model_id, args.alias)
    client = VrsClient(args.address, client_settings(args))
    try:
        return _dispatch(client, args)
    finally:
        client.close()


def _dispatch(client: VrsClient, args: argparse.Namespace) -> int:
    if args.command == "index":
        from services.cli.index import index_catalog

        return index_catalog(client, args.catalog, args.batch_size)
    if args.command == "similar":
        from services.cli.similar import SimilarQuery, contact_sheet, find_similar, table
        from vrs.images.region import parse_region

        if (args.image is None) == (args.product is None):
            raise CliError("give either an image file or --product ID")
        query = SimilarQuery(
            image=args.image,
            product_id=args.product,
            k=args.k,
            min_price=args.min_price,
            max_price=args.max_price,
            categories=tuple(args.category),
            brands=tuple(args.brand),
            in_stock=args.in_stock,
            max_distance=args.max_distance,
            model_id=args.model_id.strip(),
            region=parse_region(args.region) if args.region is not None else None,
            collapse_groups=args.collapse == "group",
            include_variants=args.include_variants,
            cheaper=args.cheaper,
            currency=args.currency.strip(),
            over_budget=not args.no_over_budget,
        )
        if args.cheaper and args.product is None:
            raise CliError("--cheaper compares with a product: give --product ID")
        response = find_similar(client, query)
        print(table(response))
        if args.out:
            print(f"contact sheet: {contact_sheet(client, query, response, args.out)}")
        return 0
    if args.command == "import-vectors":
        from services.cli.vectors import import_vectors

        return import_vectors(client, args.path, args.model_id, catalog=args.catalog)
    if args.command == "calibrate":
        from services.cli.calibrate import run_calibration

        return run_calibration(
            client,
            args.queries,
            target=args.target_precision,
            dry_run=args.dry_run,
            as_json=args.json,
        )
    if args.command == "eval":
        from services.cli.eval import evaluate

        return evaluate(
            client,
            args.queries,
            as_json=args.json,
            min_recall_at_1=args.min_recall_at_1,
            ann_check=args.ann_check,
            use_boxes=args.region,
        )
    if args.command == "delete":
        from services.cli.admin import delete

        return delete(client, args.product_ids)
    if args.command == "stats":
        from services.cli.admin import stats

        return stats(client)
    raise CliError(f"unknown command {args.command}")


def _publish(args: argparse.Namespace) -> int:
    from services.cli.publish import publish_events
    from vrs.catalog.products import ProductPatch
    from vrs.settings import EventsSettings, RedisSettings

    redis_settings = RedisSettings()
    if not args.redis_url:
        raise CliError("no Redis to publish to: give --redis-url or set VRS_REDIS_URL")
    update = None
    if args.update:
        update = ProductPatch(
            args.update,
            title=args.title,
            category=args.category,
            brand=args.brand,
            price=args.price,
            currency=args.currency,
            in_stock=args.in_stock,
        )
    return publish_events(
        args.redis_url,
        args.stream or EventsSettings().stream,
        catalog=args.catalog,
        image_uris=args.image_uris,
        update=update,
        deletes=tuple(args.delete),
        settings=redis_settings,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _register_secrets()
        register_secrets([args.token])
        return run_command(args)
    except (CliError, VrsError) as exc:
        _fail(args.command, str(exc))
        return 1
    except ValidationError as exc:
        _fail(args.command, settings_problems(exc))
        return 1
    except KeyboardInterrupt:
        _fail(args.command, "interrupted")
        return 130
    except Exception as exc:
        # Nothing foreseen, yet still one line; the traceback is for --debug.
        if args.debug or os.environ.get("VRS_LOG_LEVEL", "").upper() == "DEBUG":
            print(redact(traceback.format_exc()), file=sys.stderr, end="")
        _fail(args.command, f"error: {type(exc).__name__}: {exc}")
        return 1


def _fail(command: str, message: str) -> None:
    print(f"vrs {command}: {redact(' '.join(message.split()))}", file=sys.stderr)


def _register_secrets() -> None:
    """Secrets the environment gives this process, masked in whatever it prints."""
    from vrs.settings import Settings

    # Commands that need the settings report invalid ones themselves.
    with contextlib.suppress(ValidationError):
        register_settings_secrets(Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
