"""Every error leaves the service as RFC 9457 application/problem+json (DESIGN section 3).

The handlers here replace Litestar's defaults (plain JSON, or an HTML page in debug mode) for
every exception, so a client never sees another error shape, and a 500 never says more than
"something went wrong" (the traceback goes to the JSON log, with the request id).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import msgspec
from beanie.exceptions import CollectionWasNotInitialized
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.types import ExceptionHandlersMap
from pymongo.errors import ConnectionFailure

from alephdraad_contracts import (
    INTERNAL_ERROR,
    MALFORMED_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PROBLEM_CONTENT_TYPE,
    SERVICE_UNAVAILABLE,
    UNPROCESSABLE_CONTENT,
    VALIDATION_FAILED,
    ProblemFieldError,
    ProblemType,
    current_request_id,
    problem_type_for_status,
)
from alephdraad_feature.platform.errors import DomainError
from alephdraad_feature.platform.problem_schema import Problem

logger = logging.getLogger("alephdraad_feature.errors")

# Litestar raises a ValidationException without field details when a required parameter is
# absent (litestar/_kwargs/extractors.py); its message is the only place the name appears.
_MISSING_PARAMETER = re.compile(r"^Missing required (\w+) parameter '([^']+)'")

# What `request_id` looks like in the documented examples.
_EXAMPLE_REQUEST_ID = "0123456789abcdef0123456789abcdef"

_VALIDATION_DETAIL = "The request has invalid fields; see errors[]."


def problem_response(
    problem_type: ProblemType,
    detail: str | None = None,
    *,
    errors: Sequence[ProblemFieldError] = (),
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    """A problem+json response for `problem_type`, stamped with the current request id."""
    body: dict[str, Any] = {**(extensions or {})}
    body.update(
        problem_type.body(detail, request_id=current_request_id(), errors=list(errors) or None)
    )
    return Response(
        content=body,
        status_code=problem_type.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=dict(headers or {}),
    )


def handle_domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return problem_response(
        exc.problem_type,
        exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extensions=exc.extensions,
    )


# The same policy as core-service (README "Errors"): 400 VALIDATION_FAILED when the request
# has the wrong shape (missing, unknown or mistyped fields); 422 UNPROCESSABLE_CONTENT when
# every field is well-formed but a value breaks a constraint (length, range, choices). The
# validators only say which in their messages: msgspec's and pydantic's constraint wording.
_RULE_MESSAGE = re.compile(
    r"^(Expected `[^`]+` (of length|>=|<=|>|<|that is a multiple of)"
    r"|(String|List|Dictionary|Value|Tuple|Set) should have at (least|most) "
    r"|Input should be (greater|less) than"
    r"|Input should be a multiple of"
    r"|Input should be '"
    r"|String should match pattern)"
)
_RULE_DETAIL = "Some values break a rule; see errors[]."


def _field_error(message: Mapping[str, Any], takes_body: bool) -> ProblemFieldError:
    """One Litestar validation message as `{field, message}`, field as a dotted path."""
    field = str(message.get("key") or "")
    text = str(message.get("message", ""))
    # Litestar strips the "data." prefix of body fields but keeps "data" (the handler argument)
    # for the body as a whole; a client knows it as the body.
    if field == "data":
        field = "body"
        if text == "'data'":
            # The repr of Litestar's KeyError: no body (or a JSON null) was sent.
            text = "A JSON request body is required"
    elif not field and takes_body:
        # Pydantic reports a body of the wrong JSON type (e.g. a list) at the empty location.
        field = "body"
    return {"field": field, "message": text}


def handle_validation_exception(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    """Body, query, path or header values that do not satisfy the handler's types."""
    if isinstance(exc.extra, list) and exc.extra:
        route_handler = request.scope.get("route_handler")
        takes_body = getattr(route_handler, "parsed_data_field", None) is not None
        errors = [
            _field_error(message, takes_body)
            for message in exc.extra
            if isinstance(message, Mapping)
        ]
        if errors and all(_RULE_MESSAGE.match(error["message"]) for error in errors):
            return problem_response(UNPROCESSABLE_CONTENT, _RULE_DETAIL, errors=errors)
        return problem_response(VALIDATION_FAILED, _VALIDATION_DETAIL, errors=errors)
    if missing := _MISSING_PARAMETER.match(exc.detail):
        source, name = missing.groups()
        return problem_response(
            VALIDATION_FAILED,
            _VALIDATION_DETAIL,
            errors=[{"field": name, "message": f"Missing required {source} parameter"}],
        )
    # Anything else Litestar calls a ValidationException is a request it could not parse
    # (e.g. a multipart body without a boundary).
    return problem_response(MALFORMED_REQUEST, exc.detail)


def _reason_phrase(status: int) -> str | None:
    """Litestar's default `detail` for a status (its HTTP reason phrase)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


def handle_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    """Litestar's own HTTP errors: routing (404, 405), size limits (413), auth hooks…"""
    if isinstance(exc.__cause__, SerializationException) and exc.status_code < 500:
        # The pydantic plugin reports an undecodable body as a 400 caused by the decoder.
        return _malformed_json(exc.__cause__)
    problem_type = problem_type_for_status(exc.status_code)
    if exc.status_code >= 500:
        # Server-side details (e.g. "stream consumed") are for the log, not for clients.
        logger.error("HTTP %s raised", exc.status_code, exc_info=exc)
        detail = problem_type.title
    elif exc.detail != _reason_phrase(exc.status_code):
        detail = exc.detail
    elif problem_type is NOT_FOUND:
        detail = f"No resource at {request.url.path}"
    elif problem_type is METHOD_NOT_ALLOWED:
        detail = f"{request.method} is not allowed on {request.url.path}; see the Allow header."
    else:
        detail = problem_type.title
    return problem_response(problem_type, detail, headers=exc.headers)


def handle_serialization_exception(
    request: Request[Any, Any, Any], exc: SerializationException
) -> Response[dict[str, Any]]:
    """A body that is not JSON at all (decoding) versus a response we failed to encode."""
    if isinstance(exc.__cause__, msgspec.DecodeError):
        return _malformed_json(exc)
    return handle_unexpected_exception(request, exc)


def _malformed_json(exc: SerializationException) -> Response[dict[str, Any]]:
    # msgspec's message says what is wrong and where ("JSON is malformed: … (byte 12)").
    return problem_response(MALFORMED_REQUEST, f"The request body is not valid JSON: {exc.detail}")


# How long a client should wait after the database could not be reached: a failover or a
# restart of a replica-set member takes seconds.
DATABASE_RETRY_AFTER_SECONDS = 5


def handle_database_unavailable(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    """MongoDB could not be reached (no server selected, connection lost, network timeout), or
    has not been reachable since start-up (Beanie is still unbound: platform/db.py retries in
    the background): not a bug and not the client's fault, so 503 with Retry-After rather
    than a 500. Whatever the request was doing ran in one transaction or not at all, so a
    retry is safe."""
    logger.warning(
        "database unavailable",
        extra={"method": request.method, "path": request.url.path, "error": type(exc).__name__},
    )
    return problem_response(
        SERVICE_UNAVAILABLE,
        "The database is unreachable; nothing was changed. Try again shortly.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def handle_unexpected_exception(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    """A bug: log the traceback (JSON, with the request id) and answer a generic 500."""
    logger.error(
        "unhandled exception",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"method": request.method, "path": request.url.path},
    )
    detail = "An unexpected error occurred. Quote the request id when you report it."
    if request.app.debug:
        detail = f"{detail} ({type(exc).__name__}: {exc})"
    return problem_response(INTERNAL_ERROR, detail)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: handle_domain_error,
    ValidationException: handle_validation_exception,
    HTTPException: handle_http_exception,
    SerializationException: handle_serialization_exception,
    ConnectionFailure: handle_database_unavailable,
    CollectionWasNotInitialized: handle_database_unavailable,
    Exception: handle_unexpected_exception,
}


def problem_responses(*problem_types: ProblemType) -> dict[int, ResponseSpec]:
    """OpenAPI `responses=` for a handler: each status documented with the shared Problem schema.

    Problem types sharing a status (NOT_READY and SERVICE_UNAVAILABLE are both 503) become one
    response with one example per code.
    """
    by_status: dict[int, list[ProblemType]] = {}
    for problem_type in problem_types:
        by_status.setdefault(problem_type.status, []).append(problem_type)
    responses: dict[int, ResponseSpec] = {}
    for status, group in sorted(by_status.items()):
        responses[status] = ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_CONTENT_TYPE,
            description=" / ".join(f"{p.title} ({p.code})" for p in group),
            generate_examples=False,
            examples=[
                Example(
                    summary=p.code,
                    value=dict(p.body(request_id=_EXAMPLE_REQUEST_ID)),
                )
                for p in group
            ],
        )
    return responses
