"""X-Request-ID: taken when well-formed, replaced otherwise, echoed on every response."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import assert_problem

pytestmark = pytest.mark.urls("tests.urls")

GENERATED = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.parametrize("request_id", ["abc-123", "gw:1.2_3", "x" * 128])
def test_well_formed_id_is_echoed(client: Client, request_id: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": request_id})

    assert response.status_code == 200
    assert response["X-Request-ID"] == request_id


def test_missing_id_is_generated(client: Client) -> None:
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


@pytest.mark.parametrize("bad_id", ["has spaces", "x" * 129, "line\\nbreak", "", "ünïcode"])
def test_malformed_id_is_replaced(client: Client, bad_id: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": bad_id})

    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_error_responses_echo_the_id_too(client: Client) -> None:
    response = client.get("/missing", headers={"X-Request-ID": "err-1"})

    assert response["X-Request-ID"] == "err-1"
    assert assert_problem(response, 404, "NOT_FOUND")["request_id"] == "err-1"


def test_generated_id_is_the_one_in_the_problem_body(client: Client) -> None:
    response = client.get("/missing", headers={"X-Request-ID": "not valid"})

    body = assert_problem(response, 404, "NOT_FOUND")
    assert GENERATED.fullmatch(body["request_id"])
