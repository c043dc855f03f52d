"""The http(s) allow-list names host and port: a host alone allows only the scheme's default
port, so an allowed host cannot be used to reach its other services (Redis on 6379...)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from tests.support.redis_server import RedisServer
from vrs.errors import UriRefused
from vrs.images.allowlist import HostAllowList
from vrs.images.source import ImageFetcher, ImageInput
from vrs.settings import ImageSettings


async def test_allowed_host_does_not_open_its_other_ports(redis_server: RedisServer) -> None:
    f = ImageFetcher(ImageSettings(http_allowed_hosts=["127.0.0.1", "localhost"]))
    for host in ("127.0.0.1", "localhost"):
        with pytest.raises(UriRefused, match=f"{host}:{redis_server.port} is not in"):
            await f.load(ImageInput(uri=f"http://{host}:{redis_server.port}/"))
    await f.close()


@pytest.mark.parametrize(
    ("entries", "uri", "allowed"),
    [
        (["img.example.com"], "http://img.example.com/a.jpg", True),
        (["img.example.com"], "https://img.example.com/a.jpg", True),
        (["img.example.com"], "http://img.example.com:80/a.jpg", True),
        (["img.example.com"], "https://img.example.com:443/a.jpg", True),
        (["img.example.com"], "http://img.example.com:443/a.jpg", False),
        (["img.example.com"], "https://img.example.com:80/a.jpg", False),
        (["img.example.com"], "http://img.example.com:6379/", False),
        (["img.example.com:8080"], "http://img.example.com:8080/a.jpg", True),
        (["img.example.com:8080"], "http://img.example.com/a.jpg", False),
        (["IMG.example.com:8080"], "http://img.EXAMPLE.com:8080/a.jpg", True),
        (["[::1]:8080"], "http://[::1]:8080/a.jpg", True),
        (["[::1]:8080"], "http://[::1]:8081/a.jpg", False),
        (["[::1]"], "http://[::1]/a.jpg", True),
        (["[::1]"], "http://[::1]:6379/", False),
    ],
    ids=lambda v: repr(v) if not isinstance(v, bool) else str(v),
)
def test_entry_allows_its_port_or_the_default_one(
    entries: list[str], uri: str, allowed: bool
) -> None:
    parts = urlsplit(uri)
    allow_list = HostAllowList(ImageSettings(http_allowed_hosts=entries).http_allowed_hosts)
    assert allow_list.allows(parts.scheme, parts.hostname or "", parts.port) is allowed


def test_entries_are_read_from_the_environment_with_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "VRS_IMAGE_HTTP_ALLOWED_HOSTS", " Img.Example.com , cdn.example.com:8443,[::1]:80"
    )
    assert ImageSettings().http_allowed_hosts == [
        "img.example.com",
        "cdn.example.com:8443",
        "[::1]:80",
    ]


@pytest.mark.parametrize(
    "entry", ["::1", "h:abc", "h:99999", "h:0", "http://h", "h/x", "user@h", "h x"], ids=repr
)
def test_malformed_entry_is_refused_at_startup_naming_it(entry: str) -> None:
    with pytest.raises(ValidationError, match="allowed host"):
        ImageSettings(http_allowed_hosts=[entry])
