"""How every vrs Redis client connects: URL, credentials, TLS files, and the plaintext rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from vrs.errors import ConfigurationError
from vrs.security.plaintext_secrets import REDIS, refuse_plaintext_secret
from vrs.security.redact import redact_uri
from vrs.settings import RedisSettings

TLS_SCHEME = "rediss"


def redis_connection(url: str, settings: RedisSettings) -> tuple[str, dict[str, Any]]:
    """(url, keyword arguments) for redis-py's from_url, asyncio or not.

    VRS_REDIS_USERNAME and VRS_REDIS_PASSWORD win over the URL's userinfo; rediss:// gets the
    TLS files and hostname checking; a secret bound for another host over redis:// is refused
    (ConfigurationError) unless VRS_REDIS_ALLOW_PLAINTEXT_SECRETS.
    """
    password = settings.password.get_secret_value() if settings.password else None
    url = _without_overridden_userinfo(
        url, replace_user=bool(settings.username), replace_password=bool(password)
    )
    has_secret = bool(password) or bool(_url_password(url))
    refuse_plaintext_secret(url, has_secret, settings.allow_plaintext_secrets, REDIS)
    kwargs: dict[str, Any] = {}
    if password:
        kwargs["password"] = password
    if settings.username:
        kwargs["username"] = settings.username
    kwargs.update(_tls_arguments(url, settings))
    return url, kwargs


def redis_client(settings: RedisSettings, timeout_s: float | None = None) -> aioredis.Redis:
    """A client whose every call is bounded by timeout_s (default: VRS_REDIS_TIMEOUT_MS).

    ConfigurationError for settings that cannot work (TLS files without rediss://, a password
    in plaintext to another host); nothing has connected yet when it is raised.
    """
    if not settings.url:
        raise ValueError("VRS_REDIS_URL is not set")
    timeout = settings.timeout_ms / 1000.0 if timeout_s is None else timeout_s
    url, connection = redis_connection(settings.url, settings)
    return aioredis.Redis.from_url(
        url,
        **connection,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # Retrying inside one call would stretch it past its deadline; the guard's back-off
        # is the retry policy.
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


def _tls_arguments(url: str, settings: RedisSettings) -> dict[str, Any]:
    files = {
        "VRS_REDIS_TLS_CA_FILE": settings.tls_ca_file,
        "VRS_REDIS_TLS_CERT_FILE": settings.tls_cert_file,
        "VRS_REDIS_TLS_KEY_FILE": settings.tls_key_file,
    }
    given = [name for name, path in files.items() if path is not None]
    if url.partition("://")[0].strip().lower() != TLS_SCHEME:
        if given:
            raise ConfigurationError(
                f"{', '.join(given)} set, but VRS_REDIS_URL {redact_uri(url)} is not "
                f"{TLS_SCHEME}://: use a {TLS_SCHEME}:// URL for TLS"
            )
        return {}
    if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
        raise ConfigurationError(
            "VRS_REDIS_TLS_CERT_FILE and VRS_REDIS_TLS_KEY_FILE go together: set both or neither"
        )
    for name, path in files.items():
        if path is not None:
            _check_readable(name, path)
    return {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": _text(settings.tls_ca_file),
        "ssl_certfile": _text(settings.tls_cert_file),
        "ssl_keyfile": _text(settings.tls_key_file),
    }


def _check_readable(name: str, path: Path) -> None:
    """Now, naming the setting, rather than as an ssl error on the first connection."""
    try:
        with path.open("rb") as file:
            file.read(1)
    except OSError as exc:
        raise ConfigurationError(
            f"{name} {path}: cannot be read ({exc.strerror or type(exc).__name__})"
        ) from exc


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _without_overridden_userinfo(url: str, *, replace_user: bool, replace_password: bool) -> str:
    """The URL without the userinfo parts the settings replace.

    from_url lets the URL's username and password override its keyword arguments; the
    settings are documented to win, so those parts of the URL are taken out.
    """
    if not (replace_user or replace_password):
        return url
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:  # redis-py reports a URL it cannot parse, naming it
        return url
    if user is None and password is None:
        return url
    keep_user = None if replace_user else user
    keep_password = None if replace_password else password
    userinfo = keep_user or ""
    if keep_password is not None:
        userinfo += f":{keep_password}"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}" if userinfo else host))
