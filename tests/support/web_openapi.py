"""What a route reads beside what the OpenAPI document says it reads: the names of its path and
query parameters, form fields and JSON body fields (nested fields dotted: `image.uri`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeGuard, get_args

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from pydantic.fields import FieldInfo

# Where an input comes from -> its names.
Inputs = dict[str, set[str]]
PLACES = ("path", "query", "form", "json")
REF = "#/components/schemas/"
_BODY_TYPES = {
    "multipart/form-data": "form",
    "application/x-www-form-urlencoded": "form",
    "application/json": "json",
}


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    """(path, method, route) of every route the document should describe."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods or ()):
                yield context.path or route.path, method.lower(), route


def declared_inputs(route: APIRoute) -> Inputs:
    """What the route and its dependencies declare; a parameter model stands for its fields."""
    inputs: Inputs = {place: set() for place in PLACES}
    for dependant in _dependants(route.dependant):
        for field in [*dependant.path_params, *dependant.query_params, *dependant.body_params]:
            kind = field.field_info.annotation
            names = model_names(kind) if is_model(kind) else {field.alias}
            inputs[_place(field.field_info)] |= names
    return inputs


def documented_inputs(document: dict[str, Any], path: str, method: str) -> Inputs:
    """What the document says the operation reads."""
    operation = document["paths"][path][method]
    inputs: Inputs = {place: set() for place in PLACES}
    for parameter in operation.get("parameters", []):
        inputs.setdefault(parameter["in"], set()).add(parameter["name"])
    for media_type, body in operation.get("requestBody", {}).get("content", {}).items():
        inputs[_BODY_TYPES[media_type]] |= schema_names(document, body["schema"])
    return inputs


def model_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        names.add(key)
        # A nested model, or an optional one (`RegionIn | None`).
        for kind in (info.annotation, *get_args(info.annotation)):
            if is_model(kind):
                names |= model_names(kind, f"{key}.")
    return names


def schema_names(document: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, member in _properties(document, schema).items():
        names.add(prefix + name)
        names |= schema_names(document, member, f"{prefix}{name}.")
    return names


def dangling_refs(node: Any, document: dict[str, Any] | None = None) -> list[str]:
    """The `$ref`s of the document that name no schema of its components."""
    root = node if document is None else document
    if isinstance(node, list):
        return [ref for item in node for ref in dangling_refs(item, root)]
    if not isinstance(node, dict):
        return []
    found = [ref for value in node.values() for ref in dangling_refs(value, root)]
    ref = node.get("$ref")
    if isinstance(ref, str) and (
        not ref.startswith(REF) or ref.removeprefix(REF) not in root["components"]["schemas"]
    ):
        found.append(ref)
    return found


def is_model(kind: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _properties(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema's properties, through references, allOf and nullable anyOf."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix(REF)]
    found: dict[str, Any] = {}
    for part in [*schema.get("allOf", []), *schema.get("anyOf", [])]:
        found |= _properties(document, part)
    return found | dict(schema.get("properties", {}))


def _place(info: FieldInfo) -> str:
    if isinstance(info, params.Path):
        return "path"
    if isinstance(info, params.Query):
        return "query"
    # File is a Form.
    return "form" if isinstance(info, params.Form) else "json"


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)
