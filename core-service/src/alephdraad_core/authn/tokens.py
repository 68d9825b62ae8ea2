"""Access tokens: EdDSA JWTs that core issues and anyone with the JWKS can verify (DESIGN §4)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from django.utils import timezone

from alephdraad_core.authn.keys import keyring

ACCESS_TOKEN_TTL = timedelta(minutes=5)
ADMIN_TOKEN_TTL = timedelta(minutes=10)
USER_AUDIENCE = "alephdraad:user"
ADMIN_AUDIENCE = "alephdraad:admin"
ALGORITHM = "EdDSA"
# Clock skew tolerated between core and whoever verifies.
LEEWAY = timedelta(seconds=5)

_USER_CLAIMS = ("iss", "aud", "sub", "sid", "jti", "iat", "exp", "username", "amr", "mfa")
_ADMIN_CLAIMS = ("iss", "aud", "sub", "jti", "iat", "exp", "username")


class InvalidToken(Exception):
    """The token is not one we issued for this audience, or it has expired."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    issued_at: datetime
    expires_in: int


def new_jti() -> str:
    return secrets.token_urlsafe(16)


def _sign(claims: dict[str, Any]) -> str:
    key = keyring().active
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def issue_user_token(
    *,
    user_id: int,
    username: str,
    session_id: str,
    amr: list[str],
    mfa: bool,
    jti: str | None = None,
    issued_at: datetime | None = None,
) -> IssuedToken:
    """Sign an access token. Same inputs, same key -> the same token (Ed25519 is
    deterministic), which is how a refresh replayed within its grace window gets the same pair."""
    moment = (issued_at or timezone.now()).replace(microsecond=0)
    token_id = jti or new_jti()
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": USER_AUDIENCE,
        "sub": str(user_id),
        "sid": session_id,
        "jti": token_id,
        "iat": int(moment.timestamp()),
        "exp": int((moment + ACCESS_TOKEN_TTL).timestamp()),
        "username": username,
        "amr": list(amr),
        "mfa": bool(mfa),
    }
    return IssuedToken(_sign(claims), token_id, moment, int(ACCESS_TOKEN_TTL.total_seconds()))


def issue_admin_token(*, admin_id: int, username: str) -> IssuedToken:
    moment = timezone.now().replace(microsecond=0)
    token_id = new_jti()
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": ADMIN_AUDIENCE,
        "sub": str(admin_id),
        "jti": token_id,
        "iat": int(moment.timestamp()),
        "exp": int((moment + ADMIN_TOKEN_TTL).timestamp()),
        "username": username,
    }
    return IssuedToken(_sign(claims), token_id, moment, int(ADMIN_TOKEN_TTL.total_seconds()))


def decode_token(token: str, *, audience: str) -> dict[str, Any]:
    """Verify signature, algorithm, key id, issuer, audience and lifetime; return the claims.

    Only EdDSA with a key we publish is accepted, so `alg: none` and HS256 signed with the
    public key (the classic confusion attack) both fail here.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken(f"malformed token: {error}") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("unexpected algorithm")
    kid = header.get("kid")
    key = keyring().find(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("unknown key id")
    required = list(_USER_CLAIMS if audience == USER_AUDIENCE else _ADMIN_CLAIMS)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=settings.JWT_ISSUER,
            leeway=LEEWAY,
            options={"require": required},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    return claims
