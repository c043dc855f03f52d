"""The tokens file: who the callers are, by token hash or client-certificate subject.

One caller credential a line, full-line comments with #:

    # name       credential                        roles
    catalog-sync sha256:<hex of sha256(token)>     roles=ingest
    search-svc   subject:CN=search-svc             roles=search

The server keeps only the hashes; a subject is matched against a verified client
certificate's full subject (RFC 4514, as gRPC reports it) or its common name (`CN=...`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vrs.auth.roles import Role, parse_roles

_HASH_PREFIX = "sha256:"
_SUBJECT_PREFIX = "subject:"
_ROLES_PREFIX = "roles="
# Names go into logs, errors and audit lines: plain characters only.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:/+-]{0,127}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
LINE_FORMAT = "NAME sha256:<64 hex digits>|subject:<certificate subject> roles=ROLE[,ROLE...]"


class TokensFileError(ValueError):
    """A tokens file that cannot be used; the message names the line and the problem, never
    the line's content."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its name (for logs and errors) and its roles."""

    name: str
    roles: frozenset[Role]


@dataclass(frozen=True)
class _HashEntry:
    digest: str
    caller: Caller


class CallerTable:
    """The callers of one version of the tokens file."""

    def __init__(
        self, hashes: Sequence[tuple[str, Caller]] = (), subjects: dict[str, Caller] | None = None
    ) -> None:
        self._hashes = tuple(_HashEntry(digest, caller) for digest, caller in hashes)
        self._subjects = dict(subjects or {})

    def __len__(self) -> int:
        return len(self._hashes) + len(self._subjects)

    def by_token(self, token: str) -> Caller | None:
        digest = token_digest(token)
        found = None
        # Every entry is compared, in constant time each: how long this takes says nothing
        # about which entry (if any) matched, nor how much of a digest did.
        for entry in self._hashes:
            if hmac.compare_digest(entry.digest, digest):
                found = entry.caller
        return found

    def by_certificate(self, subject: str | None, common_name: str | None) -> Caller | None:
        """The caller a verified client certificate stands for, if the file maps it."""
        for key in (subject, f"CN={common_name}" if common_name else None):
            if key and key in self._subjects:
                return self._subjects[key]
        return None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_line(name: str, token: str, roles: Iterable[Role]) -> str:
    """The tokens-file line that admits `token` as caller `name` with `roles`."""
    check_name(name)
    return f"{name}  {_HASH_PREFIX}{token_digest(token)}  {_ROLES_PREFIX}{','.join(roles)}"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise TokensFileError(
            "a caller name is 1-128 letters, digits and . _ @ : / + - (starting with a letter "
            "or digit)"
        )
    return name


def parse_tokens_file(text: str) -> CallerTable:
    """The callers a tokens file names; TokensFileError for the first bad line."""
    hashes: list[tuple[str, Caller]] = []
    subjects: dict[str, Caller] = {}
    seen_digests: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            credential, caller = _parse_line(line)
        except (TokensFileError, ValueError) as exc:
            raise TokensFileError(f"line {number}: {exc}") from None
        if credential.startswith(_HASH_PREFIX):
            digest = credential.removeprefix(_HASH_PREFIX)
            if digest in seen_digests:
                raise TokensFileError(f"line {number}: the same token hash is listed twice")
            seen_digests.add(digest)
            hashes.append((digest, caller))
        else:
            subject = credential.removeprefix(_SUBJECT_PREFIX)
            if subject in subjects:
                raise TokensFileError(f"line {number}: the same subject is listed twice")
            subjects[subject] = caller
    return CallerTable(hashes, subjects)


def _parse_line(line: str) -> tuple[str, Caller]:
    # Name first, roles last; the credential between may hold spaces (subjects do).
    parts = line.split(None, 1)
    if len(parts) != 2:
        raise TokensFileError(f"expected {LINE_FORMAT}")
    name, rest = parts
    tail = rest.rsplit(None, 1)
    if len(tail) != 2 or not tail[1].startswith(_ROLES_PREFIX):
        raise TokensFileError(f"expected {LINE_FORMAT}")
    credential, roles_part = tail[0].strip(), tail[1]
    check_name(name)
    roles = parse_roles(roles_part.removeprefix(_ROLES_PREFIX))
    if credential.startswith(_HASH_PREFIX):
        if not _HEX_DIGEST.fullmatch(credential.removeprefix(_HASH_PREFIX)):
            raise TokensFileError("a token hash is sha256: and 64 lowercase hex digits")
    elif credential.startswith(_SUBJECT_PREFIX):
        if not credential.removeprefix(_SUBJECT_PREFIX).strip():
            raise TokensFileError("an empty certificate subject")
    else:
        # Most likely a token pasted where its hash belongs: never repeat it.
        raise TokensFileError(
            "a credential is sha256:<hash of the token> or subject:<certificate subject> "
            "(the file holds token hashes, never tokens)"
        )
    return credential, Caller(name, roles)
