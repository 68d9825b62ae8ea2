"""Builds the published signature test vectors from the package's own signer.

Regenerate after a deliberate change with
`uv run --frozen python tests/signature_vectors.py`; `test_signing.py` fails when the
committed file and this builder disagree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from alephdraad_contracts import (
    SIGNATURE_COVERED_COMPONENTS,
    SIGNATURE_LABEL,
    SIGNATURE_MAX_AGE,
    SIGNATURE_TEST_VECTORS,
    sign_request,
)

CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z
KEYS = [
    {"caller": "feature-service", "keyid": "feature-2026-01", "secret_hex": bytes(range(32)).hex()},
    {
        "caller": "feature-service",
        "keyid": "feature-2026-02",
        "secret_hex": bytes(range(32, 64)).hex(),
    },
    {"caller": "core-service", "keyid": "core-2026-01", "secret_hex": bytes(range(64, 96)).hex()},
]
WRONG_SECRET_HEX = bytes(range(96, 128)).hex()

VALID: list[dict[str, Any]] = [
    {
        "name": "get-empty-body",
        "method": "GET",
        "url": "http://core:8001/internal/v1/sessions/8f2c1e?fresh=1",
        "headers": {"X-Request-ID": "0f8e6a1c2b3d4e5f60718293a4b5c6d7"},
        "body": "",
        "caller": "feature-service",
        "keyid": "feature-2026-01",
        "nonce": "bm9uY2Utb25lLWZvci12ZWN0b3Jz",
    },
    {
        "name": "post-json-lookup",
        "method": "POST",
        "url": "http://core:8001/internal/v1/lookup",
        "headers": {
            "X-Request-ID": "req-lookup-0001",
            "Content-Type": "application/json",
        },
        "body": '{"user_ids":[456],"thread_ids":[123]}',
        "caller": "feature-service",
        "keyid": "feature-2026-02",
        "nonce": "bm9uY2UtdHdvLWZvci12ZWN0b3Jz",
    },
    {
        "name": "post-event-from-core",
        "method": "POST",
        "url": "http://feature:8002/internal/v1/events?batch=1&source=outbox",
        "headers": {
            "X-Request-ID": "req-event-0001",
            "Content-Type": "application/json",
        },
        "body": '{"id":"0193e6a0-0000-7000-8000-000000000001","type":"thread.deleted"}',
        "caller": "core-service",
        "keyid": "core-2026-01",
        "nonce": "bm9uY2UtdGhyZWUtZm9yLXZlY3Rvcg",
    },
]


def _secret(keyid: str) -> bytes:
    return bytes.fromhex(next(k["secret_hex"] for k in KEYS if k["keyid"] == keyid))


def signed_headers(case: dict[str, Any], secret: bytes | None = None) -> dict[str, str]:
    request = httpx.Request(
        case["method"], case["url"], headers=case["headers"], content=case["body"].encode()
    )
    sign_request(
        request,
        caller=case["caller"],
        keyid=case["keyid"],
        secret=_secret(case["keyid"]) if secret is None else secret,
        now=datetime.fromtimestamp(CREATED, tz=UTC),
        nonce=case["nonce"],
    )
    return {
        name: value
        for name, value in request.headers.items()
        if name not in {"host", "content-length"}
    }


def _received(case: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return {"method": case["method"], "url": case["url"], "headers": headers, "body": case["body"]}


def build_vectors() -> dict[str, Any]:
    valid = []
    for case in VALID:
        headers = signed_headers(case)
        valid.append(
            case
            | {
                "created": CREATED,
                "verify_at": CREATED + 30,
                "expected": {
                    "content-digest": headers["content-digest"],
                    "signature-input": headers["signature-input"],
                    "signature": headers["signature"],
                    "x-alephdraad-caller": headers["x-alephdraad-caller"],
                },
            }
        )
    get, post, event = VALID
    post_headers = signed_headers(post)
    invalid = [
        _received(post, post_headers)
        | {
            "name": "tampered-body",
            "body": '{"user_ids":[457],"thread_ids":[123]}',
            "verify_at": CREATED,
            "reason": "digest_mismatch",
        },
        _received(get, signed_headers(get, bytes.fromhex(WRONG_SECRET_HEX)))
        | {"name": "wrong-key", "verify_at": CREATED, "reason": "bad_signature"},
        _received(post, post_headers)
        | {"name": "stale-created", "verify_at": CREATED + 61, "reason": "stale"},
        _received(post, post_headers)
        | {"name": "created-in-future", "verify_at": CREATED - 61, "reason": "created_in_future"},
        _received(get, {k: v for k, v in signed_headers(get).items() if k != "content-digest"})
        | {"name": "missing-digest", "verify_at": CREATED, "reason": "missing_digest"},
        _received(event, signed_headers(event) | {"x-alephdraad-caller": "feature-service"})
        | {"name": "keyid-of-another-caller", "verify_at": CREATED, "reason": "wrong_caller"},
        _received(
            get,
            signed_headers(get, bytes.fromhex(WRONG_SECRET_HEX))
            | {
                "signature-input": signed_headers(get)["signature-input"].replace(
                    "feature-2026-01", "feature-2025-12"
                )
            },
        )
        | {"name": "unknown-keyid", "verify_at": CREATED, "reason": "unknown_keyid"},
        _received(get, {"x-request-id": get["headers"]["X-Request-ID"]})
        | {"name": "unsigned", "verify_at": CREATED, "reason": "missing_signature"},
    ]
    return {
        "description": (
            "RFC 9421 HTTP Message Signatures for Alephdraad internal calls (DESIGN section 5). "
            "`valid`: sign method/url/headers/body (UTF-8) as `caller` with `keyid` at `created` "
            "with `nonce` and expect exactly `expected`; verifying the result at `verify_at` "
            "with `keys` succeeds, and a second verification with the same nonce store is a "
            "replay (`replayed_nonce`). `invalid`: verifying the received message at "
            "`verify_at` with `keys` fails with `reason`."
        ),
        "algorithm": "hmac-sha256",
        "label": SIGNATURE_LABEL,
        "covered_components": list(SIGNATURE_COVERED_COMPONENTS),
        "max_age_seconds": int(SIGNATURE_MAX_AGE.total_seconds()),
        "keys": KEYS,
        "valid": valid,
        "invalid": invalid,
    }


def render() -> str:
    return json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SIGNATURE_TEST_VECTORS.parent.mkdir(exist_ok=True)
    SIGNATURE_TEST_VECTORS.write_text(render(), encoding="utf-8")
