"""The content document: the contracts schema on write, the size and depth caps, the path of the
first bad node, the plain-text rendering and the derived summary."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client

from alephdraad_core.content.document import (
    CONTENT_MAX_BYTES,
    CONTENT_MAX_DEPTH,
    check_content_document,
    derived_summary,
    plain_text,
)
from alephdraad_core.content.errors import ContentInvalid
from alephdraad_core.content.models import Thread
from tests.conftest import BAD_SHAPE, assert_problem, error_fields
from tests.content_helpers import body_of, doc, link, make_member, paragraph, send, text, user_token

RICH_DOCUMENT: dict[str, Any] = {
    "type": "doc",
    "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [text("Setting up")]},
        {
            "type": "paragraph",
            "content": [
                text("Read "),
                text("the guide", link("https://example.org/guide"), {"type": "bold"}),
                text(", ask "),
                {"type": "mention", "attrs": {"id": 7, "label": "mira"}},
                {"type": "hardBreak"},
                text("or mail ", {"type": "italic"}),
                text("us", link("mailto:help@example.org")),
                text(" — "),
                text("gone", {"type": "strike"}),
                text("x = 1", {"type": "code"}),
            ],
        },
        {"type": "paragraph"},
        {
            "type": "bulletList",
            "content": [
                {"type": "listItem", "content": [paragraph("first")]},
                {
                    "type": "listItem",
                    "content": [
                        paragraph("second"),
                        {
                            "type": "orderedList",
                            "attrs": {"start": 3, "type": None},
                            "content": [{"type": "listItem", "content": [paragraph("nested")]}],
                        },
                    ],
                },
            ],
        },
        {
            "type": "codeBlock",
            "attrs": {"language": "python"},
            "content": [text("print('hi')\nprint('bye')")],
        },
        {"type": "blockquote", "content": [paragraph("Quoted words.")]},
        {"type": "horizontalRule"},
        paragraph("The end."),
    ],
}


def _refused(document: Any) -> dict[str, str]:
    with pytest.raises(ContentInvalid) as caught:
        check_content_document(document)
    [error] = caught.value.errors
    return dict(error)


def _mutated(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(RICH_DOCUMENT)
    change(document)
    return document


def test_a_rich_document_is_accepted_and_rendered_as_plain_text() -> None:
    assert check_content_document(RICH_DOCUMENT) == (
        "Setting up\n"
        "Read the guide, ask @mira\nor mail us — gonex = 1\n"
        "first\n"
        "second\n"
        "nested\n"
        "print('hi')\nprint('bye')\n"
        "Quoted words.\n"
        "The end."
    )


def test_plain_text_leaves_out_empty_blocks_and_rules() -> None:
    document = doc(paragraph(), {"type": "horizontalRule"}, "  ", "only line")
    assert plain_text(document) == "only line"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda d: d["content"].insert(1, {"type": "image", "attrs": {"src": "x.png"}}),
            "content_json.content.1.type",
            "Unknown node type 'image'",
        ),
        (
            lambda d: d["content"][1]["content"][1]["marks"][0]["attrs"].update(
                href="javascript:alert(1)"
            ),
            "content_json.content.1.content.1.marks.0.attrs.href",
            "http:, https: or mailto:",
        ),
        (
            lambda d: d["content"][1]["content"][1]["marks"][0]["attrs"].update(
                href="data:text/html;base64,PHNjcmlwdD4="
            ),
            "content_json.content.1.content.1.marks.0.attrs.href",
            "http:, https: or mailto:",
        ),
        (
            lambda d: d["content"][1]["content"][1]["marks"][0]["attrs"].update(
                href=" JavaScript:alert(1)"
            ),
            "content_json.content.1.content.1.marks.0.attrs.href",
            "http:, https: or mailto:",
        ),
        (
            lambda d: d["content"][1]["content"][1]["marks"][0]["attrs"].update(
                href="//evil.example/"
            ),
            "content_json.content.1.content.1.marks.0.attrs.href",
            "http:, https: or mailto:",
        ),
        (
            lambda d: d["content"][1]["content"][0].update(marks=[{"type": "underline"}]),
            "content_json.content.1.content.0.marks.0.type",
            "Unknown mark type 'underline'",
        ),
        (
            lambda d: d["content"][0]["attrs"].update(onclick="steal()"),
            "content_json.content.0.attrs",
            "'onclick' was unexpected",
        ),
        (
            lambda d: d["content"][0]["attrs"].update(level=7),
            "content_json.content.0.attrs.level",
            "7 is greater than the maximum of 6",
        ),
        (
            lambda d: d["content"][3]["content"].append(paragraph("not an item")),
            "content_json.content.3.content.2.type",
            "Unknown node type 'paragraph'",
        ),
        (
            lambda d: d["content"][4]["content"][0].update(marks=[{"type": "bold"}]),
            "content_json.content.4.content.0",
            "'marks' was unexpected",
        ),
        (
            lambda d: d["content"][1]["content"][3]["attrs"].update(label="Not A Username"),
            "content_json.content.1.content.3.attrs.label",
            "does not match",
        ),
        (lambda d: d.update(type="document"), "content_json.type", "Unknown node type 'document'"),
        (lambda d: d.update(content=[]), "content_json.content", "should be non-empty"),
    ],
)
def test_a_bad_document_names_its_first_bad_node(change: Any, field: str, message: str) -> None:
    error = _refused(_mutated(change))
    assert error["field"] == field
    assert message in error["message"]


def test_of_several_bad_nodes_the_first_in_document_order_is_named() -> None:
    def two_problems(d: dict[str, Any]) -> None:
        d["content"][7]["content"][0]["marks"] = [link("javascript:void(0)")]
        d["content"][1]["content"][1]["marks"][0]["attrs"]["href"] = "vbscript:x"
        d["content"][5]["content"][0]["type"] = "video"

    assert _refused(_mutated(two_problems))["field"] == (
        "content_json.content.1.content.1.marks.0.attrs.href"
    )


def test_a_document_over_64_kib_is_refused_and_one_at_the_limit_is_not() -> None:
    def of_size(size: int) -> dict[str, Any]:
        base = doc("")
        filler = size - len(json.dumps(base, separators=(",", ":")))
        return doc("é" * (filler // 2) + "a" * (filler % 2))  # é is 2 bytes in UTF-8

    at_limit = of_size(CONTENT_MAX_BYTES)
    assert len(json.dumps(at_limit, ensure_ascii=False, separators=(",", ":")).encode()) == (
        CONTENT_MAX_BYTES
    )
    check_content_document(at_limit)

    error = _refused(of_size(CONTENT_MAX_BYTES + 1))
    assert error["field"] == "content_json"
    assert f"{CONTENT_MAX_BYTES + 1} bytes" in error["message"]


def test_nesting_deeper_than_the_cap_is_refused_at_the_first_too_deep_node() -> None:
    def quotes(levels: int) -> dict[str, Any]:
        node: dict[str, Any] = paragraph("deep")
        for _ in range(levels):
            node = {"type": "blockquote", "content": [node]}
        return doc(node)

    # doc + n quotes + paragraph + text = n + 3 levels.
    check_content_document(quotes(CONTENT_MAX_DEPTH - 3))
    error = _refused(quotes(CONTENT_MAX_DEPTH - 2))
    assert error["field"] == "content_json" + ".content.0" * CONTENT_MAX_DEPTH
    assert str(CONTENT_MAX_DEPTH) in error["message"]
    # Far deeper than any recursion limit: still a clean refusal.
    assert _refused(quotes(5000))["message"] == error["message"]


def test_long_values_are_not_echoed_whole_in_messages() -> None:
    error = _refused(doc({"type": "x" * 5000}))
    assert len(error["message"]) <= 200


def test_derived_summary_is_the_text_start_cut_at_a_word() -> None:
    assert derived_summary("Short\n\n text  here") == "Short text here"
    long_text = ("word " * 100).strip()
    summary = derived_summary(long_text)
    assert len(summary) <= 280
    assert summary.endswith("word…")
    assert derived_summary("x" * 500) == "x" * 279 + "…"


# --- through the API -------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_refuses_a_javascript_link_with_the_node_path(client: Client) -> None:
    token = user_token(make_member())
    content = doc(paragraph("safe"), paragraph(text("click", link("javascript:alert(1)"))))

    response = send(
        client,
        "POST",
        "/threads",
        {"category_slug": "general", "title": "Links", "content_json": content},
        token=token,
    )

    body = assert_problem(response, 422, "CONTENT_INVALID")
    assert body["errors"][0]["field"] == "content_json.content.1.content.0.marks.0.attrs.href"
    assert not Thread.objects.exists()


@pytest.mark.django_db
def test_api_refuses_a_document_over_64_kib(client: Client) -> None:
    token = user_token(make_member())
    content = doc(*["a" * 1000 for _ in range(70)])

    response = send(
        client,
        "POST",
        "/threads",
        {"category_slug": "general", "title": "Big", "content_json": content},
        token=token,
    )

    body = assert_problem(response, 422, "CONTENT_INVALID")
    assert error_fields(body) == {"content_json"}
    assert not Thread.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("content", [[], "text", None, 3])
def test_api_content_that_is_not_an_object_is_the_wrong_shape(client: Client, content: Any) -> None:
    token = user_token(make_member())

    response = send(
        client,
        "POST",
        "/threads",
        {"category_slug": "general", "title": "Shape", "content_json": content},
        token=token,
    )

    body = assert_problem(response, *BAD_SHAPE)
    assert error_fields(body) == {"content_json"}
    assert body_of(response)["code"] == "VALIDATION_FAILED"
