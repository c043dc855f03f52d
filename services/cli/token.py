"""`vrs token create`: a new caller token, shown once, and its line for the tokens file."""

from __future__ import annotations

import secrets

from services.cli.client import CliError
from vrs.auth.roles import parse_roles
from vrs.auth.tokens import TokensFileError, check_name, token_line

# Recognisable in a leaked paste or a secret scanner's rules.
TOKEN_PREFIX = "vrs_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create(name: str, roles_text: str) -> int:
    try:
        check_name(name)
        roles = parse_roles(roles_text)
    except (TokensFileError, ValueError) as exc:
        raise CliError(str(exc)) from None
    token = new_token()
    # In a fixed order, so the same roles always make the same line.
    line = token_line(name, token, sorted(roles))
    print("token (shown only now; give it to the caller as VRS_CLIENT_TOKEN or --token):")
    print(f"  {token}")
    print("line for the tokens file (VRS_AUTH_TOKENS_FILE; the server keeps only the hash):")
    print(f"  {line}")
    return 0
