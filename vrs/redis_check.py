"""Is Redis there, and does it take our password: checked at startup, said in one line."""

from __future__ import annotations

import asyncio

from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from vrs.errors import ConfigurationError, Unavailable, VrsError
from vrs.redact import redact_text, redact_uri
from vrs.redis_guard import redis_client
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
            f"Redis at {where} refused the password (VRS_REDIS_PASSWORD or the URL's): {detail}"
        )
    if isinstance(exc, NoPermissionError):
        return ConfigurationError(
            f"Redis at {where} denies this user a command vrs needs: {detail}"
        )
    return Unavailable("Redis", f"{where}: {type(exc).__name__}: {detail}")


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
        raise as_domain_error(exc, where) from exc
    finally:
        await client.aclose()
