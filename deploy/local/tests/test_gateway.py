"""The gateway template, run in a real nginx in front of two stub upstreams."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import jsonschema
import pytest

from alephdraad_contracts import GENERIC_PROBLEMS, load_schema, problem_type_uri
from alephdraad_stack.errors import StackError
from alephdraad_stack.gateway import gateway_settings, render_template

from .conftest import StubUpstream

StartGateway = Callable[..., tuple[str, StubUpstream, StubUpstream]]
PROBLEM_SCHEMA = load_schema("problem")

CORE_PATHS = [
    "/api/v1/auth/login",
    "/api/v1/me",
    "/api/v1/me/profile",
    "/api/v1/sessions",
    "/api/v1/sessions/0b7c",
    "/api/v1/users/alice",
    "/api/v1/categories",
    "/api/v1/categories/general",
    "/api/v1/threads",
    "/api/v1/threads/123",
    "/api/v1/threads/123/repliesx",
    "/api/v1/threads/1/2/replies",
    "/api/v1/badges",
    "/api/v1/admin/users",
    "/api/v1/admin/categories/news",
    "/api/v1/admin/moderationx",
    "/.well-known/jwks.json",
    "/docs/core",
    "/docs/core/openapi.json",
]
FEATURE_PATHS = [
    "/api/v1/threads/123/replies",
    "/api/v1/threads/123/replies/rpl_01J",
    "/api/v1/threads/123/reactions",
    "/api/v1/threads/123/reactions/summary",
    "/api/v1/threads/stats",
    "/api/v1/wallet",
    "/api/v1/wallet/transactions",
    "/api/v1/tokens/packages",
    "/api/v1/chat/sessions",
    "/api/v1/documents",
    "/api/v1/documents/doc_1/download",
    "/api/v1/reports",
    "/api/v1/warnings",
    "/api/v1/webhooks/payments",
    "/api/v1/admin/moderation/reports",
    "/api/v1/admin/wallets/5/audit",
    "/docs/feature",
    "/docs/feature/openapi.json",
]
GATEWAY_404_PATHS = [
    "/",
    "/api/v1",
    "/api/v1/",
    "/api/v1/unknown",
    "/api/v1/threadsx",
    "/api/v1/wallets",
    "/api/v1/meow",
    "/index.html",
    "/internal",
    "/internal/v1/lookup",
    "/internal/anything",
]


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    jsonschema.validate(body, PROBLEM_SCHEMA)
    assert body["code"] == code
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_routes_land_on_their_owner(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway()
    with httpx.Client(base_url=base) as client:
        for owner, paths in (("core", CORE_PATHS), ("feature", FEATURE_PATHS)):
            for path in paths:
                response = client.get(path, params={"q": "1"})
                assert response.status_code == 200, (path, response.text)
                assert response.json()["service"] == owner, path
                assert response.json()["path"] == f"{path}?q=1", path
                assert response.headers["x-served-by"] == owner, path


def test_unknown_and_internal_paths_are_gateway_404s(start_gateway: StartGateway) -> None:
    base, core, feature = start_gateway()
    with httpx.Client(base_url=base) as client:
        for path in GATEWAY_404_PATHS:
            response = client.get(path)
            assert_problem(response, 404, "NOT_FOUND")
            assert response.headers["x-served-by"] == "gateway", path
            assert client.post(path, json={}).status_code == 404
    assert core.connections == 0
    assert feature.connections == 0


def test_health_routes(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway()
    with httpx.Client(base_url=base) as client:
        own = client.get("/health/gateway")
        assert own.json() == {"status": "ok", "service": "gateway"}
        assert own.headers["content-type"] == "application/json"
        for owner in ("core", "feature"):
            response = client.get(f"/health/{owner}")
            assert response.json()["service"] == owner
            assert response.json()["path"] == "/readyz"


def test_request_id_generated_kept_or_replaced(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway()
    with httpx.Client(base_url=base) as client:
        generated = client.get("/api/v1/threads")
        request_id = generated.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert generated.json()["headers"]["x-request-id"] == request_id
        # Exactly one X-Request-ID: the upstream's own is hidden.
        assert generated.headers.get_list("x-request-id") == [request_id]

        kept = client.get("/api/v1/wallet", headers={"X-Request-ID": "client-id-1"})
        assert kept.headers["x-request-id"] == "client-id-1"
        assert kept.json()["headers"]["x-request-id"] == "client-id-1"

        for bad in ("has space", "x" * 129, "semi;colon"):
            replaced = client.get("/api/v1/threads", headers={"X-Request-ID": bad})
            new_id = replaced.headers["x-request-id"]
            assert new_id != bad
            assert re.fullmatch(r"[0-9a-f]{32}", new_id)
            assert replaced.json()["headers"]["x-request-id"] == new_id


def test_forwarding_headers_and_body(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway()
    response = httpx.post(f"{base}/api/v1/threads", json={"title": "hello"})
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["body_bytes"] == len(b'{"title":"hello"}')
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-real-ip"] == "127.0.0.1"


def test_security_headers(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway()
    api = httpx.get(f"{base}/api/v1/threads")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers.get_list("x-frame-options") == ["DENY"]
    assert api.headers["referrer-policy"] == "no-referrer"
    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    assert "strict-transport-security" not in api.headers  # plain HTTP: no HSTS
    assert "server" not in api.headers or "nginx/" not in api.headers["server"]
    docs = httpx.get(f"{base}/docs/core")
    assert docs.headers["content-security-policy"].startswith("default-src 'self'")
    not_found = httpx.get(f"{base}/nope")
    assert not_found.headers["x-content-type-options"] == "nosniff"


def test_upstream_connections_are_kept_alive(start_gateway: StartGateway) -> None:
    base, core, _feature = start_gateway()
    with httpx.Client(base_url=base) as client:
        for _ in range(30):
            assert client.get("/api/v1/threads").status_code == 200
    # Without keepalive every request would open a connection to the upstream.
    assert 1 <= core.connections <= 4


def test_body_too_large_is_413_problem(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway({"GATEWAY_MAX_BODY_SIZE": "1k"})
    response = httpx.post(f"{base}/api/v1/threads", content=b"x" * 4096)
    body = assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert "1k" in str(body["detail"])
    assert httpx.post(f"{base}/api/v1/threads", content=b"x" * 512).status_code == 200


def test_rate_limit_is_429_problem_with_retry_after(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway({"GATEWAY_RATE_LIMIT": "1", "GATEWAY_RATE_BURST": "1"})
    with httpx.Client(base_url=base) as client:
        statuses = [client.get("/api/v1/threads") for _ in range(4)]
    limited = [r for r in statuses if r.status_code == 429]
    assert statuses[0].status_code == 200
    assert limited, [r.status_code for r in statuses]
    assert_problem(limited[0], 429, "RATE_LIMITED")
    assert limited[0].headers["retry-after"] == "1"
    assert "retry-after" not in statuses[0].headers


def test_unreachable_upstream_is_502_problem(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway(feature_down=True)
    response = httpx.get(f"{base}/api/v1/wallet", headers={"X-Request-ID": "fault-1"})
    body = assert_problem(response, 502, "BAD_GATEWAY")
    assert body["request_id"] == "fault-1"
    assert response.headers["x-served-by"] == "gateway"
    assert httpx.get(f"{base}/api/v1/threads").status_code == 200


def test_slow_upstream_is_504_problem(start_gateway: StartGateway) -> None:
    base, _core, _feature = start_gateway({"GATEWAY_UPSTREAM_TIMEOUT": "1s"})
    response = httpx.get(f"{base}/api/v1/auth/slow", timeout=10)
    assert_problem(response, 504, "GATEWAY_TIMEOUT")


def test_template_problem_bodies_follow_the_contract(repo_root: Path) -> None:
    text = (repo_root / "gateway/templates/alephdraad.conf.template").read_text()
    bodies = re.findall(r"return (\d{3}) '(\{.*?\})';", text)
    assert len(bodies) >= 9
    generic = {p.code: p for p in GENERIC_PROBLEMS}
    for status, raw in bodies:
        body = json.loads(raw.replace("$alephdraad_request_id", "r-1"))
        if body.get("service") == "gateway":
            continue  # /health/gateway
        jsonschema.validate(body, PROBLEM_SCHEMA)
        assert body["status"] == int(status)
        assert body["type"] == problem_type_uri(body["code"])
        if body["code"] in generic:
            assert body["title"] == generic[body["code"]].title
            assert body["status"] == generic[body["code"]].status


def test_render_refuses_missing_values() -> None:
    with pytest.raises(StackError, match="CORE_UPSTREAM, FEATURE_UPSTREAM"):
        render_template("a ${CORE_UPSTREAM} b ${FEATURE_UPSTREAM} $host", {})
    assert render_template("x ${A} $host ${B}", {"A": "1", "B": "2"}) == "x 1 $host 2"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_MAX_BODY_SIZE", "ten"),
        ("GATEWAY_RATE_LIMIT", "0"),
        ("GATEWAY_UPSTREAM_TIMEOUT", "1h;"),
        ("GATEWAY_WORKERS", "-1"),
    ],
)
def test_gateway_settings_are_validated(name: str, value: str) -> None:
    with pytest.raises(StackError, match=name):
        gateway_settings({name: value})
