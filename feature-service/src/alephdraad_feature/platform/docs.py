"""The OpenAPI document and its Swagger UI viewer, served under /docs/feature.

The gateway forwards /docs/feature… unchanged, so the same absolute paths work on the service's
own port and through the gateway. The machines have no internet access: the viewer's scripts and
styles come from the `swagger-ui-bundle` wheel and are served by this service, never a CDN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from alephdraad_contracts import NOT_FOUND
from alephdraad_feature import __version__
from alephdraad_feature.platform.problems import problem_response

DOCS_PATH = "/docs/feature"
STATIC_PATH = f"{DOCS_PATH}/static"

# The security scheme of member access tokens, named as in core's document. A handler that needs
# a member declares `security=USER_TOKEN_SECURITY`; one where a token is optional (it only adds
# the caller's own state) `security=OPTIONAL_USER_TOKEN_SECURITY`.
USER_TOKEN_SCHEME = "userToken"  # noqa: S105  # a scheme name, not a secret
USER_TOKEN_SECURITY: list[SecurityRequirement] = [{USER_TOKEN_SCHEME: []}]
OPTIONAL_USER_TOKEN_SECURITY: list[SecurityRequirement] = [{}, {USER_TOKEN_SCHEME: []}]
# An admin's access token (core's `adminToken`); a route open to a member or an admin declares
# `security=USER_OR_ADMIN_TOKEN_SECURITY`.
ADMIN_TOKEN_SCHEME = "adminToken"  # noqa: S105  # a scheme name, not a secret
USER_OR_ADMIN_TOKEN_SECURITY: list[SecurityRequirement] = [
    {USER_TOKEN_SCHEME: []},
    {ADMIN_TOKEN_SCHEME: []},
]

# The wheel installs as plain files, so its resource folder is a real directory.
SWAGGER_UI_DIR = Path(str(swagger_ui_path))


async def _problem_for_html_not_found(response: Response[Any]) -> Response[Any]:
    """Litestar answers unknown paths under the docs prefix with its own HTML 404 page."""
    if response.status_code == NOT_FOUND.status:
        return problem_response(NOT_FOUND, "No documentation page at this path.")
    return response


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        path="/",
        js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
        css_url=f"{STATIC_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{STATIC_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{STATIC_PATH}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="Alephdraad feature-service",
        version=__version__,
        description=(
            "Replies, reactions, wallets, AI chat, documents and moderation. Errors are RFC 9457 "
            "application/problem+json; every response carries X-Request-ID."
        ),
        render_plugins=[swagger, JsonRenderPlugin()],
        components=Components(
            security_schemes={
                USER_TOKEN_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="A member's access token from core-service (EdDSA JWT).",
                ),
                ADMIN_TOKEN_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="An admin's access token from core-service (EdDSA JWT).",
                ),
            }
        ),
        openapi_router=Router(
            DOCS_PATH,
            route_handlers=[],
            include_in_schema=False,
            after_request=_problem_for_html_not_found,
        ),
    )


def swagger_ui_assets_router() -> Router:
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[SWAGGER_UI_DIR],
        name="swagger-ui-assets",
        include_in_schema=False,
        # The files only change with the swagger-ui-bundle version, i.e. with a deploy.
        cache_control=CacheControlHeader(max_age=3600, public=True),
    )
