"""The whole local system: databases, SMTP sink, both services and the gateway, in order.

One implementation serves `make run` (state in .stack/, fixed ports) and the e2e tests
(`Stack.ephemeral()`: a temporary directory, free ports, throwaway databases).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

from .errors import ComponentFailed, StackError, StackLocked
from .gateway import check_config, nginx_argv, nginx_binary, render_gateway
from .paths import service_venv_bin
from .ports import HOST, resolve_ports
from .process import ManagedProcess, run_once
from .servers import ProvidedServer, provide, secrets_token

SERVICES = ("core", "core-worker", "feature", "feature-worker", "gateway")
STACK_DIR_VARIABLE = "ALEPHDRAAD_STACK_DIR"
# The names each service signs its internal calls with (X-Alephdraad-Caller).
CORE_CALLER = "core-service"
FEATURE_CALLER = "feature-service"
SERVER_KINDS = ("postgres", "mongo", "smtp")
PORTED_COMPONENTS = ["gateway", "core", "feature", "postgres", "mongo", "smtp"]


def _stderr(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


@dataclass
class StackOptions:
    repo_root: Path
    state_dir: Path
    any_ports: bool = False
    allow_containers: bool = False
    durable: bool = True
    remove_state_on_stop: bool = False
    ready_timeout_s: float = 60.0
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    say: Callable[[str], None] = _stderr


class Stack:
    def __init__(self, options: StackOptions) -> None:
        # Every child inherits the state directory, so tools (and tests) can tell which
        # processes belong to which stack.
        options.env = {**options.env, STACK_DIR_VARIABLE: str(options.state_dir)}
        self.options = options
        self.state_dir = options.state_dir
        self.logs_dir = self.state_dir / "logs"
        self.ports: dict[str, int] = {}
        self.servers: dict[str, ProvidedServer] = {}
        self.services: dict[str, ManagedProcess] = {}
        self._lock_file: TextIO | None = None
        self._secrets: dict[str, str] = {}
        self._reported_exits: set[str] = set()

    @classmethod
    def ephemeral(cls, repo_root: Path, **overrides: Any) -> Stack:
        """A stack in a fresh temporary directory on free ports, deleted when it stops."""
        state_dir = Path(tempfile.mkdtemp(prefix="alephdraad-stack-"))
        # The embedded PostgreSQL may run as an unprivileged user who must reach its data.
        state_dir.chmod(0o755)
        options = StackOptions(
            repo_root=repo_root,
            state_dir=state_dir,
            any_ports=True,
            allow_containers=True,
            durable=False,
            remove_state_on_stop=True,
            **overrides,
        )
        return cls(options)

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.ports['gateway']}"

    def start(self) -> dict[str, Any]:
        """Start everything in dependency order; on any failure stop what was started."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self.ports = resolve_ports(
                PORTED_COMPONENTS, any_free=self.options.any_ports, env=self.options.env
            )
            self._secrets = self._load_secrets()
            for kind in SERVER_KINDS:
                self._start_server(kind)
            self._migrate_core()
            for name in SERVICES:
                self.start_component(name)
            info = self.info()
            self._write_info(info)
            return info
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop services, then servers (reverse order), and release the state directory."""
        for name in reversed(SERVICES):
            process = self.services.pop(name, None)
            if process is not None:
                process.stop()
        for kind in reversed(SERVER_KINDS):
            server = self.servers.pop(kind, None)
            if server is not None:
                server.stop()
        (self.state_dir / "stack.json").unlink(missing_ok=True)
        self._release_lock()
        if self.options.remove_state_on_stop:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- servers --------------------------------------------------------------------------

    def _start_server(self, kind: str) -> None:
        data_dirs = {"postgres": "pg", "mongo": "mongo", "smtp": "mail"}
        server = provide(
            kind,  # type: ignore[arg-type]
            env=self.options.env,
            data_dir=self.state_dir / data_dirs[kind],
            log_dir=self.logs_dir,
            port=self.ports[kind],
            allow_containers=self.options.allow_containers,
            durable=self.options.durable,
            secrets_store=self._secrets,
        )
        self.servers[kind] = server
        self._save_secrets()
        where = f"{HOST}:{server.port}" if server.port else "(URL from the environment)"
        self.options.say(f"{kind} ready ({server.source}, {where})")

    def _load_secrets(self) -> dict[str, str]:
        path = self.state_dir / "secrets.json"
        if path.exists():
            loaded: dict[str, str] = json.loads(path.read_text())
            return loaded
        return {}

    def _save_secrets(self) -> None:
        """Development secrets, generated once per state directory and kept out of git."""
        self._secrets.setdefault("core_secret_key", secrets_token() + secrets_token())
        for name in ("internal_key_core", "internal_key_feature"):
            self._secrets.setdefault(name, secrets.token_hex(32))
        path = self.state_dir / "secrets.json"
        tmp = path.with_name(".secrets.json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self._secrets, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)

    # ---- services -------------------------------------------------------------------------

    def service_env(self) -> dict[str, str]:
        """The environment the services run with (for one-off commands such as
        `manage.py create_admin` against this stack)."""
        return self._service_env()

    def _service_env(self) -> dict[str, str]:
        env = {k: v for k, v in self.options.env.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
        env.setdefault("CORE_SECRET_KEY", self._secrets["core_secret_key"])
        # Service-to-service signing keys (DESIGN section 5): each service accepts the other's
        # key and signs with its own. Generated once per state directory, like every dev secret.
        core_key = f"{CORE_CALLER}:core-1:{self._secrets['internal_key_core']}"
        feature_key = f"{FEATURE_CALLER}:feature-1:{self._secrets['internal_key_feature']}"
        env.setdefault("CORE_INTERNAL_SIGNING_KEY", core_key)
        env.setdefault("FEATURE_INTERNAL_SIGNING_KEY", feature_key)
        env.setdefault("CORE_INTERNAL_ACCEPT_KEYS", feature_key)
        env.setdefault("FEATURE_INTERNAL_ACCEPT_KEYS", core_key)
        if not env.get("CORE_JWT_KEYS"):
            env.setdefault("CORE_JWT_KEYS_FILE", str(self.state_dir / "keys" / "core-jwt.json"))
        env.setdefault("PUBLIC_URL", self.gateway_url)
        # Each service reaches the other's internal listener directly, never via the gateway.
        env.setdefault("CORE_FEATURE_INTERNAL_URL", f"http://{HOST}:{self.ports['feature']}")
        env.setdefault("FEATURE_CORE_INTERNAL_URL", f"http://{HOST}:{self.ports['core']}")
        env.update(
            {
                "DATABASE_URL": self.servers["postgres"].url,
                "MONGODB_URL": self.servers["mongo"].url,
                "SMTP_URL": self.servers["smtp"].url,
                "DJANGO_SETTINGS_MODULE": "alephdraad_core.settings",
                "CORE_HOST": HOST,
                "CORE_PORT": str(self.ports["core"]),
                "FEATURE_HOST": HOST,
                "FEATURE_PORT": str(self.ports["feature"]),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _migrate_core(self) -> None:
        root = self.options.repo_root
        env = self._service_env()
        if env.get("CORE_JWT_KEYS_FILE"):
            # Development signing keys, generated once per state directory (mode 0600).
            run_once(
                "core-service signing keys",
                [
                    str(service_venv_bin(root, "core-service", "python")),
                    "manage.py",
                    "jwt_keys",
                    "init",
                    "--file",
                    env["CORE_JWT_KEYS_FILE"],
                ],
                log_path=self.logs_dir / "core-migrate.log",
                env=env,
                cwd=root / "core-service",
            )
        run_once(
            "core-service migrations",
            [
                str(service_venv_bin(root, "core-service", "python")),
                "manage.py",
                "migrate",
                "--noinput",
            ],
            log_path=self.logs_dir / "core-migrate.log",
            env=env,
            cwd=root / "core-service",
        )
        self.options.say("core-service migrations applied")

    def _worker(self, service: str, args: list[str]) -> tuple[ManagedProcess, str, str]:
        """A service's background worker (`python ARGS --ready-file F`): ready once it has
        touched F after its first pass (outbox delivery, mail, housekeeping)."""
        root = self.options.repo_root
        short = service.removesuffix("-service")
        ready_file = self.state_dir / "run" / f"{short}-worker.ready"
        ready_file.parent.mkdir(parents=True, exist_ok=True)
        ready_file.unlink(missing_ok=True)
        process = ManagedProcess(
            f"{service} worker",
            [
                str(service_venv_bin(root, service, "python")),
                *args,
                "--ready-file",
                str(ready_file),
            ],
            log_path=self.logs_dir / f"{short}-worker.log",
            env=self._service_env(),
            cwd=root / service,
        )
        return process, ready_file.as_uri(), f"{service} worker first pass"

    def _build_service(self, name: str) -> tuple[ManagedProcess, str, str]:
        """The process of a service, the URL (or file) that tells it is ready, and what."""
        root = self.options.repo_root
        env = self._service_env()
        if name == "core-worker":
            return self._worker("core-service", ["manage.py", "run_worker"])
        if name == "core":
            process = ManagedProcess(
                "core-service",
                [
                    str(service_venv_bin(root, "core-service", "gunicorn")),
                    "-c",
                    "python:alephdraad_core.gunicorn_conf",
                    "alephdraad_core.wsgi:application",
                ],
                log_path=self.logs_dir / "core.log",
                env=env,
                cwd=root / "core-service",
            )
            return process, f"http://{HOST}:{self.ports['core']}/readyz", "core-service /readyz"
        if name == "feature-worker":
            return self._worker(
                "feature-service", ["-m", "alephdraad_feature.manage", "run-worker"]
            )
        if name == "feature":
            process = ManagedProcess(
                "feature-service",
                [
                    str(service_venv_bin(root, "feature-service", "python")),
                    "-m",
                    "alephdraad_feature.serve",
                ],
                log_path=self.logs_dir / "feature.log",
                env=env,
                cwd=root / "feature-service",
            )
            url = f"http://{HOST}:{self.ports['feature']}/readyz"
            return process, url, "feature-service /readyz"
        prefix = self.state_dir / "gateway"
        conf = render_gateway(
            root,
            prefix,
            listen=f"{HOST}:{self.ports['gateway']}",
            core_upstream=f"{HOST}:{self.ports['core']}",
            feature_upstream=f"{HOST}:{self.ports['feature']}",
            env=self.options.env,
        )
        binary = nginx_binary()
        check_config(binary, prefix, conf)
        process = ManagedProcess(
            "gateway (nginx)",
            nginx_argv(binary, prefix, conf),
            log_path=self.logs_dir / "gateway.log",
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                STACK_DIR_VARIABLE: str(self.state_dir),
            },
            stop_signal=signal.SIGQUIT,  # graceful: finish in-flight requests
        )
        return process, f"{self.gateway_url}/health/gateway", "gateway /health/gateway"

    def start_component(self, name: str) -> None:
        """Start one service (see SERVICES) and wait until it is ready."""
        if name not in SERVICES:
            raise StackError(f"unknown component {name!r}; one of {', '.join(SERVICES)}")
        if name in self.services and self.services[name].is_running():
            return
        process, ready_url, what = self._build_service(name)
        self.services[name] = process
        process.start_and_wait(lambda: _is_ready(ready_url), self.options.ready_timeout_s, what)
        self._reported_exits.discard(name)
        if ready_url.startswith("file:"):
            self.options.say(f"{process.name} ready")
        else:
            base_url = ready_url.removesuffix("/readyz").removesuffix("/health/gateway")
            self.options.say(f"{process.name} ready ({base_url})")
        if (self.state_dir / "stack.json").exists():
            self._write_info(self.info())

    def stop_component(self, name: str) -> None:
        """Stop one service; the rest keeps running (used by fault tests)."""
        process = self.services.get(name)
        if process is None:
            raise StackError(f"{name} is not running")
        process.stop()
        self._write_info(self.info())

    def exited_components(self) -> list[tuple[str, ManagedProcess, int]]:
        """Services and servers that died on their own since the last call."""
        exited: list[tuple[str, ManagedProcess, int]] = []
        processes: dict[str, ManagedProcess] = dict(self.services)
        for kind, server in self.servers.items():
            if server.process is not None:
                processes[kind] = server.process
        for name, process in processes.items():
            code = process.exit_code()
            if code is not None and name not in self._reported_exits:
                self._reported_exits.add(name)
                exited.append((name, process, code))
        return exited

    # ---- state files ----------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        components: dict[str, Any] = {}
        for kind, server in self.servers.items():
            components[kind] = {
                "url": server.url,
                "port": server.port,
                "pid": server.pid,
                "log": str(server.log_path) if server.log_path else None,
                "source": server.source,
                "running": server.process.is_running() if server.process else True,
            }
        service_urls = {
            "core": f"http://{HOST}:{self.ports.get('core')}",
            "core-worker": None,
            "feature": f"http://{HOST}:{self.ports.get('feature')}",
            "feature-worker": None,
            "gateway": self.gateway_url if self.ports else None,
        }
        for name, process in self.services.items():
            components[name] = {
                "url": service_urls[name],
                "port": self.ports.get(name),
                "pid": process.pid if process.is_running() else None,
                "log": str(process.log_path),
                "source": "process",
                "running": process.is_running(),
            }
        return {
            "gateway_url": self.gateway_url,
            "state_dir": str(self.state_dir),
            "launcher_pid": os.getpid(),
            "started_at": datetime.now(tz=UTC).isoformat().replace("+00:00", "Z"),
            "components": components,
        }

    def _write_info(self, info: dict[str, Any]) -> None:
        path = self.state_dir / "stack.json"
        tmp = path.with_name(".stack.json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(info, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)

    def _acquire_lock(self) -> None:
        path = self.state_dir / "stack.lock"
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown process"
            handle.close()
            raise StackLocked(self.state_dir, holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock_file = handle

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                self._lock_file.truncate(0)
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


def _is_ready(url: str) -> bool:
    """An http(s) URL answers 200, or a file:// URL exists (a process's ready file)."""
    if url.startswith("file:"):
        return Path(url.removeprefix("file://")).exists()
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def log_tail(path: Path | None, lines: int = 30) -> Iterator[str]:
    if path is None or not path.exists():
        return iter(())
    return iter(path.read_text(errors="replace").splitlines()[-lines:])


__all__ = ["ComponentFailed", "Stack", "StackOptions", "log_tail"]
