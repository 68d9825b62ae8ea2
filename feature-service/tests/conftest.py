"""Shared fixtures: a real MongoDB-compatible server (MONGODB_URL), one throwaway database per
session, apps served in-process with their lifespan running, JSON log capture."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from auth_support import KEY, StaticJwks
from beanie import Document
from core_stub import core_stub  # noqa: F401  # the fixture
from litestar.types import ControllerRouterHandler
from pymongo import MongoClient
from support import JsonLog, MakeClient, serve

from alephdraad_contracts import JsonLogFormatter
from alephdraad_feature.app import create_app
from alephdraad_feature.auth.jwks import JwksFetch
from alephdraad_feature.model_registry import DOCUMENT_MODELS
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.settings import SERVICE_NAME, Settings


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("MONGODB_URL"):
        raise pytest.UsageError(
            "MONGODB_URL is not set. These tests need a real MongoDB-compatible server: run "
            "`make test-feature` from the repository root (it starts one), or set MONGODB_URL, "
            "e.g. mongodb://127.0.0.1:27017/?directConnection=true"
        )


@pytest.fixture(scope="session")
def mongodb_url() -> str:
    return os.environ["MONGODB_URL"]


@pytest.fixture(scope="session")
def test_database(mongodb_url: str) -> Iterator[str]:
    """A database of our own for this session, dropped at the end."""
    name = f"alephdraad_features_test_{uuid.uuid4().hex[:12]}"
    yield name
    with MongoClient(mongodb_url, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


@pytest.fixture
def settings(mongodb_url: str, test_database: str) -> Settings:
    return Settings(
        mongodb_url=mongodb_url, mongodb_database=test_database, mongodb_timeout_ms=3000
    )


@pytest.fixture
def make_client(settings: Settings) -> MakeClient:
    """`async with make_client(handlers, **overrides) as client:` runs the app's lifespan."""

    @asynccontextmanager
    async def _make(
        extra_route_handlers: Sequence[ControllerRouterHandler] = (),
        *,
        document_models: Sequence[type[Document]] | None = None,
        clock: Callable[[], datetime] | None = None,
        jwks_fetch: JwksFetch | None = None,
        **overrides: Any,
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(
            # Re-validated, so an override is checked like the environment would be.
            Settings(**{**settings.model_dump(), **overrides}),
            extra_route_handlers,
            document_models=document_models,
            clock=clock,
            # Tokens from auth_support verify in every test app.
            jwks_fetch=jwks_fetch if jwks_fetch is not None else StaticJwks(KEY),
        )
        async with serve(app) as client:
            yield client

    return _make


@pytest.fixture
async def mongo(settings: Settings) -> AsyncIterator[MongoDatabase]:
    """The service's MongoDB handle with Beanie bound, without an application (for services,
    the dispatcher and commands). Commands and the worker open their own client and bind Beanie
    to it, so after running one assert through `mongo.database[...]`, not the document classes."""
    database = MongoDatabase(settings, DOCUMENT_MODELS)
    assert await database.try_init_beanie()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    log = JsonLog()
    handler = logging.StreamHandler(log.stream)
    handler.setFormatter(JsonLogFormatter(SERVICE_NAME))
    service_logger = logging.getLogger("alephdraad_feature")
    previous_level = service_logger.level
    service_logger.setLevel(logging.INFO)
    service_logger.addHandler(handler)
    try:
        yield log
    finally:
        service_logger.removeHandler(handler)
        service_logger.setLevel(previous_level)
