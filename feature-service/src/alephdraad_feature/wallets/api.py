"""/api/v1/wallet…: a member's balances and ledger; /api/v1/admin/wallets/{user_id}/audit:
an operator's proof that a wallet matches its transactions (issue 9, first part).

Thin HTTP: authenticate, call a selector or service, serialise. Money moves only through
`services.do_post_transaction`; nothing here writes a balance.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.openapi.spec import SecurityRequirement
from litestar.params import PathParameter, QueryParameter

from alephdraad_contracts import UNAUTHENTICATED, UNPROCESSABLE_CONTENT, VALIDATION_FAILED
from alephdraad_feature.auth.dependencies import CurrentAdmin, CurrentUser
from alephdraad_feature.auth.errors import TokenInvalid
from alephdraad_feature.internal.signing import CLOCK_STATE_KEY, Clock, utc_now
from alephdraad_feature.platform.db import get_mongo
from alephdraad_feature.platform.docs import ADMIN_TOKEN_SCHEME, USER_TOKEN_SECURITY
from alephdraad_feature.platform.pagination import (
    CURSOR_MAX_LENGTH,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
)
from alephdraad_feature.platform.problems import problem_responses
from alephdraad_feature.wallets.schemas import TransactionPage, WalletAuditOut, WalletOut
from alephdraad_feature.wallets.selectors import audit_wallet, transactions_page
from alephdraad_feature.wallets.services import do_get_or_create_wallet

ADMIN_TOKEN_SECURITY: list[SecurityRequirement] = [{ADMIN_TOKEN_SCHEME: []}]

# Core's user ids are positive int64; anything outside is refused before it reaches MongoDB.
_MAX_USER_ID = 2**63 - 1

TransactionTypeFilter = Literal["topup", "token_purchase", "chat_usage", "refund", "adjustment"]

_TAGS = ["wallets"]
_TOKEN_INVALID = TokenInvalid.problem_type


def _clock(request: Request[Any, Any, Any]) -> Clock:
    clock: Clock = request.app.state.get(CLOCK_STATE_KEY, utc_now)
    return clock


@get(
    "/api/v1/wallet",
    operation_id="getWallet",
    tags=_TAGS,
    summary="The caller's wallet",
    description=(
        "Rupiah (whole) and token balances. A member without a wallet yet (it is normally "
        "created when core announces the registration) gets an empty one created now."
    ),
    response_description="The balances",
    security=USER_TOKEN_SECURITY,
    responses=problem_responses(UNAUTHENTICATED, _TOKEN_INVALID),
)
async def get_wallet(
    request: Request[Any, Any, Any], current_user: NamedDependency[CurrentUser]
) -> WalletOut:
    wallet = await do_get_or_create_wallet(
        get_mongo(request.app).client, current_user.user_id, now=_clock(request)()
    )
    return wallet.as_output()


@get(
    "/api/v1/wallet/transactions",
    operation_id="listWalletTransactions",
    tags=_TAGS,
    summary="The caller's ledger, newest first",
    description=(
        "Every change of the caller's balances, newest first, optionally of one `type` (an "
        f"unknown one is 400). `limit` is 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}); "
        f"0 or more than {MAX_PAGE_SIZE} is 422, never clamped. A cursor that is not this "
        "list's `next_cursor` (also one from another `type` filter) is 400; one over 512 "
        "characters is 422."
    ),
    response_description="One page",
    security=USER_TOKEN_SECURITY,
    responses=problem_responses(
        VALIDATION_FAILED, UNAUTHENTICATED, _TOKEN_INVALID, UNPROCESSABLE_CONTENT
    ),
)
async def list_wallet_transactions(
    current_user: NamedDependency[CurrentUser],
    type_: Annotated[
        TransactionTypeFilter | None,
        QueryParameter(name="type", description="Only entries of this type."),
    ] = None,
    cursor: Annotated[
        str | None,
        QueryParameter(
            max_length=CURSOR_MAX_LENGTH,
            description="The previous page's `next_cursor`; omit for the first page.",
        ),
    ] = None,
    limit: Annotated[
        int,
        QueryParameter(ge=1, le=MAX_PAGE_SIZE, description=f"1 to {MAX_PAGE_SIZE} (default 20)"),
    ] = DEFAULT_PAGE_SIZE,
) -> TransactionPage:
    page = await transactions_page(current_user.user_id, type_=type_, limit=limit, cursor=cursor)
    return TransactionPage(
        items=[item.as_output() for item in page.items], next_cursor=page.next_cursor
    )


@get(
    "/api/v1/admin/wallets/{user_id:int}/audit",
    operation_id="auditWallet",
    tags=_TAGS,
    summary="Prove a wallet from its transactions",
    description=(
        "Admin token only. Recomputes the user's balances as the sums of their transactions "
        "and compares them with the stored wallet: `drift` is true when they differ (which the "
        "ledger's design rules out; an operator investigates and corrects with a new "
        "transaction). A user with neither wallet nor transactions audits as zero. The same "
        "check for every wallet: `python -m alephdraad_feature.manage wallets audit`. A user id "
        "outside 1 to 2^63-1 is 422."
    ),
    response_description="Stored against recomputed balances",
    security=ADMIN_TOKEN_SECURITY,
    responses=problem_responses(
        VALIDATION_FAILED, UNAUTHENTICATED, _TOKEN_INVALID, UNPROCESSABLE_CONTENT
    ),
)
async def audit_user_wallet(
    current_admin: NamedDependency[CurrentAdmin],
    user_id: Annotated[
        int, PathParameter(ge=1, le=_MAX_USER_ID, description="core-service user id")
    ],
) -> WalletAuditOut:
    return await audit_wallet(user_id)


ROUTE_HANDLERS = [get_wallet, list_wallet_transactions, audit_user_wallet]
