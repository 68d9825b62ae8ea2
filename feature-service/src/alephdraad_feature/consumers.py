"""Imports every domain's event consumers, so their handlers are registered before the first
event arrives (the application factory imports this module). A domain with handlers for core's
events adds its `consumers` module here."""

from __future__ import annotations

from alephdraad_feature.threads import consumers as threads_consumers

__all__ = ["threads_consumers"]
