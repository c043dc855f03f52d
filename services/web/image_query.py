"""The query of POST /v1/search/image from either body it accepts: a multipart upload (the
`image` file and the filters as form fields) or JSON (SearchImageIn)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, File, Form, Request, UploadFile
from pydantic import ValidationError

from services.search.results import ImageQuery
from services.web.filters import SearchFilters
from services.web.models import SearchImageIn
from vrs.errors import InvalidImage, InvalidInput
from vrs.images.region import parse_region
from vrs.images.source import ImageInput

MULTIPART = "multipart/form-data"
JSON = "application/json"


async def image_query(
    request: Request,
    filters: Annotated[SearchFilters, Form()],
    image: Annotated[
        UploadFile | None, File(description=f"The photo (required with {MULTIPART}).")
    ] = None,
    region: Annotated[
        str | None,
        Form(
            description="Search on this part of the photo: x,y,width,height as fractions of "
            "its width and height; unset: the main item, found in the photo."
        ),
    ] = None,
) -> ImageQuery:
    """The form's fields are empty unless the body is multipart: then they are the query."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == MULTIPART:
        if image is None:
            raise InvalidImage(
                "image is missing: send the photo as the multipart file field `image`"
            )
        return ImageQuery(
            image=ImageInput(data=await image.read()),
            options=filters.options(),
            region=parse_region(region) if region else None,
        )
    if kind in (JSON, ""):
        return json_query(await request.body())
    raise InvalidInput(
        f"content type {kind!r} is not accepted: send {MULTIPART} (an `image` file) or {JSON}"
    )


ImageQueryDep = Annotated[ImageQuery, Depends(image_query)]


def json_query(body: bytes) -> ImageQuery:
    try:
        parsed = SearchImageIn.model_validate_json(body or b"{}")
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        ]
        raise InvalidInput("; ".join(problems)) from None
    image = parsed.image
    if (image.data is None) == (image.uri is None):
        raise InvalidImage("image needs exactly one of data (base64) or uri")
    if image.data is not None:
        try:
            source = ImageInput(data=base64.b64decode(image.data, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidImage("image.data is not valid base64") from None
    else:
        source = ImageInput(uri=image.uri)
    region = parsed.region.region() if parsed.region is not None else None
    return ImageQuery(image=source, options=parsed.options(), region=region)
