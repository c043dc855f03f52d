"""Channels from vrs clients (the CLI, search -> embedder, tests) to vrs servers: TLS when a CA
is configured, a client certificate for mutual TLS, and the caller's bearer token."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Literal, overload

import grpc

from vrs.auth.bearer import BearerTokenInterceptor, aio_bearer_interceptors
from vrs.errors import ConfigurationError
from vrs.observability import tracing
from vrs.security.bind_policy import is_loopback
from vrs.settings import ClientSettings
from vrs.tls.files import SettingFile, read_ca_bundle, read_key_pair

ChannelOptions = Sequence[tuple[str, Any]]

CA_SETTING = "VRS_CLIENT_TLS_CA_FILE"
CERT_SETTING = "VRS_CLIENT_TLS_CERT_FILE"
KEY_SETTING = "VRS_CLIENT_TLS_KEY_FILE"


def tls_files(settings: ClientSettings) -> list[SettingFile]:
    """The files a channel's TLS is made of (watched for changes by long-lived clients)."""
    named = [
        (CA_SETTING, settings.tls_ca_file),
        (CERT_SETTING, settings.tls_cert_file),
        (KEY_SETTING, settings.tls_key_file),
    ]
    return [SettingFile(setting, path) for setting, path in named if path is not None]


def channel_credentials(settings: ClientSettings) -> grpc.ChannelCredentials | None:
    """TLS credentials read from the files now (blocking I/O); None for a plaintext channel.

    ConfigurationError naming the setting for half a configuration or unusable files.
    """
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if (cert is None) != (key is None):
        missing = CERT_SETTING if cert is None else KEY_SETTING
        raise ConfigurationError(
            f"a client certificate needs its key and the key its certificate: {missing} is not set"
        )
    if settings.tls_ca_file is None:
        if cert is not None:
            raise ConfigurationError(
                f"{CERT_SETTING} (mutual TLS) needs TLS: set {CA_SETTING} (the CA that signed "
                "the server's certificate)"
            )
        return None
    ca = read_ca_bundle(SettingFile(CA_SETTING, settings.tls_ca_file))
    if cert is None or key is None:
        return grpc.ssl_channel_credentials(root_certificates=ca)
    pair = read_key_pair(SettingFile(CERT_SETTING, cert), SettingFile(KEY_SETTING, key))
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=pair.key_pem, certificate_chain=pair.cert_pem
    )


def channel_options(
    settings: ClientSettings, options: ChannelOptions = ()
) -> list[tuple[str, Any]]:
    if settings.tls_server_name:
        # The name the server certificate must carry when it is not the address's host.
        return [*options, ("grpc.ssl_target_name_override", settings.tls_server_name)]
    return list(options)


def target_host(address: str) -> str:
    """The host a gRPC target dials (`host:port`, `[v6]:port`, `dns:///host:port`, ...)."""
    target = address
    for scheme in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if target.startswith(scheme):
            target = target[len(scheme) :]
            break
    if target.startswith(("unix:", "unix-abstract:")):
        return "localhost"  # a local socket never leaves the machine
    target = target.split(",")[0]
    if target.startswith("["):
        return target[1:].partition("]")[0]
    host, sep, _port = target.rpartition(":")
    if not sep:
        return target
    try:
        ipaddress.IPv6Address(target)
    except ValueError:
        return host
    return target  # a bare IPv6 address without a port


def check_token_transport(address: str, settings: ClientSettings, secure: bool) -> None:
    """A bearer token goes to another machine only over TLS."""
    if settings.token is not None and not secure and not is_loopback(target_host(address)):
        raise ConfigurationError(
            f"refusing to send VRS_CLIENT_TOKEN in plaintext to {address}: set {CA_SETTING} "
            "(TLS to the server)"
        )


@overload
def open_channel(
    address: str,
    settings: ClientSettings,
    *,
    aio: Literal[True],
    options: ChannelOptions = (),
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.aio.Channel: ...


@overload
def open_channel(
    address: str,
    settings: ClientSettings,
    *,
    aio: Literal[False],
    options: ChannelOptions = (),
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.Channel: ...


def open_channel(
    address: str,
    settings: ClientSettings,
    *,
    aio: bool,
    options: ChannelOptions = (),
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.aio.Channel | grpc.Channel:
    """A channel to a vrs server as `settings` say: TLS (and a client certificate) when a CA
    is set, plaintext otherwise; every call carries the token when one is set.

    `credentials` already read (channel_credentials, off the event loop) skip the file reads.
    An aio channel must be opened on the event loop that uses it.
    """
    if credentials is None:
        credentials = channel_credentials(settings)
    check_token_transport(address, settings, credentials is not None)
    opts = channel_options(settings, options)
    token = settings.token.get_secret_value() if settings.token is not None else None
    if aio:
        # The trace interceptors (when tracing is on) come first: their span covers the call.
        interceptors = [
            *tracing.aio_client_interceptors(),
            *(aio_bearer_interceptors(token) if token else ()),
        ]
        if credentials is None:
            return grpc.aio.insecure_channel(
                address, options=opts, interceptors=interceptors or None
            )
        return grpc.aio.secure_channel(
            address, credentials, opts, interceptors=interceptors or None
        )
    if credentials is None:
        channel = grpc.insecure_channel(address, options=opts)
    else:
        channel = grpc.secure_channel(address, credentials, options=opts)
    if token:
        channel = grpc.intercept_channel(channel, BearerTokenInterceptor(token))
    traced = tracing.client_interceptor()
    return grpc.intercept_channel(channel, traced) if traced is not None else channel
