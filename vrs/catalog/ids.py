"""Product ids: the one normalised form every entry point uses, and their Qdrant point ids."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence

from vrs.errors import InvalidProduct
from vrs.limits import MAX_IDS_PER_CALL, MAX_PRODUCT_ID_BYTES

# Fixed namespace: the same product id maps to the same point id in every process and release,
# which is what makes re-ingesting a product overwrite it instead of duplicating it.
_POINT_NAMESPACE = uuid.UUID("5b8e2a3c-61f4-4d1e-9a57-7c0d3f1e2b94")

# Unicode White_Space (PropList.txt): stripped around ids, so " pad-1 " and "pad-1" are one id.
_WHITE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# Characters an id may not contain: invisible or direction-changing ones would make two ids
# that look identical differ (or one id display as another), and separators and controls break
# the logs, CSV files and terminals ids travel through.
_REFUSED_IN_IDS = {
    "Cc": "a control character",
    "Cf": "a format character (bidi control, zero-width...)",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "a surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
}


def point_id(product_id: str) -> str:
    """The point of a product stored as one photo before products had several (legacy)."""
    return str(uuid.uuid5(_POINT_NAMESPACE, product_id))


def photo_point_id(product_id: str, photo_key: str) -> str:
    """The point of one photo of a product: from the product and the photo's content, so
    re-sending the same photo rewrites its point and never duplicates it."""
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{product_id}\x1f{photo_key}"))


def normalize_product_id(raw: str, what: str = "product_id") -> str:
    """The one form of a product id every entry point uses; InvalidProduct naming the problem.

    NFC, surrounding Unicode White_Space stripped; refused when empty, longer than
    MAX_PRODUCT_ID_BYTES in UTF-8, or containing a character of a _REFUSED_IN_IDS category.
    `what` names the id in messages (a group id follows the same rules).
    """
    pid = unicodedata.normalize("NFC", raw).strip(_WHITE_SPACE)
    if not pid:
        raise InvalidProduct(f"{what} is missing")
    for position, char in enumerate(pid):
        kind = _REFUSED_IN_IDS.get(unicodedata.category(char))
        if kind is not None:
            name = unicodedata.name(char, "")
            raise InvalidProduct(
                f"{what} {shown(pid)} contains U+{ord(char):04X}{' ' + name if name else ''}"
                f" at position {position}, {kind}: not allowed in ids"
            )
    size = len(pid.encode())
    if size > MAX_PRODUCT_ID_BYTES:
        raise InvalidProduct(
            f"{what} {shown(pid)} is {size} bytes in UTF-8, at most {MAX_PRODUCT_ID_BYTES}"
        )
    return pid


def split_product_ids(raw: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The ids that normalise, in order, and (id as sent, why) for each one that does not:
    one bad id in a list never stops the others. More than MAX_IDS_PER_CALL is refused."""
    if len(raw) > MAX_IDS_PER_CALL:
        raise InvalidProduct(f"{len(raw)} product ids in one call, at most {MAX_IDS_PER_CALL}")
    valid: list[str] = []
    invalid: list[tuple[str, str]] = []
    for value in raw:
        try:
            valid.append(normalize_product_id(value))
        except InvalidProduct as exc:
            invalid.append((value, str(exc)))
    return valid, invalid


def normalize_product_ids(raw: Sequence[str], max_listed: int = 5) -> list[str]:
    """Every id normalised, in order; or one InvalidProduct naming the bad ones (a few: the
    message travels in gRPC trailers, which have a size limit)."""
    ids: list[str] = []
    problems: list[str] = []
    for index, value in enumerate(raw):
        try:
            ids.append(normalize_product_id(value))
        except InvalidProduct as exc:
            problems.append(f"#{index}: {exc}")
    if problems:
        more = len(problems) - max_listed
        listed = "; ".join(problems[:max_listed]) + (f"; and {more} more" if more > 0 else "")
        raise InvalidProduct(f"{len(problems)} of {len(raw)} product ids are invalid: {listed}")
    return ids


def shown(text: str, limit: int = 40) -> str:
    """A bounded, escaped rendering for messages (repr escapes invisible characters)."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")
