"""The system as a web client sees it: both services behind one gateway."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from alephdraad_stack.stack import Stack

from .conftest import REPO_ROOT, assert_problem

OPENAPI_DIR = REPO_ROOT / "contracts" / "openapi"
# Paths a service serves on its own port only (probes, internal listener): never public.
PRIVATE_PATHS = re.compile(r"^/(healthz|readyz|internal/)")


def test_gateway_and_both_services_are_ready(gateway: httpx.Client) -> None:
    assert gateway.get("/health/gateway").json() == {"status": "ok", "service": "gateway"}
    core = gateway.get("/health/core")
    assert core.status_code == 200
    assert core.headers["x-served-by"] == "core"
    assert core.json()["checks"] == {"database": "ok"}
    feature = gateway.get("/health/feature")
    assert feature.status_code == 200
    assert feature.headers["x-served-by"] == "feature"
    assert feature.json()["checks"] == {"mongodb": "ok"}


def test_a_core_route_lands_on_core(gateway: httpx.Client) -> None:
    document = gateway.get("/docs/core/openapi.json")
    assert document.status_code == 200
    assert document.headers["x-served-by"] == "core"
    assert "core-service" in document.json()["info"]["title"]
    # A category that does not exist: the 404 and its domain code come from core.
    missing = gateway.get("/api/v1/categories/does-not-exist")
    assert_problem(missing, 404, "CATEGORY_NOT_FOUND")
    assert missing.headers["x-served-by"] == "core"
    listed = gateway.get("/api/v1/categories")
    assert listed.status_code == 200
    assert listed.headers["x-served-by"] == "core"
    assert "general" in {category["slug"] for category in listed.json()["items"]}


def test_a_feature_route_lands_on_feature(gateway: httpx.Client) -> None:
    document = gateway.get("/docs/feature/openapi.json")
    assert document.status_code == 200
    assert document.headers["x-served-by"] == "feature"
    assert "feature-service" in document.json()["info"]["title"]
    missing = gateway.get("/api/v1/threads/42/reactions/no-such-route")
    assert_problem(missing, 404, "NOT_FOUND")
    assert missing.headers["x-served-by"] == "feature"


def test_api_viewers_are_served_with_their_assets(gateway: httpx.Client) -> None:
    for owner in ("core", "feature"):
        page = gateway.get(f"/docs/{owner}")
        assert page.status_code == 200, owner
        assert "text/html" in page.headers["content-type"]
        assets = re.findall(r'(?:src|href)="(/docs/[^"]+\.(?:js|css))"', page.text)
        assert assets, f"{owner} viewer references no self-hosted assets"
        for asset in assets:
            assert gateway.get(asset).status_code == 200, asset


def test_unknown_route_is_a_404_problem(gateway: httpx.Client) -> None:
    response = gateway.get("/api/v1/no-such-thing")
    assert_problem(response, 404, "NOT_FOUND")
    assert response.headers["x-served-by"] == "gateway"


@pytest.mark.parametrize("path", ["/internal/anything", "/internal/v1/lookup", "/internal"])
def test_internal_paths_are_not_reachable(gateway: httpx.Client, path: str) -> None:
    for method in ("GET", "POST"):
        response = gateway.request(method, path)
        assert_problem(response, 404, "NOT_FOUND")
        assert response.headers["x-served-by"] == "gateway"


def test_request_id_is_echoed_and_reaches_the_service_log(
    gateway: httpx.Client, stack: Stack
) -> None:
    request_id = f"e2e-{time.monotonic_ns()}"
    response = gateway.get("/health/core", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id
    core_log = Path(stack.info()["components"]["core"]["log"])
    entries = [
        json.loads(line)
        for line in core_log.read_text().splitlines()
        if line.startswith("{") and request_id in line
    ]
    assert entries, "core-service logged no JSON line with the request id"
    assert entries[0]["request_id"] == request_id
    assert entries[0]["path"] == "/readyz"


def test_request_id_is_generated_when_absent(gateway: httpx.Client) -> None:
    first = gateway.get("/api/v1/no-such-thing").headers["x-request-id"]
    second = gateway.get("/api/v1/no-such-thing").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def _public_paths(document: str) -> list[str]:
    spec = json.loads((OPENAPI_DIR / document).read_text())
    return sorted(path for path in spec["paths"] if not PRIVATE_PATHS.match(path))


@pytest.mark.parametrize(
    ("owner", "document"), [("core", "core.json"), ("feature", "feature.json")]
)
def test_every_documented_route_reaches_its_owner(
    gateway: httpx.Client, owner: str, document: str
) -> None:
    # Both documents always expose their own viewer; later issues add /api/v1 routes here.
    paths = [*_public_paths(document), f"/docs/{owner}/openapi.json"]
    for path in paths:
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        response = gateway.options(concrete)
        assert response.headers["x-served-by"] == owner, (path, response.status_code)
        assert response.status_code not in (502, 503, 504), path
