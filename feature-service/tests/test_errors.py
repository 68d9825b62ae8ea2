"""Every error is RFC 9457 problem+json, valid against the contract schema, with the request id."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import get, post
from litestar.exceptions import InternalServerException
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, Field
from support import JsonLog, MakeClient, assert_problem

from alephdraad_contracts import (
    INTERNAL_ERROR,
    MALFORMED_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNPROCESSABLE_CONTENT,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    ProblemType,
)
from alephdraad_feature.platform.errors import DomainError

REPLY_NOT_FOUND = ProblemType("REPLY_NOT_FOUND", 404, "Reply not found")
SECRET = "db-password-hunter2"


class ReplyNotFound(DomainError):
    problem_type = REPLY_NOT_FOUND


class Item(BaseModel):
    name: str = Field(min_length=1)


class Draft(BaseModel):
    content: str = Field(min_length=1)
    items: list[Item] = []


@post("/test/drafts")
async def create_draft(data: JSONBody[Draft]) -> Draft:
    return data


@post("/test/raw")
async def create_raw(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    return data


@get("/test/page")
async def page(limit: int = Parameter(ge=1, le=100)) -> dict[str, int]:
    return {"limit": limit}


@get("/test/replies/{reply_id:str}")
async def missing_reply(reply_id: FromPath[str]) -> None:
    raise ReplyNotFound(
        f"No reply {reply_id}.",
        errors=[{"field": "reply_id", "message": "unknown"}],
        headers={"Retry-After": "1"},
        extensions={"reply_id": reply_id},
    )


@get("/test/crash")
async def crash() -> None:
    raise RuntimeError(SECRET)


@get("/test/internal")
async def internal() -> None:
    raise InternalServerException(f"stream consumed {SECRET}")


HANDLERS = [create_draft, create_raw, page, missing_reply, crash, internal]


async def test_unknown_path_is_404_with_the_callers_request_id(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.get("/api/v1/nowhere", headers={"X-Request-ID": "trace-404"})
    body = assert_problem(response, NOT_FOUND, request_id="trace-404")
    assert body["detail"] == "No resource at /api/v1/nowhere"


async def test_wrong_method_is_405_with_allow(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.delete("/healthz")
    body = assert_problem(response, METHOD_NOT_ALLOWED)
    assert body["detail"] == "DELETE is not allowed on /healthz; see the Allow header."
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert "GET" in allowed
    assert "DELETE" not in allowed


@pytest.mark.parametrize(
    ("content_type", "expected_detail"),
    [
        ("text/plain", "This endpoint takes application/json, not text/plain."),
        ("application/x-www-form-urlencoded", None),
        (None, "This endpoint takes application/json; Content-Type is missing."),
    ],
)
async def test_non_json_body_is_415(
    make_client: MakeClient, content_type: str | None, expected_detail: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with make_client(HANDLERS) as client:
        response = await client.post("/test/drafts", content=b'{"content": "x"}', headers=headers)
    body = assert_problem(response, UNSUPPORTED_MEDIA_TYPE)
    assert response.headers["accept"] == "application/json"
    if expected_detail:
        assert body["detail"] == expected_detail


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
async def test_json_media_types_are_accepted(make_client: MakeClient, content_type: str) -> None:
    async with make_client(HANDLERS) as client:
        response = await client.post(
            "/test/drafts", content=b'{"content": "x"}', headers={"Content-Type": content_type}
        )
    assert response.status_code == 201
    assert response.json() == {"content": "x", "items": []}


@pytest.mark.parametrize("path", ["/test/drafts", "/test/raw"])
async def test_malformed_json_is_400(make_client: MakeClient, path: str) -> None:
    # /test/drafts decodes through the pydantic plugin, /test/raw through Litestar's own JSON.
    async with make_client(HANDLERS) as client:
        response = await client.post(
            path, content=b'{"content": ', headers={"Content-Type": "application/json"}
        )
    body = assert_problem(response, MALFORMED_REQUEST)
    assert body["detail"] == "The request body is not valid JSON: Input data was truncated"


async def test_values_breaking_constraints_are_422_with_dotted_paths(
    make_client: MakeClient,
) -> None:
    async with make_client(HANDLERS) as client:
        response = await client.post(
            "/test/drafts", json={"content": "", "items": [{"name": "ok"}, {"name": ""}]}
        )
    body = assert_problem(response, UNPROCESSABLE_CONTENT)
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"content", "items.1.name"}
    assert all(error["message"] for error in body["errors"])


async def test_a_wrong_type_next_to_a_broken_constraint_is_400_listing_both(
    make_client: MakeClient,
) -> None:
    async with make_client(HANDLERS) as client:
        response = await client.post("/test/drafts", json={"content": 5, "items": [{"name": ""}]})
    body = assert_problem(response, VALIDATION_FAILED)
    assert {error["field"] for error in body["errors"]} == {"content", "items.0.name"}


@pytest.mark.parametrize(
    ("sent", "message"),
    [({}, "A JSON request body is required"), ({"json": [1]}, "valid dictionary")],
)
async def test_missing_or_mistyped_body_is_400_on_body(
    make_client: MakeClient, sent: dict[str, Any], message: str
) -> None:
    async with make_client(HANDLERS) as client:
        response = await client.post("/test/drafts", **sent)
    body = assert_problem(response, VALIDATION_FAILED)
    assert [error["field"] for error in body["errors"]] == ["body"]
    assert message in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "message", "problem"),
    [
        ("", "Missing required query parameter", VALIDATION_FAILED),
        ("?limit=abc", "int", VALIDATION_FAILED),
        ("?limit=500", "<= 100", UNPROCESSABLE_CONTENT),
    ],
)
async def test_invalid_query_is_a_field_error_on_the_parameter(
    make_client: MakeClient, query: str, message: str, problem: ProblemType
) -> None:
    async with make_client(HANDLERS) as client:
        response = await client.get(f"/test/page{query}")
    body = assert_problem(response, problem)
    assert [error["field"] for error in body["errors"]] == ["limit"]
    assert message in body["errors"][0]["message"]


async def test_domain_error_renders_its_own_problem_type(make_client: MakeClient) -> None:
    async with make_client(HANDLERS) as client:
        response = await client.get("/test/replies/rpl_01", headers={"X-Request-ID": "trace-d"})
    body = assert_problem(response, REPLY_NOT_FOUND, request_id="trace-d")
    assert body["detail"] == "No reply rpl_01."
    assert body["errors"] == [{"field": "reply_id", "message": "unknown"}]
    assert body["reply_id"] == "rpl_01"
    assert response.headers["retry-after"] == "1"


def test_domain_error_refuses_extensions_that_clash_with_problem_members() -> None:
    with pytest.raises(ValueError, match="status"):
        ReplyNotFound(extensions={"status": 200})


async def test_unhandled_exception_is_a_generic_500_with_the_traceback_in_the_log(
    make_client: MakeClient, json_log: JsonLog
) -> None:
    async with make_client(HANDLERS) as client:
        response = await client.get("/test/crash", headers={"X-Request-ID": "trace-500"})
    body = assert_problem(response, INTERNAL_ERROR, request_id="trace-500")
    assert SECRET not in response.text
    assert "RuntimeError" not in response.text

    [logged] = [line for line in json_log.lines() if line["message"] == "unhandled exception"]
    assert logged["level"] == "error"
    assert logged["request_id"] == "trace-500"
    assert logged["path"] == "/test/crash"
    assert "Traceback" in logged["exc"]
    assert f"RuntimeError: {SECRET}" in logged["exc"]
    assert body["detail"].startswith("An unexpected error occurred")


async def test_server_side_http_exceptions_do_not_leak_their_detail(
    make_client: MakeClient,
) -> None:
    async with make_client(HANDLERS) as client:
        response = await client.get("/test/internal")
    body = assert_problem(response, INTERNAL_ERROR)
    assert SECRET not in response.text
    assert body["detail"] == INTERNAL_ERROR.title


async def test_debug_mode_names_the_exception_but_still_answers_problem_json(
    make_client: MakeClient,
) -> None:
    async with make_client(HANDLERS, feature_debug=True) as client:
        response = await client.get("/test/crash", headers={"Accept": "text/html"})
    body = assert_problem(response, INTERNAL_ERROR)
    assert "RuntimeError" in body["detail"]
    assert "<html" not in response.text.lower()
