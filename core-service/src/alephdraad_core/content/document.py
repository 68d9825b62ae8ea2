"""A thread's body: a ProseMirror/TipTap document (`{"type": "doc", "content": [...]}`).

`check_content_document` is the one gate every write goes through. In order, each step bounding
the work of the next:

1. depth: nodes nest at most CONTENT_MAX_DEPTH levels (doc = 1), so validation and the
   plain-text walk below recurse a bounded number of times (checked without recursion);
2. size: at most CONTENT_MAX_BYTES of compact UTF-8 JSON (what we store and serve);
3. the contracts JSON Schema `content-document` (unknown node/mark types and attributes,
   javascript:/data: links…), reporting the FIRST bad node in document order.

Any failure is 422 CONTENT_INVALID with one `errors[]` entry whose field is the path of the bad
node: `content_json.content.2.content.0.marks.0.attrs.href`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from alephdraad_contracts import load_schema
from alephdraad_core.content.errors import ContentInvalid

FIELD = "content_json"
CONTENT_MAX_BYTES = 64 * 1024
# doc > bulletList > listItem > paragraph > text is 5: 20 leaves room for lists nested five
# deep inside quotes, far beyond what an editor produces by hand.
CONTENT_MAX_DEPTH = 20
SUMMARY_DERIVED_MAX_LENGTH = 280
_MESSAGE_MAX_LENGTH = 200
# Blocks whose inline content is one line of text; every other block holds blocks.
_TEXT_BLOCKS = frozenset({"paragraph", "heading", "codeBlock"})


@functools.cache
def _validator() -> Draft202012Validator:
    schema = load_schema("content-document")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check_content_document(document: Mapping[str, Any]) -> str:
    """Validate `document` (a JSON object already); return its plain text (see `plain_text`).
    Raises ContentInvalid naming the first problem."""
    too_deep = _first_node_too_deep(document)
    if too_deep is not None:
        raise ContentInvalid(
            [
                {
                    "field": _field(too_deep),
                    "message": f"Nodes nest at most {CONTENT_MAX_DEPTH} levels deep.",
                }
            ]
        )
    try:
        size = len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())
    except RecursionError:  # deep nesting outside `content`, which no node allows anyway
        raise ContentInvalid([{"field": FIELD, "message": "Nested too deeply."}]) from None
    if size > CONTENT_MAX_BYTES:
        raise ContentInvalid(
            [
                {
                    "field": FIELD,
                    "message": f"The document is {size} bytes as JSON; at most "
                    f"{CONTENT_MAX_BYTES} are allowed.",
                }
            ]
        )
    first = min(_validator().iter_errors(document), key=_document_order, default=None)
    if first is not None:
        raise ContentInvalid([{"field": _field(first.absolute_path), "message": _message(first)}])
    return plain_text(document)


def _first_node_too_deep(document: Mapping[str, Any]) -> tuple[str | int, ...] | None:
    """The path of the first node (pre-order) below CONTENT_MAX_DEPTH, following `content`
    arrays only: the schema allows nesting nowhere else. Iterative, so any depth is safe."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(document, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if depth > CONTENT_MAX_DEPTH:
            return path
        children = node.get("content") if isinstance(node, Mapping) else None
        if isinstance(children, list):
            for index in reversed(range(len(children))):
                stack.append((children[index], depth + 1, (*path, "content", index)))
    return None


def _document_order(error: SchemaError) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting errors in document order: a node before its children, array items in
    index order (keys of one object by name; ints and strs never meet at one level). A node's
    wrong `type` comes before its other errors: it explains them all."""
    parts = list(error.absolute_path)
    if parts and parts[-1] == "type" and error.validator in ("enum", "const"):
        return (*_encoded(parts[:-1]), (-1, ""))
    return _encoded(parts)


def _encoded(parts: Iterable[str | int]) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in parts)


def _field(path: Iterable[str | int]) -> str:
    return ".".join([FIELD, *(str(part) for part in path)])


def _message(error: SchemaError) -> str:
    path = list(error.absolute_path)
    last = path[-1] if path else None
    if error.validator in ("enum", "const") and last == "type":
        kind = "mark" if len(path) >= 3 and path[-3] == "marks" else "node"
        return _clip(f"Unknown {kind} type {error.instance!r}, or not allowed here.")
    if error.validator == "pattern" and last == "href":
        return "Links must be absolute http:, https: or mailto: URLs."
    if error.validator == "maxLength":
        return f"At most {error.validator_value} characters."
    if error.validator == "minLength":
        return f"At least {error.validator_value} character(s)."
    if error.validator == "type":
        return f"Must be of JSON type {error.validator_value}."
    return _clip(error.message)


def _clip(message: str) -> str:
    """Schema messages quote the offending value, which may be long."""
    if len(message) <= _MESSAGE_MAX_LENGTH:
        return message
    return message[: _MESSAGE_MAX_LENGTH - 1] + "…"


def plain_text(document: Mapping[str, Any]) -> str:
    """The document as plain text, for search and summaries: one line per text block
    (paragraph, heading, code block) — lists and quotes contribute their blocks' lines —
    with hard breaks as newlines, mentions as `@label` and empty blocks and rules left out.
    Expects a valid document (check_content_document)."""
    lines: list[str] = []
    _collect_lines(document.get("content", []), lines)
    return "\n".join(lines)


def _collect_lines(blocks: Sequence[Mapping[str, Any]], lines: list[str]) -> None:
    for block in blocks:
        if block["type"] in _TEXT_BLOCKS:
            text = "".join(_inline_text(node) for node in block.get("content", []))
            if text.strip():
                lines.append(text)
        else:
            _collect_lines(block.get("content", []), lines)


def _inline_text(node: Mapping[str, Any]) -> str:
    kind = node["type"]
    if kind == "text":
        return str(node["text"])
    if kind == "mention":
        return f"@{node['attrs']['label']}"
    return "\n"  # hardBreak


def derived_summary(text: str) -> str:
    """A summary from the plain text, for threads whose author gave none: whitespace collapsed,
    at most SUMMARY_DERIVED_MAX_LENGTH characters, cut at a word boundary with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= SUMMARY_DERIVED_MAX_LENGTH:
        return flat
    cut = flat[: SUMMARY_DERIVED_MAX_LENGTH - 1]
    space = cut.rfind(" ")
    if space >= SUMMARY_DERIVED_MAX_LENGTH * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + "…"
