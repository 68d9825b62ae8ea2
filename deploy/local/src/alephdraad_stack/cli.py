"""`alephdraad-stack`: run the local system, or provide test servers to a command."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import NoReturn

from .errors import ComponentFailed, StackError, StopRequested
from .paths import find_repo_root
from .ports import pick_free_port
from .servers import URL_VARIABLES, ProvidedServer, provide
from .stack import Stack, StackOptions, log_tail

MONITOR_INTERVAL_S = 1.0


def _raise_stop(signum: int, _frame: FrameType | None) -> NoReturn:
    raise StopRequested(signal.Signals(signum).name)


def _install_stop_handlers() -> None:
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)


def _ignore_stop_signals() -> None:
    """While stopping, a second Ctrl-C must not abandon half-stopped children."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _report_failure(error: StackError) -> None:
    print(f"error: {error}", file=sys.stderr, flush=True)
    if isinstance(error, ComponentFailed):
        tail = list(log_tail(error.log_path, 15))
        if tail:
            print(f"last lines of {error.log_path}:", file=sys.stderr)
            for line in tail:
                print(f"  | {line}", file=sys.stderr)
        sys.stderr.flush()


def cmd_run(args: argparse.Namespace) -> int:
    root = find_repo_root()
    if args.ephemeral:
        stack = Stack.ephemeral(root)
    else:
        state_dir = (args.state_dir or root / ".stack").resolve()
        stack = Stack(StackOptions(repo_root=root, state_dir=state_dir, any_ports=args.any_ports))
    _install_stop_handlers()
    code = 0
    try:
        info = stack.start()
        url = info["gateway_url"]
        print(
            f"Alephdraad is up: {url}\n"
            f"  API docs: {url}/docs/core  {url}/docs/feature\n"
            f"  state: {info['state_dir']} (stack.json lists every component)\n"
            "  Ctrl-C stops everything.",
            flush=True,
        )
        while True:
            time.sleep(MONITOR_INTERVAL_S)
            for _name, process, exit_code in stack.exited_components():
                print(
                    f"warning: {process.name} exited with code {exit_code}; see {process.log_path}",
                    file=sys.stderr,
                    flush=True,
                )
    except StopRequested:
        code = 0
    except StackError as error:
        _report_failure(error)
        code = 1
    finally:
        _ignore_stop_signals()
        print("stopping…", file=sys.stderr, flush=True)
        stack.stop()
    return code


def cmd_provide(args: argparse.Namespace) -> int:
    """Start the requested servers (URL variable > container > embedded), run the command."""
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("error: give the command to run after --", file=sys.stderr)
        return 2
    kinds = [k for k in ("postgres", "mongo", "smtp") if getattr(args, k)]
    workdir = Path(tempfile.mkdtemp(prefix="alephdraad-provide-"))
    workdir.chmod(0o755)  # an unprivileged PostgreSQL user must reach its data directory
    servers: list[ProvidedServer] = []
    env = dict(os.environ)
    _install_stop_handlers()
    try:
        for kind in kinds:
            server = provide(
                kind,  # type: ignore[arg-type]
                env=os.environ,
                data_dir=workdir / kind,
                log_dir=workdir / "logs",
                port=pick_free_port(),
                allow_containers=True,
                durable=False,
            )
            servers.append(server)
            env[URL_VARIABLES[kind]] = server.url  # type: ignore[index]
            print(f"provide: {kind} ready ({server.source})", file=sys.stderr, flush=True)
        _ignore_stop_signals()
        # The command shares our terminal, so Ctrl-C reaches it directly; we wait it out.
        return subprocess.run(command, env=env, check=False).returncode
    except StopRequested:
        return 130
    except StackError as error:
        _report_failure(error)
        return 1
    except FileNotFoundError as error:
        print(f"error: cannot run {command[0]!r}: {error.strerror}", file=sys.stderr)
        return 127
    finally:
        _ignore_stop_signals()
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def cmd_status(args: argparse.Namespace) -> int:
    root = find_repo_root()
    state_dir = (args.state_dir or root / ".stack").resolve()
    path = state_dir / "stack.json"
    if not path.exists():
        print(f"no stack is running on {state_dir}", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(path.read_text()), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alephdraad-stack", description=__doc__)
    sub = parser.add_subparsers(dest="command_name", required=True)

    run = sub.add_parser("run", help="start the whole system and keep it running until Ctrl-C")
    run.add_argument("--state-dir", type=Path, help="where data and logs live (default .stack/)")
    run.add_argument("--any-ports", action="store_true", help="pick free ports instead of fixed")
    run.add_argument(
        "--ephemeral",
        action="store_true",
        help="temporary state directory and free ports, deleted on exit (used by tests)",
    )
    run.set_defaults(handler=cmd_run)

    prov = sub.add_parser(
        "provide", help="start test servers, export their URL variables, run a command"
    )
    prov.add_argument("--postgres", action="store_true", help="export DATABASE_URL")
    prov.add_argument("--mongo", action="store_true", help="export MONGODB_URL")
    prov.add_argument("--smtp", action="store_true", help="export SMTP_URL")
    prov.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    prov.set_defaults(handler=cmd_provide)

    status = sub.add_parser("status", help="print stack.json of the running stack")
    status.add_argument("--state-dir", type=Path)
    status.set_defaults(handler=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except StackError as error:
        _report_failure(error)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
