"""Stable problem codes of the event receiver (POST /internal/v1/events)."""

from __future__ import annotations

from alephdraad_contracts import UNPROCESSABLE_CONTENT, VALIDATION_FAILED
from alephdraad_core.platform.errors import DomainError


class EventEnvelopeInvalid(DomainError):
    """The body is not an event envelope: not an object, a field missing, unknown or of the
    wrong form. The sender has a bug; retrying the same body cannot help."""

    problem_type = VALIDATION_FAILED


class EventDataInvalid(DomainError):
    """A well-formed envelope whose `data` breaks the schema of its type and version, or that
    claims another producer than the service that signed it."""

    problem_type = UNPROCESSABLE_CONTENT
