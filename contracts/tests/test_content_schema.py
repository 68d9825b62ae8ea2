"""The content-document schema: what a TipTap editor emits passes, anything else is refused."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from alephdraad_contracts import load_schema

SCHEMA = load_schema("content-document")
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

Node = dict[str, Any]


def text(value: str, *marks: Node) -> Node:
    node: Node = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def paragraph(*inlines: Node) -> Node:
    return {"type": "paragraph", "content": list(inlines)}


def link(href: str) -> Node:
    return {"type": "link", "attrs": {"href": href}}


def doc(*blocks: Node) -> Node:
    return {"type": "doc", "content": list(blocks)}


# Every node and mark the schema knows, with the attributes TipTap writes by default.
RICH: Node = doc(
    {"type": "heading", "attrs": {"level": 1}, "content": [text("Title")]},
    paragraph(
        text("plain "),
        text("bold", {"type": "bold"}),
        text("italic", {"type": "italic"}),
        text("strike", {"type": "strike"}),
        text("code", {"type": "code"}),
        text(
            "link",
            {
                "type": "link",
                "attrs": {
                    "href": "https://example.org/a?b=c#d",
                    "target": "_blank",
                    "rel": "noopener noreferrer nofollow",
                    "class": None,
                },
            },
        ),
        {"type": "hardBreak"},
        {"type": "mention", "attrs": {"id": 12, "label": "mira_c"}},
    ),
    {"type": "paragraph"},
    {
        "type": "bulletList",
        "content": [
            {"type": "listItem", "content": [paragraph(text("one"))]},
            {
                "type": "listItem",
                "content": [
                    paragraph(text("two")),
                    {
                        "type": "orderedList",
                        "attrs": {"start": 1, "type": None},
                        "content": [{"type": "listItem", "content": [paragraph(text("2.1"))]}],
                    },
                ],
            },
        ],
    },
    {"type": "codeBlock", "attrs": {"language": None}, "content": [text("x = 1")]},
    {"type": "codeBlock", "attrs": {"language": "c++"}},
    {"type": "blockquote", "content": [paragraph(text("quoted"))]},
    {"type": "horizontalRule"},
)


def _errors(document: Any) -> list[jsonschema.ValidationError]:
    return list(VALIDATOR.iter_errors(document))


def _with(change: Callable[[Node], None]) -> Node:
    document = copy.deepcopy(RICH)
    change(document)
    return document


def _href(value: str) -> Node:
    return doc(paragraph(text("x", link(value))))


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == "urn:alephdraad:schema:content-document"


def test_a_rich_document_with_every_node_and_mark_is_valid() -> None:
    assert _errors(RICH) == []


@pytest.mark.parametrize(
    "href",
    [
        "http://example.org",
        "HTTPS://EXAMPLE.ORG/Path",
        "https://example.org/a b".replace(" ", "%20"),
        "mailto:someone@example.org",
    ],
)
def test_http_https_and_mailto_links_are_accepted(href: str) -> None:
    assert _errors(_href(href)) == []


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " https://example.org",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "//evil.example/path",
        "/relative/path",
        "https://",
        "https://exa mple.org",
        "mailto:",
        "",
    ],
)
def test_other_links_are_refused_at_the_href(href: str) -> None:
    [error] = _errors(_href(href))
    assert list(error.absolute_path) == ["content", 0, "content", 0, "marks", 0, "attrs", "href"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["content"].append({"type": "image"}), ["content", 8, "type"]),
        (
            lambda d: d["content"].append({"type": "listItem", "content": []}),
            ["content", 8, "type"],
        ),
        (lambda d: d["content"].append({"type": "text", "text": "loose"}), ["content", 8, "type"]),
        (
            lambda d: d["content"][1]["content"].append({"type": "paragraph"}),
            ["content", 1, "content", 8, "type"],
        ),
        (
            lambda d: d["content"][1]["content"][1]["marks"].append({"type": "underline"}),
            ["content", 1, "content", 1, "marks", 1, "type"],
        ),
        (
            lambda d: d["content"][1]["content"][1]["marks"][0].update(attrs={"x": 1}),
            ["content", 1, "content", 1, "marks", 0],
        ),
        (lambda d: d["content"][0]["attrs"].update(level=0), ["content", 0, "attrs", "level"]),
        (lambda d: d["content"][0]["attrs"].update(level=7), ["content", 0, "attrs", "level"]),
        (lambda d: d["content"][0]["attrs"].update(id="h1"), ["content", 0, "attrs"]),
        (lambda d: d["content"][0].pop("attrs"), ["content", 0]),
        (lambda d: d["content"][2].update(style="color:red"), ["content", 2]),
        (lambda d: d["content"][3].update(content=[]), ["content", 3, "content"]),
        (
            lambda d: d["content"][3]["content"][1]["content"][1]["attrs"].update(start=-1),
            ["content", 3, "content", 1, "content", 1, "attrs", "start"],
        ),
        (
            lambda d: d["content"][4]["content"][0].update(marks=[{"type": "bold"}]),
            ["content", 4, "content", 0],
        ),
        (
            lambda d: d["content"][4]["content"].append({"type": "hardBreak"}),
            ["content", 4, "content", 1],
        ),
        (
            lambda d: d["content"][5]["attrs"].update(language="<script>"),
            ["content", 5, "attrs", "language"],
        ),
        (
            lambda d: d["content"][1]["content"][7]["attrs"].update(label="Mira C"),
            ["content", 1, "content", 7, "attrs", "label"],
        ),
        (
            lambda d: d["content"][1]["content"][7]["attrs"].update(id="12"),
            ["content", 1, "content", 7, "attrs", "id"],
        ),
        (
            lambda d: d["content"][1]["content"][0].update(text=""),
            ["content", 1, "content", 0, "text"],
        ),
        (lambda d: d["content"][1]["content"][0].pop("type"), ["content", 1, "content", 0]),
        (lambda d: d.update(content=[]), ["content"]),
        (lambda d: d.update(type="document"), ["type"]),
        (lambda d: d.update(attrs={}), []),
    ],
)
def test_unknown_nodes_marks_and_attributes_are_refused_where_they_are(
    change: Callable[[Node], None], path: list[str | int]
) -> None:
    errors = _errors(_with(change))
    assert errors
    # Reported at the bad node (or inside it), never at an ancestor: the path is useful.
    assert {tuple(error.absolute_path)[: len(path)] for error in errors} == {tuple(path)}
    assert tuple(path) in {tuple(error.absolute_path) for error in errors}


def test_a_document_must_be_an_object_with_content() -> None:
    assert _errors([]) != []
    assert _errors({"type": "doc"}) != []
