"""The error classes; each knows its API code and HTTP status. One handler renders them."""

from __future__ import annotations

from typing import ClassVar

from chorus.redact import redact


class ChorusError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    openai_type: ClassVar[str] = "api_error"

    def __init__(self, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "status": self.status}


class InvalidRequest(ChorusError):
    code, status, openai_type = "invalid_request", 400, "invalid_request_error"


class InvalidApiKey(ChorusError):
    code, status, openai_type = "invalid_api_key", 401, "authentication_error"


class TierRequired(ChorusError):
    code, status, openai_type = "tier_required", 403, "permission_error"


class Forbidden(ChorusError):
    code, status, openai_type = "forbidden", 403, "permission_error"


class NotFound(ChorusError):
    code, status, openai_type = "not_found", 404, "not_found_error"


class SessionModeMismatch(ChorusError):
    code, status, openai_type = "session_mode_mismatch", 409, "invalid_request_error"


class PayloadTooLarge(ChorusError):
    code, status, openai_type = "payload_too_large", 413, "invalid_request_error"


class RateLimited(ChorusError):
    code, status, openai_type = "rate_limit_exceeded", 429, "rate_limit_error"


class QuotaExceeded(ChorusError):
    code, status, openai_type = "quota_exceeded", 429, "rate_limit_error"


class UpstreamError(ChorusError):
    """The model provider failed; `retryable` says whether another try may succeed.

    Its message quotes the provider, which may quote what it received (an `Authorization`
    header, a key): it is scrubbed as log lines are, since it reaches clients and the database.
    """

    code, status, openai_type = "upstream_error", 502, "api_error"

    def __init__(self, message: str, *, provider: str = "", upstream_status: int | None = None,
                 retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(redact(message))
        self.provider = provider
        self.upstream_status = upstream_status
        self.retryable = retryable
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamError):
    code, status, openai_type = "upstream_timeout", 504, "api_error"


class InvalidModelOutput(UpstreamError):
    """The model's answer is not in the structured format the client asked for."""

    code, status, openai_type = "invalid_model_output", 502, "api_error"


class InternalError(ChorusError):
    pass
