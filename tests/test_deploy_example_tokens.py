"""deploy/k8s's example tokens file parses, through vrs's own parser, into callers with roles."""

from __future__ import annotations

from tests.support.k8s_render import example_secrets
from vrs.auth.tokens import parse_tokens_file


def test_the_example_tokens_file_parses_into_callers_with_roles() -> None:
    table = parse_tokens_file(example_secrets()["vrs-tokens"]["tokens"])
    assert len(table) == 6
    ingestion = table.by_certificate(None, "catalog-ingestion")
    assert ingestion is not None and ingestion.roles == {"ingest"}
    # The web gateway: catalog reads and searches, and the stats its page's footer shows.
    web = table.by_certificate(None, "vrs-web")
    assert web is not None and web.roles == {"search", "admin"}
