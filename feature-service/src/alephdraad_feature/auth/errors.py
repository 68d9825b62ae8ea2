"""Stable codes of authentication failures (the same codes core answers with)."""

from __future__ import annotations

from alephdraad_contracts import UNAUTHENTICATED, ProblemType
from alephdraad_feature.platform.errors import DomainError

# What every 401 tells the client to send.
CHALLENGE = 'Bearer realm="alephdraad"'


class Unauthenticated(DomainError):
    """No bearer token at all."""

    problem_type = UNAUTHENTICATED

    def __init__(
        self, detail: str = "Send an access token: Authorization: Bearer <token>."
    ) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": CHALLENGE})


class TokenInvalid(DomainError):
    """Forged, expired, for another audience, or signed by a key core does not publish."""

    problem_type = ProblemType("AUTH_TOKEN_INVALID", 401, "Invalid access token")

    def __init__(self, detail: str = "The access token is invalid or has expired.") -> None:
        super().__init__(
            detail, headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'}
        )
