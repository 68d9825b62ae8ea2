"""Stable error codes of the internal listener."""

from __future__ import annotations

from alephdraad_contracts import SIGNATURE_REJECTED
from alephdraad_feature.platform.errors import DomainError


class SignatureRejectedError(DomainError):
    """An /internal/v1 request without a valid, fresh, unreplayed RFC 9421 signature.

    Raised with `headers={"WWW-Authenticate": "Signature"}` and `extensions={"reason": …}`
    (a `RejectionReason` value); nothing of the request has been acted on."""

    problem_type = SIGNATURE_REJECTED
