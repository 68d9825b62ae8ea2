"""Signing test requests for the internal listener with the published vector keys."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import httpx
from django.http import HttpResponseBase
from django.test import Client

from alephdraad_contracts import KeyRing, load_signature_test_vectors, sign_request

VECTORS = load_signature_test_vectors()
CALLER = "feature-service"
_FEATURE_KEYS = [key for key in VECTORS["keys"] if key["caller"] == CALLER]
KEYID = _FEATURE_KEYS[0]["keyid"]
SECRET = bytes.fromhex(_FEATURE_KEYS[0]["secret_hex"])
OTHER_KEYID = _FEATURE_KEYS[1]["keyid"]
# What core accepts in these tests: the feature service's two keys (a rotation in progress).
ACCEPT_SPEC = ",".join(f"{k['caller']}:{k['keyid']}:{k['secret_hex']}" for k in _FEATURE_KEYS)
INTERNAL = "/internal/v1"


def accept_feature_keys(settings: Any) -> None:
    settings.INTERNAL_ACCEPT_KEYS = KeyRing.parse(ACCEPT_SPEC)


def signed(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    caller: str = CALLER,
    keyid: str = KEYID,
    secret: bytes = SECRET,
    now: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers a signing client would send for this request."""
    request = httpx.Request(
        method,
        "http://testserver" + path,
        content=body,
        headers={"X-Request-ID": uuid.uuid4().hex, "Content-Type": "application/json"},
    )
    sign_request(request, caller=caller, keyid=keyid, secret=secret, now=now, nonce=nonce)
    skip = {"host", "content-length", "content-type"}
    return {name: value for name, value in request.headers.items() if name.lower() not in skip}


def call(
    client: Client,
    method: str,
    path: str,
    payload: Any = None,
    *,
    send_body: bytes | None = None,
    **signing: Any,
) -> HttpResponseBase:
    """Sign and send; `send_body` replaces the body after signing (tampering)."""
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = signed(method, path, body, **signing)
    return client.generic(
        method,
        path,
        data=body if send_body is None else send_body,
        content_type="application/json",
        headers=headers,
    )
