"""Certificates made at test time: a CA, server and client certificates, written to files.

Usage:
    ca = CertificateAuthority.create(tmp_path, "vrs test CA")
    server = ca.issue_server("server")             # SAN 127.0.0.1, ::1, localhost
    client = ca.issue_client("search-service")     # subject CN=search-service
    ca.cert_file, server.cert_file, server.key_file, client.cert_file, client.key_file

    other = CertificateAuthority.create(tmp_path, "some other CA")   # for "wrong CA" tests
    stale = ca.issue_server("old", expired=True)                     # expired yesterday

Keys are EC P-256 (fast to make; gRPC's BoringSSL, OpenSSL and Redis all accept them).
Everything is PEM; key files are unencrypted PKCS#8 with mode 0600. Each certificate gets
files of its own (never another's, even issued alike); IssuedCert.copy_to writes one over
given paths (rotation).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class IssuedCert:
    """A certificate and its private key, as PEM files (and bytes, for in-memory use)."""

    name: str
    cert_file: Path
    key_file: Path

    @property
    def cert_pem(self) -> bytes:
        return self.cert_file.read_bytes()

    @property
    def key_pem(self) -> bytes:
        return self.key_file.read_bytes()

    def copy_to(self, cert_file: Path, key_file: Path) -> None:
        """Writes this certificate over other files (rotation: same paths, new contents)."""
        _write(cert_file, self.cert_pem)
        _write(key_file, self.key_pem, private=True)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vrs tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    # Write-then-rename so a reader polling the path never sees half a file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    if private:
        tmp.chmod(0o600)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _subject_alt_names(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA that issues server and client certificates into a directory."""

    name: str
    directory: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_file: Path

    @classmethod
    def create(cls, directory: Path, name: str = "vrs test CA") -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        key = _new_key()
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        cert_file = directory / f"{_unique_stem(directory, _slug(name))}.crt"
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM))
        return cls(name=name, directory=directory, cert=cert, key=key, cert_file=cert_file)

    @property
    def cert_pem(self) -> bytes:
        return self.cert_file.read_bytes()

    def issue_server(
        self,
        name: str = "server",
        *,
        hosts: tuple[str, ...] = LOOPBACK_NAMES,
        expired: bool = False,
        client_auth: bool = False,
    ) -> IssuedCert:
        """A server certificate valid for `hosts` (loopback by default); with client_auth it
        may also serve as a client certificate (as deploy/k8s's pod certificates do)."""
        usages = [ExtendedKeyUsageOID.SERVER_AUTH]
        if client_auth:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        return self._issue(
            name,
            common_name=hosts[0] if hosts else name,
            usages=usages,
            hosts=hosts,
            expired=expired,
        )

    def issue_client(self, common_name: str, *, expired: bool = False) -> IssuedCert:
        """A client certificate whose subject is CN=`common_name` (the caller's name)."""
        return self._issue(
            f"client-{common_name}",
            common_name=common_name,
            usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
            hosts=(),
            expired=expired,
        )

    def _issue(
        self,
        name: str,
        *,
        common_name: str,
        usages: list[x509.ObjectIdentifier],
        hosts: tuple[str, ...],
        expired: bool,
    ) -> IssuedCert:
        key = _new_key()
        now = _now()
        if expired:
            not_before, not_after = (
                now - datetime.timedelta(days=2),
                now - datetime.timedelta(days=1),
            )
        else:
            not_before, not_after = (
                now - datetime.timedelta(hours=1),
                now + datetime.timedelta(days=1),
            )
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if hosts:
            builder = builder.add_extension(_subject_alt_names(hosts), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        stem = _unique_stem(
            self.directory, f"{_slug(self.name)}-{_slug(name)}{'-expired' if expired else ''}"
        )
        cert_file = self.directory / f"{stem}.crt"
        key_file = self.directory / f"{stem}.key"
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM))
        _write(key_file, _key_pem(key), private=True)
        return IssuedCert(name=name, cert_file=cert_file, key_file=key_file)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _unique_stem(directory: Path, stem: str) -> str:
    """stem, or stem-2, -3...: never over another certificate's files (two certificates
    issued alike are still two certificates)."""
    candidate, n = stem, 1
    while (directory / f"{candidate}.crt").exists():
        n += 1
        candidate = f"{stem}-{n}"
    return candidate
