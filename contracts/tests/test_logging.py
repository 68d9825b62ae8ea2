import io
import json
import logging
import logging.config
import re
import sys

import pytest

from alephdraad_contracts import (
    JsonLogFormatter,
    bind_request_id,
    logging_config,
    reset_request_id,
    utc_timestamp,
)


def _record(message: str = "hello %s", args: tuple[object, ...] = ("world",)) -> logging.LogRecord:
    return logging.LogRecord("app.test", logging.WARNING, __file__, 10, message, args, None)


def test_one_json_object_per_line_with_request_id_from_context() -> None:
    token = bind_request_id("req-1")
    try:
        line = JsonLogFormatter("core").format(_record())
    finally:
        reset_request_id(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "hello world"
    assert entry["level"] == "warning"
    assert entry["logger"] == "app.test"
    assert entry["service"] == "core"
    assert entry["request_id"] == "req-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])


def test_extras_are_logged_and_request_id_attribute_wins() -> None:
    record = _record("done", ())
    record.status = 201
    record.request_id = "from-record"
    record.color_message = "\x1b[1mdone\x1b[0m"
    entry = json.loads(JsonLogFormatter().format(record))
    assert entry["status"] == 201
    assert entry["request_id"] == "from-record"
    assert entry["service"] == "unknown"
    assert "color_message" not in entry


def test_multiline_message_and_exception_stay_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "line1\nline2", (), sys.exc_info()
        )
    record.stack_info = "Stack (most recent call last):\n  here"
    line = JsonLogFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "line1\nline2"
    assert "ValueError: boom" in entry["exc"]
    assert "here" in entry["stack"]


def test_utc_timestamp() -> None:
    assert utc_timestamp(0.5) == "1970-01-01T00:00:00.500Z"


def test_logging_config_is_usable_by_dictconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    config = logging_config("feature", "debug")
    assert config["root"]["level"] == "DEBUG"
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        logging.getLogger("some.module").info("started", extra={"port": 8002})
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    entry = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert entry == entry | {"service": "feature", "message": "started", "port": 8002}
