"""Settings of a server under test (no model stack needed to build them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vrs.settings import Settings


def settings_for(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a server on a free loopback port with its own Qdrant Edge directory.

    Sections given here are validated as data, not read from the environment.
    """
    base: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 2.0},
        "store": {"data_dir": tmp_path / "qdrant-edge"},
        "log": {"level": "WARNING"},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return Settings.model_validate(base)
