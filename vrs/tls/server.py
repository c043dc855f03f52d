"""Server TLS whose certificate, key and client CA are re-read from their files while serving.

gRPC asks a fetcher for the certificate configuration on every new connection; the fetcher
hands over what the last file check loaded (no I/O on gRPC's threads). Connections already
open keep the certificate they were made with, so in-flight calls are never dropped. HTTPS
listeners (the gateway, /metrics) serve the same certificate from an SSLContext that is
swapped the same way (HttpTls).
"""

from __future__ import annotations

import logging
import ssl

import grpc

from vrs.errors import ConfigurationError
from vrs.settings import ServerSettings
from vrs.tls.files import (
    SettingFile,
    checked_server_context,
    fingerprint,
    read_ca_bundle,
    read_key_pair,
)
from vrs.tls.reloading import ReloadingFiles

log = logging.getLogger(__name__)

CERT_SETTING = "VRS_GRPC_TLS_CERT_FILE"
KEY_SETTING = "VRS_GRPC_TLS_KEY_FILE"
CLIENT_CA_SETTING = "VRS_GRPC_TLS_CLIENT_CA_FILE"


def tls_files(
    settings: ServerSettings,
) -> tuple[SettingFile, SettingFile, SettingFile | None] | None:
    """(certificate, key, client CA) named by the settings; None when TLS is off;
    ConfigurationError for half a configuration."""
    cert, key, ca = settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
    if cert is None and key is None:
        if ca is not None:
            raise ConfigurationError(
                f"{CLIENT_CA_SETTING} (mutual TLS) needs TLS: set {CERT_SETTING} and "
                f"{KEY_SETTING} too"
            )
        return None
    if cert is None or key is None:
        missing = CERT_SETTING if cert is None else KEY_SETTING
        raise ConfigurationError(f"TLS needs a certificate and its key: {missing} is not set")
    return (
        SettingFile(CERT_SETTING, cert),
        SettingFile(KEY_SETTING, key),
        None if ca is None else SettingFile(CLIENT_CA_SETTING, ca),
    )


class ServerTls:
    """The gRPC server's TLS files, loaded and checked, and re-loaded when they change."""

    def __init__(
        self, cert: SettingFile, key: SettingFile, client_ca: SettingFile | None, reload_s: float
    ) -> None:
        self._cert, self._key, self._client_ca = cert, key, client_ca
        files = [cert, key] if client_ca is None else [cert, key, client_ca]
        self._files = ReloadingFiles(files, self._load, reload_s)
        self._served: grpc.ServerCertificateConfiguration | None = None

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> ServerTls | None:
        """None when TLS is off; ConfigurationError for half a configuration or bad files."""
        files = tls_files(settings)
        return None if files is None else cls(*files, settings.tls_reload_s)

    @property
    def mutual(self) -> bool:
        return self._client_ca is not None

    @property
    def reload_s(self) -> float:
        return self._files.reload_s

    def credentials(self) -> grpc.ServerCredentials:
        self._served = self._files.current
        return grpc.dynamic_ssl_server_credentials(
            self._files.current,
            self._fetch,  # type: ignore[arg-type]  # the stubs omit None ("unchanged")
            require_client_authentication=self.mutual,
        )

    def reload_if_changed(self) -> bool:
        """Blocking (file I/O). True when new files were loaded; bad new files are logged and
        the previous certificate stays in use."""
        return self._files.reload_if_changed()

    async def watch(self) -> None:
        """Checks the files every reload_s until cancelled."""
        await self._files.watch()

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        # Called by gRPC for each new connection, on its own threads: no I/O, never raises.
        config = self._files.current
        if config is self._served:
            return None
        self._served = config
        return config

    def _load(self, level: int) -> grpc.ServerCertificateConfiguration:
        pair = read_key_pair(self._cert, self._key)
        client_ca = None if self._client_ca is None else read_ca_bundle(self._client_ca)
        log.log(
            level,
            "tls certificate loaded",
            extra={
                "cert_file": str(self._cert.path),
                "fingerprint": fingerprint(pair.cert_pem),
                "mutual": client_ca is not None,
            },
        )
        return grpc.ssl_server_certificate_configuration(
            [(pair.key_pem, pair.cert_pem)], root_certificates=client_ca
        )


class HttpTls:
    """HTTPS for the process's HTTP listeners, from the gRPC server's certificate files and
    re-read when they change; callers authenticate with bearer tokens (no client certificate
    is asked for: a browser has none)."""

    def __init__(self, cert: SettingFile, key: SettingFile, reload_s: float) -> None:
        self._cert, self._key = cert, key
        self._files = ReloadingFiles([cert, key], self._load, reload_s)

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> HttpTls | None:
        """None when TLS is off; ConfigurationError for half a configuration or bad files."""
        files = tls_files(settings)
        return None if files is None else cls(files[0], files[1], settings.tls_reload_s)

    @property
    def context(self) -> ssl.SSLContext:
        """The context new connections handshake with (the last good files)."""
        return self._files.current

    def reload_if_changed(self) -> bool:
        return self._files.reload_if_changed()

    async def watch(self) -> None:
        await self._files.watch()

    def _load(self, level: int) -> ssl.SSLContext:
        pair, context = checked_server_context(self._cert, self._key)
        log.log(
            level,
            "https certificate loaded",
            extra={"cert_file": str(self._cert.path), "fingerprint": fingerprint(pair.cert_pem)},
        )
        return context
