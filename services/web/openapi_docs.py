"""Pieces of the OpenAPI document the routes cannot declare in their signatures, made from the
models: the error answers, and a JSON request body beside a form."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.web.models import ErrorOut

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "Invalid input (the message names the problem)"),
        (401, "Missing or unknown bearer token (auth on)"),
        (403, "The caller lacks the role"),
        (404, "Unknown product"),
        (409, "Model mismatch between the embedder and the catalog"),
        (413, "Request body above VRS_WEB_MAX_UPLOAD_BYTES"),
        (429, "The embedder's queues are full: retry later"),
        (503, "The search service, the embedder or Qdrant is unavailable"),
    )
}
_DEFS = "#/$defs/"


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """An `openapi_extra` adding `model` as the application/json request body of a route that
    declares another content type (a form) in its signature."""
    return {"requestBody": {"content": {"application/json": {"schema": inline_schema(model)}}}}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its nested models written in place: within an OpenAPI
    document, the `#/$defs/...` references pydantic writes would point at nothing (models that
    nest themselves cannot be written so)."""
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            return resolve({**defs[ref.removeprefix(_DEFS)], **siblings})
        return {key: resolve(value) for key, value in node.items()}

    resolved: dict[str, Any] = resolve(schema)
    return resolved
