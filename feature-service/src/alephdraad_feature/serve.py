"""`python -m alephdraad_feature.serve`: run the service under uvicorn.

The local-stack launcher and the Docker image run exactly this. Settings are validated here,
before uvicorn starts, so a bad variable stops the process with one line naming it instead of
a traceback per worker.
"""

from __future__ import annotations

import uvicorn

from alephdraad_contracts import logging_config
from alephdraad_feature.settings import SERVICE_NAME, SettingsError, load_settings

# Open requests get this long to finish after SIGTERM; well inside Kubernetes' default 30 s
# termination grace period.
GRACEFUL_SHUTDOWN_SECONDS = 10

# Only the gateway in front of us (same host in the local stack) may set X-Forwarded-*.
TRUSTED_PROXY_IPS = "127.0.0.1"


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise SystemExit(f"{SERVICE_NAME}: {exc}") from None

    uvicorn.run(
        "alephdraad_feature.asgi:app",
        host=settings.feature_host,
        port=settings.feature_port,
        workers=settings.feature_web_workers,
        log_config=logging_config(SERVICE_NAME, settings.log_level),
        # platform.request_id writes one JSON line per request, with the request id.
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=TRUSTED_PROXY_IPS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # A start-up failure (a bug, not an unreachable MongoDB) must stop the worker rather
        # than let it serve without its lifespan.
        lifespan="on",
        server_header=False,
    )


if __name__ == "__main__":
    main()
