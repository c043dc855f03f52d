"""Is Redis there, and does it take our password: checked at startup, said in one line."""

from __future__ import annotations

import asyncio
import ssl

from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from vrs.errors import ConfigurationError, Unavailable, VrsError
from vrs.redis_access.connection import redis_client, redis_connection
from vrs.security.redact import redact_text, redact_uri
from vrs.settings import RedisSettings

# Startup is not the hot path: long enough for a slow first connection, short enough that a
# dead address is refused in seconds.
STARTUP_TIMEOUT_S = 5.0


def redis_address(settings: RedisSettings) -> str:
    """The Redis URL as logs and errors may show it (no password)."""
    return redact_uri(settings.url or "")


def as_domain_error(exc: BaseException, where: str) -> VrsError:
    """A redis-py (or socket) failure as ConfigurationError (auth) or Unavailable."""
    detail = redact_text(" ".join(str(exc).split())) or type(exc).__name__
    if isinstance(exc, AuthenticationError):
        return ConfigurationError(
            f"Redis at {where} refused the password (VRS_REDIS_PASSWORD or the URL's; user: "
            f"VRS_REDIS_USERNAME or the URL's): {detail}"
        )
    tls_problem = _tls_problem(exc)
    if tls_problem:
        return ConfigurationError(f"Redis at {where} {tls_problem}: {detail}")
    if isinstance(exc, NoPermissionError):
        return ConfigurationError(
            f"Redis at {where} denies this user a command vrs needs: {detail}"
        )
    return Unavailable("Redis", f"{where}: {type(exc).__name__}: {detail}")


# OpenSSL's reasons for the server refusing this client's certificate, or its absence.
_CLIENT_CERT_REFUSED = (
    "CERTIFICATE_REQUIRED",
    "UNKNOWN_CA",
    "BAD_CERTIFICATE",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_UNKNOWN",
)


def _tls_problem(exc: BaseException) -> str | None:
    """What went wrong in the TLS handshake, naming the settings to check; None when the
    failure is not a certificate problem. redis-py wraps the ssl error in a ConnectionError
    and keeps it as the context."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return (
                "has a TLS certificate this client does not trust (its CA is "
                "VRS_REDIS_TLS_CA_FILE, its names must include the URL's host)"
            )
        reason = str(getattr(seen, "reason", None) or seen)
        if isinstance(seen, ssl.SSLError) and any(r in reason for r in _CLIENT_CERT_REFUSED):
            return (
                "refused this client's TLS certificate or its absence "
                "(VRS_REDIS_TLS_CERT_FILE and VRS_REDIS_TLS_KEY_FILE, issued by a CA it trusts)"
            )
        seen = seen.__cause__ or seen.__context__
    return None


def check_redis_settings(settings: RedisSettings) -> None:
    """ConfigurationError for Redis settings no client could use; connects to nothing."""
    if settings.url:
        redis_connection(settings.url, settings)


async def check_redis(settings: RedisSettings, purpose: str) -> None:
    """PING within STARTUP_TIMEOUT_S; raises ConfigurationError or Unavailable naming the URL."""
    if not settings.url:
        raise ConfigurationError(f"{purpose} need VRS_REDIS_URL")
    where = redis_address(settings)
    try:
        client = redis_client(settings, STARTUP_TIMEOUT_S)
    except ValueError as exc:  # redis-py's word for a URL it cannot parse
        raise ConfigurationError(f"VRS_REDIS_URL {where}: {redact_text(str(exc))}") from exc
    try:
        await asyncio.wait_for(client.ping(), STARTUP_TIMEOUT_S)
    except TimeoutError as exc:
        raise Unavailable("Redis", f"{where}: no answer within {STARTUP_TIMEOUT_S}s") from exc
    except (RedisError, OSError) as exc:
        if _reset_without_client_certificate(exc, settings):
            # Under TLS 1.3 a server that requires a client certificate refuses it after the
            # client's side of the handshake: the client may see only a reset, not the alert.
            raise ConfigurationError(
                f"Redis at {where} closed the TLS connection before answering: it may require a "
                "client certificate (VRS_REDIS_TLS_CERT_FILE and VRS_REDIS_TLS_KEY_FILE)"
            ) from exc
        raise as_domain_error(exc, where) from exc
    finally:
        await client.aclose()


def _reset_without_client_certificate(exc: BaseException, settings: RedisSettings) -> bool:
    if _tls_problem(exc) or settings.tls_cert_file is not None:
        return False
    if not (settings.url or "").lower().startswith("rediss://"):
        return False
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ConnectionResetError) or "reset by peer" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
