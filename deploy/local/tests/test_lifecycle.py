"""`alephdraad-stack run` as a person uses it: start, refuse a second run, Ctrl-C, restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pymongo
import pytest

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0


class Launch:
    """One `alephdraad-stack run` process with its output captured in files."""

    def __init__(
        self, repo_root: Path, state_dir: Path, extra_env: dict[str, str], *, any_ports: bool = True
    ) -> None:
        self.state_dir = state_dir
        self.out = state_dir.parent / f"{state_dir.name}-{time.monotonic_ns()}.out"
        env = {**os.environ, "ALEPHDRAAD_ROOT": str(repo_root), **extra_env}
        argv = [sys.executable, "-m", "alephdraad_stack", "run", "--state-dir", str(state_dir)]
        if any_ports:
            argv.append("--any-ports")
        with self.out.open("wb") as sink:
            self.process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env)

    @property
    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_ready(self) -> dict[str, object]:
        deadline = time.monotonic() + START_TIMEOUT_S
        info_path = self.state_dir / "stack.json"
        while not info_path.exists():
            if self.process.poll() is not None:
                pytest.fail(f"launcher exited with {self.process.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"stack not ready after {START_TIMEOUT_S} s:\n{self.output}")
            time.sleep(0.1)
        info: dict[str, object] = json.loads(info_path.read_text())
        return info

    def wait_exit(self, timeout: float = STOP_TIMEOUT_S) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def launches(repo_root: Path) -> Iterator[list[Launch]]:
    started: list[Launch] = []
    yield started
    for launch in started:
        launch.kill()


def processes_using(state_dir: Path) -> list[psutil.Process]:
    """Every live process started for this state directory (its command line or the
    ALEPHDRAAD_STACK_DIR the launcher gives every child says so)."""
    marker = str(state_dir)
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            in_cmdline = any(marker in part for part in proc.info["cmdline"] or [])
            if in_cmdline or proc.environ().get("ALEPHDRAAD_STACK_DIR") == marker:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def process_tree(pids: list[int]) -> set[int]:
    tree: set[int] = set()
    for pid in pids:
        try:
            parent = psutil.Process(pid)
            tree.add(pid)
            tree.update(child.pid for child in parent.children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    return tree


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.add(pid)
        except psutil.NoSuchProcess:
            continue
    return living


def test_run_refuses_a_second_run_stops_cleanly_and_keeps_data(
    repo_root: Path, scratch_dir: Path, launches: list[Launch]
) -> None:
    state_dir = scratch_dir / "state"
    first = Launch(repo_root, state_dir, {})
    launches.append(first)
    info = first.wait_ready()
    gateway = str(info["gateway_url"])
    components = info["components"]
    assert isinstance(components, dict)
    assert set(components) == {
        "postgres",
        "mongo",
        "smtp",
        "core",
        "core-worker",
        "feature",
        "feature-worker",
        "gateway",
    }
    for name, component in components.items():
        assert component["pid"], (name, component)
        assert Path(component["log"]).exists(), name
        if name not in ("core-worker", "feature-worker"):  # background: no port, no URL
            assert component["port"], (name, component)
            assert component["url"], (name, component)
    assert httpx.get(f"{gateway}/health/core").status_code == 200
    assert httpx.get(f"{gateway}/health/feature").status_code == 200
    assert "Alephdraad is up: " + gateway in first.output

    # A second launcher on the same state directory refuses and leaves the first alone.
    second = Launch(repo_root, state_dir, {})
    launches.append(second)
    assert second.wait_exit(30) == 1
    assert "another stack is already running on" in second.output
    assert f"pid {first.process.pid}" in second.output
    assert first.process.poll() is None
    assert httpx.get(f"{gateway}/health/core").status_code == 200

    # Write through the real databases, then Ctrl-C.
    with psycopg.connect(components["postgres"]["url"]) as conn:
        conn.execute("CREATE TABLE survives_restart (value text)")
        conn.execute("INSERT INTO survives_restart VALUES ('yes')")
    mongo: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(components["mongo"]["url"])
    mongo["alephdraad_features"]["survives_restart"].insert_one({"_id": 1, "value": "yes"})
    mongo.close()

    tree = process_tree([c["pid"] for c in components.values()] + [first.process.pid])
    assert len(tree) >= 10  # launcher, 3 servers, gunicorn + workers, 2 workers, uvicorn, nginx…
    first.process.send_signal(signal.SIGINT)
    assert first.wait_exit() == 0
    assert alive(tree) == set()
    assert processes_using(state_dir) == []
    assert not (state_dir / "stack.json").exists()

    # The next run finds the data; SIGTERM stops it as cleanly as Ctrl-C.
    third = Launch(repo_root, state_dir, {})
    launches.append(third)
    info = third.wait_ready()
    components = info["components"]
    assert isinstance(components, dict)
    with psycopg.connect(components["postgres"]["url"]) as conn:
        assert conn.execute("SELECT value FROM survives_restart").fetchall() == [("yes",)]
    mongo = pymongo.MongoClient(components["mongo"]["url"])
    assert mongo["alephdraad_features"]["survives_restart"].find_one({"_id": 1}) == {
        "_id": 1,
        "value": "yes",
    }
    mongo.close()
    third.process.send_signal(signal.SIGTERM)
    assert third.wait_exit() == 0
    assert processes_using(state_dir) == []


def test_failing_component_is_named_and_everything_stops(
    repo_root: Path, scratch_dir: Path, launches: list[Launch]
) -> None:
    state_dir = scratch_dir / "state"
    launch = Launch(repo_root, state_dir, {"FEATURE_WEB_WORKERS": "many"})
    launches.append(launch)
    assert launch.wait_exit(START_TIMEOUT_S) == 1
    output = launch.output
    log = state_dir / "logs" / "feature.log"
    assert "error: feature-service failed to start: exited with code" in output
    assert f"see its log: {log}" in output
    assert "FEATURE_WEB_WORKERS" in log.read_text()
    assert processes_using(state_dir) == []
    assert not (state_dir / "stack.json").exists()


def test_busy_port_fails_with_one_line_naming_the_variable(
    repo_root: Path, scratch_dir: Path, launches: list[Launch]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        launch = Launch(
            repo_root, scratch_dir / "state", {"GATEWAY_PORT": str(busy)}, any_ports=False
        )
        launches.append(launch)
        assert launch.wait_exit(30) == 1
    error_lines = [line for line in launch.output.splitlines() if line.startswith("error:")]
    assert error_lines == [
        f"error: port {busy} is already in use (set GATEWAY_PORT to use another port)"
    ]
    assert processes_using(scratch_dir / "state") == []
