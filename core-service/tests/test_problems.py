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
from tests.conftest import BAD_SHAPE, BROKEN_RULE, TOO_LARGE, assert_problem
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


# Validation: 400 for a request of the wrong shape, 422 when only rules are broken, 413 when the
# body is too large to be read at all.

VALID_POST = {"title": "hi", "author": {"email": "a@example.com"}, "tags": [{"name": "x"}]}
LIMIT = 256 * 1024


def _post(client: Client, path: str, payload: Any) -> Any:
    return client.post(path, data=payload, content_type="application/json")


def _body_of_exactly(size: int) -> str:
    """A PostView body of `size` bytes whose title is far over its 5-character limit."""
    frame = '{"title": "", "author": {"email": "a@example.com"}, "tags": []}'
    body = frame.replace('"title": ""', f'"title": "{"x" * (size - len(frame))}"')
    assert len(body.encode()) == size
    return body


def test_the_body_limit_is_256_kib(settings: Any) -> None:
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == LIMIT == 262144


def test_a_body_over_the_limit_is_a_413_problem(client: Client) -> None:
    response = _post(client, "/test/posts", _body_of_exactly(LIMIT + 1))

    body = assert_problem(response, *TOO_LARGE)
    assert body["detail"] == "The request body exceeds 262144 bytes."
    assert "errors" not in body


def test_a_body_at_the_limit_is_read_and_validated(client: Client) -> None:
    response = _post(client, "/test/posts", _body_of_exactly(LIMIT))

    body = assert_problem(response, *BROKEN_RULE)
    assert body["errors"] == [
        {"field": "title", "message": "Ensure this field has no more than 5 characters."}
    ]


def test_a_max_length_violation_alone_is_a_422_problem_with_errors(client: Client) -> None:
    response = _post(client, "/test/posts", {**VALID_POST, "title": "far too long"})

    body = assert_problem(response, 422, "UNPROCESSABLE_CONTENT")
    assert body["type"] == "urn:alephdraad:problem:unprocessable-content"
    assert body["detail"] == "Some values break a rule; see errors[]."
    assert body["errors"] == [
        {"field": "title", "message": "Ensure this field has no more than 5 characters."}
    ]


def test_rule_violations_in_nested_fields_are_a_422_with_dotted_fields(client: Client) -> None:
    payload = {**VALID_POST, "title": "", "tags": [{"name": "ok"}, {"name": "much too long"}]}

    body = assert_problem(_post(client, "/test/posts", payload), *BROKEN_RULE)

    assert body["errors"] == [
        {"field": "title", "message": "This field may not be blank."},
        {"field": "tags.1.name", "message": "Ensure this field has no more than 10 characters."},
    ]


def test_a_wrong_type_is_a_400_problem(client: Client) -> None:
    response = _post(client, "/test/posts", {**VALID_POST, "title": True})

    body = assert_problem(response, 400, "VALIDATION_FAILED")
    assert body["type"] == "urn:alephdraad:problem:validation-failed"
    assert body["detail"] == "The request body has invalid fields; see errors[]."
    assert body["errors"] == [{"field": "title", "message": "Not a valid string."}]


def test_a_missing_field_is_a_400_problem(client: Client) -> None:
    payload = {name: value for name, value in VALID_POST.items() if name != "title"}

    body = assert_problem(_post(client, "/test/posts", payload), *BAD_SHAPE)

    assert body["errors"] == [{"field": "title", "message": "This field is required."}]


def test_a_wrong_type_next_to_a_too_long_value_is_a_400_listing_both(client: Client) -> None:
    payload = {**VALID_POST, "title": "far too long", "author": "a@example.com"}

    body = assert_problem(_post(client, "/test/posts", payload), *BAD_SHAPE)

    fields = {error["field"]: error["message"] for error in body["errors"]}
    assert set(fields) == {"title", "author"}
    assert fields["title"] == "Ensure this field has no more than 5 characters."
    assert fields["author"].startswith("Invalid data. Expected a dictionary")


@pytest.mark.parametrize(
    ("payload", "expected", "fields"),
    [
        pytest.param({"count": 0}, BROKEN_RULE, ["count"], id="min_value"),
        pytest.param({"count": 11}, BROKEN_RULE, ["count"], id="max_value"),
        pytest.param({"colour": "blue"}, BROKEN_RULE, ["colour"], id="invalid_choice"),
        pytest.param({"name": ""}, BROKEN_RULE, ["name"], id="blank"),
        pytest.param({"name": "admin"}, BROKEN_RULE, ["name"], id="domain-rule"),
        pytest.param(
            {"count": 11, "colour": "blue"}, BROKEN_RULE, ["count", "colour"], id="two-rules"
        ),
        pytest.param({"count": "ten"}, BAD_SHAPE, ["count"], id="not-a-number"),
        pytest.param({"count": None}, BAD_SHAPE, ["count"], id="null"),
        pytest.param({"name": ["ab"]}, BAD_SHAPE, ["name"], id="list-for-a-string"),
        pytest.param({"name": 42}, BAD_SHAPE, ["name"], id="number-for-a-string"),
        pytest.param({"count": 0, "name": 42}, BAD_SHAPE, ["count", "name"], id="rule-and-shape"),
        pytest.param({"shade": "red"}, BAD_SHAPE, ["shade"], id="unknown-field"),
    ],
)
def test_each_rule_code_is_a_422_and_each_shape_error_a_400(
    client: Client, payload: dict[str, Any], expected: tuple[int, str], fields: list[str]
) -> None:
    body = assert_problem(_post(client, "/test/rules", payload), *expected)

    assert [error["field"] for error in body["errors"]] == fields


def test_well_formed_values_within_the_rules_pass(client: Client) -> None:
    payload = {"count": 10, "colour": "green", "name": "mira"}

    response = _post(client, "/test/rules", payload)

    assert response.status_code == 201
    assert response.json() == payload
