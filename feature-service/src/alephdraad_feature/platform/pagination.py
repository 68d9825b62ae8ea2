"""Cursor pagination for list endpoints (DESIGN section 3).

`?limit=` (default 20, 1 to 100; anything else is 422, never silently clamped) and `?cursor=`
(opaque) in; `{items, next_cursor}` out. A cursor holds the sort key and the id of the last
item of the previous page, so the next page is a keyset query (`(key, _id) > (k, i)`, or `<`
newest first) that costs the same on page 1000 as on page 1 and stays stable while items are
added: nothing repeats, nothing is skipped.

A cursor is base64url of JSON `{"v": 1, "s": scope, "p": position}`. `scope` names the list
it belongs to (e.g. the thread, branch and sort order), so a cursor of one list replayed on
another is refused rather than silently jumping. The lists paged here are public, so a cursor
is not signed: a client that edits one can only land on a position it could have reached by
paging. What it cannot do is make the service fail: every way a cursor can be malformed
(not base64, not JSON, wrong shape or types, too long, another list's) is 400
VALIDATION_FAILED on `cursor`, checked before any query runs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from alephdraad_contracts import VALIDATION_FAILED
from alephdraad_feature.platform.errors import DomainError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Our cursors are ~100 characters; anything much longer is not ours and is not decoded.
CURSOR_MAX_LENGTH = 512
_VERSION = 1


class InvalidCursor(DomainError):
    """400 VALIDATION_FAILED naming `cursor`: it was not produced by this list."""

    problem_type = VALIDATION_FAILED

    def __init__(
        self, message: str = "Not a cursor of this list; start again without one."
    ) -> None:
        super().__init__(
            "The query parameters are invalid; see errors[].",
            errors=[{"field": "cursor", "message": message}],
        )


def encode_cursor(scope: str, position: Sequence[Any]) -> str:
    """An opaque cursor for `position` (JSON values: the sort key, then the id) in `scope`."""
    raw = json.dumps({"v": _VERSION, "s": scope, "p": list(position)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str) -> list[Any]:
    """The position a cursor of `scope` holds; `InvalidCursor` for anything else. The caller
    still checks the types of the position's members (see e.g. replies.selectors)."""
    if len(cursor) > CURSOR_MAX_LENGTH:
        raise InvalidCursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError, binascii.Error):
        # json.JSONDecodeError is a ValueError; a non-ASCII cursor fails to encode.
        raise InvalidCursor() from None
    if (
        not isinstance(decoded, dict)
        or decoded.get("v") != _VERSION
        or decoded.get("s") != scope
        or not isinstance(decoded.get("p"), list)
    ):
        raise InvalidCursor()
    position: list[Any] = decoded["p"]
    return position
