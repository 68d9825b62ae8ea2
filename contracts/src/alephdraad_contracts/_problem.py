"""RFC 9457 problem details, the one error shape of core, feature and the gateway."""

# No `from __future__ import annotations` here: on Python 3.11 it hides NotRequired from
# TypedDict, which would then list `errors` among the required keys.
import re
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:alephdraad:problem:"

_CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")


class ProblemFieldError(TypedDict):
    """One entry of `errors[]`: which input field is wrong and why."""

    field: str
    message: str


class ProblemBody(TypedDict):
    """The JSON object every error response carries (`schemas/problem.schema.json`)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None
    errors: NotRequired[list[ProblemFieldError]]


def problem_type_uri(code: str) -> str:
    """The stable `type` URI of a problem code: `VALIDATION_FAILED` -> `urn:…:validation-failed`."""
    return PROBLEM_TYPE_PREFIX + code.lower().replace("_", "-")


@dataclass(frozen=True, slots=True)
class ProblemType:
    """A stable error code with the HTTP status and title it always comes with."""

    code: str
    status: int
    title: str

    def __post_init__(self) -> None:
        if not _CODE_PATTERN.fullmatch(self.code):
            raise ValueError(f"problem code must be UPPER_SNAKE, got {self.code!r}")
        if not 400 <= self.status <= 599:
            raise ValueError(f"problem status must be 4xx or 5xx, got {self.status}")

    @property
    def type_uri(self) -> str:
        return problem_type_uri(self.code)

    def body(
        self,
        detail: str | None = None,
        *,
        request_id: str | None = None,
        errors: list[ProblemFieldError] | None = None,
    ) -> ProblemBody:
        """The problem+json body for this type; `detail` defaults to the title."""
        return problem_body(
            status=self.status,
            code=self.code,
            title=self.title,
            detail=detail,
            request_id=request_id,
            errors=errors,
        )


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    request_id: str | None = None,
    errors: list[ProblemFieldError] | None = None,
) -> ProblemBody:
    """Build a problem+json body. `errors` is present only when there are field errors."""
    body: ProblemBody = {
        "type": problem_type_uri(code),
        "title": title,
        "status": status,
        "detail": detail if detail is not None else title,
        "code": code,
        "request_id": request_id,
    }
    if errors:
        body["errors"] = [{"field": e["field"], "message": e["message"]} for e in errors]
    return body


def problem_type_for_status(status: int) -> ProblemType:
    """The generic problem type for a bare HTTP status (used when no domain code applies)."""
    found = _GENERIC_BY_STATUS.get(status)
    if found is not None:
        return found
    if 400 <= status <= 499:
        return ProblemType("CLIENT_ERROR", status, "Request failed")
    return ProblemType("SERVER_ERROR", status if 500 <= status <= 599 else 500, "Server error")


def _generic(code: str, status: int, title: str) -> ProblemType:
    return ProblemType(code, status, title)


MALFORMED_REQUEST = _generic("MALFORMED_REQUEST", 400, "Malformed request")
UNAUTHENTICATED = _generic("UNAUTHENTICATED", 401, "Authentication required")
# An internal (service-to-service) request whose RFC 9421 signature was refused.
SIGNATURE_REJECTED = _generic("SIGNATURE_REJECTED", 401, "Signature rejected")
FORBIDDEN = _generic("FORBIDDEN", 403, "Forbidden")
NOT_FOUND = _generic("NOT_FOUND", 404, "Not found")
METHOD_NOT_ALLOWED = _generic("METHOD_NOT_ALLOWED", 405, "Method not allowed")
NOT_ACCEPTABLE = _generic("NOT_ACCEPTABLE", 406, "Not acceptable")
CONFLICT = _generic("CONFLICT", 409, "Conflict")
PAYLOAD_TOO_LARGE = _generic("PAYLOAD_TOO_LARGE", 413, "Payload too large")
UNSUPPORTED_MEDIA_TYPE = _generic("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported media type")
# A request of the wrong shape (a field missing, unknown, null or of the wrong type): 400, like
# a malformed body. Well-formed fields whose values break a rule (length, range, choices) are
# 422 UNPROCESSABLE_CONTENT, with errors[] too; domain rules answer 422 with their own code
# (e.g. REPLY_TOO_DEEP).
VALIDATION_FAILED = _generic("VALIDATION_FAILED", 400, "Validation failed")
UNPROCESSABLE_CONTENT = _generic("UNPROCESSABLE_CONTENT", 422, "Unprocessable content")
RATE_LIMITED = _generic("RATE_LIMITED", 429, "Too many requests")
INTERNAL_ERROR = _generic("INTERNAL_ERROR", 500, "Internal server error")
BAD_GATEWAY = _generic("BAD_GATEWAY", 502, "Bad gateway")
SERVICE_UNAVAILABLE = _generic("SERVICE_UNAVAILABLE", 503, "Service unavailable")
NOT_READY = _generic("NOT_READY", 503, "Not ready")
# The other service could not be reached (or failed) while a write depended on its answer:
# nothing was written; retry after Retry-After (DESIGN section 5, fail closed).
UPSTREAM_UNAVAILABLE = _generic("UPSTREAM_UNAVAILABLE", 503, "Upstream service unavailable")
GATEWAY_TIMEOUT = _generic("GATEWAY_TIMEOUT", 504, "Gateway timeout")

GENERIC_PROBLEMS: tuple[ProblemType, ...] = (
    MALFORMED_REQUEST,
    UNAUTHENTICATED,
    SIGNATURE_REJECTED,
    FORBIDDEN,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    NOT_ACCEPTABLE,
    CONFLICT,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    UNPROCESSABLE_CONTENT,
    RATE_LIMITED,
    INTERNAL_ERROR,
    BAD_GATEWAY,
    SERVICE_UNAVAILABLE,
    NOT_READY,
    UPSTREAM_UNAVAILABLE,
    GATEWAY_TIMEOUT,
)

# NOT_READY shares 503 with SERVICE_UNAVAILABLE, VALIDATION_FAILED 400 with MALFORMED_REQUEST:
# a bare status means the latter of each pair.
_GENERIC_BY_STATUS: dict[int, ProblemType] = {
    p.status: p
    for p in GENERIC_PROBLEMS
    if p not in (NOT_READY, UPSTREAM_UNAVAILABLE, VALIDATION_FAILED, SIGNATURE_REJECTED)
}


def as_problem_json(body: ProblemBody) -> dict[str, Any]:
    """The body as a plain dict, for frameworks whose serialisers do not take TypedDicts."""
    return dict(body)
