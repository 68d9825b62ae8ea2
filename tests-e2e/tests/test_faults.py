"""A service going away: its routes answer 502 problem+json, the other service carries on."""

from __future__ import annotations

import httpx

from alephdraad_stack.stack import Stack

from .conftest import assert_problem


def test_feature_down_gives_502_while_core_keeps_working(
    gateway: httpx.Client, stack: Stack
) -> None:
    stack.stop_component("feature")
    try:
        response = gateway.get("/api/v1/wallet", headers={"X-Request-ID": "fault-feature-1"})
        body = assert_problem(response, 502, "BAD_GATEWAY")
        assert body["request_id"] == "fault-feature-1"
        assert_problem(gateway.get("/health/feature"), 502, "BAD_GATEWAY")
        assert gateway.get("/health/core").status_code == 200
        assert gateway.get("/docs/core/openapi.json").status_code == 200
    finally:
        stack.start_component("feature")
    assert gateway.get("/health/feature").status_code == 200
