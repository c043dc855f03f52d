"""Structured logging: one JSON object per line (UTC time, the active trace), extra fields
included, secrets redacted."""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from pydantic import BaseModel, SecretStr

from vrs.security.redact import redact_text
from vrs.settings import LogSettings

# Attributes every LogRecord has; anything else came in through `extra=` and is logged as a field.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Loggers that write every request URL (credentials included) at INFO.
_CHATTY_LOGGERS = ("httpx", "httpcore")
_MASK = "***"
# Shorter values would mask ordinary words all over the logs; URL userinfo is masked anyway.
_MIN_SECRET_LEN = 4
_secrets: set[str] = set()
# The same, longest first (a secret containing another is masked whole): sorted once, not on
# every field of every line.
_secrets_longest_first: tuple[str, ...] = ()


def register_secrets(values: Iterable[str | SecretStr | None]) -> None:
    """Values to mask wherever they appear in a log line or an error message."""
    global _secrets_longest_first
    for value in values:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text and len(text) >= _MIN_SECRET_LEN:
            _secrets.add(text)
    _secrets_longest_first = tuple(sorted(_secrets, key=len, reverse=True))


def register_settings_secrets(settings: BaseModel) -> None:
    """Every SecretStr field of settings and of its sections."""
    found: list[SecretStr] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                found.append(value)
            elif isinstance(value, BaseModel):
                walk(value)

    walk(settings)
    register_secrets(found)


def redact(text: str) -> str:
    """text without URL userinfo, query values or any registered secret."""
    text = redact_text(text)
    for secret in _secrets_longest_first:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):  # bool is an int
        return value
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    # Exceptions, paths and other objects are logged through str(); redact that.
    return redact(str(value))


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, args, extra fields and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        fields = vars(record)
        for key in fields.keys() - _STANDARD_ATTRS:
            fields[key] = _redact_value(fields[key])
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def utc_timestamp(created: float) -> str:
    """ISO 8601 in UTC with milliseconds: 2026-11-26T13:54:39.123Z (sorts, and lines from
    pods in different time zones compare)."""
    global _last_second
    # What datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds") gives,
    # its date and time formatted once a second, not on every line.
    fraction, whole = math.modf(created)
    second = int(whole)
    micros = round(fraction * 1_000_000)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:
        second, micros = second - 1, micros + 1_000_000
    stamped = _last_second  # one read: another thread may replace it meanwhile
    if stamped[0] != second:
        moment = datetime.fromtimestamp(second, tz=UTC)
        stamped = _last_second = (second, moment.strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{stamped[1]}.{micros // 1000:03d}Z"


# The last second a line was stamped in, and its text.
_last_second: tuple[int | None, str] = (None, "")


def trace_fields() -> dict[str, str]:
    """trace_id and span_id (hex, as trace backends show them) of the active span, if any."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class UtcTextFormatter(logging.Formatter):
    """The text format's lines, stamped like the JSON ones (UTC, milliseconds, Z)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_timestamp(record.created)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(trace_fields())
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return _JSON.encode(entry)


# json.dumps(entry, default=str), without a new encoder for every line.
_JSON = json.JSONEncoder(default=str)


def configure_logging(settings: LogSettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(UtcTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # On the handler, not a logger: records of every logger pass through it.
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Library warnings (qdrant-client's among them) go through the handler, redacted.
    logging.captureWarnings(True)
