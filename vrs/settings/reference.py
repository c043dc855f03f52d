"""Every setting as a row (variable, default, meaning): the table docs/configuration.md carries."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic_settings import BaseSettings

from vrs.settings.sections import Settings


def env_reference() -> list[tuple[str, str, str]]:
    """(env var, default, description) for every setting, in declaration order."""
    rows = []
    for section in Settings.model_fields.values():
        section_type = section.default_factory
        if not (isinstance(section_type, type) and issubclass(section_type, BaseSettings)):
            continue
        prefix = str(section_type.model_config.get("env_prefix", ""))
        for name, field in section_type.model_fields.items():
            default = field.get_default(call_default_factory=True)
            shown = "" if default is None or default == [] else str(default)
            rows.append(((prefix + name).upper(), shown, field.description or ""))
    return rows


def env_reference_markdown() -> str:
    """The configuration table docs/configuration.md carries (a test keeps the two in step)."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, default, description in env_reference():
        shown = f"`{default}`" if default else ""
        lines.append(f"| `{name}` | {shown} | {description} |")
    return "\n".join(lines)


def with_current_table(markdown: str) -> str:
    """`markdown` with its settings table (the one headed | Variable |) replaced by today's."""
    lines = markdown.splitlines()
    start = lines.index("| Variable | Default | Meaning |")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join([*lines[:start], env_reference_markdown(), *lines[end:]]) + "\n"


if __name__ == "__main__":
    # python -m vrs.settings.reference [FILE]: print the table, or rewrite FILE's in place.
    if len(sys.argv) > 1:
        target = Path(sys.argv[1])
        target.write_text(with_current_table(target.read_text()))
    else:
        print(env_reference_markdown())  # noqa: T201 - a doc generator, run by hand
