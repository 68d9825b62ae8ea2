"""The problem+json shape as an OpenAPI component, for endpoints to reference in extend_schema.

The contracts package's JSON Schema is the authority; tests/test_openapi.py fails when this
component and `load_schema("problem")` list different fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from alephdraad_contracts import PROBLEM_CONTENT_TYPE


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_blank=True,
        help_text='Dotted path of the invalid input field ("author.email", "tags.1"); '
        '"" when the error is about the body as a whole.',
    )
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every Alephdraad component answers errors."""

    type = serializers.CharField(help_text="urn:alephdraad:problem:<code in kebab case>")
    title = serializers.CharField()
    status = serializers.IntegerField(min_value=400, max_value=599)
    detail = serializers.CharField(allow_blank=True)
    code = serializers.CharField(help_text="Stable UPPER_SNAKE error code clients switch on.")
    request_id = serializers.CharField(
        allow_null=True, help_text="The X-Request-ID of the request; quote it in bug reports."
    )
    errors = serializers.ListField(
        child=ProblemFieldErrorSerializer(),
        required=False,
        min_length=1,
        help_text="Present on validation failures only.",
    )


def problem_response_schema(description: str) -> OpenApiResponse:
    """An `extend_schema(responses=…)` value: a problem+json answer with this description."""
    return OpenApiResponse(response=ProblemSerializer, description=description)


def problem_responses(
    descriptions_by_status: Mapping[int, str],
) -> dict[tuple[int, str], OpenApiResponse]:
    """Problem responses keyed as drf-spectacular expects for a non-default media type.

    `problem_responses({404: "No such thread"})` -> `{(404, "application/problem+json"): …}`,
    to merge into an `extend_schema(responses=…)` mapping.
    """
    return {
        (status, PROBLEM_CONTENT_TYPE): problem_response_schema(description)
        for status, description in descriptions_by_status.items()
    }


def add_rule_violation_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation that documents a 400 problem can
    also answer 422 UNPROCESSABLE_CONTENT (platform/problems.py: well-formed values breaking a
    rule), so the document says so once for all of them."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not responses or "400" not in responses or "422" in responses:
                continue
            if PROBLEM_CONTENT_TYPE not in responses["400"].get("content", {}):
                continue
            responses["422"] = {
                "description": (
                    "UNPROCESSABLE_CONTENT: every field is well-formed but a value breaks a "
                    "rule (too long or short, out of range, not one of the choices); see errors[]."
                ),
                "content": {
                    PROBLEM_CONTENT_TYPE: responses["400"]["content"][PROBLEM_CONTENT_TYPE]
                },
            }
    return result
