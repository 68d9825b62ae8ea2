"""Request and response shapes of /api/v1/threads/{thread_id}/reactions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alephdraad_feature.reactions.models import REACTION_TYPES, ReactionType


class SetReactionRequest(BaseModel):
    """The caller's reaction to the thread."""

    model_config = ConfigDict(extra="forbid")

    # A plain string here (the enum is only documented), checked by
    # `services.check_reaction_type`, so that an unknown type is the domain's 422
    # REACTION_TYPE_UNKNOWN listing the allowed ones rather than a generic validation error.
    type: str = Field(
        description="The reaction: like, love, fire, sad or laugh.",
        json_schema_extra={"enum": list(REACTION_TYPES)},
    )


class ReactionCounts(BaseModel):
    """How many reactions of each type; every type is present, zeros included."""

    like: int = Field(default=0, ge=0)
    love: int = Field(default=0, ge=0)
    fire: int = Field(default=0, ge=0)
    sad: int = Field(default=0, ge=0)
    laugh: int = Field(default=0, ge=0)

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> ReactionCounts:
        """From `thread_stats.reactionCounts`. Counters are only moved in the transaction of
        the reaction they count, so they cannot go below zero; clamping guards what a reader
        shows should a document ever have been edited by hand. Types no longer offered are
        left out."""
        stored = stored or {}
        return cls(**{name: max(0, int(stored.get(name) or 0)) for name in REACTION_TYPES})

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name in REACTION_TYPES)


class ReactionSummary(BaseModel):
    """A thread's reactions: counts per type, their total, and the caller's own."""

    counts: ReactionCounts
    total: int = Field(ge=0, description="The sum of `counts`.")
    mine: ReactionType | None = Field(
        description="The caller's reaction; null without a token or without a reaction."
    )

    @classmethod
    def build(cls, counts: ReactionCounts, mine: str | None) -> ReactionSummary:
        return cls(counts=counts, total=counts.total, mine=mine)  # type: ignore[arg-type]
