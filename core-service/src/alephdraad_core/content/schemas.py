"""Request and response shapes of categories and threads."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alephdraad_core.badges.schemas import BadgeSummarySerializer
from alephdraad_core.content.document import CONTENT_MAX_BYTES, CONTENT_MAX_DEPTH
from alephdraad_core.platform.pagination import PageQuerySerializer, page_serializer
from alephdraad_core.platform.serializers import StrictSerializer, TextField

CATEGORY_NAME_MAX_LENGTH = 100
CATEGORY_SLUG_MAX_LENGTH = 100
CATEGORY_DESCRIPTION_MAX_LENGTH = 2000
CATEGORY_ICON_MAX_LENGTH = 64
ORDER_INDEX_LIMIT = 1_000_000
TITLE_MIN_LENGTH = 3
TITLE_MAX_LENGTH = 200
SUMMARY_MAX_LENGTH = 500
SEARCH_MAX_LENGTH = 200
REASON_MAX_LENGTH = 500

SORT_LATEST = "latest"
SORT_OLDEST = "oldest"
SORT_RELEVANCE = "relevance"

slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z",
    "Lower-case letters and digits in words joined by single hyphens, e.g. 'off-topic'.",
)
color_validator = RegexValidator(r"^#[0-9A-Fa-f]{6}\Z", 'A colour as "#RRGGBB".')
# A feature-service reply id: `rpl_` and a ULID in upper-case Crockford base32, as the contracts
# event schema `reply.deleted` spells it. `code="rule"`: a string of the wrong form is a broken
# rule (422), like a too-long title; a missing or non-string field stays a 400.
REPLY_ID_PATTERN = r"^rpl_[0-9A-HJKMNP-TV-Z]{26}\Z"
reply_id_validator = RegexValidator(
    REPLY_ID_PATTERN, "A reply id: rpl_ and 26 characters (a ULID).", code="rule"
)


class StrictIntegerField(serializers.IntegerField):
    """Only JSON integers: DRF's IntegerField would also take "7" and 7.0."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


@extend_schema_field(
    {
        "type": "object",
        "description": 'A ProseMirror/TipTap document, `{"type": "doc", "content": [...]}`, '
        "valid against the contracts JSON Schema `content-document` "
        "(contracts/src/alephdraad_contracts/schemas/content-document.schema.json), at most "
        f"{CONTENT_MAX_BYTES} bytes as compact UTF-8 JSON and {CONTENT_MAX_DEPTH} node levels "
        "deep. Otherwise 422 CONTENT_INVALID naming the first bad node.",
        "additionalProperties": True,
    }
)
class ContentDocumentField(serializers.JSONField):
    """Any JSON object here; the document rules (contracts schema, size, depth) are domain
    rules checked by the service, so their failure is 422 CONTENT_INVALID, not a 400."""

    default_error_messages = {"not_an_object": "Must be a JSON object."}  # noqa: RUF012 - DRF's API

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            self.fail("not_an_object")
        return super().to_internal_value(data)


# --- categories ------------------------------------------------------------------------------


class CategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    color = serializers.CharField(help_text='"#rrggbb", or "" for the client\'s default.')
    icon = serializers.CharField(help_text='An icon name for the client, or "".')
    order_index = serializers.IntegerField(help_text="Lists sort by this, ascending.")


class CategoryListSerializer(serializers.Serializer):
    items = CategorySerializer(many=True)


class CategoryCreateSerializer(StrictSerializer):
    name = TextField(max_length=CATEGORY_NAME_MAX_LENGTH)
    slug = TextField(max_length=CATEGORY_SLUG_MAX_LENGTH, validators=[slug_validator])
    description = TextField(
        max_length=CATEGORY_DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True
    )
    color = TextField(
        required=False, allow_blank=True, validators=[color_validator], help_text='"#RRGGBB".'
    )
    icon = TextField(max_length=CATEGORY_ICON_MAX_LENGTH, required=False, allow_blank=True)
    order_index = StrictIntegerField(
        required=False, min_value=-ORDER_INDEX_LIMIT, max_value=ORDER_INDEX_LIMIT
    )

    def validate_color(self, value: str) -> str:
        return value.lower()


class CategoryUpdateSerializer(CategoryCreateSerializer):
    """Any subset of the creation fields; a new slug must be free."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class CategoryRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


# --- threads ---------------------------------------------------------------------------------


class ThreadAuthorSerializer(serializers.Serializer):
    """The author's public fields."""

    # primary_badge comes from the context ("primary_badges": {user id: Badge}), loaded for a
    # whole page in one query (selectors.primary_badges_of), never per item.

    id = serializers.IntegerField()
    username = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True)
    primary_badge = serializers.SerializerMethodField()

    @extend_schema_field(BadgeSummarySerializer(allow_null=True))
    def get_primary_badge(self, user: Any) -> dict[str, Any] | None:
        badge = self.context.get("primary_badges", {}).get(user.pk)
        return BadgeSummarySerializer(badge).data if badge is not None else None


class ThreadListItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    summary = serializers.CharField(
        help_text="The author's summary, or the start of the text when they gave none."
    )
    category = CategoryRefSerializer()
    author = ThreadAuthorSerializer()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="Last edit by the author.")
    accepted_reply_id = serializers.CharField(
        allow_null=True,
        help_text="The reply (feature service, `rpl_…`) the author marked as the answer, or "
        "null. Cleared when that reply is deleted.",
    )


class ThreadSerializer(ThreadListItemSerializer):
    content_json = serializers.JSONField(help_text="The content document, as written.")
    accepted_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the author accepted `accepted_reply_id` (null when there is none).",
    )
    deleted_at = serializers.DateTimeField(
        allow_null=True, help_text="When it was deleted; only admins ever see a deleted thread."
    )


ThreadPageSerializer = page_serializer(ThreadListItemSerializer, "ThreadPageSerializer")


class ThreadListQuerySerializer(PageQuerySerializer):
    category = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=CATEGORY_SLUG_MAX_LENGTH,
        help_text="A category slug; an unknown one is 422 UNKNOWN_CATEGORY.",
    )
    author = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=30,
        help_text="A username; an unknown one is 422 UNKNOWN_AUTHOR.",
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_MAX_LENGTH,
        help_text='Full-text search, web-search syntax: words (all must match), "a phrase", '
        "`or`, `-word` to exclude. Letter case does not matter; words match whole (no stemming).",
    )
    sort = serializers.ChoiceField(
        choices=[SORT_LATEST, SORT_OLDEST, SORT_RELEVANCE],
        required=False,
        help_text="`latest` (newest first) or `oldest`; with `q` also `relevance`, the default "
        "there (best match first).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["q"] = attrs.get("q", "").strip()
        attrs["category"] = attrs.get("category", "").strip()
        attrs["author"] = attrs.get("author", "").strip().lower()
        sort = attrs.get("sort") or (SORT_RELEVANCE if attrs["q"] else SORT_LATEST)
        if sort == SORT_RELEVANCE and not attrs["q"]:
            raise serializers.ValidationError(
                {"sort": ["`relevance` needs a search (`q`)."]}, code="rule"
            )
        attrs["sort"] = sort
        return attrs


class ThreadCreateSerializer(StrictSerializer):
    category_slug = TextField(max_length=CATEGORY_SLUG_MAX_LENGTH)
    title = TextField(min_length=TITLE_MIN_LENGTH, max_length=TITLE_MAX_LENGTH)
    summary = TextField(
        max_length=SUMMARY_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Omitted or empty: the first 280 characters of the text, and it then follows "
        "the text when the content is edited.",
    )
    content_json = ContentDocumentField()


class ThreadUpdateSerializer(StrictSerializer):
    title = TextField(min_length=TITLE_MIN_LENGTH, max_length=TITLE_MAX_LENGTH, required=False)
    summary = TextField(
        max_length=SUMMARY_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Empty: derived from the text again.",
    )
    content_json = ContentDocumentField(required=False)


class ThreadMoveSerializer(StrictSerializer):
    category_slug = TextField(max_length=CATEGORY_SLUG_MAX_LENGTH, required=False)
    author_id = StrictIntegerField(required=False, min_value=1)
    reason = TextField(max_length=REASON_MAX_LENGTH)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "category_slug" not in attrs and "author_id" not in attrs:
            raise serializers.ValidationError("Give category_slug, author_id or both.", code="rule")
        return attrs


class AcceptedReplySerializer(StrictSerializer):
    reply_id = TextField(
        trim_whitespace=False,
        validators=[reply_id_validator],
        help_text="A reply of this thread (`rpl_` + ULID). Not of the form: 422 "
        "UNPROCESSABLE_CONTENT; not a live reply of this thread: 422 REPLY_NOT_IN_THREAD.",
    )
