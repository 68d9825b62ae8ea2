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


class Readiness(BaseModel):
    """Every dependency answered; the instance can take traffic."""

    status: Literal["ready"] = "ready"
    checks: dict[str, CheckStatus] = Field(examples=[{"mongodb": "ok"}])
