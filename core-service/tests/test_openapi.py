"""The OpenAPI document: served, viewable, valid, and identical to the committed contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema

from alephdraad_contracts import load_schema
from alephdraad_core import __version__
from alephdraad_core.openapi import SchemaWarnings, build_openapi_schema, render_openapi_document
from tests.conftest import assert_problem

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMITTED = REPO_ROOT / "contracts/openapi/core.json"
SERVICE_DIR = Path(__file__).resolve().parents[1]


def test_committed_document_matches_the_code() -> None:
    assert COMMITTED.is_file(), f"{COMMITTED} is missing: run `make openapi`"
    generated = render_openapi_document()

    assert generated == COMMITTED.read_text(encoding="utf-8"), (
        "contracts/openapi/core.json differs from the code: run `make openapi` and commit it"
    )


def test_generation_is_deterministic() -> None:
    assert render_openapi_document() == render_openapi_document()


def test_document_is_valid_openapi_with_the_probes() -> None:
    schema = build_openapi_schema()

    validate_schema(schema)
    assert schema["info"]["title"] == "Alephdraad core-service"
    assert schema["info"]["version"] == __version__
    assert {"/healthz", "/readyz", "/.well-known/jwks.json"} <= set(schema["paths"])
    not_ready = schema["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert not_ready["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


def test_an_undocumented_endpoint_fails_generation() -> None:
    # tests.urls has API views without extend_schema, whose bodies drf-spectacular must guess.
    with pytest.raises(SchemaWarnings):
        build_openapi_schema(urlconf="tests.urls")


def test_problem_component_has_the_contract_fields() -> None:
    contract = load_schema("problem")
    component = build_openapi_schema()["components"]["schemas"]["Problem"]

    # "instance" is optional in the contract and never sent by this service.
    assert set(component["properties"]) == set(contract["properties"]) - {"instance"}
    assert sorted(component["required"]) == sorted(contract["required"])


def test_cli_writes_the_document(tmp_path: Path) -> None:
    out = tmp_path / "core.json"

    subprocess.run(
        [sys.executable, "-m", "alephdraad_core.openapi", str(out)],
        cwd=SERVICE_DIR,
        check=True,
        timeout=60,
        capture_output=True,
    )

    assert out.read_text(encoding="utf-8") == render_openapi_document()


def test_document_is_served_as_json(client: Client) -> None:
    response = client.get("/docs/core/openapi.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    document = json.loads(response.content)
    assert document["info"]["title"] == "Alephdraad core-service"
    assert "/readyz" in document["paths"]


@pytest.mark.parametrize("path", ["/docs/core", "/docs/core/"])
def test_viewer_page_loads_swagger_ui_from_local_static_files(client: Client, path: str) -> None:
    page = client.get(path)

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "swagger-ui" in html.lower()
    assets = re.findall(r'(?:src|href)="(/docs/core/static/[^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets), assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        b"".join(response.streaming_content)


def test_viewer_init_script_points_at_the_document(client: Client) -> None:
    html = client.get("/docs/core").content.decode()
    [script_url] = re.findall(r'<script src="(/docs/core[^"]*script[^"]*)"', html)

    script = client.get(script_url.replace("&amp;", "&"))

    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/docs/core/openapi.json" in script.content.decode()


def test_static_files_refuse_writes_with_a_problem(client: Client) -> None:
    asset = "/docs/core/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"

    response = client.post(asset, data="x", content_type="text/css")

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"]


# Issues 4 and 5 promise that the committed document covers every identity endpoint.
IDENTITY_OPERATIONS = {
    ("/.well-known/jwks.json", "get"),
    ("/api/v1/auth/register", "post"),
    ("/api/v1/auth/verify-email/confirm", "post"),
    ("/api/v1/auth/verify-email/request", "post"),
    ("/api/v1/auth/login", "post"),
    ("/api/v1/auth/refresh", "post"),
    ("/api/v1/auth/logout", "post"),
    ("/api/v1/auth/logout-all", "post"),
    ("/api/v1/auth/password/forgot", "post"),
    ("/api/v1/auth/password/reset", "post"),
    ("/api/v1/me", "get"),
    ("/api/v1/me", "patch"),
    ("/api/v1/me/password", "post"),
    ("/api/v1/sessions", "get"),
    ("/api/v1/sessions/{session_id}", "delete"),
    ("/api/v1/admin/auth/login", "post"),
    ("/api/v1/admin/users", "get"),
    ("/api/v1/admin/users/{user_id}", "get"),
    ("/api/v1/admin/users/{user_id}/lock", "post"),
    ("/api/v1/admin/users/{user_id}/unlock", "post"),
    ("/api/v1/admin/users/{user_id}/sessions/revoke", "post"),
    ("/api/v1/admin/security-events", "get"),
    # Issue 5: second factors, sudo and passkeys.
    ("/api/v1/auth/totp", "get"),
    ("/api/v1/auth/totp/setup", "post"),
    ("/api/v1/auth/totp/enable", "post"),
    ("/api/v1/auth/totp/disable", "post"),
    ("/api/v1/auth/login/totp", "post"),
    ("/api/v1/auth/login/backup-code", "post"),
    ("/api/v1/auth/backup-codes", "get"),
    ("/api/v1/auth/backup-codes/regenerate", "post"),
    ("/api/v1/auth/sudo", "get"),
    ("/api/v1/auth/sudo", "post"),
    ("/api/v1/auth/sudo", "delete"),
    ("/api/v1/auth/sudo/passkey/begin", "post"),
    ("/api/v1/auth/sudo/passkey/finish", "post"),
    ("/api/v1/auth/passkeys", "get"),
    ("/api/v1/auth/passkeys/register/begin", "post"),
    ("/api/v1/auth/passkeys/register/finish", "post"),
    ("/api/v1/auth/passkeys/login/begin", "post"),
    ("/api/v1/auth/passkeys/login/finish", "post"),
    ("/api/v1/auth/passkeys/{passkey_id}", "patch"),
    ("/api/v1/auth/passkeys/{passkey_id}", "delete"),
}


def test_committed_document_covers_every_identity_endpoint() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    documented = {
        (path, method) for path, operations in committed["paths"].items() for method in operations
    }
    assert documented >= IDENTITY_OPERATIONS, sorted(IDENTITY_OPERATIONS - documented)
    for path, method in IDENTITY_OPERATIONS - {("/.well-known/jwks.json", "get")}:
        operation = committed["paths"][path][method]
        problem_statuses = [
            status
            for status, response in operation["responses"].items()
            if "application/problem+json" in response.get("content", {})
        ]
        assert problem_statuses, f"{method.upper()} {path} documents no error responses"
