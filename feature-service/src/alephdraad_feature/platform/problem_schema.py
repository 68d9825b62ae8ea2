"""The `Problem` component of the OpenAPI document, taken from the contract's JSON Schema.

Documenting errors with a Python model of our own would let the document drift from
`contracts/…/schemas/problem.schema.json`, the file every component validates against. So the
component is that schema, translated into Litestar's OpenAPI objects (OpenAPI 3.1 schemas are
JSON Schema 2020-12), and handlers refer to it through the `Problem` marker type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin

from alephdraad_contracts import load_schema

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

# JSON Schema keywords that identify the file, not the shape; inside a component they would
# change how references resolve.
_FILE_KEYWORDS = frozenset({"$schema", "$id"})
_SCHEMA_FIELDS = frozenset(field.name for field in fields(Schema))
_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


class Problem:
    """Stands for an application/problem+json body in `responses=` (see `problem_responses`)."""


def _attribute_for(keyword: str) -> str:
    attribute = Schema.field_aliases().get(keyword) or _CAMEL_BOUNDARY.sub("_", keyword).lower()
    if attribute not in _SCHEMA_FIELDS:
        # A keyword we do not translate would silently vanish from the document.
        raise ValueError(f"the problem schema uses {keyword!r}, which has no OpenAPI mapping here")
    return attribute


def _schema_value(keyword: str, value: Any) -> Any:
    if keyword == "type":
        return [OpenAPIType(v) for v in value] if isinstance(value, list) else OpenAPIType(value)
    if keyword == "properties":
        return {name: openapi_schema_from_json_schema(sub) for name, sub in value.items()}
    if keyword in {"items", "additionalProperties"} and isinstance(value, Mapping):
        return openapi_schema_from_json_schema(value)
    return value


def openapi_schema_from_json_schema(json_schema: Mapping[str, Any]) -> Schema:
    """Translate a (simple) JSON Schema into Litestar's `Schema`; unknown keywords raise."""
    return Schema(
        **{
            _attribute_for(keyword): _schema_value(keyword, value)
            for keyword, value in json_schema.items()
            if keyword not in _FILE_KEYWORDS
        }
    )


class ProblemSchemaPlugin(OpenAPISchemaPlugin):
    """Renders the `Problem` marker as the `Problem` component built from the contract."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Problem

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        contract = openapi_schema_from_json_schema(load_schema("problem"))
        # The registry's instance becomes components/schemas/Problem, referenced by $ref.
        schema = schema_creator.schema_registry.get_schema_for_field_definition(field_definition)
        for field in fields(Schema):
            value = getattr(contract, field.name)
            if value is not None:
                setattr(schema, field.name, value)
        schema.description = contract.title
        schema.title = "Problem"
        return schema
