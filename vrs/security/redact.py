"""URIs made safe to show in logs, errors and metrics."""

from __future__ import annotations

import re

# Scheme, optional '//', then userinfo up to the last '@' of the authority. Written by hand
# rather than with urlsplit, which raises on the malformed URIs that most need reporting.
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*:(?://)?)[^/?#]*@")
_MASK = "***"


def redact_uri(uri: str) -> str:
    """The URI with its userinfo and its query and fragment values masked.

    Never raises: malformed URIs are exactly the ones error messages echo.
    """
    shown = _USERINFO.sub(rf"\g<head>{_MASK}@", uri, count=1)
    cut = min((i for i in (shown.find("?"), shown.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return shown
    # Signed URLs carry their tokens in the query (and OAuth-style ones in the fragment).
    base, tail = shown[:cut], shown[cut:]
    return base + re.sub(r"(?<=[?#&;])([^=&;#?]*)(=[^&;#]*)?", _mask_param, tail)


def _mask_param(match: re.Match[str]) -> str:
    key, value = match.group(1), match.group(2)
    if value is not None:
        return f"{key}={_MASK}"
    return _MASK if key else ""


# Any scheme://... run inside free text (exception messages quote URIs in many shapes).
_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


def redact_text(text: str) -> str:
    """Free text (an error message, a log line) with every URI in it passed through
    redact_uri."""
    if "://" not in text:
        # Most log fields: no URI can match, and the scan costs microseconds a field.
        return text
    return _URI_IN_TEXT.sub(lambda m: redact_uri(m.group(0)), text)
