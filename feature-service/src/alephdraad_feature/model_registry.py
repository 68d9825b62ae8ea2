"""Every Beanie document model of the service, in one place.

`init_beanie` binds exactly these at start-up. A domain adds its models here, e.g.
`from alephdraad_feature.replies.models import Reply` and `Reply` in the tuple, so the list of
collections the service owns (and indexes it creates) reads top to bottom in one file.
"""

from __future__ import annotations

from beanie import Document

from alephdraad_feature.internal.models import HandledEvent, SignatureNonce
from alephdraad_feature.outbox.models import OutboxEvent
from alephdraad_feature.platform.ratelimit import RateLimitWindow
from alephdraad_feature.reactions.models import Reaction
from alephdraad_feature.replies.models import Reply
from alephdraad_feature.threads.models import ThreadStats
from alephdraad_feature.wallets.models import Transaction, Wallet

DOCUMENT_MODELS: tuple[type[Document], ...] = (
    SignatureNonce,
    HandledEvent,
    OutboxEvent,
    ThreadStats,
    Reaction,
    RateLimitWindow,
    Reply,
    Wallet,
    Transaction,
)
