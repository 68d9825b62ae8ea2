"""Errors the launcher reports to a person: one line, naming what failed and where to look."""

from __future__ import annotations

from pathlib import Path


class StackError(Exception):
    """The stack cannot start or run; the message is printed as is (one line)."""


class PortInUse(StackError):
    def __init__(self, port: int, variable: str) -> None:
        super().__init__(f"port {port} is already in use (set {variable} to use another port)")
        self.port = port
        self.variable = variable


class ComponentFailed(StackError):
    def __init__(self, component: str, reason: str, log_path: Path | None) -> None:
        where = f"; see its log: {log_path}" if log_path is not None else ""
        super().__init__(f"{component} failed to start: {reason}{where}")
        self.component = component
        self.reason = reason
        self.log_path = log_path


class StackLocked(StackError):
    def __init__(self, state_dir: Path, holder: str) -> None:
        super().__init__(
            f"another stack is already running on {state_dir} ({holder}); stop it first "
            "(Ctrl-C in its terminal), or start a separate one with --ephemeral"
        )
        self.state_dir = state_dir


class StopRequested(BaseException):
    """SIGINT or SIGTERM arrived: unwind and stop everything that was started."""
