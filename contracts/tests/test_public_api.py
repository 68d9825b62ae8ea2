import alephdraad_contracts

# The public surface, spelled out: adding or removing a name is a deliberate change here.
EXPECTED = [
    "BAD_GATEWAY",
    "CONFLICT",
    "EVENT_ID_PREFIX",
    "EVENT_VERSIONS",
    "FORBIDDEN",
    "GATEWAY_TIMEOUT",
    "GENERIC_PROBLEMS",
    "INTERNAL_ERROR",
    "MALFORMED_REQUEST",
    "METHOD_NOT_ALLOWED",
    "NOT_ACCEPTABLE",
    "NOT_FOUND",
    "NOT_READY",
    "PAYLOAD_TOO_LARGE",
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE_PREFIX",
    "RATE_LIMITED",
    "REPLY_DELETED",
    "REQUEST_ID_HEADER",
    "REQUEST_ID_PATTERN",
    "SCHEMAS_DIR",
    "SERVICE_UNAVAILABLE",
    "SIGNATURE_CALLER_HEADER",
    "SIGNATURE_COVERED_COMPONENTS",
    "SIGNATURE_LABEL",
    "SIGNATURE_MAX_AGE",
    "SIGNATURE_REJECTED",
    "SIGNATURE_TEST_VECTORS",
    "THREAD_DELETED",
    "THREAD_MOVED",
    "THREAD_RESTORED",
    "UNAUTHENTICATED",
    "UNPROCESSABLE_CONTENT",
    "UNSUPPORTED_MEDIA_TYPE",
    "UPSTREAM_UNAVAILABLE",
    "USER_DELETED",
    "USER_LOCKED",
    "USER_REGISTERED",
    "USER_RENAMED",
    "USER_UNLOCKED",
    "VALIDATION_FAILED",
    "CallerKey",
    "EventInvalid",
    "JsonLogFormatter",
    "KeyRing",
    "MemoryNonceStore",
    "NonceStore",
    "ProblemBody",
    "ProblemFieldError",
    "ProblemType",
    "RejectionReason",
    "SignatureRejected",
    "SigningAuth",
    "VerifiedCaller",
    "accept_request_id",
    "as_problem_json",
    "async_signed_client",
    "bind_request_id",
    "current_request_id",
    "event_schema_name",
    "is_valid_request_id",
    "load_schema",
    "load_signature_test_vectors",
    "logging_config",
    "make_event",
    "new_event_id",
    "new_request_id",
    "new_ulid",
    "problem_body",
    "problem_type_for_status",
    "problem_type_uri",
    "reset_request_id",
    "sign_request",
    "signed_client",
    "utc_timestamp",
    "validate_event",
    "verify_signed_request",
]


def test_all_is_exactly_the_public_surface() -> None:
    assert alephdraad_contracts.__all__ == EXPECTED


def test_every_exported_name_exists() -> None:
    for name in alephdraad_contracts.__all__:
        assert hasattr(alephdraad_contracts, name), name


def test_no_public_module_attributes_outside_all() -> None:
    public = {
        name
        for name in vars(alephdraad_contracts)
        if not name.startswith("_") and not _is_submodule(name)
    }
    assert public == set(EXPECTED)


def _is_submodule(name: str) -> bool:
    value = getattr(alephdraad_contracts, name)
    return type(value).__name__ == "module"
