"""The MongoDB lifecycle: Beanie bound to the configured database in the lifespan, client closed."""

from __future__ import annotations

from typing import Any

import pytest
from beanie import Document
from litestar import Litestar, Request, get, post
from litestar.params import FromPath, JSONBody
from pymongo import MongoClient
from pymongo.errors import InvalidOperation
from support import MakeClient, serve

from alephdraad_feature.app import create_app
from alephdraad_feature.platform.db import MongoDatabase, get_mongo
from alephdraad_feature.settings import Settings


class Probe(Document):
    name: str

    class Settings:
        name = "test_probes"


@post("/test/probes")
async def create_probe(data: JSONBody[dict[str, str]]) -> dict[str, Any]:
    probe = await Probe(name=data["name"]).insert()
    return {"id": str(probe.id)}


@get("/test/probes/by-name/{name:str}")
async def find_probe(name: FromPath[str]) -> dict[str, Any]:
    probe = await Probe.find_one(Probe.name == name)
    return {"found": probe is not None}


_seen: list[MongoDatabase] = []


@get("/test/mongo")
async def remember_mongo(request: Request) -> None:
    _seen.append(get_mongo(request.app))


async def test_beanie_documents_live_in_the_configured_database(
    make_client: MakeClient, mongodb_url: str, test_database: str
) -> None:
    async with make_client([create_probe, find_probe], document_models=[Probe]) as client:
        created = await client.post("/test/probes", json={"name": "beanie-bound"})
        assert created.status_code == 201
        found = await client.get("/test/probes/by-name/beanie-bound")
        missing = await client.get("/test/probes/by-name/nobody")

    assert found.json() == {"found": True}
    assert missing.json() == {"found": False}
    with MongoClient(mongodb_url, serverSelectionTimeoutMS=5000) as direct:
        stored = direct[test_database]["test_probes"].find_one({"name": "beanie-bound"})
    assert stored is not None
    assert str(stored["_id"]) == created.json()["id"]


async def test_the_client_is_created_in_the_lifespan_and_closed_on_shutdown(
    settings: Settings,
) -> None:
    _seen.clear()
    app: Litestar = create_app(settings, [remember_mongo])
    with pytest.raises(RuntimeError, match="lifespan"):
        get_mongo(app)
    async with serve(app) as client:
        assert (await client.get("/test/mongo")).status_code == 200
        assert (await client.get("/test/mongo")).status_code == 200
    # One client per process (per app), not one per request.
    assert len(_seen) == 2
    assert _seen[0] is _seen[1]
    mongo = _seen[0]
    assert mongo.beanie_initialised
    with pytest.raises(InvalidOperation):
        await mongo.client.admin.command("ping")
    with pytest.raises(RuntimeError, match="lifespan"):
        get_mongo(app)
