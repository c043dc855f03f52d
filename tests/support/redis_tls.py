"""A real redis-server speaking only TLS on a free loopback port, with ACL users.

The default user is off: a client gets in only as an ACL user, over TLS, trusting the CA.
Started, awaited and stopped by the one launcher, tests.support.redis_server.RedisServer.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.certs import CertificateAuthority
from tests.support.redis_server import RedisServer, RedisTls

# What vrs needs, as deploy/k8s/base/secret.example.yaml grants it: its keys and streams
# (prefix "vrs") and every command but the @dangerous ones (CONFIG, FLUSHALL, KEYS, ...).
VRS_ACL_RULES: tuple[str, ...] = ("~vrs*", "+@all", "-@dangerous")


def acl_users(username: str, password: str, acl_file: Path | None) -> list[str]:
    """redis-server arguments: the users of `acl_file`, or the default user off and
    `username` with VRS_ACL_RULES."""
    if acl_file is not None:
        return ["--aclfile", str(acl_file)]
    return ["--user", "default", "off", "--user", username, "on", f">{password}", *VRS_ACL_RULES]


class TlsRedisServer(RedisServer):
    """redis-server --port 0 --tls-port P with a loopback certificate from `ca` (or the
    certificate files given); user `username` with VRS_ACL_RULES, or the users of `acl_file`
    when one is given."""

    def __init__(
        self,
        workdir: Path,
        ca: CertificateAuthority | None = None,
        *,
        username: str = "",
        password: str = "",
        require_client_cert: bool = False,
        acl_file: Path | None = None,
        tls_files: tuple[Path, Path, Path] | None = None,
    ) -> None:
        if tls_files is not None:
            cert_file, key_file, ca_file = tls_files
        elif ca is not None:
            cert = ca.issue_server("redis")
            cert_file, key_file, ca_file = cert.cert_file, cert.key_file, ca.cert_file
        else:
            raise ValueError("give a CA or the certificate files")
        probe_cert = None
        if require_client_cert:
            if ca is None:
                raise ValueError("a client certificate needs the CA to issue it")
            probe = ca.issue_client("probe")
            probe_cert = (probe.cert_file, probe.key_file)
        tls = RedisTls(cert_file, key_file, ca_file, require_client_cert, probe_cert)
        super().__init__(workdir, tls=tls, users=acl_users(username, password, acl_file))
        self.ca = ca
        self.cert_file, self.key_file, self.ca_file = cert_file, key_file, ca_file
        self.require_client_cert = require_client_cert
        self.acl_file = acl_file
