"""What the routes work with: the backend, the image fetcher and the callers' check."""

from __future__ import annotations

from dataclasses import dataclass

from services.web.auth import HttpAuth
from services.web.backend import SearchBackend
from vrs.images.source import ImageFetcher


@dataclass(frozen=True)
class Gateway:
    """One gateway's collaborators, kept on its app's state for the routes' dependencies."""

    backend: SearchBackend
    fetcher: ImageFetcher
    auth: HttpAuth
