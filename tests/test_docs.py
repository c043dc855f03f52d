"""README.md stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from vrs.settings.reference import env_reference_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_lists_every_setting() -> None:
    assert env_reference_markdown() in README.read_text(), (
        "README's configuration table is stale: regenerate it with `python -m vrs.settings`"
    )


def test_readme_gives_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text
