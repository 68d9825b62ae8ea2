"""Response shapes of the probes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

CheckStatus = Literal["ok"]


class Liveness(BaseModel):
    """The process is up and serving HTTP; says nothing about its dependencies."""

    status: Literal["ok"] = "ok"
    service: str = Field(examples=["feature-service"])
    version: str = Field(examples=["0.1.0"])


class OutboxBacklog(BaseModel):
    """Events waiting for delivery to core-service. Information only: a backlog never makes
    the instance unready (it still serves; the worker catches up)."""

    pending: int = Field(examples=[0])
    dead: int = Field(examples=[0])
    oldest_pending_seconds: float | None = Field(
        description="Age of the oldest event waiting; null when none waits.", examples=[None]
    )


class Readiness(BaseModel):
    """Every dependency answered; the instance can take traffic."""

    status: Literal["ready"] = "ready"
    checks: dict[str, CheckStatus] = Field(examples=[{"mongodb": "ok"}])
    outbox: OutboxBacklog | None = Field(
        default=None,
        description="The event outbox's backlog; null when it could not be read in time.",
    )
