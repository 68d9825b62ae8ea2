"""Which PostgreSQL, MongoDB and SMTP server to use, decided once for `make run` and all tests.

The order (DESIGN section 2): the URL variable when it is set; a testcontainers container when
containers are allowed (tests) and a Docker engine answers; otherwise the embedded server from
PyPI: PostgreSQL binaries of the `pgserver` wheel, `secantusdb`, and our aiosmtpd sink.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import signal
import smtplib
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg
import pymongo
import pymongo.errors
from psycopg import sql

from .errors import ComponentFailed, StackError
from .ports import HOST
from .process import ManagedProcess, run_once

Kind = Literal["postgres", "mongo", "smtp"]
Source = Literal["env", "container", "embedded"]

URL_VARIABLES: dict[Kind, str] = {
    "postgres": "DATABASE_URL",
    "mongo": "MONGODB_URL",
    "smtp": "SMTP_URL",
}
DATABASE_NAME = "alephdraad"
POSTGRES_SUPERUSER = "alephdraad"
# postgres refuses to run as root; when the launcher is root it runs the server as this user.
POSTGRES_SYSTEM_USER = "alephdraad-pg"
READY_TIMEOUT_S = 60.0


@dataclass
class ProvidedServer:
    """A server the stack or a test suite talks to, and how to stop it if we started it."""

    kind: Kind
    url: str
    source: Source
    port: int | None = None
    process: ManagedProcess | None = None
    _stop: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path | None:
        return self.process.log_path if self.process is not None else None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        if self._stop is not None:
            self._stop()


def docker_engine_available() -> bool:
    """True when a Docker engine answers a ping (the `docker` client alone is not enough)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure means "no usable engine", and we fall back
        return False


def choose_source(kind: Kind, env: Mapping[str, str], *, allow_containers: bool) -> Source:
    if env.get(URL_VARIABLES[kind], "").strip():
        return "env"
    if kind != "smtp" and allow_containers and docker_engine_available():
        return "container"
    return "embedded"


def provide(
    kind: Kind,
    *,
    env: Mapping[str, str],
    data_dir: Path,
    log_dir: Path,
    port: int,
    allow_containers: bool,
    durable: bool = True,
    secrets_store: dict[str, str] | None = None,
) -> ProvidedServer:
    """Start (or adopt) the server of `kind` and wait until it answers."""
    source = choose_source(kind, env, allow_containers=allow_containers)
    if source == "env":
        return ProvidedServer(kind, env[URL_VARIABLES[kind]].strip(), "env")
    if source == "container":
        return _CONTAINERS[kind]()
    store = secrets_store if secrets_store is not None else {}
    if kind == "postgres":
        return start_embedded_postgres(data_dir, log_dir, port, durable=durable, secrets=store)
    if kind == "mongo":
        return start_embedded_mongo(data_dir, log_dir, port, env=env)
    return start_smtp_sink(data_dir, log_dir, port, env=env)


# ---- PostgreSQL -------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise StackError("the pgserver package is not installed: run `make sync`")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _postgres_system_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        # Another launcher may create it at the same moment; getpwnam below decides.
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                POSTGRES_SYSTEM_USER,
            ],
            check=False,
            capture_output=True,
        )
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        raise StackError(
            f"running as root, but could not create the system user {POSTGRES_SYSTEM_USER!r} "
            "that PostgreSQL runs as (useradd failed); run as a normal user or set DATABASE_URL"
        ) from None


def _check_traversable(path: Path) -> None:
    """The unprivileged server user must be able to reach its data directory."""
    for ancestor in path.resolve().parents:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            raise StackError(
                f"{ancestor} is not accessible to other users (mode {stat.filemode(mode)}), so "
                f"PostgreSQL, running as {POSTGRES_SYSTEM_USER}, cannot reach {path}; "
                "choose a state directory elsewhere or `chmod o+x` it"
            )


def postgres_url(password: str, port: int, database: str = DATABASE_NAME) -> str:
    return f"postgresql://{POSTGRES_SUPERUSER}:{password}@{HOST}:{port}/{database}"


def start_embedded_postgres(
    data_dir: Path,
    log_dir: Path,
    port: int,
    *,
    durable: bool,
    secrets: dict[str, str],
) -> ProvidedServer:
    bin_dir = postgres_bin_dir()
    run_as = _postgres_system_user()
    cluster = data_dir / "data"
    log_path = log_dir / "postgres.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    if run_as is not None:
        _check_traversable(data_dir)
        os.chown(data_dir, run_as.pw_uid, run_as.pw_gid)
    password = secrets.setdefault("postgres_password", secrets_token())
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}

    if not (cluster / "PG_VERSION").exists():
        pwfile = data_dir / "initdb.pw"
        pwfile.write_text(password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        if run_as is not None:
            os.chown(pwfile, run_as.pw_uid, run_as.pw_gid)
        try:
            run_once(
                "postgres (initdb)",
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(cluster),
                    "-U",
                    POSTGRES_SUPERUSER,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ],
                log_path=log_path,
                env=child_env,
                run_as=run_as,
                timeout_s=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    settings = [
        "-c",
        f"listen_addresses={HOST}",
        "-c",
        "unix_socket_directories=",  # TCP only: no socket directory to own or clean
        "-c",
        "max_connections=200",
    ]
    if not durable:
        # Throwaway clusters for tests: speed over crash safety.
        settings += [
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
    process = ManagedProcess(
        "postgres",
        [str(bin_dir / "postgres"), "-D", str(cluster), "-p", str(port), *settings],
        log_path=log_path,
        env=child_env,
        run_as=run_as,
        stop_signal=signal.SIGINT,  # "fast" shutdown: roll back clients, checkpoint, exit
    )
    admin_url = postgres_url(password, port, "postgres")
    process.start_and_wait(lambda: _postgres_answers(admin_url), READY_TIMEOUT_S, "PostgreSQL")
    try:
        _ensure_database(admin_url, DATABASE_NAME)
    except BaseException:
        process.stop()
        raise
    return ProvidedServer("postgres", postgres_url(password, port), "embedded", port, process)


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# ---- MongoDB-compatible ----------------------------------------------------------------


def mongo_url(port: int, host: str = HOST) -> str:
    return f"mongodb://{host}:{port}/?directConnection=true"


def start_embedded_mongo(
    data_dir: Path, log_dir: Path, port: int, *, env: Mapping[str, str] = os.environ
) -> ProvidedServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(
        "mongodb (secantus)",
        [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            HOST,
            "--port",
            str(port),
            "--storage-path",
            str(data_dir),
        ],
        log_path=log_dir / "mongodb.log",
        env=dict(env),
    )
    url = mongo_url(port)
    process.start_and_wait(lambda: _mongo_answers(url), READY_TIMEOUT_S, "MongoDB")
    return ProvidedServer("mongo", url, "embedded", port, process)


def _mongo_answers(url: str, *, require_primary: bool = False) -> bool:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        url, serverSelectionTimeoutMS=500, connectTimeoutMS=500
    )
    try:
        hello = client.admin.command("hello")
        return bool(hello.get("isWritablePrimary")) if require_primary else True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


# ---- SMTP sink -------------------------------------------------------------------------


def smtp_url(port: int) -> str:
    return f"smtp://{HOST}:{port}"


def start_smtp_sink(
    mail_dir: Path, log_dir: Path, port: int, *, env: Mapping[str, str] = os.environ
) -> ProvidedServer:
    mail_dir.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(
        "smtp sink",
        [
            sys.executable,
            "-m",
            "alephdraad_stack.smtp_sink",
            "--host",
            HOST,
            "--port",
            str(port),
            "--mail-dir",
            str(mail_dir),
        ],
        log_path=log_dir / "smtp.log",
        env=dict(env),
    )
    process.start_and_wait(lambda: _smtp_answers(port), READY_TIMEOUT_S, "SMTP")
    return ProvidedServer("smtp", smtp_url(port), "embedded", port, process)


def _smtp_answers(port: int) -> bool:
    try:
        with smtplib.SMTP(HOST, port, timeout=2) as client:
            return client.noop()[0] == 250
    except OSError:
        return False


# ---- testcontainers (only where a Docker engine answers) --------------------------------


def _container_postgres() -> ProvidedServer:
    from testcontainers.core.container import DockerContainer

    password = secrets_token()
    container = (
        DockerContainer("postgres:16-alpine")
        .with_env("POSTGRES_USER", POSTGRES_SUPERUSER)
        .with_env("POSTGRES_PASSWORD", password)
        .with_env("POSTGRES_DB", DATABASE_NAME)
        .with_exposed_ports(5432)
    )
    container.start()
    host, port = container.get_container_host_ip(), int(container.get_exposed_port(5432))
    url = f"postgresql://{POSTGRES_SUPERUSER}:{password}@{host}:{port}/{DATABASE_NAME}"
    _await_or_stop(lambda: _postgres_answers(url), container.stop, "postgres (container)")
    return ProvidedServer("postgres", url, "container", port, None, container.stop)


def _container_mongo() -> ProvidedServer:
    from testcontainers.core.container import DockerContainer

    # Transactions need a replica set: a single-node one, initiated once the server is up.
    container = (
        DockerContainer("mongo:7")
        .with_command("--replSet rs0 --bind_ip_all")
        .with_exposed_ports(27017)
    )
    container.start()
    host, port = container.get_container_host_ip(), int(container.get_exposed_port(27017))
    url = mongo_url(port, host)
    _await_or_stop(lambda: _mongo_answers(url), container.stop, "mongodb (container)")
    container.exec(
        [
            "mongosh",
            "--quiet",
            "--eval",
            "rs.initiate({_id: 'rs0', members: [{_id: 0, host: 'localhost:27017'}]})",
        ]
    )
    _await_or_stop(
        lambda: _mongo_answers(url, require_primary=True), container.stop, "mongodb (container)"
    )
    return ProvidedServer("mongo", url, "container", port, None, container.stop)


def _await_or_stop(probe: Callable[[], bool], stop: Callable[[], None], name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not probe():
        if time.monotonic() >= deadline:
            stop()
            raise ComponentFailed(name, f"not ready after {READY_TIMEOUT_S:.0f} s", None)
        time.sleep(0.2)


_CONTAINERS: dict[Kind, Callable[[], ProvidedServer]] = {
    "postgres": _container_postgres,
    "mongo": _container_mongo,
}


def secrets_token() -> str:
    return secrets.token_urlsafe(24)
