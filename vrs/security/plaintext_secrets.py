"""No password or API key over a plaintext connection to another host, unless asked for.

Anyone on the network path reads a secret sent over redis:// or http://. Loopback never leaves
the machine, so it is exempt; anything else needs TLS or an explicit, logged opt-in.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from vrs.errors import ConfigurationError
from vrs.security.bind_policy import is_loopback
from vrs.security.redact import redact_uri

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecretChannel:
    """Where a secret travels, and the settings that make sending it acceptable."""

    secret: str  # what is sent, as the operator calls it
    url_setting: str
    plaintext_scheme: str
    secure_scheme: str
    opt_in_setting: str


REDIS = SecretChannel(
    secret="the Redis password",
    url_setting="VRS_REDIS_URL",
    plaintext_scheme="redis",
    secure_scheme="rediss",
    opt_in_setting="VRS_REDIS_ALLOW_PLAINTEXT_SECRETS",
)
QDRANT = SecretChannel(
    secret="the Qdrant API key",
    url_setting="VRS_QDRANT_URL",
    plaintext_scheme="http",
    secure_scheme="https",
    opt_in_setting="VRS_QDRANT_ALLOW_PLAINTEXT_SECRETS",
)

# One warning per process and address, however many clients a start opens to it.
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def refuse_plaintext_secret(
    url: str, has_secret: bool, allowed: bool, channel: SecretChannel
) -> None:
    """Raises ConfigurationError naming the settings to change when `url` would carry a secret
    in plaintext to a non-loopback host; warns (once per process) when that is `allowed`.

    Decided from the URL alone, before anything connects: the refusal must not have sent the
    secret already.
    """
    if not has_secret or not _is_plaintext(url, channel):
        return
    shown = redact_uri(url)
    if is_loopback(_host_of(url, channel)):
        return
    if not allowed:
        raise ConfigurationError(
            f"{channel.url_setting} {shown} would send {channel.secret} unencrypted over the "
            f"network: use a {channel.secure_scheme}:// URL, or set "
            f"{channel.opt_in_setting}=true to accept that anyone on the path can read it"
        )
    with _warned_lock:
        first = (channel.url_setting, shown) not in _warned
        _warned.add((channel.url_setting, shown))
    if first:
        log.warning(
            "%s is sent unencrypted to %s (%s=true): anyone on the network path can read it; "
            "use a %s:// URL",
            channel.secret,
            shown,
            channel.opt_in_setting,
            channel.secure_scheme,
        )


def _is_plaintext(url: str, channel: SecretChannel) -> bool:
    scheme, sep, _ = url.partition("://")
    # A Qdrant URL without a scheme is https when an API key is given (qdrant-client's rule),
    # and redis-py refuses Redis URLs without one.
    return bool(sep) and scheme.strip().lower() == channel.plaintext_scheme


def _host_of(url: str, channel: SecretChannel) -> str:
    """The URL's host; ConfigurationError when it cannot be told (never guess it is local)."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError as exc:
        raise ConfigurationError(
            f"{channel.url_setting} {redact_uri(url)}: cannot tell its host ({exc})"
        ) from exc
    if not host:
        raise ConfigurationError(f"{channel.url_setting} {redact_uri(url)}: no host")
    return host
