"""Server choice and the embedded servers themselves (real processes, real data on disk)."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pymongo
import pytest

from alephdraad_stack import servers
from alephdraad_stack.errors import PortInUse, StackError
from alephdraad_stack.ports import pick_free_port, port_is_free, resolve_ports
from alephdraad_stack.servers import choose_source, provide


def test_url_variable_wins_over_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "docker_engine_available", lambda: True)
    env = {"DATABASE_URL": "postgresql://u@db.example/x", "MONGODB_URL": "mongodb://m/"}
    assert choose_source("postgres", env, allow_containers=True) == "env"
    assert choose_source("mongo", env, allow_containers=True) == "env"
    adopted = provide(
        "postgres",
        env=env,
        data_dir=Path("/nonexistent"),
        log_dir=Path("/nonexistent"),
        port=1,
        allow_containers=True,
    )
    assert (adopted.url, adopted.source, adopted.process) == (env["DATABASE_URL"], "env", None)


def test_containers_only_when_allowed_and_an_engine_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(servers, "docker_engine_available", lambda: True)
    assert choose_source("postgres", {}, allow_containers=True) == "container"
    assert choose_source("mongo", {}, allow_containers=True) == "container"
    assert choose_source("postgres", {}, allow_containers=False) == "embedded"
    assert choose_source("smtp", {}, allow_containers=True) == "embedded"
    monkeypatch.setattr(servers, "docker_engine_available", lambda: False)
    assert choose_source("postgres", {"DATABASE_URL": " "}, allow_containers=True) == "embedded"


def test_docker_engine_check_answers_false_without_an_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert servers.docker_engine_available() is False


def test_embedded_postgres_keeps_data_across_restarts(scratch_dir: Path) -> None:
    secrets: dict[str, str] = {}

    def start() -> servers.ProvidedServer:
        return servers.start_embedded_postgres(
            scratch_dir / "pg",
            scratch_dir / "logs",
            pick_free_port(),
            durable=True,
            secrets=secrets,
        )

    first = start()
    try:
        assert first.url.endswith("/alephdraad")
        with psycopg.connect(first.url) as conn:
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
    finally:
        first.stop()
    assert first.process is not None
    assert not first.process.is_running()
    second = start()
    try:
        with psycopg.connect(second.url) as conn:
            assert conn.execute("SELECT value FROM kept").fetchall() == [("still here",)]
    finally:
        second.stop()
    # Password auth is on: the generated password is required.
    assert "postgres_password" in secrets
    assert (scratch_dir / "logs" / "postgres.log").stat().st_size > 0


def test_embedded_postgres_refuses_wrong_password(scratch_dir: Path) -> None:
    server = servers.start_embedded_postgres(
        scratch_dir / "pg", scratch_dir / "logs", pick_free_port(), durable=False, secrets={}
    )
    try:
        wrong = servers.postgres_url("not-the-password", server.port or 0)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong, connect_timeout=5)
    finally:
        server.stop()


def test_embedded_mongo_keeps_data_across_restarts(scratch_dir: Path) -> None:
    for attempt in range(2):
        server = servers.start_embedded_mongo(
            scratch_dir / "mongo", scratch_dir / "logs", pick_free_port()
        )
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(server.url)
        try:
            notes = client["stack_test"]["notes"]
            if attempt == 0:
                notes.insert_one({"_id": "n1", "text": "persisted"})
            else:
                assert notes.find_one({"_id": "n1"}) == {"_id": "n1", "text": "persisted"}
        finally:
            client.close()
            server.stop()


def test_smtp_sink_writes_each_message_as_a_file(scratch_dir: Path) -> None:
    mail_dir = scratch_dir / "mail"
    server = servers.start_smtp_sink(mail_dir, scratch_dir / "logs", pick_free_port())
    try:
        message = EmailMessage()
        message["From"] = "noreply@alephdraad.test"
        message["To"] = "user@example.test"
        message["Subject"] = "Verify your email"
        message.set_content("token=abc")
        with smtplib.SMTP("127.0.0.1", server.port or 0, timeout=5) as client:
            client.send_message(message)
    finally:
        server.stop()
    emls = sorted(mail_dir.glob("*.eml"))
    assert len(emls) == 1
    assert b"Subject: Verify your email" in emls[0].read_bytes()
    meta = json.loads(emls[0].with_suffix(".json").read_text())
    assert meta["mail_from"] == "noreply@alephdraad.test"
    assert meta["rcpt_tos"] == ["user@example.test"]
    assert meta["received_at"].endswith("Z")


def test_busy_port_is_named_with_its_variable() -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        assert not port_is_free(busy)
        with pytest.raises(PortInUse) as caught:
            resolve_ports(["gateway", "core"], any_free=False, env={"GATEWAY_PORT": str(busy)})
    assert str(caught.value) == (
        f"port {busy} is already in use (set GATEWAY_PORT to use another port)"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CORE_PORT": "http"}, "CORE_PORT must be a port number"),
        ({"CORE_PORT": "70000"}, "CORE_PORT must be between 1 and 65535"),
        ({"CORE_PORT": "9100", "FEATURE_PORT": "9100"}, "FEATURE_PORT=9100 is also used"),
    ],
)
def test_bad_port_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(StackError, match=message):
        resolve_ports(["core", "feature"], any_free=False, env=env)


def test_free_ports_are_distinct() -> None:
    ports = resolve_ports(["gateway", "core", "feature", "postgres"], any_free=True, env={})
    assert len(set(ports.values())) == 4
