"""Imports every domain's event consumers, so their handlers are registered before the first
event arrives (the application factory imports this module). A domain with handlers for core's
events adds its `consumers` module here; a domain's `consumers` also registers its reconcile
sources and deletion-check holdings, so `manage reconcile` imports this module too."""

from __future__ import annotations

from alephdraad_feature.reactions import consumers as reactions_consumers
from alephdraad_feature.replies import consumers as replies_consumers
from alephdraad_feature.threads import consumers as threads_consumers
from alephdraad_feature.wallets import consumers as wallets_consumers

__all__ = ["reactions_consumers", "replies_consumers", "threads_consumers", "wallets_consumers"]
