"""Certificate, key and CA files: read, checked before use, and watched for changes.

Reads are blocking file I/O: callers on an event loop run them in a thread.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vrs.errors import ConfigurationError

# (device, inode, size, mtime) of each file, None when missing. Kubernetes swaps a mounted
# Secret by re-pointing a symlink, which changes the inode even when the mtime does not.
Signature = tuple[tuple[int, int, int, int] | None, ...]


@dataclass(frozen=True)
class SettingFile:
    """A file named by a setting: errors name both, so the operator knows what to fix."""

    setting: str
    path: Path

    def read(self) -> bytes:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"{self.setting}: cannot read {self.path}: {exc.strerror or type(exc).__name__}"
            ) from None
        if not data.strip():
            raise ConfigurationError(f"{self.setting}: {self.path} is empty")
        return data


class FilesChanging(ConfigurationError):
    """The files changed while being read (a rotation in progress): read them again later."""


@dataclass(frozen=True)
class KeyPair:
    """A certificate chain and its private key, as PEM bytes."""

    cert_pem: bytes
    key_pem: bytes


def signature(files: Sequence[SettingFile]) -> Signature:
    """What changes when any of the files is replaced or rewritten."""
    stamps: list[tuple[int, int, int, int] | None] = []
    for file in files:
        try:
            st = file.path.stat()
        except OSError:
            stamps.append(None)
            continue
        stamps.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(stamps)


def read_key_pair(cert: SettingFile, key: SettingFile) -> KeyPair:
    """The certificate and key, refused unless they parse and the key matches the
    certificate (a rotation caught half-written must not be served)."""
    return checked_server_context(cert, key)[0]


def checked_server_context(cert: SettingFile, key: SettingFile) -> tuple[KeyPair, ssl.SSLContext]:
    """The certificate and key, and a server SSLContext (TLS 1.2 or newer) serving them;
    refused unless they parse, the key matches, and the files held still while read."""
    cert_pem, key_pem = cert.read(), key.read()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        # An empty password: an encrypted key fails here instead of prompting on a terminal.
        context.load_cert_chain(cert.path, key.path, password=b"")
    except ssl.SSLError as exc:
        raise ConfigurationError(
            f"{cert.setting} / {key.setting}: {cert.path} and {key.path} are not a PEM "
            "certificate and its unencrypted private key "
            f"({exc.reason or 'malformed, encrypted or mismatched'})"
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"{cert.setting} / {key.setting}: cannot read {cert.path} or {key.path}: "
            f"{exc.strerror or type(exc).__name__}"
        ) from None
    # load_cert_chain read the files again: what it checked must be what we serve.
    if cert.read() != cert_pem or key.read() != key_pem:
        raise FilesChanging(
            f"{cert.setting} / {key.setting}: {cert.path} or {key.path} changed while being "
            "read; will read them again"
        )
    return KeyPair(cert_pem, key_pem), context


def read_ca_bundle(ca: SettingFile) -> bytes:
    """PEM CA certificates, refused unless at least one parses."""
    pem = ca.read()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=pem.decode("ascii", errors="replace"))
    except ssl.SSLError as exc:
        raise ConfigurationError(
            f"{ca.setting}: {ca.path} holds no usable PEM certificate "
            f"({exc.reason or 'unreadable'})"
        ) from None
    if context.cert_store_stats()["x509"] == 0:
        raise ConfigurationError(f"{ca.setting}: {ca.path} holds no PEM certificate")
    return pem


def fingerprint(cert_pem: bytes) -> str:
    """Short SHA-256 of the first certificate in a PEM chain: which certificate is served,
    for logs (a certificate is public; this names it without printing it)."""
    text = cert_pem.decode("ascii", errors="replace")
    start = text.find(ssl.PEM_HEADER)
    end = text.find(ssl.PEM_FOOTER, start)
    if start < 0 or end < 0:
        return "unknown"
    try:
        der = ssl.PEM_cert_to_DER_cert(text[start : end + len(ssl.PEM_FOOTER)])
    except ValueError:
        return "unknown"
    return hashlib.sha256(der).hexdigest()[:16]
