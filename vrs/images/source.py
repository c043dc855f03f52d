"""Where image bytes come from: inline, a file under an allowed root, or an allowed web host."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

from vrs.errors import InvalidImage, Unavailable, UriRefused, VrsError
from vrs.images.allowlist import DEFAULT_PORTS, HostAllowList
from vrs.images.files import FileImageReader
from vrs.images.uri import ImageUri, parse_image_uri
from vrs.security.redact import redact_uri
from vrs.settings import ImageSettings
from vrs.settings.host_entries import format_entry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageInput:
    """Exactly one of data or uri."""

    data: bytes | None = None
    uri: str | None = None

    def describe(self) -> str:
        """Safe to show: a URI loses its userinfo and query values."""
        return redact_uri(self.uri) if self.uri is not None else f"<{len(self.data or b'')} bytes>"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ImageFetcher:
    """Turns an ImageInput into bytes within the configured limits."""

    def __init__(self, settings: ImageSettings) -> None:
        self._settings = settings
        self._files = FileImageReader(
            settings.file_root,
            settings.max_bytes,
            settings.file_read_workers,
            settings.file_timeout_s,
        )
        self._allowed = HostAllowList(settings.http_allowed_hosts)
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
        self._files.close()
        await self._http.aclose()

    def _check_size(self, size: int, what: str) -> None:
        if size > self._settings.max_bytes:
            raise InvalidImage(
                f"image {what} is {size} bytes, above the limit of {self._settings.max_bytes}"
            )

    async def _fetch(self, raw: str) -> bytes:
        uri = parse_image_uri(raw)
        if uri.scheme == "file":
            return await self._files.read(uri)
        if uri.scheme in DEFAULT_PORTS:
            return await self._download(uri)
        raise UriRefused(
            f"image URI {uri.shown!r}: scheme {uri.scheme or '(none)'!r} is not allowed "
            "(only file:// and http(s)://)"
        )

    async def _download(self, uri: ImageUri) -> bytes:
        url = self._allowed_url(uri)
        timeout = self._settings.http_timeout_s
        try:
            return await asyncio.wait_for(self._stream(url, uri.shown), timeout)
        except VrsError:
            raise
        except TimeoutError as exc:
            raise Unavailable(
                "image host", f"{uri.shown!r} did not answer within {timeout}s"
            ) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError) as exc:
            raise UriRefused(f"image URI {uri.shown!r} cannot be fetched: malformed URL") from exc
        except httpx.HTTPError as exc:
            detail = _scrubbed(f"{type(exc).__name__}: {exc}", url)
            raise Unavailable("image host", f"{uri.shown!r}: {detail}") from exc
        except Exception as exc:
            # httpx lets some protocol, TLS and codec errors through unwrapped.
            log.warning(
                "unexpected error fetching an image",
                extra={"uri": uri.shown, "error": type(exc).__name__},
            )
            raise Unavailable("image host", f"{uri.shown!r}: {type(exc).__name__}") from exc

    def _allowed_url(self, uri: ImageUri) -> httpx.URL:
        if not uri.host:
            raise UriRefused(f"image URI {uri.shown!r} names no host")
        if not uri.host.isascii():
            raise UriRefused(
                f"image URI {uri.shown!r}: the host is not ASCII (write it in its xn-- form)"
            )
        if not self._allowed.allows(uri.scheme, uri.host, uri.port):
            target = format_entry(uri.host, uri.port or DEFAULT_PORTS[uri.scheme])
            raise UriRefused(
                f"image URI {uri.shown!r}: {target} is not in VRS_IMAGE_HTTP_ALLOWED_HOSTS "
                "(a host listed without a port allows only port 80 for http, 443 for https)"
            )
        try:
            url = httpx.URL(uri.raw)
            host = url.raw_host.decode("ascii").lower()
        except (httpx.InvalidURL, ValueError) as exc:
            raise UriRefused(f"image URI {uri.shown!r} is malformed") from exc
        default = DEFAULT_PORTS[uri.scheme]
        # The allow-list was checked on urllib's reading; httpx connects on its own reading.
        if host != uri.host or (url.port or default) != (uri.port or default):
            raise UriRefused(
                f"image URI {uri.shown!r} is ambiguous: its host or port reads differently "
                "to different URL parsers"
            )
        return url

    async def _stream(self, url: httpx.URL, shown: str) -> bytes:
        async with self._http.stream("GET", url) as response:
            if response.status_code != 200:
                raise InvalidImage(f"image URI {shown!r} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit():
                self._check_size(int(declared), shown)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                self._check_size(size, shown)
                chunks.append(chunk)
            return b"".join(chunks)


def _scrubbed(text: str, url: httpx.URL) -> str:
    """Exception text without the URL's userinfo, in case a library echoed it."""
    userinfo = url.userinfo.decode("ascii", "replace")
    for secret in {userinfo, unquote(userinfo), url.password or "", url.username}:
        if secret:
            text = text.replace(secret, "***")
    return text
