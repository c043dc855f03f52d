"""Typed settings, read from VRS_* environment variables.

`Settings.from_env()` is called once in a `main()` and the result is passed down; nothing reads
the environment at import time.

- `sections`: the sections (one environment prefix each) and `Settings`, which holds them all
- `host_entries`: the syntax of an allowed image host entry
- `problems`: an invalid setting said in one line that names the variable, never its value
- `reference`: every setting as a table row (docs/configuration.md)
"""

from vrs.settings.sections import (
    AuthSettings,
    Backbone,
    CacheSettings,
    ClientSettings,
    ConnectionSettings,
    EventsSettings,
    ImageSettings,
    LogSettings,
    ModelSettings,
    ObservabilitySettings,
    PricingSettings,
    RedisSettings,
    SearchSettings,
    ServerSettings,
    Settings,
    StoreSettings,
    WebSettings,
)

__all__ = [
    "AuthSettings",
    "Backbone",
    "CacheSettings",
    "ClientSettings",
    "ConnectionSettings",
    "EventsSettings",
    "ImageSettings",
    "LogSettings",
    "ModelSettings",
    "ObservabilitySettings",
    "PricingSettings",
    "RedisSettings",
    "SearchSettings",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "WebSettings",
]
