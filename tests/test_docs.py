"""The documentation stays in step with the code and with itself: README.md is short and leads to
every page, the configuration table is the generated one, and no relative link is dead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vrs.settings.reference import env_reference_markdown

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
PAGES = [README, CONTRIBUTING, *sorted(DOCS.glob("*.md"))]

README_MAX_LINES = 250
TABLE_HEADER = "| Variable | Default | Meaning |"
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def _prose(text: str) -> str:
    """text without fenced code blocks, whose `#` lines are no headings and `[x](y)` no links."""
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces
    to `-` (inline code marks are punctuation too)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(heading) for heading in HEADING.findall(_prose(page.read_text()))}


def _relative_links(page: Path) -> list[str]:
    """Every link target of `page` that is neither a URL nor an e-mail address."""
    text = INLINE_CODE.sub("", _prose(page.read_text()))
    return [target for target in LINK.findall(text) if not EXTERNAL.match(target)]


def _target(page: Path, link: str) -> tuple[Path, str]:
    """The file a relative link points to (the page itself for `#anchor`) and its anchor."""
    path, _, anchor = link.partition("#")
    return ((page.parent / path).resolve() if path else page), anchor


def _anchor_found(page: Path, link: str) -> bool:
    """True when the link names no anchor, or one of a Markdown file's headings (a missing
    file is the other test's failure)."""
    target, anchor = _target(page, link)
    if not anchor or target.suffix != ".md" or not target.exists():
        return True
    return anchor in _anchors(target)


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _generated_table_in(page: Path) -> str:
    lines = page.read_text().splitlines()
    if TABLE_HEADER not in lines:
        return ""
    start = lines.index(TABLE_HEADER)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[start:end])


def test_configuration_page_carries_exactly_the_generated_table() -> None:
    assert _generated_table_in(CONFIGURATION) == env_reference_markdown(), (
        "docs/configuration.md's table is stale: replace it with the output of "
        "`.venv/bin/python -m vrs.settings.reference`"
    )


def test_readme_gives_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text


def test_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move detail to docs/"


def test_readme_links_every_docs_page_and_contributing() -> None:
    linked = {_target(README, link)[0] for link in _relative_links(README)}
    expected = {*(p.resolve() for p in DOCS.glob("*.md")), CONTRIBUTING.resolve()}
    assert sorted(_name(p) for p in expected - linked) == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_relative_links_reach_files_that_exist(page: Path) -> None:
    dead = [link for link in _relative_links(page) if not _target(page, link)[0].exists()]
    assert dead == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_link_anchors_name_headings_of_their_target(page: Path) -> None:
    dead = [link for link in _relative_links(page) if not _anchor_found(page, link)]
    assert dead == []


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Transport (TLS, mTLS)", "transport-tls-mtls"),
        ("Why `gem2-crop0.8`", "why-gem2-crop08"),
        ("HTTP/JSON API", "httpjson-api"),
        ("vrs — visual product recommender", "vrs--visual-product-recommender"),
        ("Distances and `max_distance`", "distances-and-max_distance"),
    ],
)
def test_slugs_follow_github(heading: str, slug: str) -> None:
    assert _slug(heading) == slug
