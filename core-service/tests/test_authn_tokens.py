"""Access tokens are verified by the server on every request (ASVS 5.0 V7.2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from alephdraad_core.authn.keys import keyring
from alephdraad_core.authn.tokens import issue_admin_token, issue_user_token
from tests.authn_support import FAST_PASSWORD_HASHERS, SESSIONS_URL, bearer, login_ok, make_user
from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _forged_signature(token: str) -> str:
    """Same header (real kid) and claims, signed with a key that is not ours."""
    stranger = Ed25519PrivateKey.generate()
    return jwt.encode(
        _claims(token), stranger, algorithm="EdDSA", headers={"kid": keyring().active.kid}
    )


def _alg_none(token: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": keyring().active.kid}
    return _unsigned(header, _claims(token)) + "."


def _hs256_with_public_key(token: str) -> str:
    """The key-confusion attack: HMAC keyed with the (public) verification key."""
    public_pem = keyring().active.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": keyring().active.kid}
    signing_input = _unsigned(header, _claims(token))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _expired(token: str) -> str:
    claims = _claims(token)
    return issue_user_token(
        user_id=int(claims["sub"]),
        username=claims["username"],
        session_id=claims["sid"],
        amr=claims["amr"],
        mfa=claims["mfa"],
        issued_at=timezone.now() - timedelta(minutes=6),
    ).token


def _resigned(token: str, **changes: Any) -> str:
    key = keyring().active
    claims = {**_claims(token), **changes}
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


def _wrong_audience(token: str) -> str:
    return _resigned(token, aud="alephdraad:feature")


def _wrong_issuer(token: str) -> str:
    return _resigned(token, iss="https://evil.example")


def _unknown_kid(token: str) -> str:
    key = keyring().active
    return jwt.encode(_claims(token), key.private_key, algorithm="EdDSA", headers={"kid": "nope"})


def _admin_token(token: str) -> str:
    claims = _claims(token)
    return issue_admin_token(admin_id=int(claims["sub"]), username=claims["username"]).token


def _tampered_claims(token: str) -> str:
    header, _, signature = token.split(".")
    claims = {**_claims(token), "sub": "999999"}
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


@pytest.mark.parametrize(
    "make_bad_token",
    [
        _forged_signature,
        _alg_none,
        _hs256_with_public_key,
        _expired,
        _wrong_audience,
        _wrong_issuer,
        _unknown_kid,
        _admin_token,
        _tampered_claims,
        lambda token: token[: len(token) // 2],
        lambda token: "not-a-jwt",
    ],
    ids=[
        "forged_signature",
        "alg_none",
        "hs256_with_public_key",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "unknown_kid",
        "admin_audience",
        "tampered_claims",
        "truncated",
        "garbage",
    ],
)
def test_asvs_7_2_1_tokens_are_verified_server_side(
    client: Client, make_bad_token: Callable[[str], str]
) -> None:
    make_user()
    good = login_ok(client)["access_token"]
    assert client.get(SESSIONS_URL, **bearer(good)).status_code == 200

    response = client.get(SESSIONS_URL, **bearer(make_bad_token(good)))

    assert_problem(response, 401, "AUTH_TOKEN_INVALID")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_request_without_a_token_is_401(client: Client) -> None:
    response = client.get(SESSIONS_URL)

    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_whose_session_was_never_issued_is_refused(client: Client) -> None:
    user = make_user()
    token = issue_user_token(
        user_id=user.pk,
        username=user.username,
        session_id="0b0e9b8c-8a55-4a3c-9b7e-5d1d1d1d1d1d",
        amr=["pwd"],
        mfa=False,
    ).token

    assert_problem(client.get(SESSIONS_URL, **bearer(token)), 401, "AUTH_SESSION_REVOKED")


def test_jwks_publishes_the_key_that_verifies_login_tokens(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]

    jwks = client.get("/.well-known/jwks.json").json()
    [jwk] = [key for key in jwks["keys"] if key["kid"] == jwt.get_unverified_header(token)["kid"]]
    public_key = jwt.PyJWK(jwk).key

    claims = jwt.decode(token, public_key, algorithms=["EdDSA"], audience="alephdraad:user")
    assert claims["amr"] == ["pwd"]
