"""Everything through which core-service reaches the wallets: user.registered creates the
wallet, and the deletion check asks about the balances. Imported by
`alephdraad_feature.consumers`.

The handler runs inside the event's transaction and is an upsert: a redelivery or a retried
transaction finds the wallet and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from alephdraad_contracts import USER_REGISTERED
from alephdraad_feature.internal.events import register_event_handler
from alephdraad_feature.internal.holdings import register_blocker, register_holding
from alephdraad_feature.wallets.selectors import token_balance_of, wallet_deletion_blocker
from alephdraad_feature.wallets.services import do_ensure_wallet


@register_event_handler(USER_REGISTERED)
async def create_wallet_of_registered_user(
    data: Mapping[str, Any], session: AsyncClientSession
) -> None:
    await do_ensure_wallet(int(data["user_id"]), session, now=datetime.now(UTC))


# A rupiah balance blocks the deletion (WALLET_NOT_EMPTY); remaining tokens are only reported.
register_blocker(wallet_deletion_blocker)
register_holding("token_balance", token_balance_of)
