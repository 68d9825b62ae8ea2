"""Ports: fixed ones checked before anything starts, or free ones picked for --ephemeral."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from .errors import PortInUse, StackError

HOST = "127.0.0.1"

# Every port the stack may open, the variable that sets it, and its default.
PORT_VARIABLES: dict[str, tuple[str, int]] = {
    "gateway": ("GATEWAY_PORT", 8080),
    "core": ("CORE_PORT", 8001),
    "feature": ("FEATURE_PORT", 8002),
    "postgres": ("STACK_POSTGRES_PORT", 54329),
    "mongo": ("STACK_MONGO_PORT", 27019),
    "smtp": ("STACK_SMTP_PORT", 2525),
}


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as the servers themselves set it, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def configured_port(component: str, env: Mapping[str, str] = os.environ) -> int:
    variable, default = PORT_VARIABLES[component]
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{variable} must be a port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise StackError(f"{variable} must be between 1 and 65535, got {port}")
    return port


def resolve_ports(
    components: list[str], *, any_free: bool, env: Mapping[str, str] = os.environ
) -> dict[str, int]:
    """The port of each component; with any_free=False each configured port must be free."""
    ports: dict[str, int] = {}
    for component in components:
        if any_free:
            port = pick_free_port()
            while port in ports.values():
                port = pick_free_port()
        else:
            port = configured_port(component, env)
            if port in ports.values():
                raise StackError(
                    f"{PORT_VARIABLES[component][0]}={port} is also used by another component"
                )
            if not port_is_free(port):
                raise PortInUse(port, PORT_VARIABLES[component][0])
        ports[component] = port
    return ports
