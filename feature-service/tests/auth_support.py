"""Access tokens for tests: signed with a key of our own, published through `jwks_fetch`.

`make_client` gives every test app this key set, so `bearer(user_token(7, "budi"))` is a valid
member of any test app. Tokens are built like core builds them (authn/tokens.py: EdDSA, kid,
iss/aud/sub/sid/jti/iat/exp/username/amr/mfa).
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from alephdraad_feature.auth.tokens import ADMIN_AUDIENCE, USER_AUDIENCE

ISSUER = "urn:alephdraad:core"


class SigningKey:
    def __init__(self, kid: str | None = None, *, seed: bytes | None = None) -> None:
        # A fixed `seed` (32 bytes) gives the same key every run (for recorded contracts).
        self.private_key = (
            Ed25519PrivateKey.from_private_bytes(seed)
            if seed is not None
            else Ed25519PrivateKey.generate()
        )
        self.kid = kid or secrets.token_hex(8)

    def jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": x,
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }


KEY = SigningKey("test-key-1")


class StaticJwks:
    """A `jwks_fetch` serving `keys`; counts fetches; `fail` makes the next fetches fail."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.fail = False

    async def __call__(self) -> Mapping[str, Any]:
        self.fetches += 1
        if self.fail:
            raise ValueError("core is away")
        return {"keys": [key.jwk() for key in self.keys]}


def _token(claims: dict[str, Any], key: SigningKey) -> str:
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


def user_token(
    user_id: int,
    username: str,
    *,
    key: SigningKey = KEY,
    session_id: str = "5b0e7d0e-0000-4000-8000-000000000001",
    lifetime: int = 300,
    **overrides: Any,
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": USER_AUDIENCE,
        "sub": str(user_id),
        "sid": session_id,
        "jti": secrets.token_urlsafe(8),
        "iat": now,
        "exp": now + lifetime,
        "username": username,
        "amr": ["pwd"],
        "mfa": False,
        **overrides,
    }
    return _token(claims, key)


def admin_token(
    admin_id: int, username: str = "ops", *, key: SigningKey = KEY, **overrides: Any
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": ADMIN_AUDIENCE,
        "sub": str(admin_id),
        "jti": secrets.token_urlsafe(8),
        "iat": now,
        "exp": now + 600,
        "username": username,
        **overrides,
    }
    return _token(claims, key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
