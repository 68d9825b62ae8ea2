"""`viewer: NamedDependency[CurrentUser | None]`, for public reads that add the caller's own
state when a token is sent (e.g. `mine` in a thread's reaction summary).

No Authorization header: None, the request is anonymous. A header that is there but not a
valid member token is still 401 AUTH_TOKEN_INVALID, as on member routes: silently reading
anonymously would hide from the client that its token expired (and show `mine: null`).

Handlers declare it with `dependencies={"viewer": Provide(provide_optional_user)}`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from alephdraad_feature.auth.dependencies import CurrentUser, provide_current_user


async def provide_optional_user(
    request: Request[Any, Any, Any], state: State
) -> CurrentUser | None:
    if "authorization" not in request.headers:
        return None
    return await provide_current_user(request, state)
