"""The Redis URL and password a client connects with (VRS_REDIS_PASSWORD wins)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr


def url_and_password(url: str, password: SecretStr | None) -> tuple[str, str | None]:
    """(url, password) for redis-py's from_url.

    from_url lets a password in the URL override the password argument; the setting is
    documented to win, so with one set the URL's password is taken out.
    """
    if password is None or not password.get_secret_value():
        return url, None
    parts = urlsplit(url)
    if parts.password is None:
        return url, password.get_secret_value()
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username}@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc)), password.get_secret_value()
