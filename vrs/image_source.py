"""Where image bytes come from: inline, a file under an allowed root, or an allowed web host."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from vrs.errors import InvalidImage, Unavailable, UriRefused
from vrs.settings import ImageSettings


@dataclass(frozen=True)
class ImageInput:
    """Exactly one of data or uri."""

    data: bytes | None = None
    uri: str | None = None

    def describe(self) -> str:
        return self.uri if self.uri is not None else f"<{len(self.data or b'')} bytes>"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ImageFetcher:
    """Turns an ImageInput into bytes within the configured limits."""

    def __init__(self, settings: ImageSettings) -> None:
        self._settings = settings
        self._root = settings.file_root.resolve() if settings.file_root else None
        self._allowed_hosts = frozenset(settings.http_allowed_hosts)
        # Redirects are not followed: one could lead off the allow-list.
        self._http = httpx.AsyncClient(
            timeout=settings.http_timeout_s, follow_redirects=False, trust_env=False
        )

    async def load(self, image: ImageInput) -> bytes:
        if image.data is not None:
            data = image.data
        elif image.uri is not None:
            data = await self._fetch(image.uri)
        else:
            raise InvalidImage("image is missing: give its bytes or a URI")
        if not data:
            raise InvalidImage(f"image {image.describe()} is empty (0 bytes)")
        self._check_size(len(data), image.describe())
        return data

    async def close(self) -> None:
        await self._http.aclose()

    def _check_size(self, size: int, what: str) -> None:
        if size > self._settings.max_bytes:
            raise InvalidImage(
                f"image {what} is {size} bytes, above the limit of {self._settings.max_bytes}"
            )

    async def _fetch(self, uri: str) -> bytes:
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme == "file":
            path = self._allowed_path(uri, parts.netloc, unquote(parts.path))
            # Reading a file blocks; the loop's default executor is bounded.
            return await asyncio.get_running_loop().run_in_executor(None, self._read, path, uri)
        if scheme in ("http", "https"):
            return await self._download(uri, (parts.hostname or "").lower())
        raise UriRefused(
            f"image URI {uri!r}: scheme {scheme or '(none)'!r} is not allowed "
            "(only file:// and http(s)://)"
        )

    def _allowed_path(self, uri: str, host: str, raw_path: str) -> Path:
        if self._root is None:
            raise UriRefused(f"image URI {uri!r}: file:// URIs are off (VRS_IMAGE_FILE_ROOT unset)")
        if host not in ("", "localhost"):
            raise UriRefused(f"image URI {uri!r}: file:// URIs must not name a host")
        # resolve() follows symlinks and collapses '..', so the check sees the real location.
        path = Path(raw_path).resolve()
        if not path.is_relative_to(self._root):
            raise UriRefused(f"image URI {uri!r} is outside the allowed image root {self._root}")
        return path

    def _read(self, path: Path, uri: str) -> bytes:
        try:
            self._check_size(path.stat().st_size, uri)
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise InvalidImage(f"image URI {uri!r}: no such file") from exc
        except IsADirectoryError as exc:
            raise InvalidImage(f"image URI {uri!r} is a directory") from exc
        except PermissionError as exc:
            raise InvalidImage(f"image URI {uri!r}: permission denied") from exc

    async def _download(self, uri: str, host: str) -> bytes:
        if host not in self._allowed_hosts:
            raise UriRefused(
                f"image URI {uri!r}: host {host!r} is not in VRS_IMAGE_HTTP_ALLOWED_HOSTS"
            )
        try:
            return await asyncio.wait_for(self._stream(uri), self._settings.http_timeout_s)
        except TimeoutError as exc:
            raise Unavailable(
                "image host", f"{uri!r} did not answer within {self._settings.http_timeout_s}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise Unavailable("image host", f"{uri!r}: {type(exc).__name__}: {exc}") from exc

    async def _stream(self, uri: str) -> bytes:
        async with self._http.stream("GET", uri) as response:
            if response.status_code != 200:
                raise InvalidImage(f"image URI {uri!r} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit():
                self._check_size(int(declared), uri)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                self._check_size(size, uri)
                chunks.append(chunk)
            return b"".join(chunks)
