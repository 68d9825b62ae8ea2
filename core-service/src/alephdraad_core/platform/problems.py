"""Every error this service answers is RFC 9457 problem+json built from the contracts package.

Three routes lead here: DRF views (`api_exception_handler`), Django's own error handlers
(`handler400/403/404/500` in urls.py and `CSRF_FAILURE_VIEW`), and the middleware safety net
for anything else (`ensure_problem_body`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from rest_framework import exceptions as drf
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from alephdraad_contracts import (
    FORBIDDEN,
    INTERNAL_ERROR,
    MALFORMED_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_ACCEPTABLE,
    NOT_FOUND,
    PROBLEM_CONTENT_TYPE,
    RATE_LIMITED,
    UNAUTHENTICATED,
    UNPROCESSABLE_CONTENT,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    ProblemBody,
    ProblemFieldError,
    ProblemType,
    current_request_id,
    problem_type_for_status,
)
from alephdraad_core.platform.errors import DomainError

# Headers that describe the body being replaced; every other header (Allow, Vary, …) is kept.
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})

GENERIC_INTERNAL_DETAIL = "An unexpected error occurred. Quote the request id when reporting it."

# DRF exception classes whose status alone would map to a less precise code (DRF turns a
# NotAuthenticated into 403 when no authenticator offers a challenge; we still say 401), or
# whose 400 must be told apart from a field validation failure.
_DRF_PROBLEM_TYPES: tuple[tuple[type[drf.APIException], ProblemType], ...] = (
    (drf.ValidationError, VALIDATION_FAILED),
    (drf.ParseError, MALFORMED_REQUEST),
    (drf.NotAuthenticated, UNAUTHENTICATED),
    (drf.AuthenticationFailed, UNAUTHENTICATED),
    (drf.PermissionDenied, FORBIDDEN),
    (drf.NotFound, NOT_FOUND),
    (drf.MethodNotAllowed, METHOD_NOT_ALLOWED),
    (drf.NotAcceptable, NOT_ACCEPTABLE),
    (drf.UnsupportedMediaType, UNSUPPORTED_MEDIA_TYPE),
    (drf.Throttled, RATE_LIMITED),
)

# The scheme our access tokens use (DESIGN.md section 4); RFC 9110 requires a challenge on 401.
_DEFAULT_AUTH_CHALLENGE = "Bearer"


def problem_response(
    problem_type: ProblemType,
    detail: str | None = None,
    *,
    errors: Iterable[ProblemFieldError] = (),
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """A problem+json response for `problem_type`, stamped with the current request id."""
    body: dict[str, Any] = dict(
        problem_type.body(detail, request_id=current_request_id(), errors=list(errors))
    )
    for name, value in (extensions or {}).items():
        body.setdefault(name, value)
    response = HttpResponse(
        _encode(body), status=problem_type.status, content_type=PROBLEM_CONTENT_TYPE
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _encode(body: ProblemBody | dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def domain_error_response(error: DomainError) -> HttpResponse:
    return problem_response(
        error.problem_type,
        error.detail,
        errors=error.errors,
        headers=error.headers,
        extensions=error.extensions,
    )


def flatten_validation_errors(detail: Any, field: str = "") -> list[ProblemFieldError]:
    """DRF's nested error structure as flat `{field, message}` pairs with dotted field names.

    `{"author": {"email": ["bad"]}, "tags": [{}, {"name": ["bad"]}]}` becomes `author.email`
    and `tags.1.name`. Errors about the body as a whole (DRF's `non_field_errors`, or a bare
    `ValidationError("…")`) get the field of the object they belong to: `""` at top level.
    """
    if isinstance(detail, Mapping):
        flattened: list[ProblemFieldError] = []
        for key, value in detail.items():
            name = str(key)
            child = field if name == api_settings.NON_FIELD_ERRORS_KEY else _join(field, name)
            flattened.extend(flatten_validation_errors(value, child))
        return flattened
    if isinstance(detail, list | tuple):
        flattened = []
        for index, item in enumerate(detail):
            if isinstance(item, Mapping | list | tuple):
                flattened.extend(flatten_validation_errors(item, _join(field, str(index))))
            else:
                flattened.append({"field": field, "message": str(item)})
        return flattened
    return [{"field": field, "message": str(detail)}]


# How a validation failure is answered (README "Errors"): 400 VALIDATION_FAILED when the
# request does not have the right shape — a field missing, unknown, null, of the wrong JSON
# type or unparsable as its kind; 422 UNPROCESSABLE_CONTENT when every field is well-formed but
# a value breaks a rule — too long or short, out of range, not one of the choices, or a
# domain rule that raises ValidationError with one of these codes.
RULE_ERROR_CODES = frozenset(
    {
        "blank",
        "empty",
        "invalid_choice",
        "max_decimal_places",
        "max_digits",
        "max_length",
        "max_string_length",
        "max_value",
        "max_whole_digits",
        "min_length",
        "min_value",
        "rule",
    }
)


def _error_codes(detail: Any) -> set[str]:
    if isinstance(detail, Mapping):
        return set().union(*(_error_codes(value) for value in detail.values()))
    if isinstance(detail, list | tuple):
        return set().union(*(_error_codes(item) for item in detail))
    return {str(getattr(detail, "code", None) or "invalid")}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _drf_problem_type(exc: drf.APIException) -> ProblemType:
    for exception_class, problem_type in _DRF_PROBLEM_TYPES:
        if isinstance(exc, exception_class):
            return problem_type
    return problem_type_for_status(exc.status_code)


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> HttpResponse | None:
    """DRF's EXCEPTION_HANDLER. Returning None lets DRF re-raise, so the middleware logs it."""
    if isinstance(exc, DomainError):
        set_rollback()
        return domain_error_response(exc)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if not isinstance(exc, drf.APIException):
        return None

    # An explicit rollback keeps ATOMIC_REQUESTS-style transactions from committing half a write
    # when the error is answered rather than raised.
    set_rollback()
    problem_type = _drf_problem_type(exc)
    headers: dict[str, str] = {}
    errors: list[ProblemFieldError] = []
    detail: str | None = None
    if isinstance(exc, drf.ValidationError):
        errors = flatten_validation_errors(exc.detail)
        if _error_codes(exc.detail) <= RULE_ERROR_CODES:
            problem_type = UNPROCESSABLE_CONTENT
            detail = "Some values break a rule; see errors[]."
        else:
            detail = "The request body has invalid fields; see errors[]."
    elif isinstance(exc.detail, str):
        detail = str(exc.detail)
    if problem_type is UNAUTHENTICATED:
        headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or _DEFAULT_AUTH_CHALLENGE
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return problem_response(problem_type, detail, errors=errors, headers=headers)


def ensure_problem_body(response: HttpResponseBase) -> HttpResponseBase:
    """Give a 4xx/5xx answer that something else produced a problem body, in place.

    Django and third-party code (a bare 405 from `require_POST` or the static-file handler,
    Django's debug pages) can answer an error with HTML or an empty body; clients rely on
    problem+json everywhere. The response object is kept, not replaced, so its other headers
    (Allow, Vary, …), cookies and resource cleanup stay as they were.
    """
    if response.status_code < 400 or response.get("Content-Type", "").startswith(
        PROBLEM_CONTENT_TYPE
    ):
        return response
    body = problem_type_for_status(response.status_code).body(request_id=current_request_id())
    content = _encode(body)
    for name in _BODY_HEADERS:
        if name in response:
            del response[name]
    response["Content-Type"] = PROBLEM_CONTENT_TYPE
    if isinstance(response, StreamingHttpResponse):
        response.streaming_content = [content]
    elif isinstance(response, HttpResponse):
        response.content = content
        response["Content-Length"] = str(len(content))
    return response


# Django's error handlers (wired in urls.py). Their details stay generic: they run for
# requests that never reached a view, where there is nothing more specific to say.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(MALFORMED_REQUEST, "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(FORBIDDEN, "You are not allowed to do this.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(NOT_FOUND, "No resource is served at this URL.")


def server_error(request: HttpRequest) -> HttpResponse:
    return problem_response(INTERNAL_ERROR, GENERIC_INTERNAL_DETAIL)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    detail = f"CSRF verification failed: {reason}" if reason else "CSRF verification failed."
    return problem_response(FORBIDDEN, detail)
