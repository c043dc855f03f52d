"""Size limits of product ids, attributes and vectors, and why a search response always fits.

Every limit is in UTF-8 bytes, the unit gRPC messages and Qdrant payloads are measured in.
"""

from __future__ import annotations

import math

from vrs.errors import ConfigurationError

MAX_PRODUCT_ID_BYTES = 256
MAX_TITLE_BYTES = 1000
MAX_CATEGORY_BYTES = 200
MAX_BRAND_BYTES = 200
MAX_IMAGE_URI_BYTES = 4096
CURRENCY_LETTERS = 3  # ISO 4217 alphabetic code, or empty
# Photos of one product (front, back, detail, worn...): each is a point of its own.
MAX_PHOTOS = 16
# All of a product's photo URIs together: a GetProducts answer of MAX_IDS_PER_CALL products
# stays far below the message limit (~23 MB at every limit) however the URIs are spread.
MAX_PHOTO_URIS_BYTES = 16_384
# Variants of a group shown with its best match (COLLAPSE_GROUP): a card's worth.
MAX_VARIANTS = 8
# Ids one GetProducts or DeleteProducts call may name: 1000 products at their largest are ~6 MB
# encoded, well inside the message limit.
MAX_IDS_PER_CALL = 1000
# Values one search filter may list (categories, brands): a shopper picks a few; hundreds of
# thousands cost seconds of CPU in the filter and the engine, for nothing.
MAX_FILTER_VALUES = 100

# Largest float32 is ~3.4e38. With every stored vector's L2 norm <= MAX_VECTOR_NORM, the
# squared Euclidean distance between two of them is <= (2 * 1e18)^2 = 4e36: finite in float32
# with an 85x margin for the engines' summation order (sqrt(FLT_MAX) / 2 ~ 9.2e18 would be the
# exact edge). Real embeddings have norms in the tens.
MAX_VECTOR_NORM = 1e18

# Longest encoded model id (backbone@weights-tag) plus the fixed fields of one SearchResponse
# and its BatchSearchResult envelope, rounded up generously.
RESPONSE_OVERHEAD_BYTES = 1024


def _string_field(max_bytes: int) -> int:
    """Worst-case protobuf size of a string field: 1-byte tag, varint length, the bytes."""
    return 1 + _varint_len(max_bytes) + max_bytes


def _varint_len(value: int) -> int:
    return max(1, math.ceil(value.bit_length() / 7))


# A Match (search.proto) with every attribute at its limit:
#   ProductAttributes = product_id 259 + title 1003 + category 203 + brand 203
#                       + price 9 (tag + double) + currency 5 + in_stock 2 + image_uri 4099
#                       + group_id 259 = 6042 bytes, 6045 with its tag and length;
#   Variant           = product_id 259 + price 9 + currency 5 + in_stock 2 = 275, 278 framed;
#   Match             = product_id 259 + distance 5 (tag + float) + product 6045
#                       + photo_index 2 + 8 variants 2224 + over_by 9 + match label 2
#                       = 8546, 8549 inside the response (matches and over_budget together
#                       are at most k).
# So max_k = 100 matches are ~855 KB, and a BatchSearch of 64 such queries ~54.7 MB: both
# below the 64 MB default message limit (check_response_fits enforces it for any settings).
_ATTRIBUTES_BYTES = (
    _string_field(MAX_PRODUCT_ID_BYTES)
    + _string_field(MAX_TITLE_BYTES)
    + _string_field(MAX_CATEGORY_BYTES)
    + _string_field(MAX_BRAND_BYTES)
    + (1 + 8)
    + _string_field(CURRENCY_LETTERS)
    + (1 + 1)
    + _string_field(MAX_IMAGE_URI_BYTES)
    + _string_field(MAX_PRODUCT_ID_BYTES)  # group_id: an id like a product's
)
_VARIANT_BYTES = _string_field(MAX_PRODUCT_ID_BYTES) + (1 + 8) + _string_field(CURRENCY_LETTERS) + 2
_MATCH_BODY_BYTES = (
    _string_field(MAX_PRODUCT_ID_BYTES)
    + (1 + 4)
    + _string_field(_ATTRIBUTES_BYTES)
    + (1 + _varint_len(MAX_PHOTOS))
    + MAX_VARIANTS * _string_field(_VARIANT_BYTES)
    + (1 + 8)  # over_by
    + (1 + 1)  # match label
)
MAX_MATCH_BYTES = _string_field(_MATCH_BODY_BYTES)


def max_response_bytes(max_k: int, max_batch_queries: int) -> int:
    """Largest search answer: a BatchSearch of max_batch_queries results of max_k matches."""
    return max_batch_queries * (max_k * MAX_MATCH_BYTES + RESPONSE_OVERHEAD_BYTES)


def check_response_fits(max_k: int, max_batch_queries: int, max_message_mb: int) -> None:
    """ConfigurationError when the largest search answer could exceed the message limit."""
    needed = max_response_bytes(max_k, max_batch_queries)
    limit = max_message_mb * 1024 * 1024
    if needed > limit:
        raise ConfigurationError(
            f"VRS_SEARCH_MAX_K={max_k} with VRS_SEARCH_MAX_BATCH_QUERIES={max_batch_queries} "
            f"allows answers of up to {needed} bytes ({MAX_MATCH_BYTES} per match), above "
            f"VRS_GRPC_MAX_MESSAGE_MB={max_message_mb} ({limit} bytes): lower max_k or "
            "max_batch_queries, or raise the message limit"
        )
