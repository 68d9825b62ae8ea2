import re

import pytest

from alephdraad_contracts import (
    REQUEST_ID_HEADER,
    accept_request_id,
    bind_request_id,
    current_request_id,
    is_valid_request_id,
    new_request_id,
    reset_request_id,
)


def test_header_name() -> None:
    assert REQUEST_ID_HEADER == "X-Request-ID"


def test_new_ids_look_like_nginx_request_ids_and_differ() -> None:
    first, second = new_request_id(), new_request_id()
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize("value", ["abc", "0" * 128, "a.b:c-d_e", "2f1c9d1e-4b0b"])
def test_valid_ids(value: str) -> None:
    assert is_valid_request_id(value)
    assert accept_request_id(value) == value


@pytest.mark.parametrize("value", [None, "", "a b", "x\ny", "0" * 129, "é", "a/b"])
def test_invalid_ids_are_replaced(value: str | None) -> None:
    assert not is_valid_request_id(value)
    replaced = accept_request_id(value)
    assert replaced != value
    assert is_valid_request_id(replaced)


def test_context_binding_and_reset() -> None:
    assert current_request_id() is None
    token = bind_request_id("outer")
    assert current_request_id() == "outer"
    inner = bind_request_id("inner")
    assert current_request_id() == "inner"
    reset_request_id(inner)
    assert current_request_id() == "outer"
    reset_request_id(token)
    assert current_request_id() is None
