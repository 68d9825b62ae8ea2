"""Every error answer is a schema-valid problem+json carrying the request id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, RequestFactory

from alephdraad_core.platform.errors import DomainError
from alephdraad_core.platform.problems import (
    GENERIC_INTERNAL_DETAIL,
    flatten_validation_errors,
    server_error,
)
from tests.conftest import assert_problem
from tests.middleware import EXPLODING_PATH
from tests.urls import INTERNAL_SECRET

pytestmark = pytest.mark.urls("tests.urls")


def test_unknown_path_is_a_404_problem_with_the_callers_request_id(client: Client) -> None:
    response = client.get("/no/such/page", headers={"X-Request-ID": "trace-404"})

    body = assert_problem(response, 404, "NOT_FOUND")
    assert body["request_id"] == "trace-404"
    assert body["type"] == "urn:alephdraad:problem:not-found"


def test_trailing_slash_is_not_redirected(client: Client) -> None:
    # APPEND_SLASH=False: a redirect would turn a POST into a GET and lose its body.
    response = client.post("/test/posts/", data={}, content_type="application/json")

    assert_problem(response, 404, "NOT_FOUND")


def test_wrong_method_is_a_405_problem_with_allow(client: Client) -> None:
    response = client.post("/healthz", data={}, content_type="application/json")

    body = assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in body["detail"]
    assert {method.strip() for method in response["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}


def test_bare_405_from_a_plain_django_view_gets_a_problem_body_and_keeps_allow(
    client: Client,
) -> None:
    response = client.get("/test/plain-post-only")

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "POST"


def test_unservable_accept_header_is_a_406_problem(client: Client) -> None:
    response = client.get("/healthz", headers={"Accept": "application/xml"})

    assert_problem(response, 406, "NOT_ACCEPTABLE")


def test_non_json_body_is_a_415_problem(client: Client) -> None:
    response = client.post("/test/posts", data="title=x", content_type="text/plain")

    body = assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "text/plain" in body["detail"]


def test_malformed_json_is_a_400_problem(client: Client) -> None:
    response = client.post("/test/posts", data='{"title": ', content_type="application/json")

    body = assert_problem(response, 400, "MALFORMED_REQUEST")
    assert "JSON parse error" in body["detail"]


def test_validation_failure_is_a_400_problem_with_dotted_field_errors(client: Client) -> None:
    payload = {"title": "far too long", "author": {"email": "nope"}, "tags": [{"name": "ok"}, {}]}

    response = client.post("/test/posts", data=payload, content_type="application/json")

    body = assert_problem(response, 400, "VALIDATION_FAILED")
    fields = {error["field"]: error["message"] for error in body["errors"]}
    assert set(fields) == {"title", "author.email", "tags.1.name"}
    assert "5 characters" in fields["title"]
    assert fields["tags.1.name"] == "This field is required."


def test_object_level_validation_error_has_the_empty_field(client: Client) -> None:
    payload = {"title": "same", "author": {"email": "same@example.com"}, "tags": []}

    response = client.post("/test/posts", data=payload, content_type="application/json")

    body = assert_problem(response, 400, "VALIDATION_FAILED")
    assert body["errors"] == [{"field": "", "message": "title and author must differ"}]


def test_valid_post_passes_through(client: Client) -> None:
    payload = {"title": "hi", "author": {"email": "a@example.com"}, "tags": [{"name": "x"}]}

    response = client.post("/test/posts", data=payload, content_type="application/json")

    assert response.status_code == 201
    assert response.json() == payload


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        (["whole body"], [("", "whole body")]),
        ({"non_field_errors": ["whole body"]}, [("", "whole body")]),
        ({"a": {"non_field_errors": ["inner"]}}, [("a", "inner")]),
        ({"a": {"b": ["deep"]}}, [("a.b", "deep")]),
        ({"items": [{}, {"name": ["bad"]}]}, [("items.1.name", "bad")]),
        ({"ids": {"2": ["not an int"]}}, [("ids.2", "not an int")]),
        ("plain", [("", "plain")]),
    ],
)
def test_flatten_validation_errors(detail: Any, expected: list[tuple[str, str]]) -> None:
    flattened = flatten_validation_errors(detail)

    assert [(error["field"], error["message"]) for error in flattened] == expected


@pytest.mark.parametrize(
    ("kind", "status", "code", "header", "header_value"),
    [
        ("domain", 404, "THREAD_NOT_FOUND", None, None),
        ("unauthenticated", 401, "UNAUTHENTICATED", "WWW-Authenticate", "Bearer"),
        ("forbidden", 403, "FORBIDDEN", None, None),
        ("throttled", 429, "RATE_LIMITED", "Retry-After", "13"),
        ("http404", 404, "NOT_FOUND", None, None),
    ],
)
def test_errors_raised_in_api_views_become_their_problems(
    client: Client, kind: str, status: int, code: str, header: str | None, header_value: str | None
) -> None:
    response = client.get(f"/test/raise/{kind}")

    assert_problem(response, status, code)
    if header is not None:
        assert response[header] == header_value
    # What the code put in a 404 is for logs, not for clients.
    assert "internal lookup detail" not in response.content.decode()


@pytest.mark.parametrize("route", ["test/raise", "test/plain-raise"])
def test_domain_error_keeps_its_code_title_and_detail(client: Client, route: str) -> None:
    body = assert_problem(client.get(f"/{route}/domain"), 404, "THREAD_NOT_FOUND")

    assert body["title"] == "Thread not found"
    assert body["detail"] == "Thread 42 does not exist."
    assert body["type"] == "urn:alephdraad:problem:thread-not-found"


def test_http404_in_a_plain_view_is_the_generic_404_problem(client: Client) -> None:
    response = client.get("/test/plain-raise/http404")

    assert_problem(response, 404, "NOT_FOUND")
    assert "internal lookup detail" not in response.content.decode()


@pytest.mark.parametrize("route", ["test/raise", "test/plain-raise"])
def test_unhandled_exception_is_a_generic_500_and_the_traceback_is_logged(
    client: Client, json_log: Any, route: str
) -> None:
    response = client.get(f"/{route}/runtime", headers={"X-Request-ID": "trace-500"})

    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert body["detail"] == GENERIC_INTERNAL_DETAIL
    assert body["request_id"] == "trace-500"
    raw = response.content.decode()
    assert INTERNAL_SECRET not in raw
    assert "Traceback" not in raw

    [logged] = json_log.messages("unhandled exception")
    assert logged["level"] == "error"
    assert logged["request_id"] == "trace-500"
    assert logged["path"] == f"/{route}/runtime"
    assert "Traceback (most recent call last)" in logged["exc"]
    assert f"RuntimeError: {INTERNAL_SECRET}" in logged["exc"]


def test_exception_in_a_middleware_goes_through_handler500(settings: Any, json_log: Any) -> None:
    # Inserted below the request-id middleware, above the view-level catch-all.
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:2],
        "tests.middleware.ExplodingMiddleware",
        *settings.MIDDLEWARE[2:],
    ]
    # Django signals the exception to the test client, which would re-raise it by default.
    client = Client(raise_request_exception=False)

    response = client.get(EXPLODING_PATH, headers={"X-Request-ID": "mw-500"})

    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert body["detail"] == GENERIC_INTERNAL_DETAIL
    assert "middleware-internal-state" not in response.content.decode()
    [logged] = [line for line in json_log.lines() if line["logger"] == "django.request"]
    assert logged["level"] == "error"
    assert logged["request_id"] == "mw-500"
    assert "RuntimeError: middleware-internal-state" in logged["exc"]


def test_csrf_failure_is_a_403_problem() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/test/plain-form", data={"a": "b"})

    body = assert_problem(response, 403, "FORBIDDEN")
    assert body["detail"].startswith("CSRF verification failed: ")


def test_disallowed_host_is_a_400_problem(client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["core.internal"]

    response = client.get("/healthz", HTTP_HOST="evil.example")

    assert_problem(response, 400, "MALFORMED_REQUEST")


def test_handler500_renders_a_problem(rf: RequestFactory) -> None:
    # Used when an exception escapes a middleware (views are covered by the middleware).
    response = server_error(rf.get("/"))

    assert response.status_code == 500
    body = json.loads(response.content)
    assert body["code"] == "INTERNAL_ERROR"
    assert body["detail"] == GENERIC_INTERNAL_DETAIL


def test_domain_error_subclass_must_declare_its_problem_type() -> None:
    class Untyped(DomainError):
        pass

    with pytest.raises(TypeError, match="problem_type"):
        Untyped()


def test_a_body_over_the_limit_is_a_413_problem(client: Client) -> None:
    oversized = '{"title": "' + "x" * (1024 * 1024) + '"}'

    response = client.post("/test/posts", data=oversized, content_type="application/json")

    body = assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert "1048576 bytes" in body["detail"]
