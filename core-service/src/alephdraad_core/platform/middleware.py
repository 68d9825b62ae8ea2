"""Request-scoped plumbing: the request id, the one log line per request, the 500 catch-all."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404, HttpRequest, HttpResponseBase

from alephdraad_contracts import (
    INTERNAL_ERROR,
    PAYLOAD_TOO_LARGE,
    REQUEST_ID_HEADER,
    accept_request_id,
    bind_request_id,
    reset_request_id,
)
from alephdraad_core.platform.errors import DomainError
from alephdraad_core.platform.problems import (
    GENERIC_INTERNAL_DETAIL,
    domain_error_response,
    ensure_problem_body,
    problem_response,
)

request_logger = logging.getLogger("alephdraad_core.request")
logger = logging.getLogger(__name__)

GetResponse = Callable[[HttpRequest], HttpResponseBase]

# Django answers these itself through handler400/403/404 (and logs SuspiciousOperation to
# django.security); only everything else is an unexpected failure.
_DJANGO_HANDLED = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


class RequestIdMiddleware:
    """First in the chain, so the id is bound for everything below it, errors included.

    Takes `X-Request-ID` when well-formed (else makes one), binds it in the contextvar every
    log line reads, echoes it on the response, and logs one "request" line when done.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = bind_request_id(request_id)
        started = time.perf_counter()
        try:
            response = ensure_problem_body(self.get_response(request))
            response[REQUEST_ID_HEADER] = request_id
            request_logger.info(
                "request",
                extra={
                    # Passed explicitly, not only through the contextvar, so a handler that
                    # formats later (a queue, a test capture) still sees it.
                    "request_id": request_id,
                    "method": request.method,
                    # The path only: query strings can carry tokens (password reset links).
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            reset_request_id(token)


class ProblemExceptionMiddleware:
    """Last in the chain: turns an exception a view did not handle into a problem response.

    Domain errors become their problem; anything unexpected is logged with its traceback and
    answered with a generic 500 that reveals nothing about the failure.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if isinstance(exception, DomainError):
            return domain_error_response(exception)
        if isinstance(exception, RequestDataTooBig):
            return problem_response(
                PAYLOAD_TOO_LARGE,
                f"The request body exceeds {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            )
        if isinstance(exception, _DJANGO_HANDLED):
            return None
        logger.error(
            "unhandled exception",
            exc_info=exception,
            extra={
                "request_id": getattr(request, "request_id", None),
                "method": request.method,
                "path": request.path,
            },
        )
        return problem_response(INTERNAL_ERROR, GENERIC_INTERNAL_DETAIL)
