"""core's signed client for the feature service: every failure to get an answer is 503."""

from __future__ import annotations

from typing import Any

import pytest

from alephdraad_core.internal.peers import UpstreamUnavailable, call_feature
from tests.feature_stub import FeatureStub


def test_a_signed_call_reaches_the_feature_service(feature_stub: FeatureStub) -> None:
    feature_stub.respond("GET", "/internal/v1/users/7/deletion-check", 200, {"can_delete": True})
    response = call_feature("GET", "/users/7/deletion-check")
    assert response.status_code == 200
    assert response.json() == {"can_delete": True}
    (received,) = feature_stub.requests
    assert received.headers["X-Alephdraad-Caller"] == "core-service"
    assert "Signature" in received.headers


def test_a_4xx_about_the_request_is_returned_to_the_caller(feature_stub: FeatureStub) -> None:
    feature_stub.respond("POST", "/internal/v1/lookup", 422, {"code": "UNPROCESSABLE_CONTENT"})
    assert call_feature("POST", "/lookup", json={"reply_ids": []}).status_code == 422


@pytest.mark.parametrize("status", [500, 502, 503, 401, 429])
def test_failures_of_the_peer_are_upstream_unavailable(
    feature_stub: FeatureStub, status: int
) -> None:
    feature_stub.respond("GET", "/internal/v1/users/7/deletion-check", status, {"code": "X"})
    with pytest.raises(UpstreamUnavailable) as caught:
        call_feature("GET", "/users/7/deletion-check")
    assert caught.value.problem_type.status == 503
    assert caught.value.problem_type.code == "UPSTREAM_UNAVAILABLE"
    assert caught.value.headers == {"Retry-After": "5"}


def test_a_stopped_peer_is_upstream_unavailable(feature_stub: FeatureStub) -> None:
    feature_stub.stop()
    with pytest.raises(UpstreamUnavailable):
        call_feature("GET", "/users/7/deletion-check")


def test_without_a_signing_key_no_call_is_made(feature_stub: FeatureStub, settings: Any) -> None:
    settings.INTERNAL_SIGNING_KEY = None
    with pytest.raises(UpstreamUnavailable):
        call_feature("GET", "/users/7/deletion-check")
    assert feature_stub.requests == []
