"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from beanie import Document
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

# Imported for its effect: every domain's handlers of core's events get registered.
from alephdraad_feature import consumers  # noqa: F401
from alephdraad_feature.auth.dependencies import (
    auth_lifespan,
    provide_current_admin,
    provide_current_user,
)
from alephdraad_feature.auth.jwks import JwksFetch
from alephdraad_feature.health.api import ROUTE_HANDLERS as HEALTH_ROUTES
from alephdraad_feature.internal.api import internal_router
from alephdraad_feature.internal.core_client import core_client_lifespan, provide_core_client
from alephdraad_feature.internal.signing import CLOCK_STATE_KEY, KEY_RING_STATE_KEY, utc_now
from alephdraad_feature.model_registry import DOCUMENT_MODELS
from alephdraad_feature.platform.db import mongo_lifespan
from alephdraad_feature.platform.docs import openapi_config, swagger_ui_assets_router
from alephdraad_feature.platform.media_type import JsonContentTypeMiddleware
from alephdraad_feature.platform.problem_schema import ProblemSchemaPlugin
from alephdraad_feature.platform.problems import EXCEPTION_HANDLERS
from alephdraad_feature.platform.request_id import RequestIdMiddleware
from alephdraad_feature.reactions.api import ROUTE_HANDLERS as REACTION_ROUTES
from alephdraad_feature.replies.api import ROUTE_HANDLERS as REPLIES_ROUTES
from alephdraad_feature.settings import Settings, load_settings
from alephdraad_feature.threads.api import ROUTE_HANDLERS as THREAD_ROUTES
from alephdraad_feature.wallets.api import ROUTE_HANDLERS as WALLET_ROUTES

SETTINGS_STATE_KEY = "settings"


def create_app(
    settings: Settings | None = None,
    extra_route_handlers: Sequence[ControllerRouterHandler] = (),
    *,
    document_models: Sequence[type[Document]] | None = None,
    clock: Callable[[], datetime] | None = None,
    jwks_fetch: JwksFetch | None = None,
) -> Litestar:
    """Build the application.

    `settings` defaults to the environment (`load_settings()`); tests pass their own, plus
    test-only handlers in `extra_route_handlers` and documents in `document_models` (default:
    `model_registry.DOCUMENT_MODELS`). Building the app does no I/O: MongoDB is reached in the
    lifespan, so the OpenAPI generator can build it without a database. `clock` (default: the
    system's UTC time) is what signature freshness, handled-event times and the lookup
    cache's expiry are read from; tests inject their own instead of freezing global time.
    `jwks_fetch` replaces fetching core's JWKS over HTTP (tests sign tokens with their own key).
    """
    settings = settings if settings is not None else load_settings()
    route_handlers: list[ControllerRouterHandler] = [
        *HEALTH_ROUTES,
        swagger_ui_assets_router(),
        # Public domains mount under /api/v1/ here.
        *REPLIES_ROUTES,
        *THREAD_ROUTES,
        *REACTION_ROUTES,
        *WALLET_ROUTES,
        #
        # /internal/v1/ is the service-to-service listener (DESIGN section 5): every route
        # requires an RFC 9421 signature checked by the shared contracts package, none is in
        # the public OpenAPI document, and the gateway refuses any /internal/ path.
        internal_router,
        *extra_route_handlers,
    ]
    app = Litestar(
        route_handlers=route_handlers,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[JsonContentTypeMiddleware()],
        lifespan=[
            mongo_lifespan(
                settings, DOCUMENT_MODELS if document_models is None else document_models
            ),
            # The signed client for calls to core and its lookup cache (internal.core_client).
            core_client_lifespan(settings, clock),
            # Core's public keys for verifying access tokens (auth.jwks).
            auth_lifespan(settings, jwks_fetch),
        ],
        # A handler that declares `core_client: NamedDependency[CoreClient]` gets the process's
        # client; `current_user: CurrentUser` / `current_admin: CurrentAdmin` the verified
        # caller (401 otherwise).
        dependencies={
            "core_client": Provide(provide_core_client, sync_to_thread=False),
            "current_user": Provide(provide_current_user),
            "current_admin": Provide(provide_current_admin),
        },
        openapi_config=openapi_config(),
        plugins=[ProblemSchemaPlugin()],
        state=State(
            {
                SETTINGS_STATE_KEY: settings,
                KEY_RING_STATE_KEY: settings.internal_key_ring,
                CLOCK_STATE_KEY: clock if clock is not None else utc_now,
            }
        ),
        # Debug only adds the exception's name to 500 details (platform.problems); our handlers
        # answer every exception, so Litestar's HTML debug page cannot appear either way.
        debug=settings.feature_debug,
        # Logging is configured once per process (serve.py / asgi.py) with the contracts' JSON
        # formatter; Litestar's own config would add a plain-text handler of its own.
        logging_config=None,
    )
    # Outermost, around Litestar's exception handling, so 404s, 405s and crashes get a request id
    # (and a log line) too; Litestar's `middleware=` only wraps requests that matched a route.
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
    return app
