import jsonschema
import pytest

from alephdraad_contracts import (
    GENERIC_PROBLEMS,
    NOT_FOUND,
    NOT_READY,
    SERVICE_UNAVAILABLE,
    VALIDATION_FAILED,
    ProblemBody,
    ProblemType,
    as_problem_json,
    load_schema,
    problem_body,
    problem_type_for_status,
    problem_type_uri,
)

SCHEMA = load_schema("problem")


def test_body_has_rfc9457_members_and_our_extensions() -> None:
    body = NOT_FOUND.body("No thread 7", request_id="abc")
    assert body == {
        "type": "urn:alephdraad:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No thread 7",
        "code": "NOT_FOUND",
        "request_id": "abc",
    }
    jsonschema.validate(body, SCHEMA)


def test_detail_defaults_to_title_and_errors_are_copied() -> None:
    errors = [{"field": "email", "message": "Enter a valid email address."}]
    body = VALIDATION_FAILED.body(errors=errors)  # type: ignore[arg-type]
    assert body["detail"] == "Validation failed"
    assert body["errors"] == errors
    assert body["errors"] is not errors
    assert body["request_id"] is None
    jsonschema.validate(body, SCHEMA)


def test_empty_errors_list_is_left_out() -> None:
    body = problem_body(status=422, code="VALIDATION_FAILED", title="t", errors=[])
    assert "errors" not in body


def test_type_uri_is_derived_from_code() -> None:
    assert problem_type_uri("INSUFFICIENT_BALANCE") == "urn:alephdraad:problem:insufficient-balance"
    assert VALIDATION_FAILED.type_uri == "urn:alephdraad:problem:validation-failed"


@pytest.mark.parametrize("code", ["lower", "Mixed_Case", "TRAILING_", "_LEADING", "DOUBLE__US", ""])
def test_code_must_be_upper_snake(code: str) -> None:
    with pytest.raises(ValueError, match="UPPER_SNAKE"):
        ProblemType(code, 400, "x")


@pytest.mark.parametrize("status", [200, 399, 600])
def test_status_must_be_an_error(status: int) -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        ProblemType("X", status, "x")


def test_generic_problems_are_valid_and_unique() -> None:
    codes = [p.code for p in GENERIC_PROBLEMS]
    assert len(codes) == len(set(codes))
    for problem in GENERIC_PROBLEMS:
        jsonschema.validate(problem.body(request_id="r"), SCHEMA)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "NOT_FOUND"),
        (405, "METHOD_NOT_ALLOWED"),
        (415, "UNSUPPORTED_MEDIA_TYPE"),
        (400, "MALFORMED_REQUEST"),
        (422, "UNPROCESSABLE_CONTENT"),
        (500, "INTERNAL_ERROR"),
        (502, "BAD_GATEWAY"),
        (504, "GATEWAY_TIMEOUT"),
    ],
)
def test_problem_type_for_known_status(status: int, code: str) -> None:
    assert problem_type_for_status(status).code == code


def test_bare_503_is_service_unavailable_not_not_ready() -> None:
    assert problem_type_for_status(503) is SERVICE_UNAVAILABLE
    assert NOT_READY.status == 503


def test_validation_failures_are_400() -> None:
    assert VALIDATION_FAILED.status == 400
    assert problem_type_for_status(400).code == "MALFORMED_REQUEST"


def test_problem_type_for_unlisted_status() -> None:
    teapot = problem_type_for_status(418)
    assert (teapot.code, teapot.status) == ("CLIENT_ERROR", 418)
    odd = problem_type_for_status(507)
    assert (odd.code, odd.status) == ("SERVER_ERROR", 507)
    nonsense = problem_type_for_status(200)
    assert (nonsense.code, nonsense.status) == ("SERVER_ERROR", 500)


def test_as_problem_json_is_a_plain_dict_copy() -> None:
    body = NOT_FOUND.body()
    plain = as_problem_json(body)
    assert plain == dict(body)
    assert type(plain) is dict


def test_schema_rejects_a_body_without_code() -> None:
    body = as_problem_json(NOT_FOUND.body())
    del body["code"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, SCHEMA)


def test_errors_is_the_only_optional_member() -> None:
    assert ProblemBody.__required_keys__ == {
        "type",
        "title",
        "status",
        "detail",
        "code",
        "request_id",
    }
    assert ProblemBody.__optional_keys__ == {"errors"}
