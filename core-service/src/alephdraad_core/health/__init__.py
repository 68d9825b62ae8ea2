"""Liveness and readiness probes for the orchestrator and the gateway's /health/core."""
