"""Child processes the launcher owns: logs to a file, own process group, dies with the launcher."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .errors import ComponentFailed

_PR_SET_PDEATHSIG = 1
POLL_INTERVAL_S = 0.05


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not glibc Linux: children just don't get the parent-death signal
        return None


_LIBC = _libc()


def _child_setup(run_as: pwd.struct_passwd | None) -> Callable[[], None]:
    def setup() -> None:
        # Runs in the child between fork and exec. Dropping privileges first, because a
        # change of user clears the parent-death signal set below.
        if run_as is not None:
            os.setgroups([])
            os.setgid(run_as.pw_gid)
            os.setuid(run_as.pw_uid)
        if _LIBC is not None:
            # If the launcher is killed outright (SIGKILL), its children still get SIGTERM.
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return setup


class ManagedProcess:
    """One long-running child: started in its own session, stopped with its whole group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str],
        cwd: Path | None = None,
        run_as: pwd.struct_passwd | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_timeout_s: float = 20.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env)
        self.cwd = cwd
        self.run_as = run_as
        self.stop_signal = stop_signal
        self.stop_timeout_s = stop_timeout_s
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                # preexec_fn is needed for prctl/setuid; the launcher is single-threaded
                # when it starts children, which is what makes preexec_fn safe here.
                self._popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.cwd,
                    start_new_session=True,
                    preexec_fn=_child_setup(self.run_as),
                )
            except OSError as exc:
                raise ComponentFailed(
                    self.name, f"cannot execute {self.argv[0]}: {exc}", None
                ) from exc

    def exit_code(self) -> int | None:
        """None while running; the exit code once it has exited."""
        if self._popen is None:
            return None
        return self._popen.poll()

    def wait(self, timeout_s: float) -> int | None:
        """Wait for the process to exit; its exit code, or None if it is still running."""
        if self._popen is None:
            return None
        try:
            return self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait_ready(self, probe: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll `probe` until it answers True; fail fast if the process exits meanwhile."""
        deadline = time.monotonic() + timeout_s
        while True:
            code = self.exit_code()
            if code is not None:
                raise ComponentFailed(self.name, f"exited with code {code}", self.log_path)
            if probe():
                return
            if time.monotonic() >= deadline:
                raise ComponentFailed(
                    self.name, f"{what} not ready after {timeout_s:.0f} s", self.log_path
                )
            time.sleep(POLL_INTERVAL_S)

    def start_and_wait(self, probe: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Start, then wait until ready; a process that never gets ready is stopped again."""
        self.start()
        try:
            self.wait_ready(probe, timeout_s, what)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Ask the leader to stop, wait, then make sure nothing of its group is left."""
        popen = self._popen
        if popen is None:
            return
        pgid = popen.pid  # start_new_session made the child its group's leader
        if popen.poll() is None:
            _signal_pid(popen.pid, self.stop_signal)
            try:
                popen.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(pgid, signal.SIGKILL)
                popen.wait()
        # Workers that outlived their master (they should not) are not left behind.
        _signal_group(pgid, signal.SIGKILL)


def run_once(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
    run_as: pwd.struct_passwd | None = None,
    timeout_s: float = 300.0,
) -> None:
    """Run a one-shot step (initdb, migrations) to completion; failure names it and its log."""
    process = ManagedProcess(name, argv, log_path=log_path, env=env, cwd=cwd, run_as=run_as)
    process.start()
    code = process.wait(timeout_s)
    if code is None:
        process.stop()
        raise ComponentFailed(name, f"did not finish within {timeout_s:.0f} s", log_path)
    if code != 0:
        raise ComponentFailed(name, f"exited with code {code}", log_path)


def _signal_pid(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
