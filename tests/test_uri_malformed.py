"""Malformed image URIs are refused (INVALID_ARGUMENT) with a message naming the problem,
never an unexpected exception, and no message echoes the URI's userinfo."""

from __future__ import annotations

import pytest

from tests.support.redis_server import free_port
from vrs.errors import Unavailable, UriRefused
from vrs.images.source import ImageFetcher, ImageInput
from vrs.security.redact import redact_uri
from vrs.settings import ImageSettings


def fetcher() -> ImageFetcher:
    return ImageFetcher(ImageSettings(http_allowed_hosts=["h", "img.example.com"]))


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://[::1", "host cannot be parsed"),
        ("http://[not-an-ip]/x.jpg", "host cannot be parsed"),
        ("http://h:abc/x.jpg", "port is not a number between 1 and 65535"),
        ("http://h:99999/x.jpg", "port is not a number between 1 and 65535"),
        ("http://h:0/x.jpg", "port is not a number between 1 and 65535"),
        ("http://h\tx/x.jpg", "control or non-printable character"),
        ("http://img.example.com\n/x.jpg", "control or non-printable character"),
        ("http://h x/x.jpg", "host contains whitespace"),
        ("http:///x.jpg", "names no host"),
        ("http://ex\u00e4mple.com/x.jpg", "not ASCII"),
        ("file:relative.jpg", "file:// URIs are off"),
    ],
    ids=repr,
)
async def test_malformed_uri_is_refused_naming_the_problem(uri: str, reason: str) -> None:
    f = fetcher()
    with pytest.raises(UriRefused, match=reason):
        await f.load(ImageInput(uri=uri))
    await f.close()


@pytest.mark.parametrize(
    "uri",
    [
        "http://user:s3cret@[::1",
        "http://user:s3cret@h:abc/x.jpg",
        "http://user:s3cret@evil.example.com/x.jpg",
        "ftp://user:s3cret@h/x.jpg",
        "http://evil.example.com/x.jpg?token=s3cret",
    ],
    ids=repr,
)
async def test_refusal_messages_never_echo_secrets_of_the_uri(uri: str) -> None:
    f = fetcher()
    with pytest.raises(UriRefused) as refused:
        await f.load(ImageInput(uri=uri))
    assert "s3cret" not in str(refused.value)
    await f.close()


async def test_unreachable_host_message_never_echoes_userinfo() -> None:
    port = free_port()
    f = ImageFetcher(ImageSettings(http_allowed_hosts=[f"127.0.0.1:{port}"]))
    with pytest.raises(Unavailable) as unavailable:
        await f.load(ImageInput(uri=f"http://user:s3cret@127.0.0.1:{port}/x.jpg"))
    assert "s3cret" not in str(unavailable.value)
    assert f"127.0.0.1:{port}" in str(unavailable.value)
    await f.close()


def test_redact_uri_masks_userinfo_and_query_values_even_when_malformed() -> None:
    assert redact_uri("http://u:pw@[::1") == "http://***@[::1"
    assert redact_uri("redis://:pw@cache:6379/0") == "redis://***@cache:6379/0"
    assert (
        redact_uri("https://img/x.jpg?sig=abc&w=2#t=1") == "https://img/x.jpg?sig=***&w=***#t=***"
    )
    assert redact_uri("file:///images/shirt.jpg") == "file:///images/shirt.jpg"
