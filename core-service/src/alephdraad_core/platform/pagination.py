"""Cursor pagination for every list endpoint (DESIGN section 3).

`?limit=` (default 20, at most 100) and `?cursor=` (opaque) in; `{items, next_cursor}` out.
A cursor holds the sort key and the id of the last row of the previous page, so the next page
is a keyset query, `WHERE (key, id) < (:key, :id) ORDER BY key DESC, id DESC LIMIT n + 1`: it
costs the same on page 1000 as on page 1 (no OFFSET), and rows inserted between two requests
neither repeat nor push rows off a page.

The cursor is base64url of JSON `{"k": key, "i": id, "s": signature}`. The signature is an
HMAC (settings.SECRET_KEY, salted) over the list's scope and the position, so a client cannot
forge a position nor replay one list's cursor on another list; any change is a 400
VALIDATION_FAILED on `cursor`.

A view declares its list once and uses it per request:

    USERS = KeysetPagination(scope="admin.users", key="created_at")

    query = UserListQuerySerializer(data=request.query_params)  # a PageQuerySerializer
    query.is_valid(raise_exception=True)
    page = USERS.paginate(queryset, limit=query.validated_data["limit"],
                          cursor=query.validated_data.get("cursor"))
    return Response({"items": Item(page.items, many=True).data, "next_cursor": page.next_cursor})
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import F, Func, Value
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework import serializers

from alephdraad_contracts import VALIDATION_FAILED
from alephdraad_core.platform.errors import DomainError
from alephdraad_core.platform.serializers import StrictSerializer

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Real cursors are ~150 characters; anything much longer is not ours and is not decoded.
CURSOR_MAX_LENGTH = 512
_HMAC_SALT = "alephdraad_core.platform.pagination.cursor"
_POSITION_ALIAS = "_keyset_position"

ItemT = TypeVar("ItemT")


class InvalidPageRequest(DomainError):
    """400 VALIDATION_FAILED naming the query parameter (`cursor` or `limit`)."""

    problem_type = VALIDATION_FAILED

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            "The query parameters are invalid; see errors[].",
            errors=[{"field": field, "message": message}],
        )


class PageQuerySerializer(StrictSerializer):
    """`?limit=&cursor=`; a list's query serializer derives from it and adds its filters.

    Strict like request bodies: a misspelt filter (`?userid=`) is a 400, not an unfiltered list.
    """

    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        default=DEFAULT_PAGE_SIZE,
        help_text=f"Page size, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
    )
    cursor = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=CURSOR_MAX_LENGTH,
        help_text="The `next_cursor` of the previous page; omit (or leave empty) for the first.",
    )


def page_serializer(item_serializer: type[serializers.Serializer], name: str) -> type:
    """The response shape `{items: [item], next_cursor: str|null}` as a named serializer class
    (the name becomes the OpenAPI component, so make it unique: "AdminUserPageSerializer")."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "__module__": item_serializer.__module__,
            "__doc__": f"One page of {item_serializer.__name__.removesuffix('Serializer')} items.",
            "items": item_serializer(many=True),
            "next_cursor": serializers.CharField(
                allow_null=True,
                help_text="Pass as ?cursor= to get the next page; null on the last page.",
            ),
        },
    )


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


class _Row(Func):
    """A PostgreSQL row constructor `(a, b)`, so `(key, id) < (x, y)` compares lexicographically
    in one condition that a btree index on (key, id) answers as a range scan."""

    function = ""
    template = "(%(expressions)s)"


@dataclass(frozen=True)
class KeysetPagination:
    """One list's ordering: by `key`, ties broken by `tiebreaker` (unique), both descending
    (newest first) unless `descending=False`. `key` must not be nullable. `scope` names the list
    inside the cursor's signature, so one list's cursor is refused by another."""

    scope: str
    key: str
    descending: bool = True
    tiebreaker: str = "id"

    def paginate(
        self,
        queryset: models.QuerySet[Any],
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Any]:
        """One page of `queryset` (its own ordering is replaced): one query of `limit + 1` rows,
        the extra row only telling whether a next page exists. `cursor` is verified first."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidPageRequest("limit", f"Must be between 1 and {MAX_PAGE_SIZE}.")
        model = queryset.model
        key_field = self._field(model, self.key)
        tie_field = self._field(model, self.tiebreaker)
        direction = "-" if self.descending else ""
        ordered = queryset.order_by(f"{direction}{self.key}", f"{direction}{self.tiebreaker}")
        if cursor:
            key_value, tie_value = self.decode_cursor(cursor, key_field, tie_field)
            lookup = "lt" if self.descending else "gt"
            ordered = ordered.alias(
                **{_POSITION_ALIAS: _Row(F(self.key), F(self.tiebreaker), output_field=key_field)}
            ).filter(
                **{
                    f"{_POSITION_ALIAS}__{lookup}": _Row(
                        Value(key_value, output_field=key_field),
                        Value(tie_value, output_field=tie_field),
                        output_field=key_field,
                    )
                }
            )
        rows = list(ordered[: limit + 1])
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = self.encode_cursor(_read(last, self.key), _read(last, self.tiebreaker))
        return Page(items=items, next_cursor=next_cursor)

    def encode_cursor(self, key_value: Any, tie_value: Any) -> str:
        position = [_jsonable(key_value), _jsonable(tie_value)]
        payload = {"k": position[0], "i": position[1], "s": self._sign(position)}
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def decode_cursor(
        self, cursor: str, key_field: models.Field[Any, Any], tie_field: models.Field[Any, Any]
    ) -> tuple[Any, Any]:
        """The (key, tiebreaker) position of a cursor we signed for this list, as Python values
        of the two fields; anything else is InvalidPageRequest on `cursor`."""
        invalid = InvalidPageRequest("cursor", "Invalid cursor; start again from the first page.")
        if len(cursor) > CURSOR_MAX_LENGTH:
            raise invalid
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            payload = json.loads(raw)
        except (binascii.Error, ValueError):
            raise invalid from None
        if not isinstance(payload, dict) or set(payload) != {"k", "i", "s"}:
            raise invalid
        signature = payload["s"]
        position = [payload["k"], payload["i"]]
        if not isinstance(signature, str) or not constant_time_compare(
            signature, self._sign(position)
        ):
            raise invalid
        try:
            key_value = key_field.to_python(position[0])
            tie_value = tie_field.to_python(position[1])
        except ValidationError:
            raise invalid from None
        if key_value is None or tie_value is None:
            raise invalid
        return key_value, tie_value

    def _sign(self, position: list[Any]) -> str:
        message = json.dumps([self.scope, self.key, self.descending, *position], sort_keys=True)
        digest = salted_hmac(_HMAC_SALT, message, algorithm="sha256").digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    @staticmethod
    def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            raise TypeError(f"{model.__name__} has no field {name!r} to paginate by") from None
        if not isinstance(field, models.Field) or field.is_relation:
            raise TypeError(f"{model.__name__}.{name} cannot order a keyset page")
        return field


def _read(item: Any, name: str) -> Any:
    """A field of a model instance or of a `.values()` row."""
    if isinstance(item, Mapping):
        return item[name]
    return getattr(item, name)


def _jsonable(value: Any) -> Any:
    """A JSON value that the field's `to_python` turns back into `value` exactly
    (datetimes keep their microseconds and offset)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")
