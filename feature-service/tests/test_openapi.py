"""The OpenAPI document, its self-hosted Swagger UI, and the committed copy in contracts/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from support import PROBLEM_VALIDATOR, MakeClient, assert_problem

from alephdraad_contracts import NOT_FOUND, PROBLEM_CONTENT_TYPE, load_schema
from alephdraad_feature import __version__, openapi
from alephdraad_feature.platform.problem_schema import openapi_schema_from_json_schema

COMMITTED = Path(__file__).resolve().parents[2] / "contracts/openapi/feature.json"


async def test_the_document_is_served(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.get("/docs/feature/openapi.json")
    assert response.status_code == 200
    assert "json" in response.headers["content-type"]
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Alephdraad feature-service"
    assert document["info"]["version"] == __version__
    assert {"/healthz", "/readyz"} <= set(document["paths"])
    # Every component is a valid JSON Schema (OpenAPI 3.1 uses draft 2020-12).
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


async def test_the_viewer_uses_only_assets_served_by_the_service(make_client: MakeClient) -> None:
    async with make_client() as client:
        page = await client.get("/docs/feature")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        referenced = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert referenced, page.text
        # No CDN: the machines running this have no internet access.
        assert all(url.startswith("/docs/feature/static/") for url in referenced), referenced
        kinds = {}
        for url in referenced:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            kinds[url.rsplit(".", 1)[-1]] = asset.headers["content-type"]
    assert kinds["js"].split(";")[0] in {"text/javascript", "application/javascript"}
    assert kinds["css"].startswith("text/css")
    assert kinds["png"] == "image/png"


@pytest.mark.parametrize("path", ["/docs/feature/nothing", "/docs/feature/static/nothing.js"])
async def test_unknown_docs_paths_are_problem_404s(make_client: MakeClient, path: str) -> None:
    async with make_client() as client:
        response = await client.get(path)
    assert_problem(response, NOT_FOUND)


def test_the_problem_component_is_the_contract_schema() -> None:
    component = openapi.openapi_document()["components"]["schemas"]["Problem"]
    contract = load_schema("problem")
    assert component["properties"] == contract["properties"]
    assert component["required"] == contract["required"]
    assert component["additionalProperties"] == contract["additionalProperties"]


def test_an_unknown_json_schema_keyword_is_refused() -> None:
    with pytest.raises(ValueError, match="notAKeyword"):
        openapi_schema_from_json_schema({"type": "object", "notAKeyword": 1})


def _error_responses(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", status, response)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
    ]


def test_every_documented_error_is_a_problem() -> None:
    """Guards later domains: Litestar documents its own error shape unless told otherwise."""
    document = openapi.openapi_document()
    errors = _error_responses(document)
    assert errors, "the readiness 503 at least must be documented"
    for operation, status, response in errors:
        content = response["content"]
        assert list(content) == [PROBLEM_CONTENT_TYPE], (operation, status)
        media = content[PROBLEM_CONTENT_TYPE]
        assert media["schema"] == {"$ref": "#/components/schemas/Problem"}, (operation, status)
        for example in media.get("examples", {}).values():
            PROBLEM_VALIDATOR.validate(example["value"])


def test_the_document_does_not_depend_on_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    first = openapi.render(openapi.openapi_document())
    monkeypatch.setenv("FEATURE_DEBUG", "true")
    monkeypatch.setenv("PUBLIC_URL", "https://elsewhere.example")
    monkeypatch.delenv("MONGODB_URL")
    assert openapi.render(openapi.openapi_document()) == first
    assert first.endswith("}\n")


def test_the_command_writes_the_rendered_document(tmp_path: Path) -> None:
    output = tmp_path / "nested" / "feature.json"
    assert openapi.main([str(output)]) == 0
    assert output.read_text(encoding="utf-8") == openapi.render(openapi.openapi_document())


def test_the_committed_document_matches_the_code() -> None:
    generated = openapi.render(openapi.openapi_document())
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    if committed != generated:
        pytest.fail(
            f"{COMMITTED} is out of date with the code: run `make openapi` and commit the result.",
            pytrace=False,
        )
